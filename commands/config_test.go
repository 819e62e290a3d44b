package commands

import (
	"archive/tar"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"dokku-sshd/keys"
	"dokku-sshd/output"
)

func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Fatalf("%s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", t.Name(), path, got, want)
	}
}

func configDispatcher(t *testing.T) *Dispatcher {
	t.Helper()
	d := testDispatcher(t)
	for _, app := range []string{"app1", "app2"} {
		if r := run(d, local, false, "", "apps:create", app); r.code != 0 {
			t.Fatalf("apps:create %s: %+v", app, r)
		}
	}
	return d
}

// cfgStep is one command run and what it must print and return; steps run
// in order against one dispatcher. Fields left out are empty (no stdin, no
// output, exit 0).
type cfgStep struct {
	name           string
	argv           []string
	stdin          string
	stdout, stderr string
	code           int
}

func runSteps(t *testing.T, d *Dispatcher, id keys.Identity, steps []cfgStep) {
	t.Helper()
	for _, s := range steps {
		r := run(d, id, false, s.stdin, s.argv...)
		if r.stdout != s.stdout || r.stderr != s.stderr || r.code != s.code {
			t.Errorf("%s %q:\n got stdout=%q\n     stderr=%q code=%d\nwant stdout=%q\n     stderr=%q code=%d",
				s.name, s.argv, r.stdout, r.stderr, r.code, s.stdout, s.stderr, s.code)
		}
	}
}

const appRules = " !     App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens\n"

