package commands

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		// The cases of docs/dokku-behaviour.md#tokenizing.
		{"spaces in values", `config:set app A="hello world" B='x y' C=a\ b`, []string{"config:set", "app", "A=hello world", "B=x y", "C=a b"}},
		{"bats args case", `smoke-test-plugin:args bash -c "echo Hello"`, []string{"smoke-test-plugin:args", "bash", "-c", "echo Hello"}},
		{"quotes mid-word", `x a"b c"d`, []string{"x", "ab cd"}},
		{"quotes inside other quotes", `x "a'b" 'c"d'`, []string{"x", "a'b", `c"d`}},
		{"no expansion", `run app echo $HOME *`, []string{"run", "app", "echo", "$HOME", "*"}},
		{"empty quoted arg dropped", `x ""`, []string{"x"}},
		{"git receive keeps quotes", `git-receive-pack 'app'`, []string{"git-receive-pack", "'app'"}},
		{"git colon command no quote processing", `git:set app deploy-branch "main"`, []string{"git:set", "app", "deploy-branch", `"main"`}},
		{"tabs and newlines separate", "apps:list\t--format\njson", []string{"apps:list", "--format", "json"}},
		{"backslash quote", `x a\"b`, []string{"x", `a"b`}},
		{"trailing backslash literal", `x a\`, []string{"x", `a\`}},
		{"empty", ``, nil},
		{"only blanks", "   \t ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tokenize(tt.raw)
			if err != nil {
				t.Fatalf("Tokenize(%q) error: %v", tt.raw, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Tokenize(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestTokenizeUnmatchedQuote(t *testing.T) {
	for _, raw := range []string{`run app echo "un`, `x 'a`, "x \"a\nb\""} {
		_, err := Tokenize(raw)
		if err == nil || !errors.As(err, new(*UnmatchedQuoteError)) {
			t.Fatalf("Tokenize(%q) error = %v, want unmatched quote", raw, err)
		}
		if !strings.Contains(err.Error(), "unmatched") {
			t.Fatalf("message %q does not say what is wrong", err)
		}
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{`config:set app A="hello world"`, `x a"b c"d`, `x "a'b" 'c"d'`, `git-receive-pack 'app'`, `a\ b`, `"`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		toks, err := Tokenize(raw)
		if err != nil {
			if !errors.As(err, new(*UnmatchedQuoteError)) {
				t.Fatalf("unexpected error type %T", err)
			}
			return
		}
		for _, tok := range toks {
			if tok == "" {
				t.Fatalf("empty token from %q", raw)
			}
		}
		// Re-quoting every token with single quotes must give the same tokens
		// back (when no token contains a single quote or a newline).
		var b strings.Builder
		for _, tok := range toks {
			if strings.ContainsAny(tok, "'\n") {
				return
			}
			b.WriteString(" '" + tok + "'")
		}
		if len(toks) > 0 && strings.Contains(toks[0], "git") {
			return // git words are split on blanks only, quotes kept
		}
		again, err := xargsSplit(b.String())
		if err != nil {
			t.Fatalf("re-quoted %q: %v", b.String(), err)
		}
		if len(again) != len(toks) {
			t.Fatalf("re-quoted %q gives %q, want %q", b.String(), again, toks)
		}
		for i := range again {
			if again[i] != toks[i] {
				t.Fatalf("re-quoted %q gives %q, want %q", b.String(), again, toks)
			}
		}
	})
}
