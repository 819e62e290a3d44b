package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// adminServer starts a server whose key "admin" is an admin key and returns
// it with that key (added with the local command).
func adminServer(t *testing.T, args ...string) (*server, *keyPair) {
	t.Helper()
	s := startServer(t, append([]string{"--admin-keys", "admin"}, args...)...)
	admin := newKey(t, "ed25519", "admin")
	s.addKey(t, "admin", admin)
	return s, admin
}

var versionLine = regexp.MustCompile(`^dokku-sshd version \d+\.\d+\.\d+\n$`)

// docs/dokku-behaviour.md#help: version | -v | --version.
func TestVersion(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	for _, word := range []string{"version", "-v", "--version"} {
		r := s.ssh(t, admin, word)
		if r.Code != 0 || r.Stderr != "" || !versionLine.MatchString(r.Stdout) {
			t.Errorf("ssh %s: %s\nwant `dokku-sshd version X.Y.Z`, exit 0", word, r)
		}
		l := s.local(t, "", word)
		if l != r {
			t.Errorf("local %s differs from ssh:\nlocal: %s\n  ssh: %s", word, l, r)
		}
	}
}

// docs/dokku-behaviour.md#help: help, help --all, <plugin>:help == <plugin>,
// bare apps.
func TestHelp(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)

	help := s.ssh(t, admin, "help")
	if help.Code != 0 || help.Stderr != "" {
		t.Fatalf("help: %s", help)
	}
	checkGolden(t, "help", help.Stdout)
	// Without a TTY the header lines are hidden, as in Dokku.
	if strings.Contains(help.Stdout, "Usage:") || strings.Contains(help.Stdout, "Commands:") {
		t.Errorf("help without a TTY printed header lines:\n%s", help.Stdout)
	}
	for _, group := range []string{"apps", "builder", "scheduler", "ssh-keys"} {
		if !regexp.MustCompile(`(?m)^    ` + regexp.QuoteMeta(group) + ` +\S`).MatchString(help.Stdout) {
			t.Errorf("help does not list %q:\n%s", group, help.Stdout)
		}
	}

	t.Run("no command, no PTY", func(t *testing.T) {
		// `ssh dokku@host` with no command and no PTY: help on stdout, exit 0.
		r := s.sshWith(t, admin, sshOpts{Extra: []string{"-T"}})
		expect(t, "ssh -T (no command)", r, 0, help.Stdout, "")
	})

	t.Run("with TTY shows the header", func(t *testing.T) {
		r := s.sshWith(t, admin, sshOpts{Extra: []string{"-tt"}}, "help")
		want := "Usage: dokku [--quiet|--trace|--force] COMMAND <app> [command-specific-options]\r\n"
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, want) {
			t.Errorf("ssh -tt help: %s\nwant stdout starting with %q", r, want)
		}
		// --quiet hides the header again.
		r = s.sshWith(t, admin, sshOpts{Extra: []string{"-tt"}}, "--quiet", "help")
		if r.Code != 0 || strings.Contains(r.Stdout, "Usage:") {
			t.Errorf("ssh -tt --quiet help printed the header: %s", r)
		}
	})

	t.Run("help --all", func(t *testing.T) {
		r := s.ssh(t, admin, "help", "--all")
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("help --all: %s", r)
		}
		checkGolden(t, "help-all", r.Stdout)
		for _, cmd := range []string{"apps:create", "apps:report", "scheduler:set", "builder:report", "ssh-keys:add", "ssh-keys:list", "ssh-keys:remove"} {
			if !strings.Contains(r.Stdout, "    "+cmd) {
				t.Errorf("help --all does not list %s", cmd)
			}
		}
	})

	t.Run("plugin help is the bare plugin name", func(t *testing.T) {
		for _, group := range []string{"ssh-keys", "scheduler", "builder"} {
			bare := s.ssh(t, admin, group)
			withHelp := s.ssh(t, admin, group+":help")
			if bare.Code != 0 || bare.Stdout == "" || bare != withHelp {
				t.Errorf("%s vs %s:help differ or fail:\n%s\n%s", group, group, bare, withHelp)
			}
			if !strings.HasPrefix(bare.Stdout, "Usage: dokku "+group+"[:COMMAND]\n\n") {
				t.Errorf("%s:help does not start with the usage line:\n%s", group, bare.Stdout)
			}
		}
	})

	t.Run("apps:help", func(t *testing.T) {
		r := s.ssh(t, admin, "apps:help")
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("apps:help: %s", r)
		}
		checkGolden(t, "apps-help", r.Stdout)
	})

	t.Run("bare apps lists apps", func(t *testing.T) {
		r := s.ssh(t, admin, "apps")
		expect(t, "apps (no apps)", r, 0, "=====> My Apps\n", warn("You haven't deployed any applications yet"))
		s.mustLocal(t, "apps:create", "one")
		r = s.ssh(t, admin, "apps")
		expect(t, "apps", r, 0, "=====> My Apps\none\n", "")
	})
}

