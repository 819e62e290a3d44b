package forcedcmd

import (
	"slices"
	"testing"
)

func TestAssignments(t *testing.T) {
	tests := []struct {
		command string
		want    []string
	}{
		{`FINGERPRINT=SHA256:abc NAME="admin" ` + "`cat /home/dokku/.sshcommand`" + ` $SSH_ORIGINAL_COMMAND`,
			[]string{"FINGERPRINT=SHA256:abc", "NAME=admin"}},
		{`NAME="a b \"c\"" X='d $e' /usr/bin/dokku`, []string{`NAME=a b "c"`, "X=d $e"}},
		{`NAME="$HOME" B=1 cmd`, []string{"B=1"}},
		{`/usr/bin/dokku NAME=x`, nil},
		{`"NA"ME=x cmd`, nil},
		{`A=1;B=2 cmd`, []string{"A=1"}},
		{`NAME="unterminated cmd`, nil},
	}
	for _, tt := range tests {
		if got := Assignments(tt.command); !slices.Equal(got, tt.want) {
			t.Errorf("Assignments(%q) = %q, want %q", tt.command, got, tt.want)
		}
	}
}
