package commands

import (
	"strings"
	"testing"
	"time"

	"dokku-sshd/deploy"
	"dokku-sshd/schedulers"
)

// TestPsWithoutDeploy covers the ps commands that need no scheduler: the
// report, properties, the scale file and their messages. The deploying
// paths are tested end to end on Docker (integration/docker_ps_test.go).
func TestPsWithoutDeploy(t *testing.T) {
	d := configDispatcher(t)
	steps := []struct {
		name           string
		argv           []string
		stdout, stderr string
		code           int
		golden         string // compare stdout with testdata/<golden>.golden instead
	}{
		{name: "report", argv: []string{"ps:report", "app1"}, golden: "ps-report"},
		{name: "report global", argv: []string{"ps:report", "--global"}, golden: "ps-report-global"},
		{name: "report flag", argv: []string{"ps:report", "app1", "--ps-computed-restart-policy"}, stdout: "on-failure:10\n"},
		{name: "set policy", argv: []string{"ps:set", "app1", "restart-policy", "always"}, stdout: "=====> Setting restart-policy to always\n"},
		{name: "set bad policy", argv: []string{"ps:set", "app1", "restart-policy", "sometimes"}, stderr: " !     Invalid restart-policy specified\n", code: 1},
		{name: "set global start-cmd", argv: []string{"ps:set", "--global", "start-cmd", "x"}, stderr: " !     Property cannot be specified globally\n", code: 1},
		{name: "set bad timeout", argv: []string{"ps:set", "app1", "stop-timeout-seconds", "soon"}, stderr: " !     Invalid stop-timeout-seconds specified, must be a non-negative integer\n", code: 1},
		{name: "computed policy", argv: []string{"ps:report", "app1", "--ps-computed-restart-policy"}, stdout: "always\n"},
		{name: "scale empty", argv: []string{"ps:scale", "app1"}, stdout: "-----> Scaling for app1\nproctype: qty\n--------: ---\n"},
		{name: "scale json empty", argv: []string{"ps:scale", "--format", "json", "app1"}, stdout: "[]\n"},
		{name: "scale set", argv: []string{"ps:scale", "app1", "worker=2", "web=1"}, stdout: "-----> Scaling app1 processes: worker=2 web=1\n"},
		{name: "scale show", argv: []string{"ps:scale", "app1"}, stdout: "-----> Scaling for app1\nproctype: qty\n--------: ---\nweb:  1\nworker: 2\n"},
		{name: "scale quiet", argv: []string{"--quiet", "ps:scale", "app1"}, stdout: "web:  1\nworker: 2\n"},
		{name: "scale json", argv: []string{"ps:scale", "app1", "--format", "json"}, stdout: `[{"process_type":"web","quantity":1},{"process_type":"worker","quantity":2}]` + "\n"},
		{name: "scale missing count", argv: []string{"ps:scale", "app1", "web"}, stderr: " !     Missing count for process type web\n", code: 1},
		{name: "scale bad count", argv: []string{"ps:scale", "app1", "web=-1"}, stderr: " !     Invalid count for process type web\n", code: 1},
		{name: "scale bad name", argv: []string{"ps:scale", "app1", "web;rm=1"}, stderr: " !     web;rm is not a valid process name to scale up\n", code: 1},
		{name: "scale bad format", argv: []string{"ps:scale", "--format", "xml", "app1"}, stderr: " !     Invalid format specified, supported formats: json, stdout\n", code: 1},
		{name: "stop not deployed", argv: []string{"ps:stop", "app1"}, stderr: " !     App app1 has not been deployed\n"},
		{name: "start not deployed", argv: []string{"ps:start", "app1"}, stderr: " !     App app1 has not been deployed\n"},
		{name: "stop all", argv: []string{"ps:stop", "--all", "--parallel", "2"}, stderr: " !     App app1 has not been deployed\n !     App app2 has not been deployed\n"},
		{name: "restart all with a type", argv: []string{"ps:restart", "--all", "web"}, stderr: " !     Unable to restart all apps when specifying a process name\n", code: 1},
		{name: "bad parallel", argv: []string{"ps:stop", "--all", "--parallel", "many"}, code: 2,
			stderr: psUsage("stop") + `invalid argument "many" for "--parallel" flag: strconv.ParseInt: parsing "many": invalid syntax` + "\n"},
		{name: "missing app", argv: []string{"ps:stop", "nosuch"}, stderr: " !     App nosuch does not exist\n", code: 20},
		{name: "no app", argv: []string{"ps:restart"}, stderr: " !     Please specify an app to run the command on\n", code: 1},
		{name: "restore skipped", argv: []string{"ps:restore", "app1"}, stdout: "-----> Clearing potentially invalid proxy configuration\n", stderr: " !     App app1 has not been deployed\n"},
		{name: "docker-local set", argv: []string{"scheduler-docker-local:set", "app1", "parallel-schedule-count", "0"}, stderr: " !     Invalid parallel-schedule-count value specified, must be a positive integer\n", code: 1},
		{name: "docker-local bad key", argv: []string{"docker-local:set", "app1", "nope", "1"}, stderr: " !     Invalid key specified, valid keys include: init-process, parallel-schedule-count\n", code: 1},
		{name: "docker-local report", argv: []string{"scheduler-docker-local:report", "app1", "--scheduler-docker-local-computed-init-process"}, stdout: "true\n"},
	}
	for _, s := range steps {
		r := run(d, local, false, "", s.argv...)
		if s.golden != "" {
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("%s: %+v", s.name, r)
			}
			golden(t, s.golden, r.stdout)
			continue
		}
		if r.stdout != s.stdout || r.stderr != s.stderr || r.code != s.code {
			t.Errorf("%s %q:\n got stdout=%q stderr=%q code=%d\nwant stdout=%q stderr=%q code=%d",
				s.name, s.argv, r.stdout, r.stderr, r.code, s.stdout, s.stderr, s.code)
		}
	}
}

