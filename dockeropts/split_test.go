package dockeropts

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitInput(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"-v /a:/b", []string{"-v /a:/b"}},
		{"--build-arg X=Y --link a --link b", []string{"--build-arg X=Y", "--link a", "--link b"}},
		{"--label 'traefik.http.routers.app.rule=Host(`app.example.com`)'",
			[]string{"--label 'traefik.http.routers.app.rule=Host(`app.example.com`)'"}},
		{`--label "a=say \"hi\""`, []string{`--label 'a=say "hi"'`}},
		{`--label "it's"`, []string{`--label 'it'\''s'`}},
		{"--label a=`x y`", []string{"--label 'a=`x y`'"}},
		{"-e A=$HOME", []string{"-e 'A=$HOME'"}},
		{"-e A=$(date +%s)", []string{"-e 'A=$(date +%s)'"}},
		{`--label=a\ b`, []string{`'--label=a b'`}},
		{"stray -p 80", []string{"stray", "-p 80"}},
		{"-m 512m # a comment", []string{"-m 512m"}},
		{`-e ""`, []string{`-e ''`}},
	} {
		got, err := SplitInput(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitInput(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for in, msg := range map[string]string{
		"--label traefik.rule=Host(`a`)": "1:26: `(` is not a valid word",
		"-e A=1; rm -rf /":               "1:7: `;` is not a valid word",
		"--label 'open":                  "1:9: reached EOF without closing quote `'`",
		"-e 'a\nb'":                      "a docker option cannot contain a line break",
	} {
		_, err := SplitInput(in)
		if err == nil || err.Error() != msg {
			t.Errorf("SplitInput(%q) error = %v; want %q", in, err, msg)
		}
	}
}

// TestStoredRoundTrip: a stored line splits back into exactly the words
// it was made of, backticks, quotes and dollars byte for byte.
func TestStoredRoundTrip(t *testing.T) {
	for _, words := range [][]string{
		{"--label", "traefik.http.routers.app.rule=Host(`app.example.com`) && PathPrefix(`/x`)"},
		{"--label", `a="q" 'b' \ c $X $(y) ` + "`z`"},
		{"-e", ""},
		{"-v", "/a b:/c"},
	} {
		line := JoinWords(words)
		got, err := Words(line)
		if err != nil || !reflect.DeepEqual(got, words) {
			t.Errorf("Words(JoinWords(%q)) = %q (%q), %v", words, got, line, err)
		}
	}
}

func TestSame(t *testing.T) {
	if !Same("--label 'a b'", `--label "a b"`) {
		t.Error("same words in different quoting do not match")
	}
	if Same("--label 'a b'", "--label a b") {
		t.Error("different words match")
	}
	if Same("-v /a:/b", "-v /a:/c") {
		t.Error("different values match")
	}
}

func FuzzSplitInput(f *testing.F) {
	for _, s := range []string{
		"-v /a:/b", "--label 'traefik.rule=Host(`a`)'", `-e "A=\"b\""`, "--link a --link b",
		"-e A=$(x y)", "--label a=`x y`", `'it'\''s'`, "-m 512m # c", "$((1+2))", "-p 80:80/udp",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		opts, err := SplitInput(in)
		if err != nil {
			return
		}
		for _, o := range opts {
			if strings.ContainsAny(o, "\n\r") {
				t.Fatalf("option %q holds a line break", o)
			}
			words, err := Words(o)
			if err != nil {
				t.Fatalf("stored option %q does not split: %v", o, err)
			}
			// Writing the words back gives the same line, and the shell
			// reading of the line gives the same words.
			if again := JoinWords(words); again != o {
				t.Fatalf("JoinWords(Words(%q)) = %q", o, again)
			}
			sw, _, err := shellWords(o)
			if err != nil || !reflect.DeepEqual(sw, words) {
				t.Fatalf("shell words of %q = %q, %v; xargs words %q", o, sw, err, words)
			}
			// Parsing never panics, whatever it makes of the words.
			_, _ = ParseContainer(Deploy, words)
			_, _ = ParseBuild(words, nil)
		}
	})
}
