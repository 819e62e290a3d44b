package dockerlocal

import "dokku-sshd/schedulers"

// expandCommand is schedulers.ExpandCommand (the rule is shared by every
// scheduler).
func expandCommand(cmd string, env map[string]string, proc string, port int) string {
	return schedulers.ExpandCommand(cmd, env, proc, port)
}

// splitWords is schedulers.SplitWords.
func splitWords(s string) ([]string, error) { return schedulers.SplitWords(s) }
