package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"dokku-sshd/store"
)

// FindNginx returns bin when set, else nginx on PATH, else /usr/sbin/nginx;
// "" when there is none.
func FindNginx(bin string) string {
	if bin != "" {
		if p, err := exec.LookPath(bin); err == nil {
			return p
		}
		return ""
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if st, err := os.Stat("/usr/sbin/nginx"); err == nil && !st.IsDir() {
		return "/usr/sbin/nginx"
	}
	return ""
}

// Nginx is the nginx the server drives. Private (the default): the server
// runs it as a child with its own prefix directory and main config, which
// includes every RootDir/*/nginx.conf. System: an operator-run nginx
// whose config includes IncludeFile (written by the server: the default
// servers and every RootDir/*/nginx.conf); it is validated with `nginx -t`
// and reloaded with ReloadCmd.
type Nginx struct {
	Bin    string
	Prefix string // private mode's directory: nginx.conf, logs/, tmp/
	Root   string // RootDir: the apps' directories
	// Listen is the IPv4 address nginx listens on ("": every address, and
	// IPv6's "::" too).
	Listen string
	System bool
	// IncludeFile and ReloadCmd are system mode's: the file the operator's
	// nginx config includes (in its http block), and the command that
	// reloads it (default: Bin -s reload).
	IncludeFile string
	ReloadCmd   []string
	Logger      *slog.Logger

	mu         sync.Mutex
	cmd        *exec.Cmd
	done       chan struct{}
	generation int
	// running is true from a successful Start until Stop: while it is,
	// a child that exits on its own is started again.
	running     bool
	lastRestart time.Time
}

func (n *Nginx) log() *slog.Logger {
	if n.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Logger
}

// LogDir is where app logs go by default.
func (n *Nginx) LogDir() string {
	if n.System {
		return "/var/log/nginx"
	}
	return filepath.Join(n.Prefix, "logs")
}

func (n *Nginx) mainConf() string { return filepath.Join(n.Prefix, "nginx.conf") }
func (n *Nginx) defaultsConf() string {
	if n.System {
		return n.IncludeFile
	}
	return filepath.Join(n.Prefix, "default-servers.conf")
}
func (n *Nginx) controlSock() string { return filepath.Join(n.Prefix, "control.sock") }
func (n *Nginx) generationConf() string {
	return filepath.Join(n.Prefix, "generation.conf")
}

// listen6 is the IPv6 address apps listen on by default.
func (n *Nginx) listen6() string {
	if n.Listen == "" {
		return "::"
	}
	return ""
}

// writeMain writes private mode's main config.
func (n *Nginx) writeMain() error {
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(n.Prefix, d), 0o755); err != nil {
			return fmt.Errorf("nginx: %w", err)
		}
	}
	p := n.Prefix
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log;
events {
  worker_connections 1024;
}
http {
  default_type application/octet-stream;
  access_log %[1]s/logs/access.log;
  client_body_temp_path %[1]s/tmp/client_body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  server_tokens off;
  server {
    listen unix:%[1]s/control.sock;
    access_log off;
    location = /generation {
      include %[1]s/generation.conf;
    }
  }
  include %[1]s/default-servers.conf;
  include %[2]s/*/nginx.conf;
}
`, p, n.Root)
	if err := store.WriteFileAtomic(n.mainConf(), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("nginx: write main config: %w", err)
	}
	return nil
}

func (n *Nginx) writeGeneration() error {
	n.generation++
	return store.WriteFileAtomic(n.generationConf(), []byte(fmt.Sprintf("return 200 \"%d\";\n", n.generation)), 0o644)
}

// writeDefaults writes the catch-all servers for every port an app's
// config listens on (and, in system mode, the include of the apps'
// configs).
func (n *Nginx) writeDefaults(plain, ssl []int) error {
	conf := DefaultServers(n.Listen, n.listen6(), plain, ssl)
	if n.System {
		conf += fmt.Sprintf("include %s/*/nginx.conf;\n", n.Root)
	}
	if err := store.WriteFileAtomic(n.defaultsConf(), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("nginx: write default servers: %w", err)
	}
	return nil
}

// privateArgs are the flags that select private mode's prefix and config.
func (n *Nginx) privateArgs() []string {
	return []string{"-p", n.Prefix + "/", "-c", n.mainConf(), "-e", filepath.Join(n.Prefix, "logs", "error.log")}
}

