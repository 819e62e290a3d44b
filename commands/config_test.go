package commands

import (
	"archive/tar"
	"bytes"
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
		{"set", []string{"config:set", "app1", "A=1", "B=hello world", "LONG_NAME=x"}, "",
			"-----> Setting config vars\n       A:          1\n       B:          hello world\n       LONG_NAME:  x\n", "", 0},
		{"get", []string{"config:get", "app1", "B"}, "", "hello world\n", "", 0},
		{"get --quoted", []string{"config:get", "--quoted", "app1", "B"}, "", "'hello world'\n", "", 0},
		{"flags anywhere", []string{"config:get", "app1", "B", "--quoted"}, "", "'hello world'\n", "", 0},
		{"--app", []string{"--app", "app1", "config:get", "A"}, "", "1\n", "", 0},
		{"get unset key", []string{"config:get", "app1", "NOPE"}, "", "", "", 1},
		{"get invalid key", []string{"config:get", "app1", "1A"}, "", "", "", 1},
		{"get no key", []string{"config:get", "app1"}, "", "", " !     Expected: key\n", 1},
		{"get two keys", []string{"config:get", "app1", "A", "B", "C"}, "", "", " !     Unexpected argument(s): [B C]\n", 1},
		{"get no app", []string{"config:get"}, "", "", " !     Please specify an app to run the command on\n", 1},
		{"get missing app", []string{"config:get", "nope", "A"}, "", "", " !     App nope does not exist\n", 20},
		{"get invalid app", []string{"config:get", "Bad_App", "A"}, "", "", appRules, 1},
		{"other app untouched", []string{"config:get", "app2", "A"}, "", "", "", 1},
		{"overwrite, quiet", []string{"--quiet", "config:set", "app1", "A=2", "A=3"}, "", "", "", 0},
		{"last pair wins", []string{"config:get", "app1", "A"}, "", "3\n", "", 0},
		{"set no pairs", []string{"config:set", "app1"}, "", "", " !     At least one env pair must be given\n", 1},
		{"set no app", []string{"config:set"}, "", "", " !     Please specify an app to run the command on\n", 1},
		{"set missing app", []string{"config:set", "nope", "A=1"}, "", "", " !     App nope does not exist\n", 20},
		{"set pair without =", []string{"config:set", "app1", "A=1", "NOEQ"}, "", "", " !     Invalid env pair: NOEQ\n", 1},
		{"set invalid key", []string{"config:set", "app1", "GOOD=1", "1BAD=2"}, "", "", " !     Invalid key name: '1BAD'\n", 1},
		{"set empty key", []string{"config:set", "app1", "=x"}, "", "", " !     Invalid key name: ''\n", 1},
		{"set dashed key", []string{"config:set", "app1", "A-B=x"}, "", "", " !     Invalid key name: 'A-B'\n", 1},
		{"nothing written on failure", []string{"config:get", "app1", "GOOD"}, "", "", "", 1},
		{"encoded", []string{"config:set", "--encoded", "app1", "ENC=" + base64.StdEncoding.EncodeToString([]byte("line1\nline2\n"))}, "",
			"-----> Setting config vars\n       ENC:  line1\nline2\n", "", 0},
		{"encoded kept byte for byte", []string{"config:get", "app1", "ENC"}, "", "line1\nline2\n\n", "", 0},
		{"encoded invalid", []string{"config:set", "--encoded", "app1", "X=@@@"}, "", "", " !     illegal base64 data at input byte 0 for key 'X'\n", 1},
		{"encoded unpadded", []string{"config:set", "--encoded", "app1", "X=YQ"}, "", "", " !     illegal base64 data at input byte 0 for key 'X'\n", 1},
		{"multi-line pair", []string{"config:set", "app1", "A\nB"}, "", "", " !     Invalid env pair: A\nB\n", 1},
		{"unset", []string{"config:unset", "app1", "A", "A", "NOPE"}, "",
			"-----> Unsetting A\n-----> Skipping A, it is not set in the environment\n-----> Skipping NOPE, it is not set in the environment\n", "", 0},
		{"unset quiet", []string{"config:unset", "--quiet", "app1", "B"}, "", "", "", 0},
		{"unset gone", []string{"config:get", "app1", "A"}, "", "", "", 1},
		{"unset no keys", []string{"config:unset", "app1"}, "", "", " !     At least one key must be given\n", 1},
		{"unset invalid key first", []string{"config:unset", "app1", "LONG_NAME", "a.b"}, "", "", " !     Invalid key name: 'a.b'\n", 1},
		{"unset validated before anything", []string{"config:get", "app1", "LONG_NAME"}, "", "x\n", "", 0},
		{"unset missing app", []string{"config:unset", "nope", "A"}, "", "", " !     App nope does not exist\n", 20},
		{"keys", []string{"config:keys", "app1"}, "", "ENC\nLONG_NAME\n", "", 0},
		{"clear", []string{"config:clear", "app1"}, "", "-----> Unsetting ENC\n-----> Unsetting LONG_NAME\n", "", 0},
		{"clear empty", []string{"config:clear", "app1"}, "", "", "", 0},
		{"keys empty", []string{"config:keys", "app1"}, "", "", "", 0},
		{"clear missing app", []string{"config:clear", "nope"}, "", "", " !     App nope does not exist\n", 20},
	})
}

