package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
)

func newEnvStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateApp("app1", 1); err != nil {
		t.Fatal(err)
	}
	return s
}

// Values that must survive a write and a read byte for byte.
var trickyValues = map[string]string{
	"SPACES":       "hello  world",
	"SINGLE":       "it's",
	"DOUBLE":       `say "hi" there`,
	"ENDS_DQ":      `say "hi"`,
	"ONLY_DQ":      `"`,
	"HOME":         "$HOME",
	"BRACES":       "${HOME}/x $(whoami) `id`",
	"BACKSLASH":    `a\b\\c\n\$X`,
	"ENDS_BS":      `C:\path\`,
	"ENDS_BS_NL":   "line one\\\nline two\\",
	"NEWLINES":     "line one\n  line two\n",
	"CRLF":         "a\r\nb\rc",
	"UNICODE":      "héllo wörld ✓ 日本",
	"EMPTY":        "",
	"BANG":         "wow!",
	"HASH":         "a #not a comment",
	"LEADING":      "  padded  ",
	"INT":          "42",
	"LEADING_ZERO": "007",
	"PLUS":         "+5",
	"NEG":          "-3",
	"JSON":         `{ "type": "HS256", "key": "347a4efd2dbb6b91aebf38db5dcf2c4e" }`,
	"DOLLARS":      `$123*&456$`,
	"EQUALS":       "a=b=c",
	"TAB":          "\tx\t",
	"QUOTE_FIRST":  `'x`,
	"SQ_AND_BS":    `it's a path\`,
	"YAML":         "k: v",
}

func TestEnvRoundTrip(t *testing.T) {
	s := newEnvStore(t)
	if err := s.SetEnv("app1", trickyValues); err != nil {
		t.Fatal(err)
	}
	got, err := s.Env("app1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, trickyValues) {
		for k, v := range trickyValues {
			if got[k] != v {
				t.Errorf("%s: got %q want %q", k, got[k], v)
			}
		}
		t.Fatalf("round trip differs")
	}
	fi, err := os.Stat(filepath.Join(s.Paths.LibDir, "config", "app1", "ENV"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ENV mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestEnvFileIsDokkus(t *testing.T) {
	s := newEnvStore(t)
	vars := map[string]string{
		"B_KEY": "hello world", "A": "1", "A1": "x", "Q": `a "q" b`, "D": "$HOME", "N": "a\nb", "E": "",
		"Z": "007", "BS": `tail\`, "SQ": `it's "x"`,
	}
	if err := s.SetEnv("app1", vars); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.EnvPath("app1"))
	if err != nil {
		t.Fatal(err)
	}
	// Dokku's own lines (godotenv.Marshal) wherever they read back
	// unchanged, sorted as whole lines (A1 before A=), and the fallbacks for
	// the three values Dokku would damage.
	want := "A1=\"x\"\n" +
		"A=1\n" +
		"BS=\"tail\\\\\"\"\n" +
		"B_KEY=\"hello world\"\n" +
		"D=\"\\$HOME\"\n" +
		"E=\"\"\n" +
		"N=\"a\\nb\"\n" +
		"Q=\"a \\\"q\\\" b\"\n" +
		"SQ=it's \"x\"\n" +
		"Z=\"007\"\n"
	if string(b) != want {
		t.Fatalf("ENV file:\n%s\nwant:\n%s", b, want)
	}
	if got := DokkuEnvfile(map[string]string{"Z": "007", "A": "x"}); got != "A=\"x\"\nZ=7" {
		t.Fatalf("DokkuEnvfile = %q", got)
	}
}

