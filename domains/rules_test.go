package domains

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		domain string
		want   bool
	}{
		{"example.com", true},
		{"EXAMPLE.com", true}, // checked lower-cased, as Dokku does
		{"app.example.com", true},
		{"*.example.com", true},
		{"*", true},
		{"_", true},
		{"a", true},
		{"xn--bcher-kva.example", true},
		{"a..b", true},  // Dokku's rule says nothing of empty labels
		{".a", true},    // nor of a leading dot
		{"a-", true},    // nor of a trailing hyphen
		{"--foo", true}, // a word that looks like a flag is a valid name to Dokku
		{"1.2.3.4", true},
		{"", false},
		{"example.com.", false},
		{".", false},
		{"a_b.com", false},
		{"__", false},
		{"a b", false},
		{"example.com:80", false},
		{"exämple.com", false},
		{"a/b", false},
		{"a\nb", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.domain); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.domain, got, tt.want)
		}
	}
}

// dokkuHostname is Dokku's is_valid_hostname as its regular expression
// states it, to compare Valid with on any input.
var dokkuHostname = regexp.MustCompile(`^[a-z0-9.*-]*[a-z0-9*-]$`)

func FuzzValid(f *testing.F) {
	for _, s := range []string{"example.com", "*.a.b", "_", "", "a.", "A.B", "a\x00b", "é.com", "1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Dokku lower-cases ASCII letters only as far as the pattern is
		// concerned: no other letter is allowed, lower-cased or not.
		want := s == "_" || dokkuHostname.MatchString(asciiLower(s))
		if got := Valid(s); got != want {
			t.Fatalf("Valid(%q) = %v, Dokku's pattern says %v", s, got, want)
		}
		if Valid(s) {
			// A valid domain is one line of a VHOST file, as is.
			if got := cleanLines(s + "\n"); len(got) != 1 || got[0] != s {
				t.Fatalf("valid %q does not round-trip through a VHOST file: %q", s, got)
			}
		}
		if ok, why := Routable(s); ok != (why == "") {
			t.Fatalf("Routable(%q) = %v, %q", s, ok, why)
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestIsIP(t *testing.T) {
	tests := []struct {
		domain string
		want   bool
	}{
		{"10.0.0.1", true},
		{"x.10.0.0.1", true}, // Dokku's pattern is anchored at the end only
		{"::1", true},
		{"10.0.0.1.sslip.io", false},
		{"10.0.0.256", false},
		{"10.0.1", false},
		{"example.com", false},
		{"1.2.3.x", false},
	}
	for _, tt := range tests {
		if got := IsIP(tt.domain); got != tt.want {
			t.Errorf("IsIP(%q) = %v, want %v", tt.domain, got, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name   string
		app    string
		global []string
		want   []string
	}{
		{"no global", "app", nil, nil},
		{"one", "app", []string{"example.com"}, []string{"app.example.com"}},
		{"several, in order", "app", []string{"b.com", "a.com"}, []string{"app.b.com", "app.a.com"}},
		{"address skipped", "app", []string{"10.0.0.1", "example.com"}, []string{"app.example.com"}},
		{"only an address", "app", []string{"10.0.0.1"}, nil},
		{"invalid global disables", "app", []string{"bad_name"}, nil},
		{"dotted app is its own host", "www.shop.com", []string{"a.com", "b.com"}, []string{"www.shop.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Defaults(tt.app, tt.global); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Defaults(%q, %q) = %q, want %q", tt.app, tt.global, got, tt.want)
			}
		})
	}
}

func TestRenamed(t *testing.T) {
	got := Renamed([]string{"old.example.com", "www.old.example.com", "custom.org", "old.other.com"},
		"old", "new", []string{"example.com"})
	want := []string{"new.example.com", "www.new.example.com", "custom.org", "old.other.com"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Renamed = %q, want %q", got, want)
	}
}

func TestRoutable(t *testing.T) {
	tests := []struct {
		domain string
		want   bool
	}{
		{"example.com", true},
		{"EXAMPLE.com", true},
		{"*.example.com", true},
		{"_", false},
		{"10.0.0.1", false},
		{"a*.example.com", false},
		{"*.*.example.com", false},
		{"*", false},
		{"a..b", false},
		{"-a.com", false},
		{"a-.com", false},
		{strings.Repeat("a", 64) + ".com", false},
	}
	for _, tt := range tests {
		ok, why := Routable(tt.domain)
		if ok != tt.want || ok != (why == "") {
			t.Errorf("Routable(%q) = %v, %q; want %v", tt.domain, ok, why, tt.want)
		}
	}
}