func TestConfigGlobal(t *testing.T) {
	d := configDispatcher(t)
	runSteps(t, d, user, []cfgStep{
		{"set global", []string{"config:set", "--global", "G=1", "SHARED=global"}, "", "-----> Setting config vars\n       G:       1\n       SHARED:  global\n", "", 0},
		{"set app", []string{"config:set", "app1", "SHARED=app", "A=a"}, "", "-----> Setting config vars\n       A:       a\n       SHARED:  app\n", "", 0},
		{"get global", []string{"config:get", "--global", "SHARED"}, "", "global\n", "", 0},
		{"get app does not merge", []string{"config:get", "app1", "G"}, "", "", "", 1},
		{"global pair that looks like an app", []string{"config:set", "--global", "app1", "X=1"}, "", "", " !     Invalid env pair: app1\n", 1},
		{"global get extra", []string{"config:get", "--global", "app1", "G"}, "", "", " !     Unexpected argument(s): [G]\n", 1},
		{"keys", []string{"config:keys", "app1"}, "", "A\nSHARED\n", "", 0},
		{"keys merged", []string{"config:keys", "--merged", "app1"}, "", "A\nG\nSHARED\n", "", 0},
		{"keys global", []string{"config:keys", "--global"}, "", "G\nSHARED\n", "", 0},
		{"keys global merged", []string{"config:keys", "--global", "--merged"}, "", "G\nSHARED\n", "", 0},
		{"show", []string{"config:show", "app1"}, "", "=====> app1 env vars\nA:       a\nSHARED:  app\n", "", 0},
		{"show merged", []string{"config:show", "--merged", "app1"}, "", "=====> app1 env vars\nA:       a\nG:       1\nSHARED:  app\n", "", 0},
		{"show global", []string{"config:show", "--global"}, "", "=====> global env vars\nG:       1\nSHARED:  global\n", "", 0},
		{"show quiet", []string{"config:show", "--quiet", "app1"}, "", "A:       a\nSHARED:  app\n", "", 0},
		{"show empty", []string{"config:show", "app2"}, "", "=====> app2 env vars\n\n", "", 0},
		{"show missing app", []string{"config:show", "nope"}, "", "", " !     App nope does not exist\n", 20},
		{"show no app", []string{"config:show"}, "", "", " !     Please specify an app to run the command on\n", 1},
		{"unset global", []string{"config:unset", "--global", "G"}, "", "-----> Unsetting G\n", "", 0},
		{"clear global", []string{"config:clear", "--global"}, "", "-----> Unsetting SHARED\n", "", 0},
		{"global gone", []string{"config:keys", "--global"}, "", "", "", 0},
	})
}