// docs/dokku-behaviour.md#help: unknown commands.
func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	for _, words := range [][]string{{"fakecommand"}, {"apps:"}, {"fakecommand", "arg"}} {
		joined := strings.Join(words, " ")
		want := warn("`"+joined+"` is not a dokku command.") + warn("See `dokku help` for a list of available commands.")
		r := s.ssh(t, admin, words...)
		expect(t, "ssh "+joined, r, 1, "", want)
		expect(t, "local "+joined, s.local(t, "", words...), 1, "", want)
	}
}

const appNameRules = "App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens"

// docs/dokku-behaviour.md#apps-commands: apps:* messages and exit codes.
func TestApps(t *testing.T) {
	t.Parallel()
	// Each subtest has a server of its own with the apps it needs created,
	// so that any one of them runs alone (go test -run 'TestApps/lock').
	start := func(t *testing.T, apps ...string) (s *server, admin *keyPair, ssh func(words ...string) result) {
		t.Parallel()
		s, admin = adminServer(t)
		for _, app := range apps {
			s.mustLocal(t, "apps:create", app)
		}
		return s, admin, func(words ...string) result { return s.ssh(t, admin, words...) }
	}
	appDir := func(s *server, app string) string { return filepath.Join(s.DataDir, "home", app) }
	exists := func(s *server, app string) bool {
		fi, err := os.Stat(appDir(s, app))
		return err == nil && fi.IsDir()
	}

	t.Run("list empty", func(t *testing.T) {
		_, _, ssh := start(t)
		expect(t, "apps:list", ssh("apps:list"), 0, "=====> My Apps\n", warn("You haven't deployed any applications yet"))
		expect(t, "apps:list --format json", ssh("apps:list", "--format", "json"), 0, "[]\n", "")
	})

	t.Run("create", func(t *testing.T) {
		s, _, ssh := start(t)
		before := time.Now().Unix()
		expect(t, "apps:create test", ssh("apps:create", "test"), 0, "-----> Creating test...\n", "")
		if !exists(s, "test") {
			t.Errorf("apps:create did not create %s", appDir(s, "test"))
		}
		created := s.mustLocal(t, "apps:report", "test", "--app-created-at").Stdout
		ts, err := strconv.ParseInt(strings.TrimSpace(created), 10, 64)
		if err != nil || ts < before-1 || ts > time.Now().Unix()+1 {
			t.Errorf("created-at = %q, want unix seconds of now", created)
		}
		expect(t, "apps:create test again", ssh("apps:create", "test"), 1, "", warn("Name is already taken"))
		expect(t, "apps:create (no name)", ssh("apps:create"), 1, "", warn("Please specify an app to run the command on"))
		for _, bad := range [][]string{{"Test"}, {"under_score"}, {"--", "-dash"}, {".dot"}, {"sp%ce"}} {
			name := bad[len(bad)-1]
			expect(t, "apps:create "+name, ssh(append([]string{"apps:create"}, bad...)...), 1, "", warn(appNameRules))
			if exists(s, name) {
				t.Errorf("apps:create %s created an app", name)
			}
		}
		// Without `--` a leading dash is a flag to pflag, as in Dokku.
		expect(t, "apps:create -dash", ssh("apps:create", "-dash"), 2, "", "Usage of apps:create:\nunknown shorthand flag: 'd' in -dash\n")
		// Valid odd names (docs/dokku-behaviour.md#app-names: not DNS-1123).
		expect(t, "apps:create a-.b..c", ssh("apps:create", "a-.b..c"), 0, "-----> Creating a-.b..c...\n", "")
	})

	t.Run("exists", func(t *testing.T) {
		_, _, ssh := start(t, "test")
		expect(t, "apps:exists test", ssh("apps:exists", "test"), 0, "", "")
		expect(t, "apps:exists missing", ssh("apps:exists", "missing"), 20, "", warn("App missing does not exist"))
		expect(t, "apps:exists Bad_Name", ssh("apps:exists", "Bad_Name"), 1, "", warn(appNameRules))
		expect(t, "apps:exists", ssh("apps:exists"), 1, "", warn("Please specify an app to run the command on"))
	})

	t.Run("list", func(t *testing.T) {
		_, _, ssh := start(t, "test", "a-.b..c")
		expect(t, "apps:list", ssh("apps:list"), 0, "=====> My Apps\na-.b..c\ntest\n", "")
		expect(t, "apps:list --format json", ssh("apps:list", "--format", "json"), 0, `["a-.b..c","test"]`+"\n", "")
		expect(t, "apps:list --quiet", ssh("apps:list", "--quiet"), 0, "a-.b..c\ntest\n", "")
	})

	t.Run("lock", func(t *testing.T) {
		_, _, ssh := start(t, "test")
		expect(t, "apps:locked (unlocked)", ssh("apps:locked", "test"), 1, "", warn("Deploy lock does not exist"))
		expect(t, "apps:unlock (unlocked)", ssh("apps:unlock", "test"), 1, "", warn("Unable to remove deploy lock"))
		expect(t, "apps:lock", ssh("apps:lock", "test"), 0, "-----> Deploy lock created\n", "")
		expect(t, "apps:locked", ssh("apps:locked", "test"), 0, "Deploy lock exists\n", "")
		expect(t, "apps:report --app-locked", ssh("apps:report", "test", "--app-locked"), 0, "true\n", "")
		expect(t, "apps:unlock", ssh("apps:unlock", "test"), 0, "-----> Deploy lock removed\n",
			warn("A deploy may be in progress.")+warn("Removing the app lock will not stop in progress deploys."))
		expect(t, "apps:locked (after unlock)", ssh("apps:locked", "test"), 1, "", warn("Deploy lock does not exist"))
		expect(t, "apps:report --app-locked", ssh("apps:report", "test", "--app-locked"), 0, "false\n", "")
		for _, c := range []string{"apps:lock", "apps:locked", "apps:unlock"} {
			expect(t, c+" missing", ssh(c, "missing"), 20, "", warn("App missing does not exist"))
		}
	})

	t.Run("destroy prompt", func(t *testing.T) {
		s, admin, ssh := start(t, "test")
		prompt := warn("WARNING: Potentially Destructive Action") + warn("This command will destroy app test.") + warn(`To proceed, type "test"`)
		r := s.sshIn(t, admin, "wrong\n", "apps:destroy", "test")
		expect(t, "apps:destroy test (wrong name)", r, 1, "> ", prompt+"Confirmation did not match test. Aborted.\n")
		if !exists(s, "test") {
			t.Fatal("apps:destroy with a wrong confirmation destroyed the app")
		}
		r = s.sshIn(t, admin, "\n", "apps:destroy", "test")
		expect(t, "apps:destroy test (empty line)", r, 1, "> ", prompt+warn("unexpected newline"))
		r = s.ssh(t, admin, "apps:destroy", "test") // stdin at EOF
		expect(t, "apps:destroy test (EOF)", r, 1, "> ", prompt+warn("EOF"))
		if !exists(s, "test") {
			t.Fatal("apps:destroy without confirmation destroyed the app")
		}
		expect(t, "apps:destroy missing", ssh("apps:destroy", "missing"), 20, "", warn("App missing does not exist"))

		r = s.sshIn(t, admin, "test\n", "apps:destroy", "test")
		expectCode(t, "apps:destroy test (confirmed)", r, 0, "> -----> Destroying test (including all add-ons)\n", prompt)
		if exists(s, "test") {
			t.Error("confirmed apps:destroy left the app")
		}
		expect(t, "apps:exists after destroy", ssh("apps:exists", "test"), 20, "", warn("App test does not exist"))
	})

	t.Run("destroy --force", func(t *testing.T) {
		s, _, ssh := start(t)
		for i, words := range [][]string{
			{"apps:destroy", "f0", "--force"},
			{"--force", "apps:destroy", "f1"}, // ssh ... -- --force apps:destroy f1
			{"apps:destroy", "--force", "f2"},
		} {
			app := fmt.Sprintf("f%d", i)
			s.mustLocal(t, "apps:create", app)
			r := ssh(words...)
			expect(t, strings.Join(words, " "), r, 0, "-----> Destroying "+app+" (including all add-ons)\n", "")
			if exists(s, app) {
				t.Errorf("%s left the app", strings.Join(words, " "))
			}
		}
	})

	t.Run("rename", func(t *testing.T) {
		s, _, ssh := start(t)
		s.mustLocal(t, "apps:create", "old")
		s.mustLocal(t, "scheduler:set", "old", "selected", "k3s")
		r := ssh("apps:rename", "old", "new")
		expectCode(t, "apps:rename old new", r, 0, "-----> Renaming old to new\n-----> Creating new...\n", "")
		if !strings.HasPrefix(r.Stdout, "-----> Renaming old to new\n-----> Creating new...\n") {
			t.Errorf("apps:rename output: %q", r.Stdout)
		}
		if exists(s, "old") || !exists(s, "new") {
			t.Errorf("after rename: old exists=%v new exists=%v", exists(s, "old"), exists(s, "new"))
		}
		expect(t, "renamed app keeps its scheduler", ssh("scheduler:report", "new", "--scheduler-selected"), 0, "k3s\n", "")
		expect(t, "apps:rename missing", ssh("apps:rename", "old", "x"), 20, "", warn("App old does not exist"))
		expect(t, "apps:rename no new name", ssh("apps:rename", "new"), 1, "", warn("Please specify an new app name"))
		s.mustLocal(t, "apps:create", "taken")
		expect(t, "apps:rename to taken", ssh("apps:rename", "new", "taken"), 1, "", warn("Name is already taken"))
		expect(t, "apps:rename to bad", ssh("apps:rename", "new", "Bad"), 1, "", warn(appNameRules))
	})

	t.Run("clone", func(t *testing.T) {
		s, _, ssh := start(t)
		s.mustLocal(t, "apps:create", "src")
		s.mustLocal(t, "scheduler:set", "src", "selected", "k3s")
		s.mustLocal(t, "scheduler:set", "src", "shell", "/bin/sh")
		r := ssh("apps:clone", "src", "dst")
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "-----> Cloning src to dst\n-----> Creating dst...\n") || r.Stderr != "" {
			t.Errorf("apps:clone src dst: %s", r)
		}
		if !exists(s, "src") || !exists(s, "dst") {
			t.Errorf("after clone: src exists=%v dst exists=%v", exists(s, "src"), exists(s, "dst"))
		}
		expect(t, "clone copies selected", ssh("scheduler:report", "dst", "--scheduler-selected"), 0, "k3s\n", "")
		expect(t, "clone copies shell", ssh("scheduler:report", "dst", "--scheduler-shell"), 0, "/bin/sh\n", "")
		expect(t, "apps:clone onto existing", ssh("apps:clone", "src", "dst"), 1, "", warn("Name is already taken"))
		expect(t, "apps:clone --ignore-existing", ssh("apps:clone", "--ignore-existing", "src", "dst"), 0, "", warn("Name is already taken"))
		expect(t, "apps:clone missing", ssh("apps:clone", "nope", "x"), 20, "", warn("App nope does not exist"))
	})

	t.Run("set", func(t *testing.T) {
		_, _, ssh := start(t, "src")
		expect(t, "apps:set --global disable-autocreation true", ssh("apps:set", "--global", "disable-autocreation", "true"), 0,
			"=====> Setting disable-autocreation to true\n", "")
		expect(t, "apps:report --global flag", ssh("apps:report", "--global", "--app-global-disable-autocreation"), 0, "true\n", "")
		expect(t, "apps:set app disable-autocreation", ssh("apps:set", "src", "disable-autocreation", "true"), 1, "",
			warn("Property can only be specified globally"))
		expect(t, "apps:set --global deploy-source", ssh("apps:set", "--global", "deploy-source", "git-push"), 1, "",
			warn("Property cannot be specified globally"))
		expect(t, "apps:set --global disable-autocreation (unset)", ssh("apps:set", "--global", "disable-autocreation"), 0,
			"=====> Unsetting disable-autocreation\n", "")
		expect(t, "apps:report --global flag after unset", ssh("apps:report", "--global", "--app-global-disable-autocreation"), 0, "\n", "")
	})
}

