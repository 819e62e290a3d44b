// Package gitexec runs the git program for the server. Every run gets the
// same clean environment: what git needs to run (PATH, HOME, TMPDIR, the C
// locale, no terminal prompt) and what the caller names (the repository,
// a push's quarantine, GIT_PROTOCOL, a temporary index), never the server's
// own GIT_* variables, which would make git read or write another
// repository than the one asked for.
package gitexec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// inherited are the variables of the server's environment a git run keeps.
var inherited = []string{"PATH", "HOME", "TMPDIR"}

// environ is the environment of a git run in repo ("" for a command that
// takes no repository or takes it as an argument), with extra added last
// (a later entry of the same name wins).
func environ(repo string, extra ...string) []string {
	env := []string{"GIT_TERMINAL_PROMPT=0", "LC_ALL=C"}
	for _, k := range inherited {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if repo != "" {
		env = append(env, "GIT_DIR="+absPath(repo))
	}
	return append(env, extra...)
}

// absPath is p made absolute, since git runs in the repository: a relative
// GIT_DIR would be taken from there.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Command returns git with args to run in repo (its GIT_DIR and working
// directory; "" for none) with the environment of environ(repo, extra...).
// The caller sets its input and outputs, and starts it.
func Command(ctx context.Context, repo string, extra []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	if repo != "" {
		cmd.Dir = absPath(repo)
	}
	cmd.Env = environ(repo, extra...)
	return cmd
}

// Run runs cmd (from Command) with its stderr captured; a failure is named
// what ("git <first argument>" when empty) and carries what git said.
func Run(cmd *exec.Cmd, what string) error {
	if what == "" {
		what = "git"
		if len(cmd.Args) > 1 {
			what += " " + cmd.Args[1]
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return failed(what, err, stderr.Bytes())
	}
	return nil
}

// Output runs git with args in repo, stdin as its input (nil for none), and
// returns its standard output; a failure carries what git said.
func Output(ctx context.Context, repo string, extra []string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := Command(ctx, repo, extra, args...)
	cmd.Stdin = stdin
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := Run(cmd, "")
	return stdout.Bytes(), err
}

// failed is err of a git run named what, with what git said when it said
// anything (never a message ending in an empty ": ").
func failed(what string, err error, said []byte) error {
	if s := strings.TrimSpace(string(said)); s != "" {
		return fmt.Errorf("%s: %w: %s", what, err, s)
	}
	return fmt.Errorf("%s: %w", what, err)
}