func TestEnvUnstorable(t *testing.T) {
	s := newEnvStore(t)
	err := s.SetEnv("app1", map[string]string{"OK": "fine", "BAD": "it's\n\"quoted\""})
	var ue *UnstorableValueError
	if !errors.As(err, &ue) || ue.Key != "BAD" {
		t.Fatalf("err = %v", err)
	}
	if env, _ := s.Env("app1"); len(env) != 0 {
		t.Fatalf("a refused write changed the file: %q", env)
	}
}

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  string
	}{
		{"empty", "", map[string]string{}, ""},
		{"dokku legacy export lines", "export A='x y'\nexport B='1'\n", map[string]string{"A": "x y", "B": "1"}, ""},
		{"comments and blank lines", "# c\n\n  A=1 # trailing\n#B=2\n", map[string]string{"A": "1"}, ""},
		{"last blank-# starts the comment", "A=a #b #c\n", map[string]string{"A": "a #b"}, ""},
		{"hash without blank", "A=a#b\n", map[string]string{"A": "a#b"}, ""},
		{"yaml style", "A: b\n", map[string]string{"A": "b"}, ""},
		{"double quoted escapes", `A="a\nb\"c\\d\!e\$F"` + "\n", map[string]string{"A": "a\nb\"c\\d!e$F"}, ""},
		{"single quoted literal", `A='a\nb $X'` + "\n", map[string]string{"A": `a\nb $X`}, ""},
		{"expansion from earlier lines only", "X=1\nA=\"$X ${X} $Y\"\nB=$X\nC='$X'\n", map[string]string{"X": "1", "A": "1 1 ", "B": "1", "C": "$X"}, ""},
		{"lowercase names do not expand", "x=1\nA=$x\n", map[string]string{"x": "1", "A": "$x"}, ""},
		{"multi-line double quoted", "A=\"one\ntwo\"\nB=2\n", map[string]string{"A": "one\ntwo", "B": "2"}, ""},
		{"crlf", "A=1\r\nB=\"x\"\r\n", map[string]string{"A": "1", "B": "x"}, ""},
		{"export without blank is a key", "exportA=1\n", map[string]string{"exportA": "1"}, ""},
		{"blanks in key", "A B = c\n", map[string]string{"A B": "c"}, ""},
		{"dotted key kept (dropped later)", "a.b=1\n", map[string]string{"a.b": "1"}, ""},
		{"unterminated", "A=\"x\nB=1\n", nil, `unterminated quoted value "x`},
		{"bad char", "A-B=1\n", nil, `unexpected character "-" in variable name near "A-B=1\n"`},
		{"bare word", "FOO\n", nil, `unexpected character "\n" in variable name near "FOO\n"`},
		{"bare word at eof", "FOO", map[string]string{"": "FOO"}, ""},
		{"export alone", "export ", nil, "zero length string"},
		{"trailing quote trimmed (godotenv)", `A="say \"hi\""` + "\n", map[string]string{"A": `say "hi\`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvFile([]byte(tt.in))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q want %q", got, tt.want)
			}
		})
	}
}

func TestEnvKeys(t *testing.T) {
	for k, ok := range map[string]bool{"A": true, "_": true, "a_1": true, "A1B": true, "": false, "1A": false, "A-B": false, "A.B": false, "É": false, "A B": false} {
		if ValidEnvKey(k) != ok {
			t.Errorf("ValidEnvKey(%q) = %v", k, !ok)
		}
	}
	s := newEnvStore(t)
	err := s.SetEnv("app1", map[string]string{"GOOD": "1", "1BAD": "x"})
	if err == nil || err.Error() != "Invalid key name: '1BAD'" {
		t.Fatalf("err = %v", err)
	}
	if err := s.UnsetEnv("app1", []string{"A-B"}); err == nil || err.Error() != "Invalid key name: 'A-B'" {
		t.Fatalf("unset err = %v", err)
	}
	// a file with keys Dokku refuses: they are dropped on read
	if err := os.MkdirAll(filepath.Dir(s.EnvPath("app1")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.EnvPath("app1"), []byte("a.b=1\nOK=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if env, err := s.Env("app1"); err != nil || !reflect.DeepEqual(env, map[string]string{"OK": "2"}) {
		t.Fatalf("env = %q, %v", env, err)
	}
}

func TestEnvOperations(t *testing.T) {
	s := newEnvStore(t)
	if env, err := s.Env("app1"); err != nil || len(env) != 0 {
		t.Fatalf("missing file: %q %v", env, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetEnv(Global, map[string]string{"G": "g", "SHARED": "global"}))
	must(s.SetEnv("app1", map[string]string{"A": "a", "SHARED": "app"}))
	must(s.SetEnv("app1", map[string]string{"B": "b"}))
	if env, _ := s.Env("app1"); !reflect.DeepEqual(env, map[string]string{"A": "a", "B": "b", "SHARED": "app"}) {
		t.Fatalf("merge: %q", env)
	}
	if env, _ := s.MergedEnv("app1"); !reflect.DeepEqual(env, map[string]string{"A": "a", "B": "b", "G": "g", "SHARED": "app"}) {
		t.Fatalf("merged: %q", env)
	}
	if env, _ := s.MergedEnv(Global); !reflect.DeepEqual(env, map[string]string{"G": "g", "SHARED": "global"}) {
		t.Fatalf("merged global: %q", env)
	}
	if _, err := os.Stat(filepath.Join(s.Paths.LibDir, "config", "--global", "ENV")); err != nil {
		t.Fatalf("global ENV not where Dokku keeps it: %v", err)
	}
	must(s.UnsetEnv("app1", []string{"A", "NOPE"}))
	if env, _ := s.Env("app1"); !reflect.DeepEqual(env, map[string]string{"B": "b", "SHARED": "app"}) {
		t.Fatalf("unset: %q", env)
	}
	must(s.CreateApp("app2", 1))
	must(s.CopyEnv("app1", "app2"))
	if env, _ := s.Env("app2"); !reflect.DeepEqual(env, map[string]string{"B": "b", "SHARED": "app"}) {
		t.Fatalf("copy: %q", env)
	}
	must(s.ClearEnv("app1"))
	if env, _ := s.Env("app1"); len(env) != 0 {
		t.Fatalf("clear: %q", env)
	}
	if b, _ := os.ReadFile(s.EnvPath("app1")); string(b) != "\n" {
		t.Fatalf("cleared file = %q, want Dokku's empty file", b)
	}
	must(s.DeleteEnv("app2"))
	if _, err := os.Stat(filepath.Dir(s.EnvPath("app2"))); !os.IsNotExist(err) {
		t.Fatalf("DeleteEnv left %v", err)
	}
	// an app named like a plugin shares LibDir/config/<name> with that
	// plugin's properties: only its ENV goes
	must(s.CreateApp("git", 1))
	must(s.SetProperty("git", "app1", "deploy-branch", "main"))
	must(s.SetEnv("git", map[string]string{"A": "1"}))
	must(s.DeleteEnv("git"))
	if v, _ := s.Property("git", "app1", "deploy-branch"); v != "main" {
		t.Fatalf("DeleteEnv(git) removed the git plugin's properties")
	}
	if env, _ := s.Env("git"); len(env) != 0 {
		t.Fatalf("DeleteEnv(git) left %q", env)
	}
	for _, bad := range []string{"../x", "a/b", "", "ENV"} {
		if _, err := s.Env(bad); err == nil {
			t.Errorf("Env(%q) accepted", bad)
		}
		if err := s.SetEnv(bad, map[string]string{"A": "1"}); err == nil {
			t.Errorf("SetEnv(%q) accepted", bad)
		}
	}
}

func TestEnvParseErrorReported(t *testing.T) {
	s := newEnvStore(t)
	if err := os.MkdirAll(filepath.Dir(s.EnvPath("app1")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.EnvPath("app1"), []byte("A=\"open\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Env("app1")
	var fe *EnvFileError
	if !errors.As(err, &fe) || err.Error() != `unterminated quoted value "open` {
		t.Fatalf("err = %v", err)
	}
	if err := s.SetEnv("app1", map[string]string{"B": "1"}); !errors.As(err, &fe) {
		t.Fatalf("a write over a broken file: %v", err)
	}
}

func TestEnvLegacyMigration(t *testing.T) {
	s := newEnvStore(t)
	legacy := filepath.Join(s.Paths.RootDir, "app1", "ENV")
	if err := os.WriteFile(legacy, []byte("export OLD='x y'\nexport BOTH='old'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(s.EnvPath("app1")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.EnvPath("app1"), []byte("BOTH=\"new\"\nNEW=\"n\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// not migrated yet: the legacy file is drained over the new one, as Dokku does
	want := map[string]string{"OLD": "x y", "BOTH": "old", "NEW": "n"}
	if env, err := s.Env("app1"); err != nil || !reflect.DeepEqual(env, want) {
		t.Fatalf("before write: %q %v", env, err)
	}
	if err := s.SetEnv("app1", map[string]string{"C": "3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Fatalf("legacy file kept: %v", err)
	}
	if v, _ := s.Property("config", "app1", "env-migrated"); v != "true" {
		t.Fatalf("env-migrated = %q", v)
	}
	want["C"] = "3"
	if env, _ := s.Env("app1"); !reflect.DeepEqual(env, want) {
		t.Fatalf("after write: %q", env)
	}
	// once migrated, a stale legacy file is never read again
	if err := os.WriteFile(legacy, []byte("export STALE=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if env, _ := s.Env("app1"); !reflect.DeepEqual(env, want) {
		t.Fatalf("stale legacy file read: %q", env)
	}
	// the global legacy file is RootDir/ENV
	if err := os.WriteFile(filepath.Join(s.Paths.RootDir, "ENV"), []byte("export G='1'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if env, _ := s.Env(Global); !reflect.DeepEqual(env, map[string]string{"G": "1"}) {
		t.Fatalf("global legacy: %q", env)
	}
}

func TestEnvConcurrentWriters(t *testing.T) {
	s := newEnvStore(t)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.SetEnv("app1", map[string]string{"K" + strconv.Itoa(i): strconv.Itoa(i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	env, err := s.Env("app1")
	if err != nil || len(env) != 32 {
		t.Fatalf("lost updates: %d keys, %v", len(env), err)
	}
}

func TestCheckEnvValues(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		key  string // "" when accepted
	}{
		{map[string]string{"A": "plain", "B": "é€𝄞 \t\n'\"$"}, ""},
		{map[string]string{"A": "a\x00b"}, "A"},
		{map[string]string{"A": "a\xffb"}, "A"},
		{map[string]string{"Z": "\x00", "B": "\xc3"}, "B"}, // the first in key order
	} {
		err := CheckEnvValues(c.vars)
		var ie *InvalidValueError
		switch {
		case c.key == "" && err != nil:
			t.Errorf("%q: %v", c.vars, err)
		case c.key != "" && (!errors.As(err, &ie) || ie.Key != c.key):
			t.Errorf("%q: err = %v, want one for %s", c.vars, err, c.key)
		}
	}
}