// normalizeReport replaces the dynamic parts of report output: the data
// directory and unix timestamps.
func normalizeReport(s *server, out string) string {
	out = strings.ReplaceAll(out, s.DataDir, "{{DATA_DIR}}")
	return regexp.MustCompile(`\b1[0-9]{9}\b`).ReplaceAllString(out, "{{TIMESTAMP}}")
}

// docs/dokku-behaviour.md#report-layout: reports, byte for byte.
func TestReports(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	ssh := func(words ...string) result { return s.ssh(t, admin, words...) }

	t.Run("no apps", func(t *testing.T) {
		for _, c := range []string{"apps:report", "scheduler:report", "builder:report"} {
			expect(t, c+" (no apps)", ssh(c), 0, "", warn("You haven't deployed any applications yet"))
		}
	})

	s.mustLocal(t, "apps:create", "app1")

	golden := []struct {
		name  string
		words []string
	}{
		{"apps-report", []string{"apps:report", "app1"}},
		{"apps-report-json", []string{"apps:report", "app1", "--format", "json"}},
		{"apps-report-global", []string{"apps:report", "--global"}},
		{"apps-report-global-json", []string{"apps:report", "--global", "--format", "json"}},
		{"scheduler-report", []string{"scheduler:report", "app1"}},
		{"scheduler-report-json", []string{"scheduler:report", "app1", "--format", "json"}},
		{"scheduler-report-global", []string{"scheduler:report", "--global"}},
		{"builder-report", []string{"builder:report", "app1"}},
		{"builder-report-json", []string{"builder:report", "app1", "--format", "json"}},
	}
	for _, g := range golden {
		t.Run(g.name, func(t *testing.T) {
			r := ssh(g.words...)
			if r.Code != 0 || r.Stderr != "" {
				t.Fatalf("%s: %s", strings.Join(g.words, " "), r)
			}
			checkGolden(t, g.name, normalizeReport(s, r.Stdout))
		})
	}

	t.Run("all apps", func(t *testing.T) {
		// No app: a report for every app in turn.
		one := ssh("scheduler:report", "app1")
		all := ssh("scheduler:report")
		expect(t, "scheduler:report (all apps)", all, 0, one.Stdout, "")
	})

	t.Run("report", func(t *testing.T) {
		// The host's vitals, then every plugin's report of the app, each
		// as it prints alone.
		r := ssh("report", "app1")
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "-----> uname: ") || !strings.Contains(r.Stdout, "\n-----> dokku plugins: \n") {
			t.Fatalf("report app1: %s", r)
		}
		for _, c := range []string{"apps:report", "builder:report", "scheduler:report"} {
			if one := ssh(c, "app1"); !strings.Contains(r.Stdout, one.Stdout) {
				t.Errorf("report app1 lacks %s:\n%s", c, one.Stdout)
			}
		}
		if vitals := ssh("report"); vitals.Code != 0 || strings.Contains(vitals.Stdout, "=====> ") {
			t.Errorf("report without an app: %s", vitals)
		}
		if all := ssh("report", "--all"); all.Code != 0 || !strings.Contains(all.Stdout, "=====> app1 app information\n") {
			t.Errorf("report --all: %s", all)
		}
		r = ssh("report", "missing")
		if r.Code != 20 || !strings.HasSuffix(r.Stderr, warn("App missing does not exist")) {
			t.Errorf("report missing: %s\nwant exit 20 ending in App missing does not exist", r)
		}
		expect(t, "report --format json", ssh("report", "--format", "json"), 1, "", warn("--format flag not supported on global report"))
	})

	t.Run("info flags", func(t *testing.T) {
		expect(t, "--scheduler-computed-selected", ssh("scheduler:report", "app1", "--scheduler-computed-selected"), 0, "docker-local\n", "")
		expect(t, "--scheduler-selected (empty)", ssh("scheduler:report", "app1", "--scheduler-selected"), 0, "\n", "")
		expect(t, "--app-dir", ssh("apps:report", "app1", "--app-dir"), 0, filepath.Join(s.DataDir, "home", "app1")+"\n", "")
		expect(t, "--builder-computed-selected", ssh("builder:report", "app1", "--builder-computed-selected"), 0, "\n", "")
		expect(t, "--global --scheduler-computed-selected", ssh("scheduler:report", "--global", "--scheduler-computed-selected"), 0, "docker-local\n", "")

		r := ssh("scheduler:report", "app1", "--scheduler-selected", "--scheduler-shell")
		if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, " !     ") {
			t.Errorf("two info flags: %s\nwant exit 1 with a ` !     ` message and no stdout", r)
		}

		expect(t, "unknown flag", ssh("scheduler:report", "app1", "--bogus"), 1, "",
			warn("Invalid flag passed, valid flags: --scheduler-computed-selected, --scheduler-computed-shell, --scheduler-global-selected, --scheduler-global-shell, --scheduler-selected, --scheduler-shell"))
		expect(t, "global has no app flags", ssh("scheduler:report", "--global", "--scheduler-selected"), 1, "",
			warn("Invalid flag passed, valid flags: --scheduler-computed-selected, --scheduler-computed-shell, --scheduler-global-selected, --scheduler-global-shell"))
		expect(t, "unknown apps flag", ssh("apps:report", "app1", "--nope"), 1, "",
			warn("Invalid flag passed, valid flags: --app-created-at, --app-deploy-source, --app-deploy-source-metadata, --app-dir, --app-global-disable-autocreation, --app-locked"))
		expect(t, "bad format", ssh("scheduler:report", "app1", "--format", "yaml"), 1, "", warn(`Format must be "stdout" or "json": "yaml"`))
		expect(t, "json with info flag", ssh("scheduler:report", "app1", "--format", "json", "--scheduler-selected"), 1, "",
			warn("--format flag cannot be specified when specifying an info flag"))
		expect(t, "missing app", ssh("scheduler:report", "missing"), 20, "", warn("App missing does not exist"))
		expect(t, "missing app (apps)", ssh("apps:report", "missing"), 20, "", warn("App missing does not exist"))
	})

	t.Run("quiet", func(t *testing.T) {
		full := ssh("scheduler:report", "app1")
		header := "=====> app1 scheduler information\n"
		if !strings.HasPrefix(full.Stdout, header) {
			t.Fatalf("report header: %q", full.Stdout)
		}
		expect(t, "scheduler:report --quiet", ssh("scheduler:report", "app1", "--quiet"), 0, strings.TrimPrefix(full.Stdout, header), "")
		expect(t, "--quiet scheduler:report", ssh("--quiet", "scheduler:report", "app1"), 0, strings.TrimPrefix(full.Stdout, header), "")
	})

	t.Run("scheduler:set", func(t *testing.T) {
		expect(t, "scheduler:set selected", ssh("scheduler:set", "app1", "selected", "k3s"), 0, "=====> Setting selected to k3s\n", "")
		want := "=====> app1 scheduler information\n" +
			"       Scheduler computed selected:   k3s\n" +
			"       Scheduler computed shell:      \n" +
			"       Scheduler global selected:     \n" +
			"       Scheduler global shell:        \n" +
			"       Scheduler selected:            k3s\n" +
			"       Scheduler shell:               \n"
		expect(t, "scheduler:report after set", ssh("scheduler:report", "app1"), 0, want, "")
		expect(t, "scheduler:set --global selected", ssh("scheduler:set", "--global", "selected", "null"), 0, "=====> Setting selected to null\n", "")
		expect(t, "global does not override app", ssh("scheduler:report", "app1", "--scheduler-computed-selected"), 0, "k3s\n", "")
		expect(t, "scheduler:set unset", ssh("scheduler:set", "app1", "selected"), 0, "=====> Unsetting selected\n", "")
		expect(t, "global applies after unset", ssh("scheduler:report", "app1", "--scheduler-computed-selected"), 0, "null\n", "")
		expect(t, "scheduler:set --global unset", ssh("scheduler:set", "--global", "selected"), 0, "=====> Unsetting selected\n", "")
		expect(t, "default after unset", ssh("scheduler:report", "app1", "--scheduler-computed-selected"), 0, "docker-local\n", "")

		expect(t, "no property", ssh("scheduler:set", "app1"), 1, "", warn("No property specified"))
		expect(t, "invalid property", ssh("scheduler:set", "app1", "bogus", "x"), 1, "",
			warn("Invalid property specified, valid properties include: selected, shell"))
		expect(t, "missing app", ssh("scheduler:set", "missing", "selected", "k3s"), 20, "", warn("App missing does not exist"))
		expect(t, "no app", ssh("scheduler:set"), 1, "", warn("Please specify an app to run the command on"))
	})
}

