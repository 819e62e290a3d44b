package forcedcmd

import (
	"os"
	"strings"
	"testing"

	"dokku-sshd/internal/testenv"
)

func TestParsePasswd(t *testing.T) {
	const db = `# comment
root:x:0:0:root:/root:/bin/bash
+nis-entry
broken:x:7
notanumber:x:abc:1::/x:/bin/sh
dokku:x:1000:1000:dokku,,,:/home/dokku:/bin/bash
noshell:x:1001:1001::/home/noshell:
dup:x:1000:1000::/elsewhere:/bin/zsh
`
	for _, tc := range []struct {
		name    string
		uid     int
		want    Login
		wantErr string
	}{
		{"root", 0, Login{Name: "root", UID: 0, Home: "/root", Shell: "/bin/bash"}, ""},
		{"first entry wins", 1000, Login{Name: "dokku", UID: 1000, Home: "/home/dokku", Shell: "/bin/bash"}, ""},
		{"empty shell is /bin/sh", 1001, Login{Name: "noshell", UID: 1001, Home: "/home/noshell", Shell: "/bin/sh"}, ""},
		{"missing", 4242, Login{}, "no entry for uid 4242"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePasswd(strings.NewReader(db), tc.uid)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parsePasswd = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// The server's own user is in the real /etc/passwd.
func TestLookupLoginSelf(t *testing.T) {
	l, err := LookupLogin(os.Geteuid())
	if err != nil {
		testenv.SkipOrFail(t, "this test needs the user running it (uid %d) in /etc/passwd, as sshd needs its login user there: %v", os.Geteuid(), err)
	}
	if l.UID != os.Geteuid() || l.Name == "" || l.Home == "" || l.Shell == "" {
		t.Errorf("LookupLogin = %+v", l)
	}
}
