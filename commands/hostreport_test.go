package commands

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestMemoryTable(t *testing.T) {
	// free -m (procps-ng 4): used is total - available, buff/cache is
	// Buffers + Cached + SReclaimable, every figure kB / 1024 truncated
	// (free printed shared 9 for Shmem 10152 kB).
	meminfo := `MemTotal:       24683748 kB
MemFree:        17811456 kB
MemAvailable:   23339008 kB
Buffers:           75500 kB
Cached:          5345200 kB
SwapCached:            0 kB
SwapTotal:       2097148 kB
SwapFree:        2095100 kB
Shmem:             10152 kB
SReclaimable:     438772 kB
HugePages_Total:       0
`
	path := filepath.Join(t.TempDir(), "meminfo")
	if err := os.WriteFile(path, []byte(meminfo), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := memoryTable(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "               total        used        free      shared  buff/cache   available\n" +
		"Mem:           24105        1313       17394           9        5722       22792\n" +
		"Swap:           2047           2        2045\n"
	if got != want {
		t.Errorf("memory table:\n%s\nwant:\n%s", got, want)
	}
	if err := os.WriteFile(path, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := memoryTable(path); err == nil {
		t.Error("a meminfo file without MemTotal gave no error")
	}
}

// reportHeaders are the "=====> <app> <type> information" lines of out.
func reportHeaders(out string) []string {
	return regexp.MustCompile(`(?m)^=====> .* information$`).FindAllString(out, -1)
}

func TestHostReport(t *testing.T) {
	d := testDispatcher(t)
	for _, a := range []string{"app1", "app2"} {
		if r := run(d, local, false, "", "apps:create", a); r.code != 0 {
			t.Fatalf("apps:create: %+v", r)
		}
	}
	noEngine := " !     The docker-local scheduler is not configured on this server\n"

	// The vitals, in Dokku's order, and no app report.
	r := run(d, user, false, "", "report")
	if r.code != 0 || r.stderr != noEngine+noEngine {
		t.Fatalf("report: %+v", r)
	}
	var titles []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if t, ok := strings.CutPrefix(l, "-----> "); ok {
			titles = append(titles, strings.SplitAfter(t, ":")[0])
		}
	}
	if got := strings.Join(titles, " "); got != "uname: memory: docker version: docker daemon info: dokku version: git version: dokku plugins:" {
		t.Errorf("vitals: %q\n%s", got, r.stdout)
	}
	for _, want := range []string{
		"-----> dokku version: dokku-sshd version 1.2.3\n",
		"-----> memory: \n                      total        used        free      shared  buff/cache   available\n       Mem: ",
		"\n         apps                 1.2.3   enabled    Manage apps\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^-----> git version: git version \d`).MatchString(r.stdout) {
		t.Errorf("no git version:\n%s", r.stdout)
	}
	if h := reportHeaders(r.stdout); len(h) != 0 {
		t.Errorf("report without an app printed app reports: %v", h)
	}

	// One app: every group's :report, in plugin (group name) order,
	// each exactly as the group prints it.
	r = run(d, user, false, "", "report", "app1")
	if r.code != 0 {
		t.Fatalf("report app1: %+v", r)
	}
	var want []string
	for _, g := range d.sortedGroups() {
		c := d.cmds[g.Name+":report"]
		if c == nil {
			continue
		}
		one := run(d, user, false, "", g.Name+":report", "app1")
		if !strings.Contains(r.stdout, one.stdout) {
			t.Errorf("report app1 lacks %s:report's output:\n%s", g.Name, one.stdout)
		}
		want = append(want, reportHeaders(one.stdout)...)
	}
	if got := reportHeaders(r.stdout); strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) < 8 {
		t.Errorf("report app1 headers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(r.stdout, "=====> app1 app information\n") || !strings.Contains(r.stdout, "=====> app1 scheduler-docker-local information\n") {
		t.Errorf("report app1:\n%s", r.stdout)
	}
	// --app as for every core plugin; --quiet hides the report headers.
	apps := func(out string) string { return out[strings.Index(out, "=====> "):] }
	if r2 := run(d, user, false, "", "--app", "app1", "report"); apps(r2.stdout) != apps(r.stdout) {
		t.Errorf("--app app1 report differs from report app1")
	}
	if q := run(d, user, false, "", "--quiet", "report", "app1"); len(reportHeaders(q.stdout)) != 0 || !strings.Contains(q.stdout, "-----> uname: ") {
		t.Errorf("--quiet report app1:\n%s", q.stdout)
	}

	// --all: every app, one after the other.
	r = run(d, user, false, "", "report", "--all")
	h := reportHeaders(r.stdout)
	if r.code != 0 || len(h) != 2*len(want) || h[0] != "=====> app1 app information" || h[len(want)] != "=====> app2 app information" {
		t.Errorf("report --all: %d headers %v\n%+v", len(h), h, r)
	}

	// Bad input: the vitals, then the app check of Dokku's first Go
	// plugin.
	for _, tc := range []struct {
		name   string
		argv   []string
		stderr string
		code   int
	}{
		{"missing app", []string{"report", "nope"}, " !     App nope does not exist\n", 20},
		{"invalid app name", []string{"report", "Bad_Name"}, " !     App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens\n", 1},
		{"--global", []string{"report", "--global"}, " !     App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens\n", 1},
	} {
		r := run(d, user, false, "", tc.argv...)
		if r.code != tc.code || r.stderr != noEngine+noEngine+tc.stderr || !strings.Contains(r.stdout, "-----> dokku plugins: ") || len(reportHeaders(r.stdout)) != 0 {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
	r = run(d, user, false, "", "report", "--format", "json")
	if r.code != 1 || r.stdout != "" || r.stderr != " !     --format flag not supported on global report\n" {
		t.Errorf("report --format json: %+v", r)
	}

	// No apps: Dokku's warning, exit 0.
	empty := testDispatcher(t)
	r = run(empty, user, false, "", "report", "--all")
	if r.code != 0 || !strings.HasSuffix(r.stderr, " !     You haven't deployed any applications yet\n") {
		t.Errorf("report --all without apps: %+v", r)
	}
}

func TestHostReportHelp(t *testing.T) {
	d := testDispatcher(t)
	r := run(d, user, false, "", "report:help")
	want := "Usage: dokku report[:COMMAND]\n\nReports dokku vitals for troubleshooting\n\nAdditional commands:\n" +
		"    report [<app>|--all]   Reports dokku vitals for troubleshooting, then every report of one app or of all apps\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("report:help: %+v\nwant:\n%s", r, want)
	}
	if h := run(d, user, false, "", "help").stdout; !strings.Contains(h, "    report ") {
		t.Errorf("help does not list report:\n%s", h)
	}
	if h := run(d, user, false, "", "help", "--all").stdout; !strings.Contains(h, "    report [<app>|--all] ") {
		t.Errorf("help --all does not list report:\n%s", h)
	}
}