// docs/dokku-behaviour.md#tokenizing: the SSH command line is tokenised with
// xargs rules.
func TestTokenizing(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	s.mustLocal(t, "apps:create", "app")
	shell := func() result { return s.ssh(t, admin, "scheduler:report", "app", "--scheduler-shell") }

	cases := []struct {
		raw  string // the remote command line exactly as ssh sends it
		want string // the shell value afterwards
	}{
		{`scheduler:set app shell "/bin/sh -l"`, "/bin/sh -l"},
		{`scheduler:set app shell '/bin/bash  --login'`, "/bin/bash  --login"},
		{`scheduler:set app shell a"b c"d`, "ab cd"},
		{`scheduler:set app shell "it's" 'say "hi"'`, `it's say "hi"`},
		{`scheduler:set app shell /bin/a\ b`, "/bin/a b"},
		{`scheduler:set app shell $HOME *`, "$HOME *"},
	}
	for _, c := range cases {
		r := s.ssh(t, admin, c.raw)
		expect(t, c.raw, r, 0, "=====> Setting shell to "+c.want+"\n", "")
		expect(t, "shell after "+c.raw, shell(), 0, c.want+"\n", "")
	}

	t.Run("unmatched quote", func(t *testing.T) {
		s.mustSSH(t, admin, "scheduler:set", "app", "shell", "/bin/sh")
		for _, raw := range []string{`scheduler:set app shell "/bin/sh -l`, `scheduler:set app shell '/bin/sh -l`} {
			r := s.ssh(t, admin, raw)
			if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, " !     ") || !strings.Contains(strings.ToLower(r.Stderr), "quote") {
				t.Errorf("%s: %s\nwant exit 1, nothing on stdout, a ` !     ` message about the quote", raw, r)
			}
		}
		expect(t, "shell unchanged after unmatched quotes", shell(), 0, "/bin/sh\n", "")
	})

	t.Run("global flags anywhere", func(t *testing.T) {
		expect(t, "apps:list --quiet", s.ssh(t, admin, "apps:list", "--quiet"), 0, "app\n", "")
		expect(t, "--quiet apps:list", s.ssh(t, admin, "--quiet", "apps:list"), 0, "app\n", "")
		byApp := s.ssh(t, admin, "--app", "app", "scheduler:report")
		direct := s.ssh(t, admin, "scheduler:report", "app")
		if byApp.Code != 0 || byApp != direct {
			t.Errorf("--app app scheduler:report differs from scheduler:report app:\n%s\n%s", byApp, direct)
		}
		expect(t, "--app app scheduler:report --scheduler-shell", s.ssh(t, admin, "--app", "app", "scheduler:report", "--scheduler-shell"), 0, "/bin/sh\n", "")
		expect(t, "--app=app apps:exists", s.ssh(t, admin, "--app=app", "apps:exists"), 0, "", "")
		expect(t, "--app missing apps:exists", s.ssh(t, admin, "--app", "missing", "apps:exists"), 20, "", warn("App missing does not exist"))
	})
}

