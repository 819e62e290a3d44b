package commands

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"dokku-sshd/keys"
	"dokku-sshd/store"
)

// testDispatcher returns a dispatcher over a fresh data directory.
func testDispatcher(t *testing.T) *Dispatcher {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil), Version: "1.2.3"})
}

type result struct {
	stdout, stderr string
	code           int
}

func run(d *Dispatcher, id keys.Identity, tty bool, stdin string, argv ...string) result {
	var out, errb bytes.Buffer
	sio := IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, TTY: tty}
	code := d.Run(context.Background(), sio, id, argv)
	return result{out.String(), errb.String(), code}
}

var (
	local = keys.Identity{Name: "root", Local: true, Admin: true}
	user  = keys.Identity{Name: "bob", Fingerprint: "SHA256:x"}
)

func TestDispatch(t *testing.T) {
	d := testDispatcher(t)
	if r := run(d, local, false, "", "apps:create", "app1"); r.code != 0 {
		t.Fatalf("apps:create: %+v", r)
	}
	tests := []struct {
		name   string
		id     keys.Identity
		argv   []string
		stdout string
		stderr string
		code   int
	}{
		{"version", user, []string{"version"}, "dokku-sshd version 1.2.3\n", "", 0},
		{"-v", user, []string{"-v"}, "dokku-sshd version 1.2.3\n", "", 0},
		{"--version", user, []string{"--version"}, "dokku-sshd version 1.2.3\n", "", 0},
		{"unknown", user, []string{"fakecommand", "a"}, "", " !     `fakecommand a` is not a dokku command.\n !     See `dokku help` for a list of available commands.\n", 1},
		{"empty subcommand", user, []string{"apps:"}, "", " !     `apps:` is not a dokku command.\n !     See `dokku help` for a list of available commands.\n", 1},
		{"root only over ssh", user, []string{"ssh-keys:add", "x"}, "", " !     This command must be run as root\n", 1},
		{"root only admin", keys.Identity{Name: "adm", Admin: true}, []string{"ssh-keys:remove"}, "", " !     No public keys found.\n", 1},
		{"missing app 20", user, []string{"apps:exists", "nope"}, "", " !     App nope does not exist\n", 20},
		{"invalid app 1", user, []string{"apps:exists", "Bad_"}, "", " !     App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens\n", 1},
		{"no app", user, []string{"apps:exists"}, "", " !     Please specify an app to run the command on\n", 1},
		{"leading global flags stripped", user, []string{"--quiet", "apps:list"}, "app1\n", "", 0},
		{"global flag after command", user, []string{"apps:list", "--quiet"}, "app1\n", "", 0},
		{"--app injected", user, []string{"--app", "app1", "scheduler:report", "--scheduler-computed-selected"}, "docker-local\n", "", 0},
		{"alias docker-local unknown sub", user, []string{"docker-local:nothing"}, "", " !     `docker-local:nothing` is not a dokku command.\n !     See `dokku help` for a list of available commands.\n", 1},
		{"two info flags", user, []string{"scheduler:report", "app1", "--scheduler-selected", "--scheduler-shell"}, "", " !     scheduler:report command allows only a single flag\n", 1},
		{"set no property", user, []string{"scheduler:set", "app1"}, "", " !     No property specified\n", 1},
		{"set invalid property", user, []string{"scheduler:set", "app1", "nope"}, "", " !     Invalid property specified, valid properties include: selected, shell\n", 1},
		{"set missing app", user, []string{"scheduler:set", "nope", "selected", "k3s"}, "", " !     App nope does not exist\n", 20},
		{"set only global", user, []string{"apps:set", "app1", "disable-autocreation", "true"}, "", " !     Property can only be specified globally\n", 1},
		{"set not global", user, []string{"apps:set", "--global", "deploy-source", "x"}, "", " !     Property cannot be specified globally\n", 1},
		{"trace", user, []string{"--trace", "apps:exists", "app1"}, "", " ?     running apps:exists [\"app1\"] as \"bob\" (admin=false, local=false)\n", 0},
		{"builder invalid", user, []string{"builder:set", "app1", "selected", "herokuish"}, "", " !     Invalid builder specified, valid builders: dockerfile, null\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(d, tt.id, false, "", tt.argv...)
			if r.stdout != tt.stdout || r.stderr != tt.stderr || r.code != tt.code {
				t.Fatalf("%q:\n got stdout=%q stderr=%q code=%d\nwant stdout=%q stderr=%q code=%d",
					tt.argv, r.stdout, r.stderr, r.code, tt.stdout, tt.stderr, tt.code)
			}
		})
	}
}