// ps:scale reports a scale file as Dokku does: names trimmed, each type
// once (its first line), sorted by name.
func TestPsScaleReport(t *testing.T) {
	d := configDispatcher(t)
	if err := d.cfg.Store.SetProperty("ps", "app1", "scale", "worker=2\nbeat   =0\nweb=1\nworker=5\n"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"ps:scale", "app1"}, "-----> Scaling for app1\nproctype: qty\n--------: ---\nbeat: 0\nweb:  1\nworker: 2\n"},
		{[]string{"ps:scale", "--format", "json", "app1"}, `[{"process_type":"beat","quantity":0},{"process_type":"web","quantity":1},{"process_type":"worker","quantity":2}]` + "\n"},
	} {
		if r := run(d, local, false, "", tt.argv...); r.code != 0 || r.stdout != tt.want {
			t.Errorf("%q: %+v, want stdout %q", tt.argv, r, tt.want)
		}
	}
}

// TestCloneIsNotDeployed: a clone or rename of a deployed app is not
// deployed until it is built; its restarts must not run the old image.
func TestCloneIsNotDeployed(t *testing.T) {
	d := configDispatcher(t)
	for key, v := range map[string]string{"deployed": "true", "deployed-image": "dokku/app1:latest"} {
		if err := d.cfg.Store.SetProperty("common", "app1", key, v); err != nil {
			t.Fatal(err)
		}
	}
	// An app deployed before releases were recorded: ps:report names its
	// tag, and no rev.
	if r := run(d, local, false, "", "ps:report", "app1", "--deployed-image"); r.stdout != "dokku/app1:latest\n" {
		t.Errorf("legacy deployed image: %+v", r)
	}
	rec := &schedulers.Deployed{ImageID: "sha256:0123", Image: "dokku/app1:latest", Rev: "abcd", DeployedAt: time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)}
	if err := schedulers.SaveDeployed(d.cfg.Store, "app1", rec); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"--deployed-image": "sha256:0123", "--deployed-rev": "abcd", "--deployed-at": "2026-12-06T22:00:00Z"} {
		if r := run(d, local, false, "", "ps:report", "app1", flag); r.stdout != want+"\n" {
			t.Errorf("ps:report %s: %+v, want %q", flag, r, want)
		}
	}
	for _, argv := range [][]string{{"apps:clone", "app1", "app3"}, {"apps:rename", "app1", "app4"}} {
		if r := run(d, local, false, "", argv...); r.code != 0 {
			t.Fatalf("%v: %+v", argv, r)
		}
		app := argv[2]
		if r := run(d, local, false, "", "ps:report", app, "--deployed"); r.stdout != "false\n" {
			t.Errorf("%s deployed: %+v", app, r)
		}
		if v, _ := d.cfg.Store.Property("common", app, "deployed-image"); v != "" {
			t.Errorf("%s deployed-image %q", app, v)
		}
		if rec, err := deploy.DeployedRelease(d.cfg.Store, app); rec != nil || err != nil {
			t.Errorf("%s has the release of app1: %+v, %v", app, rec, err)
		}
	}
}