// docs/dokku-behaviour.md#output-prefixes: no PTY keeps stdout and stderr
// apart; a PTY merges them.
func TestStreams(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	r := s.ssh(t, admin, "apps:list")
	expect(t, "apps:list without PTY", r, 0, "=====> My Apps\n", warn("You haven't deployed any applications yet"))

	r = s.sshWith(t, admin, sshOpts{Extra: []string{"-tt"}}, "apps:list")
	want := "=====> My Apps\r\n !     You haven't deployed any applications yet\r\n"
	if r.Code != 0 || r.Stdout != want || strings.Contains(r.Stderr, "deployed") {
		t.Errorf("apps:list with -tt: %s\nwant both lines merged on stdout: %q", r, want)
	}

	// Exit codes travel through a PTY too.
	r = s.sshWith(t, admin, sshOpts{Extra: []string{"-tt"}}, "apps:exists", "missing")
	if r.Code != 20 || !strings.Contains(r.Stdout, " !     App missing does not exist") {
		t.Errorf("apps:exists missing with -tt: %s\nwant exit 20 and the message on the PTY", r)
	}
}

// Many sessions at once.
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	s.mustLocal(t, "apps:create", "alpha")
	s.mustLocal(t, "apps:create", "beta")
	const n = 16
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.ssh(t, admin, "apps:list")
		}()
	}
	wg.Wait()
	for i, r := range results {
		expect(t, fmt.Sprintf("apps:list #%d", i), r, 0, "=====> My Apps\nalpha\nbeta\n", "")
	}
}

