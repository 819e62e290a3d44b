package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

func TestForcedCommand(t *testing.T) {
	managed, plain, foreign, absent := goKey(t, "m@host"), goKey(t, "p@host"), goKey(t, "f@host"), goKey(t, "a@host")
	twice := goKey(t, "t@host")
	fpOf := func(line string) string {
		pub, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		return gossh.FingerprintSHA256(pub)
	}
	file := strings.Join([]string{
		"# a comment",
		FormatLine("alice", fpOf(managed), DefaultOptions, managed, "/home/dokku"),
		plain,
		`command="/bin/true" ` + foreign,
		`from="10.0.0.1",` + FormatLine("first", fpOf(twice), DefaultOptions, twice, "/h"), // not authorizing here: from=
		FormatLine("second", `a\b`, DefaultOptions, twice, "/h"),
		"",
	}, "\n")
	path := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Open(path, nil)
	for _, tc := range []struct {
		name   string
		key    string
		want   string
		wantOK bool
	}{
		{"sshcommand line, dequoted", managed,
			`FINGERPRINT=` + fpOf(managed) + ` NAME="alice" ` + "`cat /home/dokku/.sshcommand` $SSH_ORIGINAL_COMMAND", true},
		{"key added by hand: no command", plain, "", true},
		{"foreign command does not authorize", foreign, "", false},
		{"not in the file", absent, "", false},
		// The from= line does not authorize (LookupKey skips it too); the
		// next one does, and a backslash not before a quote stays.
		{"first authorizing line", twice, `FINGERPRINT=a\b NAME="second" ` + "`cat /h/.sshcommand` $SSH_ORIGINAL_COMMAND", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := s.ForcedCommand(fpOf(tc.key))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ForcedCommand = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
	if _, _, err := Open(filepath.Join(t.TempDir(), "missing"), nil).ForcedCommand("SHA256:x"); err == nil {
		t.Error("a missing file gave no error")
	}
}
