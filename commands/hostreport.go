package commands

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"dokku-sshd/internal/gitexec"
	"dokku-sshd/output"
	"dokku-sshd/schedulers/dockerlocal"
)

// `dokku report [<app>|--all]` (docs/dokku-behaviour.md#report): the host's
// vitals, then every plugin's :report of one app or of all of them. The
// per-plugin reports are the groups' own :report commands, in Dokku's
// plugin order (by name).

func reportGroup() *Group {
	return &Group{
		Name:        "report",
		Description: "Reports dokku vitals for troubleshooting",
		Bash:        true,
		Bare:        hostReport,
		Commands: []*Command{
			{Name: "report", Args: "[<app>|--all]", Help: "Reports dokku vitals for troubleshooting, then every report of one app or of all apps", Run: hostReport},
		},
	}
}

// meminfoPath is where the kernel tells the memory figures (a variable
// for tests).
var meminfoPath = "/proc/meminfo"

func hostReport(e *Call, args []string) error {
	var app string
	if len(args) > 0 {
		app = args[0]
	}
	if app == "--format" || strings.HasPrefix(app, "--format=") {
		return output.Userf("--format flag not supported on global report")
	}
	e.Info1("uname: %s", uname())
	e.Info1("memory: ")
	if mem, err := memoryTable(meminfoPath); err != nil {
		e.Warn("Unable to read the memory figures: %s", output.Reason(e.Ctx, e.Dispatcher.cfg.Logger, err))
	} else {
		e.Verbose("%s", strings.TrimSuffix(mem, "\n"))
	}
	e.engineVitals()
	e.Info1("dokku version: %s", e.Dispatcher.versionLine())
	e.Info1("git version: %s", gitVersion(e))
	e.Info1("dokku plugins: ")
	e.Verbose("%s", strings.TrimSuffix(e.Dispatcher.pluginList(), "\n"))

	switch app {
	case "":
		return nil
	case "--all":
		return e.forEveryApp(e.appReports)
	}
	return e.appReports(app)
}

// appReports runs every group's :report for app, in Dokku's plugin order.
// The app is checked as the first of Dokku's Go plugins checks it.
func (e *Call) appReports(app string) error {
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	for _, g := range e.Dispatcher.sortedGroups() {
		c := e.Dispatcher.cmds[g.Name+":report"]
		if c == nil {
			continue
		}
		if err := c.Run(e, []string{app}); err != nil {
			return err
		}
	}
	return nil
}

// uname is `uname -a` as GNU coreutils prints it on Linux (the processor
// and hardware platform, "unknown" there, left out).
func uname() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	s := strings.Join([]string{unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Nodename[:]),
		unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Version[:]), unix.ByteSliceToString(u.Machine[:])}, " ")
	if unix.ByteSliceToString(u.Sysname[:]) == "Linux" {
		s += " GNU/Linux"
	}
	return s
}

// memoryTable is `free -m` (procps-ng 4) computed from the kernel's
// meminfo file at path.
func memoryTable(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	kb, err := parseMeminfo(f)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	total, free, avail := kb["MemTotal"], kb["MemFree"], kb["MemAvailable"]
	cache := kb["Buffers"] + kb["Cached"] + kb["SReclaimable"]
	used := total - avail
	if avail > total {
		used = total - free
	}
	swapTotal, swapFree := kb["SwapTotal"], kb["SwapFree"]
	var b strings.Builder
	row := func(label string, kbs ...int64) {
		fmt.Fprintf(&b, "%-8s", label)
		for _, v := range kbs {
			fmt.Fprintf(&b, " %11d", v/1024)
		}
		b.WriteByte('\n')
	}
	b.WriteString("               total        used        free      shared  buff/cache   available\n")
	row("Mem:", total, used, free, kb["Shmem"], cache, avail)
	row("Swap:", swapTotal, swapTotal-swapFree, swapFree)
	return b.String(), nil
}

// parseMeminfo reads "Key:   123 kB" lines into kB by key.
func parseMeminfo(r io.Reader) (map[string]int64, error) {
	kb := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		kb[k] = n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if _, ok := kb["MemTotal"]; !ok {
		return nil, fmt.Errorf("no MemTotal")
	}
	return kb, nil
}

// engineVitals prints Dokku's "docker version" and "docker daemon info"
// sections from the docker-local scheduler's Engine API; a warning when
// there is none or it does not answer.
func (e *Call) engineVitals() {
	var dl *dockerlocal.Scheduler
	if p := e.Dispatcher.cfg.Pipeline; p != nil {
		if s, err := p.Schedulers.Get(dockerlocal.Name); err == nil {
			dl, _ = s.(*dockerlocal.Scheduler)
		}
	}
	for _, sec := range []struct {
		title string
		write func(*dockerlocal.Scheduler, *bytes.Buffer) error
	}{
		{"docker version: ", func(s *dockerlocal.Scheduler, b *bytes.Buffer) error { return s.WriteEngineVersion(e.Ctx, b) }},
		{"docker daemon info: ", func(s *dockerlocal.Scheduler, b *bytes.Buffer) error { return s.WriteEngineInfo(e.Ctx, b) }},
	} {
		e.Info1("%s", sec.title)
		if dl == nil || dl.Client == nil {
			e.Warn("The docker-local scheduler is not configured on this server")
			continue
		}
		var b bytes.Buffer
		if err := sec.write(dl, &b); err != nil {
			e.Warn("%s", output.Reason(e.Ctx, e.Dispatcher.cfg.Logger, err))
			continue
		}
		e.Verbose("%s", strings.TrimSuffix(b.String(), "\n"))
	}
}

// gitVersion is `git --version` of the git this server runs.
func gitVersion(e *Call) string {
	out, err := gitexec.Output(e.Ctx, "", nil, nil, "--version")
	if err != nil {
		e.Dispatcher.cfg.Logger.Warn("git --version", "err", err)
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// pluginList is Dokku's `plugn list` for this server: one line per
// command group (this server's plugins), with its version and
// description.
func (d *Dispatcher) pluginList() string {
	var b strings.Builder
	for _, g := range d.sortedGroups() {
		fmt.Fprintf(&b, "  %-20s %-7s %-10s %s\n", g.Name, d.cfg.Version, "enabled", g.Description)
	}
	return b.String()
}