// Racing creates of one name: exactly one wins.
func TestConcurrentAppCreate(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	const n = 8
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				results[i] = s.ssh(t, admin, "apps:create", "contested")
			} else {
				results[i] = s.local(t, "", "apps:create", "contested")
			}
		}()
	}
	wg.Wait()
	won := 0
	for i, r := range results {
		switch {
		case r.Code == 0 && r.Stdout == "-----> Creating contested...\n" && r.Stderr == "":
			won++
		case r.Code == 1 && r.Stdout == "" && r.Stderr == warn("Name is already taken"):
		default:
			t.Errorf("apps:create #%d: %s", i, r)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent apps:create of one name succeeded, want exactly 1", won, n)
	}
	expect(t, "apps:list", s.ssh(t, admin, "apps:list"), 0, "=====> My Apps\ncontested\n", "")
}

// The local command and SSH give the same output and exit code.
func TestLocalMatchesSSH(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	check := func(words ...string) {
		t.Helper()
		remote := s.ssh(t, admin, words...)
		local := s.local(t, "", words...)
		if remote != local {
			t.Errorf("%s: local and ssh differ\nlocal: %s\n  ssh: %s", strings.Join(words, " "), local, remote)
		}
	}
	check("apps:list")
	check("apps:exists", "missing")
	check("help")
	s.mustLocal(t, "apps:create", "app")
	check("apps:list")
	check("apps:list", "--format", "json")
	check("scheduler:report", "app")
	check("scheduler:report", "app", "--format", "json")
	check("apps:report", "app")
	check("apps:exists", "missing")
	check("apps:exists", "app")
	check("scheduler:set", "app", "bogus", "x")
	check("ssh-keys:list")
	check("fakecommand")
}
