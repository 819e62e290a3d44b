package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// serverApp is one app deployed by `git push` to a running dokku-sshd.
type serverApp struct {
	url     string // ssh://dokku@127.0.0.1:PORT/
	data    string // dokku-sshd's data dir (state files, properties)
	pid     int
	app     string
	repo    string // the client's work tree
	poll    time.Duration
	timeout time.Duration
	cli     *client.Client
	pushes  int
	logFile string // the server's log (text format), for "deploy started"
}

// deployStarted returns the time of the last "deploy started" line of app
// in the server's text log (millisecond resolution; zero when none).
func (s *serverApp) deployStarted() time.Time {
	if s.logFile == "" {
		return time.Time{}
	}
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return time.Time{}
	}
	var last time.Time
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `msg="deploy started"`) || !strings.Contains(line, " app="+s.app+" ") {
			continue
		}
		f := strings.Fields(line)
		if len(f) > 0 {
			if t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(f[0], "time=")); err == nil {
				last = t
			}
		}
	}
	return last
}

func (s *serverApp) git(args ...string) error {
	cmd := exec.Command("git", append([]string{"-C", s.repo}, args...)...)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Push Bench", "GIT_AUTHOR_EMAIL=push-bench@example.invalid",
		"GIT_COMMITTER_NAME=Push Bench", "GIT_COMMITTER_EMAIL=push-bench@example.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (s *serverApp) stateFile(kind string) string {
	b, _ := os.ReadFile(filepath.Join(s.data, "home", s.app, kind+".web.1"))
	return strings.TrimSpace(string(b))
}

// push commits files, pushes them and times the push. It returns the
// phases (ms) and the transcript.
func (s *serverApp) push(ctx context.Context, files map[string]string, marker string) (phases, string, error) {
	if err := s.commit(files, marker); err != nil {
		return nil, "", err
	}
	oldID := s.stateFile("CONTAINER")
	p := phases{}
	dpid := dockerdPID()
	cpu0, err := sampleCPU(s.pid, dpid)
	if err != nil {
		return nil, "", err
	}
	run, err := s.timedPush(ctx, oldID, marker)
	if err != nil {
		return nil, run.transcript, err
	}
	run.split(p, s.deployStarted)

	// Retirement of the old container (wait-to-retire 0), so that the
	// next deploy starts on a quiet daemon; then the server's CPU.
	if oldID != "" {
		rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
		err := waitGone(rctx, s.cli, oldID)
		rcancel()
		if err != nil {
			return nil, run.transcript, fmt.Errorf("retirement: %w", err)
		}
		p["retired_after_exit"] = ms(time.Since(run.exit))
	}
	time.Sleep(100 * time.Millisecond) // children reaped, counters settled
	cpu1, err := sampleCPU(s.pid, dpid)
	if err != nil {
		return nil, run.transcript, err
	}
	p["server_cpu"] = cpu1.tree - cpu0.tree
	p["server_self_cpu"] = cpu1.self - cpu0.self
	p["dockerd_cpu"] = cpu1.dockerd - cpu0.dockerd
	s.pushes++
	return p, run.transcript, nil
}

// commit writes files into the client's work tree and commits them; the
// first push initialises the repository.
func (s *serverApp) commit(files map[string]string, marker string) error {
	if s.pushes == 0 {
		if err := os.MkdirAll(s.repo, 0o755); err != nil {
			return err
		}
		if err := s.git("init", "-q"); err != nil {
			return err
		}
		if err := s.git("symbolic-ref", "HEAD", "refs/heads/main"); err != nil {
			return err
		}
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(s.repo, n), []byte(body), 0o644); err != nil {
			return err
		}
	}
	if err := s.git("add", "-A"); err != nil {
		return err
	}
	return s.git("commit", "-q", "-m", marker)
}

// timedPush runs `git push` and times its transcript's lines, its exit,
// and the moment the new web.1 answers with marker.
func (s *serverApp) timedPush(ctx context.Context, oldID, marker string) (pushRun, error) {
	pctx, pcancel := context.WithTimeout(ctx, s.timeout)
	defer pcancel()
	cmd := exec.CommandContext(pctx, "git", "-C", s.repo, "push", "--porcelain", s.url+s.app, "main")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return pushRun{}, err
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	r := pushRun{t0: time.Now()}
	if err := cmd.Start(); err != nil {
		return pushRun{}, err
	}
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		r.seen, r.transcript = readTranscript(stderr, r.t0)
	}()
	running := make(chan time.Time, 1)
	go s.watchRunning(pctx, oldID, marker, running)
	<-lines
	werr := cmd.Wait()
	r.exit = time.Now()
	if werr != nil {
		return r, fmt.Errorf("git push: %w\n%s", werr, r.transcript)
	}
	select {
	case r.running = <-running:
	case <-time.After(30 * time.Second):
		return r, errors.New("the push succeeded but the app never answered with the new page")
	}
	return r, nil
}

// watchRunning sends the moment the new web.1 (another container than
// oldID) answers with this commit's page at the address of the state
// files.
func (s *serverApp) watchRunning(ctx context.Context, oldID, marker string, running chan<- time.Time) {
	for ctx.Err() == nil {
		if id := s.stateFile("CONTAINER"); id != "" && id != oldID {
			if ip, port := s.stateFile("IP"), s.stateFile("PORT"); ip != "" && port != "" && answers(ctx, ip, port, marker) {
				running <- time.Now()
				return
			}
		}
		_ = sleepCtx(ctx, s.poll)
	}
}