// Start writes private mode's config and starts nginx as a child (system
// mode: validates the operator's config once). It returns once nginx
// answers.
func (n *Nginx) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.System {
		if err := n.writeDefaults(nil, nil); err != nil {
			return err
		}
		return n.test(ctx)
	}
	if err := os.MkdirAll(n.Prefix, 0o755); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	if err := n.writeMain(); err != nil {
		return err
	}
	if _, err := os.Stat(n.defaultsConf()); err != nil {
		if err := n.writeDefaults(nil, nil); err != nil {
			return err
		}
	}
	if err := n.writeGeneration(); err != nil {
		return err
	}
	if err := n.test(ctx); err != nil {
		return err
	}
	n.stopStale()
	if err := n.spawn(ctx); err != nil {
		return err
	}
	n.running = true
	return nil
}

// spawn starts the child nginx on the config on disk and returns once it
// answers; n.mu is held. When the child exits on its own later, it is
// started again (restart).
func (n *Nginx) spawn(ctx context.Context) error {
	_ = os.Remove(n.controlSock())
	args := append(n.privateArgs(), "-g", "daemon off; master_process on;")
	cmd := exec.Command(n.Bin, args...)
	// stderr goes to a file, not a pipe: the workers inherit it, and a
	// pipe would keep Wait from returning after the master is killed.
	stderrPath := filepath.Join(n.Prefix, "logs", "stderr.log")
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("nginx: start: %w", err)
	}
	stderrText := func() string {
		b, _ := os.ReadFile(stderrPath)
		return strings.TrimSpace(string(b))
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		// Workers outlive a master that was killed and keep the ports;
		// they share its process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		n.log().Info("nginx exited", "pid", cmd.Process.Pid, "err", err, "stderr", stderrText())
		close(done)
		n.restart(cmd)
	}()
	n.cmd, n.done = cmd, done
	if err := n.waitGeneration(ctx, done, -1); err != nil {
		n.cmd = nil // before it exits: no restart of a start that failed
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("nginx: start: %w: %s", err, stderrText())
	}
	n.log().Info("nginx started", "pid", cmd.Process.Pid, "prefix", n.Prefix)
	return nil
}

// restart starts nginx again after exited, the child, ended without Stop
// (killed, crashed): without it every later reload would fail and the
// apps would have no routes until the server restarts. It tries again,
// with a growing pause, until nginx runs or Stop is called; a reload in
// the meantime only writes the config, which the new nginx loads.
func (n *Nginx) restart(exited *exec.Cmd) {
	n.mu.Lock()
	if n.cmd != exited || !n.running {
		n.mu.Unlock() // stopped, or a start that failed
		return
	}
	n.cmd = nil
	pause := time.Duration(0)
	if time.Since(n.lastRestart) < time.Minute {
		pause = 2 * time.Second // it died again soon after a restart
	}
	n.mu.Unlock()
	for {
		time.Sleep(pause)
		pause = min(max(2*pause, time.Second), 30*time.Second)
		n.mu.Lock()
		if !n.running || n.cmd != nil {
			n.mu.Unlock()
			return
		}
		n.lastRestart = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := n.writeGeneration()
		if err == nil {
			err = n.spawn(ctx)
		}
		cancel()
		n.mu.Unlock()
		if err == nil {
			n.log().Warn("nginx restarted: it had exited on its own")
			return
		}
		n.log().Error("nginx restart failed", "err", err, "retry_in", pause)
	}
}

// Stop stops the child nginx (quit: connections in flight finish), then
// kills it after a while.
func (n *Nginx) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.running = false
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

// test runs nginx -t on the config; an error carries nginx's message.
func (n *Nginx) test(ctx context.Context) error {
	args := []string{"-t", "-q"}
	if !n.System {
		if err := n.prepare(); err != nil {
			return err
		}
		args = append(args, n.privateArgs()...)
	}
	out, err := exec.CommandContext(ctx, n.Bin, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return &InvalidError{Output: msg}
	}
	return nil
}

// InvalidError is nginx -t's refusal of the config.
type InvalidError struct{ Output string }

func (e *InvalidError) Error() string { return e.Output }