func TestRunSSHUnmatchedQuote(t *testing.T) {
	d := testDispatcher(t)
	var out, errb bytes.Buffer
	code := d.RunSSH(context.Background(), IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, user, `apps:create "oops`)
	if code != 1 || !strings.Contains(errb.String(), "unmatched double quote") || out.Len() != 0 {
		t.Fatalf("code=%d stdout=%q stderr=%q", code, out.String(), errb.String())
	}
}

func TestHelpLayout(t *testing.T) {
	d := testDispatcher(t)
	noTTY := run(d, user, false, "", "help")
	withTTY := run(d, user, true, "", "help")
	if strings.Contains(noTTY.stdout, "Usage:") {
		t.Fatalf("help without a TTY must hide the header lines:\n%s", noTTY.stdout)
	}
	if !strings.HasPrefix(withTTY.stdout, "Usage: dokku [--quiet|--trace|--force] COMMAND <app> [command-specific-options]\n\n") {
		t.Fatalf("help with a TTY lacks the usage header:\n%s", withTTY.stdout)
	}
	if !strings.HasSuffix(withTTY.stdout, noTTY.stdout) {
		t.Fatalf("the command list differs with and without a TTY")
	}
	// Columns: every description starts at the same byte.
	col := -1
	for _, line := range strings.Split(strings.TrimSuffix(noTTY.stdout, "\n"), "\n") {
		name := strings.Fields(line)[0]
		i := strings.Index(line, name) + len(name)
		j := i + len(line[i:]) - len(strings.TrimLeft(line[i:], " "))
		if col == -1 {
			col = j
		}
		if j != col {
			t.Fatalf("misaligned help line %q (description at %d, want %d)", line, j, col)
		}
	}
	// Bare group name and GROUP:help print the same bytes.
	for _, g := range []string{"ssh-keys", "scheduler", "builder"} {
		a, b := run(d, user, false, "", g), run(d, user, false, "", g+":help")
		if a.stdout != b.stdout || a.code != 0 || !strings.HasPrefix(a.stdout, "Usage: dokku "+g+"[:COMMAND]\n\n") {
			t.Fatalf("%s help: bare=%q help=%q", g, a.stdout, b.stdout)
		}
	}
}

func TestDestroyConfirmation(t *testing.T) {
	d := testDispatcher(t)
	for _, tc := range []struct {
		stdin, stderrEnd string
		code             int
	}{
		{"other\n", "Confirmation did not match test. Aborted.\n", 1},
		{"", " !     EOF\n", 1},
		{"\n", " !     unexpected newline\n", 1},
		{"app2\n", "", 0},
	} {
		run(d, local, false, "", "apps:create", "app2")
		r := run(d, user, false, tc.stdin, "apps:destroy", "app2")
		if r.code != tc.code || !strings.HasSuffix(r.stderr, tc.stderrEnd) || !strings.HasPrefix(r.stderr, " !     WARNING: Potentially Destructive Action\n") {
			t.Fatalf("stdin %q: %+v", tc.stdin, r)
		}
		if exists := d.cfg.Store.AppExists("app2"); exists != (tc.code != 0) {
			t.Fatalf("stdin %q: app exists = %v", tc.stdin, exists)
		}
	}
	run(d, local, false, "", "apps:create", "app3")
	if r := run(d, user, false, "", "--force", "apps:destroy", "app3"); r.code != 0 || r.stdout != "-----> Destroying app3 (including all add-ons)\n" {
		t.Fatalf("--force destroy: %+v", r)
	}
}

// TestRawArgsCommandNamedLikeGroup: `run APP CMD --force` reaches run with
// --force among the command's words (the group's bare name is the command).
func TestRawArgsCommandNamedLikeGroup(t *testing.T) {
	d := testDispatcher(t)
	var got []string
	d.Register(&Group{Name: "echoraw", Commands: []*Command{{Name: "echoraw", RawArgs: true,
		Run: func(e *Call, args []string) error { got = args; return nil }}}})
	if r := run(d, local, false, "", "echoraw", "app", "cmd", "--force", "--quiet"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if strings.Join(got, " ") != "app cmd --force --quiet" {
		t.Errorf("args %q", got)
	}
}

func TestVerb(t *testing.T) {
	for raw, want := range map[string]string{
		"":                                 "",
		"ssh-keys:list":                    "ssh-keys:list",
		"  --quiet ssh-keys:add name":      "ssh-keys:add",
		"--app x ssh-keys:list":            "ssh-keys:list",
		"--app=x apps:list":                "apps:list",
		"--trace --force":                  "",
		"--version":                        "--version",
		`config:set app "A=b c"`:           "config:set",
		`ssh-keys:add 'unterminated`:       "",
		"git-receive-pack 'app'":           "git-receive-pack",
		"\tssh-keys:remove\n--quiet name ": "ssh-keys:remove",
	} {
		if got := Verb(raw); got != want {
			t.Errorf("Verb(%q) = %q, want %q", raw, got, want)
		}
	}
}