// A ps property that decides what a command does and cannot be read (a
// directory where the value should be) fails the command; it is not taken
// for its default.
func TestPsUnreadableProperty(t *testing.T) {
	tests := []struct {
		name string
		key  string // the unreadable ps property of app1
		argv []string
	}{
		{name: "scale", key: "can-scale", argv: []string{"ps:scale", "app1", "web=2"}},
		{name: "report", key: "can-scale", argv: []string{"ps:report", "app1"}},
		{name: "report restore", key: "restore", argv: []string{"ps:report", "app1"}},
		{name: "restore", key: "restore", argv: []string{"ps:restore", "app1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := configDispatcher(t)
			st := d.cfg.Store
			// Deployed, so that ps:restore reads its property.
			if err := st.SetProperty("common", "app1", "deployed", "true"); err != nil {
				t.Fatal(err)
			}
			if err := st.SetProperty("ps", "app1", tt.key+"/x", "y"); err != nil {
				t.Fatal(err)
			}
			r := run(d, local, false, "", tt.argv...)
			want := "read property ps/app1/" + tt.key
			if r.code == 0 || !strings.Contains(r.stderr, want) || strings.Contains(r.stdout, "Starting app") {
				t.Fatalf("%q: %+v; want a failure that names %s", tt.argv, r, want)
			}
			if scale, _, err := schedulers.ReadScale(st, "app1"); err != nil || len(scale) != 0 {
				t.Fatalf("scale %v, %v; want none written", scale, err)
			}
		})
	}
}

// ps:retire's messages, its lock (137 while another retirement holds it)
// and bad input. Retiring real containers is tested end to end on Docker
// (integration/docker_checks_test.go).
func TestPsRetire(t *testing.T) {
	d := configDispatcher(t)
	headers := "-----> Retiring old containers and images\n-----> Retiring expired run and cron containers\n"
	for _, tt := range []struct {
		name           string
		argv           []string
		stdout, stderr string
		code           int
	}{
		{"all apps", []string{"ps:retire"}, headers, "", 0},
		{"one app, no scheduler", []string{"ps:retire", "app1"}, "", " !     The docker-local scheduler is not available on this server (available: none)\n", 1},
		{"missing app", []string{"ps:retire", "nosuch"}, "", " !     App nosuch does not exist\n", 20},
		{"bad app name", []string{"ps:retire", "Bad_App"}, "", " !     App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens\n", 1},
		{"unknown flag", []string{"ps:retire", "--now"}, "", "Usage of ps:retire:\nunknown flag: --now\n", 2},
	} {
		r := run(d, local, false, "", tt.argv...)
		if r.stdout != tt.stdout || r.stderr != tt.stderr || r.code != tt.code {
			t.Errorf("%s %q:\n got stdout=%q stderr=%q code=%d\nwant stdout=%q stderr=%q code=%d",
				tt.name, tt.argv, r.stdout, r.stderr, r.code, tt.stdout, tt.stderr, tt.code)
		}
	}

	unlock, ok, err := d.cfg.Store.TryRetireLock()
	if err != nil || !ok {
		t.Fatalf("take the lock: %v %v", ok, err)
	}
	r := run(d, local, false, "", "ps:retire")
	if r.stdout != "" || r.stderr != " !     Failed to acquire ps:retire lock\n" || r.code != 137 {
		t.Errorf("ps:retire while the lock is held: %+v", r)
	}
	unlock()
	if r := run(d, local, false, "", "ps:retire"); r.code != 0 {
		t.Errorf("ps:retire after the lock was released: %+v", r)
	}
}
