package forcedcmd

import "testing"

func TestAssignmentPrefix(t *testing.T) {
	sshcommand := `FINGERPRINT=SHA256:abc NAME="admin"`
	tests := []struct{ command, want string }{
		{sshcommand + " `cat /home/dokku/.sshcommand` $SSH_ORIGINAL_COMMAND", sshcommand},
		{`NAME="a b \"c\"" X='d $e' /usr/bin/dokku`, `NAME="a b \"c\"" X='d $e'`},
		{`  A=1 B=\ 2 cmd`, `  A=1 B=\ 2`},
		{`/usr/bin/dokku NAME=x`, ``},
		{`"NA"ME=x cmd`, ``},
		{`A=1;B=2 cmd`, `A=1`},
		{`A=1 NAME="unterminated cmd`, `A=1`},
		{`A=1`, `A=1`},
	}
	for _, tt := range tests {
		if got := AssignmentPrefix(tt.command); got != tt.want {
			t.Errorf("AssignmentPrefix(%q) = %q, want %q", tt.command, got, tt.want)
		}
	}
}