func TestConfigBare(t *testing.T) {
	d := configDispatcher(t)
	run(d, local, false, "", "config:set", "app1", "A=x y", "B=it's")
	run(d, local, false, "", "config:set", "--global", "G=g")
	help := run(d, user, false, "", "config:help").stdout
	show := "=====> app1 env vars\nA:  x y\nB:  it's\n"
	runSteps(t, d, user, []cfgStep{
		{"show", []string{"config", "app1"}, "", show, "", 0},
		{"no app", []string{"config"}, "", "", " !     Please specify an app to run the command on\n", 1},
		{"missing app", []string{"config", "nope"}, "", "", " !     App nope does not exist\n", 20},
		{"global", []string{"config", "--global"}, "", "=====> global env vars\nG:  g\n", "", 0},
		{"single dash", []string{"config", "-global"}, "", "=====> global env vars\nG:  g\n", "", 0},
		{"merged", []string{"config", "--merged", "app1"}, "", "=====> app1 env vars\nA:  x y\nB:  it's\nG:  g\n", "", 0},
		{"flags stop at the app", []string{"config", "app1", "--merged"}, "", show, "", 0},
		{"--global takes an app unchecked", []string{"config", "--global", "app2"}, "", "=====> app2 env vars\n\n", "", 0},
		{"--global with a missing app", []string{"config", "--global", "nope"}, "", "=====> nope env vars\n\n", "", 0},
		{"shell", []string{"config", "--shell", "app1"}, "", "A='x y' B='it'\\''s'", " !     Deprecated: Use 'config:export --format shell' instead\n", 0},
		{"export", []string{"config", "--export", "app1"}, "", "export A='x y'\nexport B='it'\\''s'\n", " !     Deprecated: Use 'config:export --format exports' instead\n", 0},
		{"shell and export", []string{"config", "--shell", "--export", "app1"}, "", "", " !     Only one of --shell and --export can be given\n", 1},
		{"help", []string{"config", "--help"}, "", help, "", 0},
		{"-h", []string{"config", "-h"}, "", help, "", 0},
		{"unknown flag", []string{"config", "--bogus", "app1"}, "", help, "flag provided but not defined: -bogus\n", 2},
		{"bad bool", []string{"config", "--global=maybe"}, "", help, "invalid boolean value \"maybe\" for -global: parse error\n", 2},
		{"bad syntax", []string{"config", "---x"}, "", help, "bad flag syntax: ---x\n", 2},
		{"--app", []string{"--app", "app1", "config"}, "", show, "", 0},
	})
}

