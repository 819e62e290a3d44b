package gitrecv

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"

	"dokku-sshd/internal/gitexec"
	"dokku-sshd/internal/testenv"
)

// The test binary doubles as the receive-pack program git runs for a local
// push: `git push --receive-pack="env GITRECV_SERVE=hook /path/test.bin"`.
func TestMain(m *testing.M) {
	if mode := os.Getenv("GITRECV_SERVE"); mode != "" {
		os.Exit(serveForTest(mode, os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func serveForTest(mode, repo string) int {
	r := &Receiver{Agent: "dokku-sshd-test"}
	ctx := context.Background()
	switch mode {
	case "upload": // git clone --upload-pack
		repo = strings.Trim(repo, "'")
		if err := UploadPackCmd(context.Background(), repo, os.Getenv("GIT_PROTOCOL"), os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "upload-pack:", err)
			return 1
		}
		return 0
	case "host":
		r.Repo = &RepoHooks{}
		// The hooks start from the client's environment, as from the
		// session's under OpenSSH, less what made this binary the server.
		ctx = WithHookEnv(ctx, withoutVar(os.Environ(), "GITRECV_SERVE"))
	case "decline":
		r.Hook = func(ctx context.Context, p *Push) error {
			fmt.Fprintln(p.Out, "-----> Building, then failing")
			return errors.New("build failed")
		}
	case "print":
		r.Hook = func(ctx context.Context, p *Push) error {
			// The hook sees the pushed objects before any ref moves.
			for _, c := range p.Commands {
				if c.IsDelete() {
					continue
				}
				out, err := gitexec.Output(ctx, p.Repo, p.Env, nil, "log", "-1", "--format=%s", c.New.String())
				if err != nil {
					return err
				}
				fmt.Fprintf(p.Out, "-----> %s at %s\n", c.Ref, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
	repo = strings.Trim(repo, "'")
	if err := r.ReceivePack(ctx, "app", repo, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "receive-pack:", err)
		return 1
	}
	return 0
}

func run(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func setup(t *testing.T) (work, repo string) {
	t.Helper()
	testenv.Tool(t, "git")
	base := t.TempDir()
	work, repo = filepath.Join(base, "work"), filepath.Join(base, "repo.git")
	if err := InitRepo(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(work, 0o755)
	for _, c := range [][]string{{"git", "init", "-q", "-b", "main"}, {"git", "commit", "-q", "--allow-empty", "-m", "first"}} {
		if out, err := run(t, work, c...); err != nil {
			t.Fatalf("%v: %s", c, out)
		}
	}
	return work, repo
}

func push(t *testing.T, work, repo, mode string, args ...string) (string, error) {
	self, _ := os.Executable()
	return run(t, work, append([]string{"git", "push", "--receive-pack=env GITRECV_SERVE=" + mode + " " + self, repo}, args...)...)
}

func refOf(t *testing.T, repo, ref string) string {
	h, err := ResolveRef(context.Background(), repo, ref)
	if err != nil {
		t.Fatal(err)
	}
	if h.IsZero() {
		return ""
	}
	return h.String()
}

func TestReceivePackEndToEnd(t *testing.T) {
	work, repo := setup(t)
	out, err := push(t, work, repo, "print", "main")
	if err != nil || !strings.Contains(out, "remote: -----> refs/heads/main at first") {
		t.Fatalf("first push: %v\n%s", err, out)
	}
	head, _ := run(t, work, "git", "rev-parse", "HEAD")
	if refOf(t, repo, "refs/heads/main") != strings.TrimSpace(head) {
		t.Fatal("ref not updated after a successful push")
	}
	// Incremental push: a thin pack against what the server has.
	os.WriteFile(filepath.Join(work, "f"), bytes.Repeat([]byte("data\n"), 1000), 0o644)
	run(t, work, "git", "add", "f")
	run(t, work, "git", "commit", "-q", "-m", "second")
	os.WriteFile(filepath.Join(work, "f"), bytes.Repeat([]byte("data\n"), 1001), 0o644)
	run(t, work, "git", "commit", "-q", "-am", "third")
	if out, err := push(t, work, repo, "print", "main"); err != nil || !strings.Contains(out, "at third") {
		t.Fatalf("incremental push: %v\n%s", err, out)
	}
	if out, err := run(t, repo, "git", "fsck", "--strict"); err != nil {
		t.Fatalf("fsck after pushes: %v\n%s", err, out)
	}
	// A declined push moves nothing and leaves no quarantine behind.
	before := refOf(t, repo, "refs/heads/main")
	run(t, work, "git", "commit", "-q", "--allow-empty", "-m", "fourth")
	out, err = push(t, work, repo, "decline", "main")
	if err == nil || !strings.Contains(out, "pre-receive hook declined") || !strings.Contains(out, "remote: -----> Building, then failing") {
		t.Fatalf("declined push: %v\n%s", err, out)
	}
	if refOf(t, repo, "refs/heads/main") != before {
		t.Fatal("declined push moved the ref")
	}
	ents, _ := filepath.Glob(filepath.Join(repo, "objects", "incoming-*"))
	if len(ents) != 0 {
		t.Fatalf("quarantine left behind: %v", ents)
	}
	// Tags, deletes and atomic multi-ref pushes.
	run(t, work, "git", "tag", "v1")
	run(t, work, "git", "branch", "other")
	if out, err := push(t, work, repo, "none", "--atomic", "main", "v1", "other"); err != nil {
		t.Fatalf("atomic push: %v\n%s", err, out)
	}
	if refOf(t, repo, "refs/tags/v1") == "" || refOf(t, repo, "refs/heads/other") == "" {
		t.Fatal("atomic push did not create every ref")
	}
	if out, err := push(t, work, repo, "none", "--delete", "other"); err != nil || refOf(t, repo, "refs/heads/other") != "" {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if out, err := push(t, work, repo, "none", "--push-option=ci.skip", "main"); err != nil {
		t.Fatalf("push option: %v\n%s", err, out)
	}
}

func TestStaleOldValueRejected(t *testing.T) {
	work, repo := setup(t)
	if out, err := push(t, work, repo, "none", "main"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	first := refOf(t, repo, "refs/heads/main")
	run(t, work, "git", "commit", "-q", "--allow-empty", "-m", "second")
	// Someone else moved the ref meanwhile: the client's old value is stale.
	run(t, work, "git", "branch", "elsewhere")
	run(t, work, "git", "commit", "-q", "--allow-empty", "-m", "third")
	if out, err := push(t, work, repo, "none", "HEAD:refs/heads/main"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	moved := refOf(t, repo, "refs/heads/main")
	// --force-with-lease with the first value: the server must answer ng.
	out, err := push(t, work, repo, "none", "--force-with-lease=main:"+first, "elsewhere:main")
	if err == nil {
		t.Fatalf("stale push accepted:\n%s", out)
	}
	if refOf(t, repo, "refs/heads/main") != moved {
		t.Fatal("stale push overwrote the ref")
	}
}

// TestCompareAndSwap speaks the protocol directly: an update whose old value
// is not the ref's current value is answered ng and changes nothing, while
// a correct one in the same (non-atomic) push goes through.
func TestCompareAndSwap(t *testing.T) {
	work, repo := setup(t)
	if out, err := push(t, work, repo, "none", "main", "main:other"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	first := refOf(t, repo, "refs/heads/main")
	run(t, work, "git", "commit", "-q", "--allow-empty", "-m", "second")
	second, _ := run(t, work, "git", "rev-parse", "HEAD")
	second = strings.TrimSpace(second)
	// Make the server have the object: push it to a scratch branch.
	if out, err := push(t, work, repo, "none", "HEAD:refs/heads/scratch"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var req bytes.Buffer
	e := pktline.NewEncoder(&req)
	e.EncodeString(zero + " " + second + " refs/heads/main\x00report-status\n") // stale: main is not zero
	e.EncodeString(first + " " + second + " refs/heads/other\n")                // correct
	e.Flush()
	req.Write(emptyPack())
	var out bytes.Buffer
	r := &Receiver{}
	if err := r.ReceivePack(context.Background(), "app", repo, &req, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "ng refs/heads/main stale info") || !strings.Contains(got, "ok refs/heads/other") {
		t.Fatalf("report:\n%s", got)
	}
	if refOf(t, repo, "refs/heads/main") != first {
		t.Fatal("stale update moved the ref")
	}
	if refOf(t, repo, "refs/heads/other") != second {
		t.Fatal("valid update did not move the ref")
	}
	// Atomic: one stale update fails the whole push.
	req.Reset()
	out.Reset()
	e.EncodeString(zero + " " + first + " refs/heads/new\x00report-status atomic\n")
	e.EncodeString(zero + " " + first + " refs/heads/main\n") // stale
	e.Flush()
	req.Write(emptyPack())
	if err := r.ReceivePack(context.Background(), "app", repo, &req, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if refOf(t, repo, "refs/heads/new") != "" || !strings.Contains(out.String(), "ng refs/heads/new atomic push failure") {
		t.Fatalf("atomic push partly applied:\n%s", out.String())
	}
}

// emptyPack is a pack with no objects, what git sends when the server has
// every object already.
func emptyPack() []byte {
	p := []byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00")
	sum := sha1.Sum(p)
	return append(p, sum[:]...)
}

// TestEmptyPushReadsPushOptions: git sends its push options even when it has
// nothing to push (a flush, then the options and a flush, in separate
// writes). A server that hangs up after the first flush makes git's later
// writes fail: git dies of SIGPIPE ("broken pipe") when they come late.
func TestEmptyPushReadsPushOptions(t *testing.T) {
	_, repo := setup(t)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := (&Receiver{}).ReceivePack(context.Background(), "app", repo, pr, io.Discard, io.Discard)
		// What the end of the session does to the client's further writes.
		pr.CloseWithError(errors.New("broken pipe: the server hung up"))
		done <- err
	}()
	var flush, opts bytes.Buffer
	pktline.NewEncoder(&flush).Flush()
	e := pktline.NewEncoder(&opts)
	e.EncodeString("ci.skip\n")
	e.Flush()
	// io.Pipe: each write returns once the server has read all of it.
	if _, err := pw.Write(flush.Bytes()); err != nil {
		t.Fatalf("command list: %v", err)
	}
	if _, err := pw.Write(opts.Bytes()); err != nil {
		t.Fatalf("push options after an empty command list: %v", err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