func TestConfigSetGetUnset(t *testing.T) {
	d := configDispatcher(t)
	runSteps(t, d, user, []cfgStep{
		{name: "set", argv: []string{"config:set", "app1", "A=1", "B=hello world", "LONG_NAME=x"},
			stdout: "-----> Setting config vars\n       A:          1\n       B:          hello world\n       LONG_NAME:  x\n"},
		{name: "get", argv: []string{"config:get", "app1", "B"}, stdout: "hello world\n"},
		{name: "get --quoted", argv: []string{"config:get", "--quoted", "app1", "B"}, stdout: "'hello world'\n"},
		{name: "flags anywhere", argv: []string{"config:get", "app1", "B", "--quoted"}, stdout: "'hello world'\n"},
		{name: "--app", argv: []string{"--app", "app1", "config:get", "A"}, stdout: "1\n"},
		{name: "get unset key", argv: []string{"config:get", "app1", "NOPE"}, code: 1},
		{name: "get invalid key", argv: []string{"config:get", "app1", "1A"}, code: 1},
		{name: "get no key", argv: []string{"config:get", "app1"}, stderr: " !     Expected: key\n", code: 1},
		{name: "get two keys", argv: []string{"config:get", "app1", "A", "B", "C"}, stderr: " !     Unexpected argument(s): [B C]\n", code: 1},
		{name: "get no app", argv: []string{"config:get"}, stderr: " !     Please specify an app to run the command on\n", code: 1},
		{name: "get missing app", argv: []string{"config:get", "nope", "A"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "get invalid app", argv: []string{"config:get", "Bad_App", "A"}, stderr: appRules, code: 1},
		{name: "other app untouched", argv: []string{"config:get", "app2", "A"}, code: 1},
		{name: "overwrite, quiet", argv: []string{"--quiet", "config:set", "app1", "A=2", "A=3"}},
		{name: "last pair wins", argv: []string{"config:get", "app1", "A"}, stdout: "3\n"},
		{name: "set no pairs", argv: []string{"config:set", "app1"}, stderr: " !     At least one env pair must be given\n", code: 1},
		{name: "set no app", argv: []string{"config:set"}, stderr: " !     Please specify an app to run the command on\n", code: 1},
		{name: "set missing app", argv: []string{"config:set", "nope", "A=1"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "set pair without =", argv: []string{"config:set", "app1", "A=1", "NOEQ"}, stderr: " !     Invalid env pair: NOEQ\n", code: 1},
		{name: "set invalid key", argv: []string{"config:set", "app1", "GOOD=1", "1BAD=2"}, stderr: " !     Invalid key name: '1BAD'\n", code: 1},
		{name: "set empty key", argv: []string{"config:set", "app1", "=x"}, stderr: " !     Invalid key name: ''\n", code: 1},
		{name: "set dashed key", argv: []string{"config:set", "app1", "A-B=x"}, stderr: " !     Invalid key name: 'A-B'\n", code: 1},
		{name: "nothing written on failure", argv: []string{"config:get", "app1", "GOOD"}, code: 1},
		{name: "encoded", argv: []string{"config:set", "--encoded", "app1", "ENC=" + base64.StdEncoding.EncodeToString([]byte("line1\nline2\n"))},
			stdout: "-----> Setting config vars\n       ENC:  line1\nline2\n"},
		{name: "encoded kept byte for byte", argv: []string{"config:get", "app1", "ENC"}, stdout: "line1\nline2\n\n"},
		{name: "encoded invalid", argv: []string{"config:set", "--encoded", "app1", "X=@@@"}, stderr: " !     illegal base64 data at input byte 0 for key 'X'\n", code: 1},
		{name: "encoded unpadded", argv: []string{"config:set", "--encoded", "app1", "X=YQ"}, stderr: " !     illegal base64 data at input byte 0 for key 'X'\n", code: 1},
		{name: "multi-line pair", argv: []string{"config:set", "app1", "A\nB"}, stderr: " !     Invalid env pair: A\nB\n", code: 1},
		{name: "unset", argv: []string{"config:unset", "app1", "A", "A", "NOPE"},
			stdout: "-----> Unsetting A\n-----> Skipping A, it is not set in the environment\n-----> Skipping NOPE, it is not set in the environment\n"},
		{name: "unset quiet", argv: []string{"config:unset", "--quiet", "app1", "B"}},
		{name: "unset gone", argv: []string{"config:get", "app1", "A"}, code: 1},
		{name: "unset no keys", argv: []string{"config:unset", "app1"}, stderr: " !     At least one key must be given\n", code: 1},
		{name: "unset invalid key first", argv: []string{"config:unset", "app1", "LONG_NAME", "a.b"}, stderr: " !     Invalid key name: 'a.b'\n", code: 1},
		{name: "unset validated before anything", argv: []string{"config:get", "app1", "LONG_NAME"}, stdout: "x\n"},
		{name: "unset missing app", argv: []string{"config:unset", "nope", "A"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "keys", argv: []string{"config:keys", "app1"}, stdout: "ENC\nLONG_NAME\n"},
		{name: "clear", argv: []string{"config:clear", "app1"}, stdout: "-----> Unsetting ENC\n-----> Unsetting LONG_NAME\n"},
		{name: "clear empty", argv: []string{"config:clear", "app1"}},
		{name: "keys empty", argv: []string{"config:keys", "app1"}},
		{name: "clear missing app", argv: []string{"config:clear", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
	})
}

func TestConfigGlobal(t *testing.T) {
	d := configDispatcher(t)
	runSteps(t, d, user, []cfgStep{
		{name: "set global", argv: []string{"config:set", "--global", "G=1", "SHARED=global"}, stdout: "-----> Setting config vars\n       G:       1\n       SHARED:  global\n"},
		{name: "set app", argv: []string{"config:set", "app1", "SHARED=app", "A=a"}, stdout: "-----> Setting config vars\n       A:       a\n       SHARED:  app\n"},
		{name: "get global", argv: []string{"config:get", "--global", "SHARED"}, stdout: "global\n"},
		{name: "get app does not merge", argv: []string{"config:get", "app1", "G"}, code: 1},
		{name: "global pair that looks like an app", argv: []string{"config:set", "--global", "app1", "X=1"}, stderr: " !     Invalid env pair: app1\n", code: 1},
		{name: "global get extra", argv: []string{"config:get", "--global", "app1", "G"}, stderr: " !     Unexpected argument(s): [G]\n", code: 1},
		{name: "keys", argv: []string{"config:keys", "app1"}, stdout: "A\nSHARED\n"},
		{name: "keys merged", argv: []string{"config:keys", "--merged", "app1"}, stdout: "A\nG\nSHARED\n"},
		{name: "keys global", argv: []string{"config:keys", "--global"}, stdout: "G\nSHARED\n"},
		{name: "keys global merged", argv: []string{"config:keys", "--global", "--merged"}, stdout: "G\nSHARED\n"},
		{name: "show", argv: []string{"config:show", "app1"}, stdout: "=====> app1 env vars\nA:       a\nSHARED:  app\n"},
		{name: "show merged", argv: []string{"config:show", "--merged", "app1"}, stdout: "=====> app1 env vars\nA:       a\nG:       1\nSHARED:  app\n"},
		{name: "show global", argv: []string{"config:show", "--global"}, stdout: "=====> global env vars\nG:       1\nSHARED:  global\n"},
		{name: "show quiet", argv: []string{"config:show", "--quiet", "app1"}, stdout: "A:       a\nSHARED:  app\n"},
		{name: "show empty", argv: []string{"config:show", "app2"}, stdout: "=====> app2 env vars\n\n"},
		{name: "show missing app", argv: []string{"config:show", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "show no app", argv: []string{"config:show"}, stderr: " !     Please specify an app to run the command on\n", code: 1},
		{name: "unset global", argv: []string{"config:unset", "--global", "G"}, stdout: "-----> Unsetting G\n"},
		{name: "clear global", argv: []string{"config:clear", "--global"}, stdout: "-----> Unsetting SHARED\n"},
		{name: "global gone", argv: []string{"config:keys", "--global"}},
	})
}

func TestConfigBare(t *testing.T) {
	d := configDispatcher(t)
	run(d, local, false, "", "config:set", "app1", "A=x y", "B=it's")
	run(d, local, false, "", "config:set", "--global", "G=g")
	help := run(d, user, false, "", "config:help").stdout
	show := "=====> app1 env vars\nA:  x y\nB:  it's\n"
	runSteps(t, d, user, []cfgStep{
		{name: "show", argv: []string{"config", "app1"}, stdout: show},
		{name: "no app", argv: []string{"config"}, stderr: " !     Please specify an app to run the command on\n", code: 1},
		{name: "missing app", argv: []string{"config", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "global", argv: []string{"config", "--global"}, stdout: "=====> global env vars\nG:  g\n"},
		{name: "single dash", argv: []string{"config", "-global"}, stdout: "=====> global env vars\nG:  g\n"},
		{name: "merged", argv: []string{"config", "--merged", "app1"}, stdout: "=====> app1 env vars\nA:  x y\nB:  it's\nG:  g\n"},
		{name: "flags stop at the app", argv: []string{"config", "app1", "--merged"}, stdout: show},
		{name: "--global takes an app unchecked", argv: []string{"config", "--global", "app2"}, stdout: "=====> app2 env vars\n\n"},
		{name: "--global with a missing app", argv: []string{"config", "--global", "nope"}, stdout: "=====> nope env vars\n\n"},
		{name: "shell", argv: []string{"config", "--shell", "app1"}, stdout: "A='x y' B='it'\\''s'", stderr: " !     Deprecated: Use 'config:export --format shell' instead\n"},
		{name: "export", argv: []string{"config", "--export", "app1"}, stdout: "export A='x y'\nexport B='it'\\''s'\n", stderr: " !     Deprecated: Use 'config:export --format exports' instead\n"},
		{name: "shell and export", argv: []string{"config", "--shell", "--export", "app1"}, stderr: " !     Only one of --shell and --export can be given\n", code: 1},
		{name: "help", argv: []string{"config", "--help"}, stdout: help},
		{name: "-h", argv: []string{"config", "-h"}, stdout: help},
		{name: "unknown flag", argv: []string{"config", "--bogus", "app1"}, stdout: help, stderr: "flag provided but not defined: -bogus\n", code: 2},
		{name: "bad bool", argv: []string{"config", "--global=maybe"}, stdout: help, stderr: "invalid boolean value \"maybe\" for -global: parse error\n", code: 2},
		{name: "bad syntax", argv: []string{"config", "---x"}, stdout: help, stderr: "bad flag syntax: ---x\n", code: 2},
		{name: "--app", argv: []string{"--app", "app1", "config"}, stdout: show},
	})
}

// The bare command takes flags first, as Go's flag package does.
func TestConfigBareFlags(t *testing.T) {
	tests := []struct {
		args []string
		set  []string // flags that end up true
		rest []string
		err  string
	}{
		{args: []string{"app"}, rest: []string{"app"}},
		{args: []string{"-global", "x"}, set: []string{"global"}, rest: []string{"x"}},
		{args: []string{"--global=false", "a"}, rest: []string{"a"}},
		{args: []string{"--merged", "a", "--shell"}, set: []string{"merged"}, rest: []string{"a", "--shell"}},
		{args: []string{"--", "--global"}, rest: []string{"--global"}},
		{args: []string{"--global", "--global=false"}},
		{args: []string{"--nope"}, err: "flag provided but not defined: -nope"},
		{args: []string{"--global=maybe"}, err: `invalid boolean value "maybe" for -global: parse error`},
		{args: []string{"--=x"}, err: "bad flag syntax: --=x"},
		{args: []string{"-help=x"}, err: flag.ErrHelp.Error()},
	}
	for _, tt := range tests {
		flags, rest, err := parseBareFlags(tt.args)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: err = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		var set []string
		for _, n := range []string{"export", "global", "merged", "shell"} {
			if flags[n] {
				set = append(set, n)
			}
		}
		if !reflect.DeepEqual(set, tt.set) || len(rest) != len(tt.rest) || (len(rest) > 0 && !reflect.DeepEqual(rest, tt.rest)) {
			t.Errorf("%q: set %q rest %q, want %q %q", tt.args, set, rest, tt.set, tt.rest)
		}
	}
}

func TestConfigFlagErrors(t *testing.T) {
	d := configDispatcher(t)
	setUsage := "Usage of config:set:\n" +
		"      --encoded      --encoded: interpret VALUEs as base64\n" +
		"      --global       --global: use the global environment\n" +
		"      --no-restart   --no-restart: no restart\n"
	exportUsage := "Usage of config:export:\n" +
		"      --format string   --format: [ docker-args | docker-args-keys | exports | envfile | json | json-list | pack-keys | pretty | shell ] which format to export as) (default \"exports\")\n" +
		"      --global          --global: use the global environment\n" +
		"      --merged          --merged: merge app environment and global environment\n"
	importUsage := "Usage of config:import:\n" +
		"      --format string   --format: [ envfile | json ] which format to export as) (default \"envfile\")\n" +
		"      --global          --global: use the global environment\n" +
		"      --no-restart      --no-restart: no restart\n" +
		"      --replace         --replace: replace existing config vars\n"
	runSteps(t, d, user, []cfgStep{
		{name: "unknown flag", argv: []string{"config:set", "app1", "--bogus", "A=1"}, stderr: setUsage + "unknown flag: --bogus\n", code: 2},
		{name: "unknown flag with value", argv: []string{"config:set", "--bogus=1"}, stderr: setUsage + "unknown flag: --bogus\n", code: 2},
		{name: "unknown shorthand", argv: []string{"config:set", "-x", "app1"}, stderr: setUsage + "unknown shorthand flag: 'x' in -x\n", code: 2},
		{name: "help", argv: []string{"config:set", "--help"}, stderr: setUsage},
		{name: "-h", argv: []string{"config:set", "-h"}, stderr: setUsage},
		{name: "bad bool", argv: []string{"config:set", "--encoded=maybe", "app1", "A=1"},
			stderr: setUsage + "invalid argument \"maybe\" for \"--encoded\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax\n", code: 2},
		{name: "bad syntax", argv: []string{"config:set", "---x"}, stderr: setUsage + "bad flag syntax: ---x\n", code: 2},
		{name: "flag errors come before app checks", argv: []string{"config:set", "nope", "--bogus"}, stderr: setUsage + "unknown flag: --bogus\n", code: 2},
		{name: "-- ends flags", argv: []string{"config:set", "app1", "--", "--encoded"}, stderr: " !     Invalid env pair: --encoded\n", code: 1},
		{name: "format needs a value", argv: []string{"config:export", "app1", "--format"}, stderr: exportUsage + "flag needs an argument: --format\n", code: 2},
		{name: "import usage", argv: []string{"config:import", "--nope"}, stderr: importUsage + "unknown flag: --nope\n", code: 2},
		{name: "--global=false is an app", argv: []string{"config:get", "--global=false", "app1", "X"}, code: 1},
	})
}

func TestConfigHelp(t *testing.T) {
	d := configDispatcher(t)
	r := run(d, user, false, "", "config:help")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("config:help: %+v", r)
	}
	// Dokku lists config:show before config:set (its helpContent is not
	// sorted, and Go plugins' help keeps that order).
	golden(t, "config-help", r.stdout)
	if all := run(d, user, false, "", "help", "--all").stdout; !strings.Contains(all, "    config (<app>|--global)") ||
		!strings.Contains(all, "    config:set [--encoded] [--no-restart] (<app>|--global) KEY1=VALUE1 [KEY2=VALUE2 ...]") {
		t.Fatalf("help --all lacks the config commands:\n%s", all)
	}
	if h := run(d, user, false, "", "help").stdout; !strings.Contains(h, "    config ") || !strings.Contains(h, "Manage global and app-specific config vars\n") {
		t.Fatalf("help lacks config:\n%s", h)
	}
}

// tricky holds values that must come back byte for byte.
var tricky = map[string]string{
	"SPACES":       "hello  world",
	"SINGLE":       "it's",
	"DOUBLE":       `double"quotes`,
	"ENDS_DQ":      `say "hi"`,
	"HOME":         "$HOME",
	"DOLLARS":      `$123*&456$`,
	"BACKSLASH":    `a\b\\c\n`,
	"ENDS_BS":      `C:\dir\`,
	"NEWLINES":     "line one\n  line two",
	"UNICODE":      "héllo ✓ 日本",
	"EMPTY":        "",
	"JSON":         `{ "type": "HS256", "key": "347a" }`,
	"HASH":         "a #b",
	"LEADING_ZERO": "007",
	"BANG":         "wow!`id`",
}

func TestConfigRoundTrip(t *testing.T) {
	d := configDispatcher(t)
	args := []string{"config:set", "--no-restart", "app1"}
	for k, v := range tricky {
		args = append(args, k+"="+v)
	}
	if r := run(d, user, false, "", args...); r.code != 0 || r.stderr != "" {
		t.Fatalf("config:set: %+v", r)
	}
	for k, v := range tricky {
		if r := run(d, user, false, "", "config:get", "app1", k); r.stdout != v+"\n" || r.code != 0 {
			t.Errorf("%s: got %q (code %d), want %q", k, r.stdout, r.code, v+"\n")
		}
	}
	// --encoded carries anything, in the global env too
	for k, v := range tricky {
		r := run(d, user, false, "", "config:set", "--encoded", "--global", k+"="+base64.StdEncoding.EncodeToString([]byte(v)))
		if r.code != 0 {
			t.Fatalf("encoded %s: %+v", k, r)
		}
		if r := run(d, user, false, "", "config:get", "--global", k); r.stdout != v+"\n" {
			t.Errorf("encoded %s: got %q want %q", k, r.stdout, v+"\n")
		}
	}
	// export --format json carries the exact values
	r := run(d, user, false, "", "config:export", "--format", "json", "app1")
	got := map[string]string{}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || !reflect.DeepEqual(got, tricky) {
		t.Fatalf("json export: %v\n%s", err, r.stdout)
	}
	// a value the ENV format cannot hold is refused before anything is said
	r = run(d, user, false, "", "config:set", "app1", "BAD=it's\n\"x\"")
	if r.code != 1 || r.stdout != "" || r.stderr != " !     Unable to store BAD: Dokku's ENV file format cannot hold this value unchanged\n" {
		t.Fatalf("unstorable: %+v", r)
	}
}

func TestConfigStorageLayout(t *testing.T) {
	d := configDispatcher(t)
	st := d.cfg.Store
	run(d, user, false, "", "config:set", "app1", "B=hello world", "A=1")
	run(d, user, false, "", "config:set", "--global", "G=$HOME")
	b, err := os.ReadFile(filepath.Join(st.Paths.LibDir, "config", "app1", "ENV"))
	if err != nil || string(b) != "A=1\nB=\"hello world\"\n" {
		t.Fatalf("app ENV = %q, %v", b, err)
	}
	b, err = os.ReadFile(filepath.Join(st.Paths.LibDir, "config", "--global", "ENV"))
	if err != nil || string(b) != "G=\"\\$HOME\"\n" {
		t.Fatalf("global ENV = %q, %v", b, err)
	}
	// a file Dokku cannot read either: show fails with the parser's message,
	// get just fails
	if err := os.MkdirAll(filepath.Dir(st.EnvPath("app2")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.EnvPath("app2"), []byte("A=\"open\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, user, []cfgStep{
		{name: "show broken", argv: []string{"config:show", "app2"}, stderr: " !     unterminated quoted value \"open\n", code: 1},
		{name: "get broken", argv: []string{"config:get", "app2", "A"}, code: 1},
		{name: "set broken", argv: []string{"config:set", "app2", "B=1"}, stderr: " !     unterminated quoted value \"open\n", code: 1},
		{name: "load before key check", argv: []string{"config:set", "app2", "1B=1"}, stderr: " !     unterminated quoted value \"open\n", code: 1},
		{name: "unset broken", argv: []string{"config:unset", "app2", "1B"}, stderr: " !     unterminated quoted value \"open\n", code: 1},
		{name: "clear broken", argv: []string{"config:clear", "app2"}, stderr: " !     unterminated quoted value \"open\n", code: 1},
		{name: "keys broken", argv: []string{"config:keys", "app2"}, stderr: " !     unterminated quoted value \"open\n", code: 1},
		{name: "export broken", argv: []string{"config:export", "app2"}, stderr: " !     unterminated quoted value \"open\n", code: 1},
	})
}

func TestConfigExportFormats(t *testing.T) {
	d := configDispatcher(t)
	run(d, local, false, "", "config:set", "app1", "zKey=true", "bKey=true", "BKEY=true", "aKey=true")
	// Dokku's own tests (tests/unit/config.bats, config:show and config:export)
	runSteps(t, d, user, []cfgStep{
		{name: "show", argv: []string{"--app", "app1", "config:show"}, stdout: "=====> app1 env vars\nBKEY:  true\naKey:  true\nbKey:  true\nzKey:  true\n"},
		{name: "docker-args", argv: []string{"config:export", "--format", "docker-args", "app1"}, stdout: "--env=BKEY='true' --env=aKey='true' --env=bKey='true' --env=zKey='true'\n"},
		{name: "shell", argv: []string{"config:export", "--format", "shell", "app1"}, stdout: "BKEY='true' aKey='true' bKey='true' zKey='true' "},
		{name: "json", argv: []string{"config:export", "--format", "json", "app1"}, stdout: `{"BKEY":"true","aKey":"true","bKey":"true","zKey":"true"}` + "\n"},
		{name: "json-list", argv: []string{"config:export", "--format", "json-list", "app1"}, stdout: `[{"name":"BKEY","value":"true"},{"name":"aKey","value":"true"},{"name":"bKey","value":"true"},{"name":"zKey","value":"true"}]` + "\n"},
		{name: "unknown", argv: []string{"config:export", "--format", "yaml", "app1"}, stderr: " !     Unknown export format: yaml\n", code: 1},
		{name: "empty format", argv: []string{"config:export", "--format=", "app1"}, stderr: " !     Unknown export format: \n", code: 1},
		{name: "missing app before format", argv: []string{"config:export", "--format", "yaml", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
	})
	// every format, for an empty env and for tricky values, merged with global
	var b strings.Builder
	formats := []string{"", "docker-args", "docker-args-keys", "envfile", "exports", "json", "json-list", "pack-keys", "pretty", "shell"}
	for _, f := range formats {
		args := []string{"config:export", "app2"}
		if f != "" {
			args = append(args, "--format="+f)
		}
		r := run(d, user, false, "", args...)
		b.WriteString("### empty " + f + "\n" + r.stdout + "\n### code " + strconv.Itoa(r.code) + " stderr " + r.stderr + "\n")
	}
	args := []string{"config:set", "--no-restart", "app2"}
	for k, v := range tricky {
		args = append(args, k+"="+v)
	}
	run(d, user, false, "", args...)
	run(d, user, false, "", "config:set", "--global", "GLOBAL_ONLY=g", "SPACES=overridden by the app")
	for _, f := range formats {
		args := []string{"config:export", "--merged", "app2"}
		if f != "" {
			args = append(args, "--format", f)
		}
		r := run(d, user, false, "", args...)
		b.WriteString("### tricky " + f + "\n" + r.stdout + "\n### code " + strconv.Itoa(r.code) + " stderr " + r.stderr + "\n")
	}
	golden(t, "config-export", b.String())

	r := run(d, user, false, "", "config:show", "--merged", "app2")
	golden(t, "config-show", r.stdout)
	r = run(d, user, false, "", "config:set", "--no-restart", "app1", "MULTI=a\nb", "K=  trimmed  ", "LONGER_KEY_NAME=x")
	golden(t, "config-set", r.stdout)
}

func TestConfigBundle(t *testing.T) {
	d := configDispatcher(t)
	run(d, local, false, "", "config:set", "app1", "A=x y", "B=line\nbreak")
	run(d, local, false, "", "config:set", "--global", "G=g")
	for _, tc := range []struct {
		args []string
		want map[string]string
	}{
		{[]string{"config:bundle", "app1"}, map[string]string{"A": "x y", "B": "line\nbreak"}},
		{[]string{"config:bundle", "--merged", "app1"}, map[string]string{"A": "x y", "B": "line\nbreak", "G": "g"}},
		{[]string{"config:bundle", "--global"}, map[string]string{"G": "g"}},
		{[]string{"config:bundle", "app2"}, map[string]string{}},
	} {
		r := run(d, user, false, "", tc.args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%q: %+v", tc.args, r)
		}
		got := map[string]string{}
		tr := tar.NewReader(strings.NewReader(r.stdout))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%q: %v", tc.args, err)
			}
			if h.Mode != 0o600 {
				t.Errorf("%q: %s mode %o", tc.args, h.Name, h.Mode)
			}
			v, _ := io.ReadAll(tr)
			got[h.Name] = string(v)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q want %q", tc.args, got, tc.want)
		}
	}
	if r := run(d, user, false, "", "config:bundle", "nope"); r.code != 20 {
		t.Fatalf("bundle missing app: %+v", r)
	}
}

func TestConfigImport(t *testing.T) {
	d := configDispatcher(t)
	run(d, local, false, "", "config:set", "app1", "first_key=first_value")
	file := filepath.Join(t.TempDir(), "import.env")
	if err := os.WriteFile(file, []byte("FROM_FILE='a b'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonFile := filepath.Join(t.TempDir(), "import.json")
	if err := os.WriteFile(jsonFile, []byte(`{"J": "1", "K": "two words"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, local, []cfgStep{
		{name: "stdin", argv: []string{"config:import", "app1", "-"}, stdin: "second_key=second_value\n",
			stdout: "-----> Reading config vars from stdin\n-----> Setting config var second_key=second_value\n-----> Setting config vars\n       second_key:  second_value\n"},
		{name: "kept", argv: []string{"config:keys", "app1"}, stdout: "first_key\nsecond_key\n"},
		{name: "invalid keys dropped", argv: []string{"config:import", "app1", "-"}, stdin: "a.b=1\nOK=2\n",
			stdout: "-----> Reading config vars from stdin\n-----> Deleting invalid key a.b from config for app1\n-----> Setting config var OK=2\n-----> Setting config vars\n       OK:  2\n"},
		{name: "replace", argv: []string{"config:import", "--replace", "app1", "-"}, stdin: "test_var=TESTING3\n",
			stdout: "-----> Reading config vars from stdin\n-----> Setting config var test_var=TESTING3\n-----> Setting config vars\n       test_var:  TESTING3\n"},
		{name: "replaced", argv: []string{"config:keys", "app1"}, stdout: "test_var\n"},
		{name: "json stdin", argv: []string{"config:import", "--format", "json", "app1", "-"}, stdin: `{"second_key": "second_value"}`,
			stdout: "-----> Reading config vars from stdin\n-----> Setting config var second_key=second_value\n-----> Setting config vars\n       second_key:  second_value\n"},
		{name: "json invalid key", argv: []string{"config:import", "--format", "json", "app1", "-"}, stdin: `{"a-b": "x"}`,
			stdout: "-----> Reading config vars from stdin\n-----> Setting config var a-b=x\n", stderr: " !     Invalid key name: 'a-b'\n", code: 1},
		{name: "json not strings", argv: []string{"config:import", "--format", "json", "app1", "-"}, stdin: `{"A": 1}`,
			stdout: "-----> Reading config vars from stdin\n", stderr: " !     json: cannot unmarshal number into Go value of type string\n", code: 1},
		{name: "json empty stdin", argv: []string{"config:import", "--format=json", "app1", "-"},
			stdout: "-----> Reading config vars from stdin\n", stderr: " !     EOF\n", code: 1},
		{name: "empty", argv: []string{"config:import", "app1", "-"}, stdin: "# nothing\n", stdout: "-----> Reading config vars from stdin\n", stderr: " !     No config vars to set\n", code: 1},
		{name: "parse error", argv: []string{"config:import", "app1", "-"}, stdin: "A=\"open\n", stdout: "-----> Reading config vars from stdin\n", stderr: " !     unterminated quoted value \"open\n", code: 1},
		{name: "unknown format", argv: []string{"config:import", "--format", "yaml", "app1", "-"}, stdout: "-----> Reading config vars from stdin\n", stderr: " !     Unknown format: yaml\n", code: 1},
		{name: "missing file", argv: []string{"config:import", "app1", "/nonexistent/x.env"}, stderr: " !     No config vars to set\n", code: 1},
		{name: "no file", argv: []string{"config:import", "app1"}, stderr: " !     No config vars to set\n", code: 1},
		{name: "file", argv: []string{"config:import", "--no-restart", "app1", file}, stdout: "-----> Setting config var FROM_FILE=a b\n-----> Setting config vars\n       FROM_FILE:  a b\n"},
		{name: "json file", argv: []string{"config:import", "--format", "json", "app1", jsonFile}, stdout: "-----> Setting config var J=1\n-----> Setting config var K=two words\n-----> Setting config vars\n       J:  1\n       K:  two words\n"},
		{name: "missing json file", argv: []string{"config:import", "--format", "json", "app1", "/nonexistent/x.json"}, stderr: " !     open /nonexistent/x.json: no such file or directory\n", code: 1},
		{name: "global", argv: []string{"config:import", "--global", "-"}, stdin: "G=1\nbad.key=2\n",
			stdout: "-----> Reading config vars from stdin\n-----> Deleting invalid key bad.key from config for \n-----> Setting config var G=1\n-----> Setting config vars\n       G:  1\n"},
		{name: "global set", argv: []string{"config:get", "--global", "G"}, stdout: "1\n"},
		{name: "quiet", argv: []string{"--quiet", "config:import", "app1", "-"}, stdin: "Q=1\n"},
		{name: "missing app", argv: []string{"config:import", "nope", "-"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "stdin bounded", argv: []string{"config:import", "app1", "-"}, stdin: "A=" + strings.Repeat("x", maxImport),
			stdout: "-----> Reading config vars from stdin\n", stderr: " !     config:import reads at most 16777216 bytes\n", code: 1},
	})
}

func TestConfigRestart(t *testing.T) {
	d := configDispatcher(t)
	st := d.cfg.Store
	var restarted []string
	var fail error
	old := RestartApp
	t.Cleanup(func() { RestartApp = old })
	RestartApp = func(e *Call, app string) error {
		restarted = append(restarted, app)
		e.Println("restart output")
		return fail
	}
	set := "-----> Setting config vars\n       A:  1\n"
	restart := "-----> Restarting app app1\nrestart output\n"
	runSteps(t, d, user, []cfgStep{
		{name: "not deployed", argv: []string{"config:set", "app1", "A=1"}, stdout: set},
	})
	if len(restarted) != 0 {
		t.Fatalf("restarted an app that is not deployed: %q", restarted)
	}
	if err := st.SetProperty("common", "app1", "deployed", "true"); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, user, []cfgStep{
		{name: "deployed", argv: []string{"config:set", "app1", "A=1"}, stdout: set + restart},
		{name: "--no-restart", argv: []string{"config:set", "--no-restart", "app1", "A=1"}, stdout: set},
		{name: "global never restarts", argv: []string{"config:set", "--global", "A=1"}, stdout: set},
		{name: "unset restarts even when nothing changed", argv: []string{"config:unset", "app1", "NOPE"}, stdout: "-----> Skipping NOPE, it is not set in the environment\n" + restart},
		{name: "unset --no-restart", argv: []string{"config:unset", "--no-restart", "app1", "A"}, stdout: "-----> Unsetting A\n"},
		{name: "clear restarts", argv: []string{"config:clear", "app1"}, stdout: restart},
		{name: "clear --no-restart", argv: []string{"config:clear", "--no-restart", "app1"}},
		{name: "import restarts", argv: []string{"config:import", "app1", "-"}, stdin: "A=1\n", stdout: "-----> Reading config vars from stdin\n-----> Setting config var A=1\n" + set + restart},
		{name: "quiet still says it restarts", argv: []string{"--quiet", "config:set", "app1", "A=1"}, stdout: restart},
	})
	fail = output.UserError(errors.New("boom"))
	runSteps(t, d, user, []cfgStep{
		{name: "failed restart is a warning", argv: []string{"config:set", "app1", "A=1"}, stdout: set + restart, stderr: " !     Failure while restarting app: boom\n"},
	})
	fail = errors.New("open /srv/x: boom")
	runSteps(t, d, user, []cfgStep{
		{name: "an unexpected failure has no server path", argv: []string{"config:set", "app1", "A=1"}, stdout: set + restart,
			stderr: " !     Failure while restarting app: open .../x: boom (details in the server log)\n"},
	})
	fail = nil
	if err := st.SetProperty("ps", "app1", "restore", "false"); err != nil {
		t.Fatal(err)
	}
	n := len(restarted)
	runSteps(t, d, user, []cfgStep{
		{name: "restore=false", argv: []string{"config:set", "app1", "A=1"}, stdout: set},
	})
	if len(restarted) != n {
		t.Fatalf("restarted with ps restore=false")
	}
	// A restore that cannot be read (a directory where the value should
	// be): the config is written, the app not restarted, with a warning.
	if err := st.DeleteProperty("ps", "app1", "restore"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty("ps", "app1", "restore/x", "y"); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, user, []cfgStep{
		{name: "unreadable restore", argv: []string{"config:set", "app1", "A=1"}, stdout: set,
			stderr: " !     Failure while restarting app: read ps restore of app1: store: read property ps/app1/restore: read .../restore: is a directory (details in the server log)\n"},
	})
	if len(restarted) != n {
		t.Fatalf("restarted with an unreadable ps restore")
	}
	RestartApp = nil
	if err := os.RemoveAll(filepath.Join(st.Paths.LibDir, "config", "ps", "app1", "restore")); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, user, []cfgStep{
		{name: "no restarter", argv: []string{"config:set", "app1", "A=1"}, stdout: set},
	})
}