// The bare command parses its flags as Go's flag package does.
func TestConfigBareFlagsMatchStdlib(t *testing.T) {
	for _, args := range [][]string{
		{}, {"app"}, {"--global"}, {"-global", "x"}, {"--global=false", "a"}, {"--global=1"}, {"--global=maybe"},
		{"--merged", "a", "--shell"}, {"--", "--global"}, {"-", "x"}, {"--nope"}, {"-h"}, {"--help"}, {"-help=x"},
		{"---x"}, {"--=x"}, {"-=x"}, {"--shell", "--export", "a"}, {"--global", "--global=false"},
	} {
		fs := flag.NewFlagSet("config", flag.ContinueOnError)
		var buf bytes.Buffer
		fs.SetOutput(&buf)
		fs.Usage = func() {}
		want := map[string]*bool{}
		for _, n := range []string{"global", "shell", "export", "merged"} {
			want[n] = fs.Bool(n, false, "")
		}
		werr := fs.Parse(args)
		flags, rest, errMsg, help := parseBareFlags(args)
		switch {
		case errors.Is(werr, flag.ErrHelp):
			if !help {
				t.Errorf("%q: help not recognised", args)
			}
		case werr != nil:
			if errMsg != werr.Error() || strings.TrimSuffix(buf.String(), "\n") != errMsg {
				t.Errorf("%q: error %q, flag package says %q", args, errMsg, werr)
			}
		default:
			if errMsg != "" || help {
				t.Errorf("%q: unexpected error %q", args, errMsg)
				continue
			}
			for n, v := range want {
				if flags[n] != *v {
					t.Errorf("%q: -%s = %v, want %v", args, n, flags[n], *v)
				}
			}
			if len(rest) != fs.NArg() || (len(rest) > 0 && !reflect.DeepEqual(rest, fs.Args())) {
				t.Errorf("%q: rest %q, want %q", args, rest, fs.Args())
			}
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
	importUsage := pflagUsage("config:import", []flagSpec{cfgNoRestart, cfgReplace, cfgImportFmt, cfgGlobal})
	if !strings.Contains(importUsage, "      --format string   --format: [ envfile | json ] which format to export as) (default \"envfile\")\n") {
		t.Fatalf("import usage:\n%s", importUsage)
	}
	runSteps(t, d, user, []cfgStep{
		{"unknown flag", []string{"config:set", "app1", "--bogus", "A=1"}, "", "", setUsage + "unknown flag: --bogus\n", 2},
		{"unknown flag with value", []string{"config:set", "--bogus=1"}, "", "", setUsage + "unknown flag: --bogus\n", 2},
		{"unknown shorthand", []string{"config:set", "-x", "app1"}, "", "", setUsage + "unknown shorthand flag: 'x' in -x\n", 2},
		{"help", []string{"config:set", "--help"}, "", "", setUsage, 0},
		{"-h", []string{"config:set", "-h"}, "", "", setUsage, 0},
		{"bad bool", []string{"config:set", "--encoded=maybe", "app1", "A=1"}, "", "",
			setUsage + "invalid argument \"maybe\" for \"--encoded\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax\n", 2},
		{"bad syntax", []string{"config:set", "---x"}, "", "", setUsage + "bad flag syntax: ---x\n", 2},
		{"flag errors come before app checks", []string{"config:set", "nope", "--bogus"}, "", "", setUsage + "unknown flag: --bogus\n", 2},
		{"-- ends flags", []string{"config:set", "app1", "--", "--encoded"}, "", "", " !     Invalid env pair: --encoded\n", 1},
		{"format needs a value", []string{"config:export", "app1", "--format"}, "", "", exportUsage + "flag needs an argument: --format\n", 2},
		{"import usage", []string{"config:import", "--nope"}, "", "", importUsage + "unknown flag: --nope\n", 2},
		{"--global=false is an app", []string{"config:get", "--global=false", "app1", "X"}, "", "", "", 1},
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
		{"show broken", []string{"config:show", "app2"}, "", "", " !     unterminated quoted value \"open\n", 1},
		{"get broken", []string{"config:get", "app2", "A"}, "", "", "", 1},
		{"set broken", []string{"config:set", "app2", "B=1"}, "", "", " !     unterminated quoted value \"open\n", 1},
		{"load before key check", []string{"config:set", "app2", "1B=1"}, "", "", " !     unterminated quoted value \"open\n", 1},
		{"unset broken", []string{"config:unset", "app2", "1B"}, "", "", " !     unterminated quoted value \"open\n", 1},
		{"clear broken", []string{"config:clear", "app2"}, "", "", " !     unterminated quoted value \"open\n", 1},
		{"keys broken", []string{"config:keys", "app2"}, "", "", " !     unterminated quoted value \"open\n", 1},
		{"export broken", []string{"config:export", "app2"}, "", "", " !     unterminated quoted value \"open\n", 1},
	})
}

func TestConfigExportFormats(t *testing.T) {
	d := configDispatcher(t)
	run(d, local, false, "", "config:set", "app1", "zKey=true", "bKey=true", "BKEY=true", "aKey=true")
	// Dokku's own tests (tests/unit/config.bats, config:show and config:export)
	runSteps(t, d, user, []cfgStep{
		{"show", []string{"--app", "app1", "config:show"}, "", "=====> app1 env vars\nBKEY:  true\naKey:  true\nbKey:  true\nzKey:  true\n", "", 0},
		{"docker-args", []string{"config:export", "--format", "docker-args", "app1"}, "", "--env=BKEY='true' --env=aKey='true' --env=bKey='true' --env=zKey='true'\n", "", 0},
		{"shell", []string{"config:export", "--format", "shell", "app1"}, "", "BKEY='true' aKey='true' bKey='true' zKey='true' ", "", 0},
		{"json", []string{"config:export", "--format", "json", "app1"}, "", `{"BKEY":"true","aKey":"true","bKey":"true","zKey":"true"}` + "\n", "", 0},
		{"json-list", []string{"config:export", "--format", "json-list", "app1"}, "", `[{"name":"BKEY","value":"true"},{"name":"aKey","value":"true"},{"name":"bKey","value":"true"},{"name":"zKey","value":"true"}]` + "\n", "", 0},
		{"unknown", []string{"config:export", "--format", "yaml", "app1"}, "", "", " !     Unknown export format: yaml\n", 1},
		{"empty format", []string{"config:export", "--format=", "app1"}, "", "", " !     Unknown export format: \n", 1},
		{"missing app before format", []string{"config:export", "--format", "yaml", "nope"}, "", "", " !     App nope does not exist\n", 20},
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
		{"stdin", []string{"config:import", "app1", "-"}, "second_key=second_value\n",
			"-----> Reading config vars from stdin\n-----> Setting config var second_key=second_value\n-----> Setting config vars\n       second_key:  second_value\n", "", 0},
		{"kept", []string{"config:keys", "app1"}, "", "first_key\nsecond_key\n", "", 0},
		{"invalid keys dropped", []string{"config:import", "app1", "-"}, "a.b=1\nOK=2\n",
			"-----> Reading config vars from stdin\n-----> Deleting invalid key a.b from config for app1\n-----> Setting config var OK=2\n-----> Setting config vars\n       OK:  2\n", "", 0},
		{"replace", []string{"config:import", "--replace", "app1", "-"}, "test_var=TESTING3\n",
			"-----> Reading config vars from stdin\n-----> Setting config var test_var=TESTING3\n-----> Setting config vars\n       test_var:  TESTING3\n", "", 0},
		{"replaced", []string{"config:keys", "app1"}, "", "test_var\n", "", 0},
		{"json stdin", []string{"config:import", "--format", "json", "app1", "-"}, `{"second_key": "second_value"}`,
			"-----> Reading config vars from stdin\n-----> Setting config var second_key=second_value\n-----> Setting config vars\n       second_key:  second_value\n", "", 0},
		{"json invalid key", []string{"config:import", "--format", "json", "app1", "-"}, `{"a-b": "x"}`,
			"-----> Reading config vars from stdin\n-----> Setting config var a-b=x\n", " !     Invalid key name: 'a-b'\n", 1},
		{"json not strings", []string{"config:import", "--format", "json", "app1", "-"}, `{"A": 1}`,
			"-----> Reading config vars from stdin\n", " !     json: cannot unmarshal number into Go value of type string\n", 1},
		{"json empty stdin", []string{"config:import", "--format=json", "app1", "-"}, "",
			"-----> Reading config vars from stdin\n", " !     EOF\n", 1},
		{"empty", []string{"config:import", "app1", "-"}, "# nothing\n", "-----> Reading config vars from stdin\n", " !     No config vars to set\n", 1},
		{"parse error", []string{"config:import", "app1", "-"}, "A=\"open\n", "-----> Reading config vars from stdin\n", " !     unterminated quoted value \"open\n", 1},
		{"unknown format", []string{"config:import", "--format", "yaml", "app1", "-"}, "", "-----> Reading config vars from stdin\n", " !     Unknown format: yaml\n", 1},
		{"missing file", []string{"config:import", "app1", "/nonexistent/x.env"}, "", "", " !     No config vars to set\n", 1},
		{"no file", []string{"config:import", "app1"}, "", "", " !     No config vars to set\n", 1},
		{"file", []string{"config:import", "--no-restart", "app1", file}, "", "-----> Setting config var FROM_FILE=a b\n-----> Setting config vars\n       FROM_FILE:  a b\n", "", 0},
		{"json file", []string{"config:import", "--format", "json", "app1", jsonFile}, "", "-----> Setting config var J=1\n-----> Setting config var K=two words\n-----> Setting config vars\n       J:  1\n       K:  two words\n", "", 0},
		{"missing json file", []string{"config:import", "--format", "json", "app1", "/nonexistent/x.json"}, "", "", " !     open /nonexistent/x.json: no such file or directory\n", 1},
		{"global", []string{"config:import", "--global", "-"}, "G=1\nbad.key=2\n",
			"-----> Reading config vars from stdin\n-----> Deleting invalid key bad.key from config for \n-----> Setting config var G=1\n-----> Setting config vars\n       G:  1\n", "", 0},
		{"global set", []string{"config:get", "--global", "G"}, "", "1\n", "", 0},
		{"quiet", []string{"--quiet", "config:import", "app1", "-"}, "Q=1\n", "", "", 0},
		{"missing app", []string{"config:import", "nope", "-"}, "", "", " !     App nope does not exist\n", 20},
		{"stdin bounded", []string{"config:import", "app1", "-"}, "A=" + strings.Repeat("x", maxImport),
			"-----> Reading config vars from stdin\n", " !     config:import reads at most 16777216 bytes\n", 1},
	})
}

func TestConfigRestart(t *testing.T) {
	d := configDispatcher(t)
	st := d.cfg.Store
	var restarted []string
	var fail error
	old := RestartApp
	t.Cleanup(func() { RestartApp = old })
	RestartApp = func(e *Env, app string) error {
		restarted = append(restarted, app)
		e.Println("restart output")
		return fail
	}
	set := "-----> Setting config vars\n       A:  1\n"
	restart := "-----> Restarting app app1\nrestart output\n"
	runSteps(t, d, user, []cfgStep{
		{"not deployed", []string{"config:set", "app1", "A=1"}, "", set, "", 0},
	})
	if len(restarted) != 0 {
		t.Fatalf("restarted an app that is not deployed: %q", restarted)
	}
	if err := st.SetProperty("common", "app1", "deployed", "true"); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, user, []cfgStep{
		{"deployed", []string{"config:set", "app1", "A=1"}, "", set + restart, "", 0},
		{"--no-restart", []string{"config:set", "--no-restart", "app1", "A=1"}, "", set, "", 0},
		{"global never restarts", []string{"config:set", "--global", "A=1"}, "", set, "", 0},
		{"unset restarts even when nothing changed", []string{"config:unset", "app1", "NOPE"}, "", "-----> Skipping NOPE, it is not set in the environment\n" + restart, "", 0},
		{"unset --no-restart", []string{"config:unset", "--no-restart", "app1", "A"}, "", "-----> Unsetting A\n", "", 0},
		{"clear restarts", []string{"config:clear", "app1"}, "", restart, "", 0},
		{"clear --no-restart", []string{"config:clear", "--no-restart", "app1"}, "", "", "", 0},
		{"import restarts", []string{"config:import", "app1", "-"}, "A=1\n", "-----> Reading config vars from stdin\n-----> Setting config var A=1\n" + set + restart, "", 0},
		{"quiet still says it restarts", []string{"--quiet", "config:set", "app1", "A=1"}, "", restart, "", 0},
	})
	fail = output.UserError(errors.New("boom"))
	runSteps(t, d, user, []cfgStep{
		{"failed restart is a warning", []string{"config:set", "app1", "A=1"}, "", set + restart, " !     Failure while restarting app: boom\n", 0},
	})
	fail = errors.New("open /srv/x: boom")
	runSteps(t, d, user, []cfgStep{
		{"an unexpected failure has no server path", []string{"config:set", "app1", "A=1"}, "", set + restart,
			" !     Failure while restarting app: open .../x: boom (details in the server log)\n", 0},
	})
	fail = nil
	if err := st.SetProperty("ps", "app1", "restore", "false"); err != nil {
		t.Fatal(err)
	}
	n := len(restarted)
	runSteps(t, d, user, []cfgStep{
		{"restore=false", []string{"config:set", "app1", "A=1"}, "", set, "", 0},
	})
	if len(restarted) != n {
		t.Fatalf("restarted with ps restore=false")
	}
	RestartApp = nil
	_ = st.DeleteProperty("ps", "app1", "restore")
	runSteps(t, d, user, []cfgStep{
		{"no restarter", []string{"config:set", "app1", "A=1"}, "", set, "", 0},
	})
}