// reload makes nginx use the config on disk and waits until it does.
func (n *Nginx) reload(ctx context.Context) error {
	if n.System {
		argv := n.ReloadCmd
		if len(argv) == 0 {
			argv = []string{n.Bin, "-s", "reload"}
		}
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("nginx reload: %w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	pid := n.masterPid()
	if pid == 0 {
		// Not running (a local command while the server is down): nginx
		// loads the config on disk when it starts.
		return nil
	}
	if err := n.writeGeneration(); err != nil {
		return err
	}
	old := workers(pid)
	since := fileSize(n.errorLog())
	done := n.done
	var err error
	if err = syscall.Kill(pid, syscall.SIGHUP); err != nil {
		err = fmt.Errorf("nginx reload: %w", err)
	} else if err = n.waitGeneration(ctx, done, since); err == nil {
		err = n.waitRetired(ctx, pid, old)
	}
	if err != nil && n.exited(done) {
		// It died under the reload (killed, told to stop by someone
		// else): restart starts it again on the config on disk, which
		// nginx -t has passed.
		n.log().Warn("nginx exited during a reload; it is started again on the new config", "err", err)
		return nil
	}
	return err
}

// exited reports whether the child whose done channel this is has
// exited, waiting a moment: its pid may be gone (the SIGHUP failed) just
// before done closes.
func (n *Nginx) exited(done <-chan struct{}) bool {
	if done == nil {
		return false
	}
	select {
	case <-done:
		return true
	case <-time.After(500 * time.Millisecond):
		return false
	}
}

func (n *Nginx) errorLog() string { return filepath.Join(n.Prefix, "logs", "error.log") }

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// emergSince returns nginx's [emerg] lines written to its error log after
// offset: a reload it refused (a port another program holds).
func (n *Nginx) emergSince(offset int64) string {
	f, err := os.Open(n.errorLog())
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<20))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "[emerg]") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// masterPid is the pid of the private nginx's master: the child's, else
// the one in its pid file when that process lives (0: not running).
func (n *Nginx) masterPid() int {
	if n.cmd != nil {
		return n.cmd.Process.Pid
	}
	if n.running {
		return 0 // the child exited and is being started again
	}
	b, err := os.ReadFile(filepath.Join(n.Prefix, "nginx.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// waitRetired waits until none of the workers in old accepts new
// connections any more: every request from now on sees the new config.
func (n *Nginx) waitRetired(ctx context.Context, master int, old []int) error {
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		live := workers(master)
		if !slices.ContainsFunc(old, func(p int) bool { return slices.Contains(live, p) }) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.done:
			return errors.New("nginx exited")
		case <-deadline.C:
			return errors.New("the workers of nginx's previous config did not stop")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitGeneration waits until nginx's workers answer with the current
// generation: the new config serves.
func (n *Nginx) waitGeneration(ctx context.Context, done <-chan struct{}, errLogOffset int64) error {
	want := strconv.Itoa(n.generation)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", n.controlSock())
		},
		DisableKeepAlives: true,
	}}
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		resp, err := hc.Get("http://nginx/generation")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) == want {
				return nil
			}
		}
		if errLogOffset >= 0 {
			if msg := n.emergSince(errLogOffset); msg != "" {
				return fmt.Errorf("nginx refused the new config: %s", msg)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return errors.New("nginx exited")
		case <-deadline.C:
			return errors.New("nginx did not load the new config (see its error log)")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ValidateApp checks one app's config on its own (nginx:validate-config):
// nginx -t of a throwaway main config that includes only it.
func (n *Nginx) ValidateApp(ctx context.Context, app, conf string) error {
	dir, err := os.MkdirTemp("", "dokku-sshd-nginx-validate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	main := filepath.Join(dir, "nginx.conf")
	text := fmt.Sprintf("pid %[1]s/nginx.pid;\nerror_log %[1]s/error.log;\nevents {}\nhttp {\n  include %[2]s;\n}\n", dir, conf)
	if err := os.WriteFile(main, []byte(text), 0o644); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, n.Bin, "-t", "-q", "-p", dir+"/", "-c", main, "-e", filepath.Join(dir, "error.log")).CombinedOutput()
	if err != nil {
		return &InvalidError{Output: strings.TrimSpace(string(out))}
	}
	return nil
}

// stopStale stops an nginx a killed server left running on this prefix
// (its pid file names a live nginx): it holds the ports.
func (n *Nginx) stopStale() {
	pid := n.masterPid()
	if pid == 0 {
		return
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if !bytes.Contains(cmdline, []byte("nginx")) || !bytes.Contains(cmdline, []byte(n.Prefix)) {
		return
	}
	n.log().Warn("stopping the nginx a previous run left", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// prepare writes private mode's main config when it is missing (a local
// command on a host whose server never ran nginx).
func (n *Nginx) prepare() error {
	if n.System {
		return nil
	}
	if _, err := os.Stat(n.generationConf()); err == nil {
		return nil
	}
	if err := n.writeMain(); err != nil {
		return err
	}
	return n.writeGeneration()
}
