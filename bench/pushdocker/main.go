// Command pushdocker is the direct baseline of bench/push-docker.sh: it
// deploys a small Dockerfile app with the Docker Engine API operations
// dokku-sshd's dockerfile builder and docker-local scheduler perform, called
// directly, and times each phase. Driven by the script, it also times
// `git push` to a running dokku-sshd, interleaved with the direct deploys,
// and prints the comparison. See bench/README-push-docker.md.
//
//	go run ./bench/pushdocker [direct] [-runs 5]   direct baseline only (first deploy + redeploys)
//	go run ./bench/pushdocker base                 import the BusyBox base image when missing
//	go run ./bench/pushdocker bench -url ... -data DIR -pid PID ...   (bench/push-docker.sh)
//	go run ./bench/pushdocker cleanup -prefix P    remove the containers and images of apps named P*
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"dokku-sshd/deploy"
	"dokku-sshd/internal/dockertest"
)

// webPort is the PORT Dokku gives a Dockerfile app without EXPOSE
// (ports map-detected http:80:5000).
const webPort = "5000"

// dockerfile is the app: BusyBox httpd serving /www on $PORT.
func dockerfile(base string) string {
	return "FROM " + base + "\n" +
		"COPY index.html /www/index.html\n" +
		`CMD ["sh", "-c", "exec httpd -f -p $PORT -h /www"]` + "\n"
}

func indexHTML(marker string) string {
	return "<!doctype html><title>push-docker bench</title><p>" + marker + "</p>\n"
}

func main() {
	args := os.Args[1:]
	cmd := "direct"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "direct":
		err = cmdDirect(args)
	case "base":
		err = cmdBase(args)
	case "bench":
		err = cmdBench(args)
	case "cleanup":
		err = cmdCleanup(args)
	default:
		err = fmt.Errorf("unknown command %q (direct, base, bench, cleanup)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushdocker:", err)
		os.Exit(1)
	}
}

func newClient(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker daemon not reachable: %w", err)
	}
	return cli, nil
}

// ---------------------------------------------------------------------------
// base

func cmdBase(args []string) error {
	fs := flag.NewFlagSet("base", flag.ExitOnError)
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return ensureBase(ctx, cli)
}

// ensureBase imports dockertest.BaseImage from the host's BusyBox when it
// is missing (no registry is reachable; it is kept between runs like a
// pulled base image).
func ensureBase(ctx context.Context, cli *client.Client) error {
	if _, err := cli.ImageInspect(ctx, dockertest.BaseImage); err == nil {
		return nil
	}
	if _, err := os.Stat(dockertest.BusyBoxPath); err != nil {
		return fmt.Errorf("%s is missing (apt-get install -y busybox-static)", dockertest.BusyBoxPath)
	}
	rootfs, err := dockertest.RootFS(ctx, dockertest.BusyBoxPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "==> importing %s from %s\n", dockertest.BaseImage, dockertest.BusyBoxPath)
	return dockertest.ImportImage(ctx, cli, bytes.NewReader(rootfs), dockertest.BaseImage)
}

// ---------------------------------------------------------------------------
// cleanup

func cmdCleanup(args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ExitOnError)
	prefix := fs.String("prefix", "", "remove the containers and images of every app whose name starts with this (required)")
	_ = fs.Parse(args)
	if len(*prefix) < 4 {
		return errors.New("cleanup: -prefix of at least 4 characters is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return cleanupPrefix(ctx, cli, *prefix)
}

// cleanupPrefix force-removes the containers labelled or named for apps
// starting with prefix, and the images dokku/<app> or labelled for them.
func cleanupPrefix(ctx context.Context, cli *client.Client, prefix string) error {
	apps := map[string]bool{}
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs.Items {
		mine := strings.HasPrefix(c.Labels["com.dokku.app-name"], prefix)
		for _, n := range c.Names {
			if strings.HasPrefix(strings.TrimPrefix(n, "/"), prefix) {
				mine = true
			}
		}
		if !mine {
			continue
		}
		if a := c.Labels["com.dokku.app-name"]; a != "" {
			apps[a] = true
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, im := range imgs.Items {
		if a := im.Labels["com.dokku.app-name"]; strings.HasPrefix(a, prefix) {
			apps[a] = true
		}
		for _, t := range im.RepoTags {
			if rest, ok := strings.CutPrefix(t, "dokku/"+prefix); ok {
				apps[prefix+strings.SplitN(rest, ":", 2)[0]] = true
			}
		}
	}
	for a := range apps {
		if err := dockertest.RemoveApp(ctx, cli, a); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------------------
// Timing helpers.

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procCPU returns utime+stime (and cutime+cstime when children) of pid in
// milliseconds, from /proc/PID/stat (clock ticks of 10 ms).
func procCPU(pid int, children bool) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, so f[11].
	if len(f) < 15 {
		return 0, errors.New("short /proc stat")
	}
	n := 2
	if children {
		n = 4
	}
	var ticks int64
	for k := 0; k < n; k++ {
		v, _ := strconv.ParseInt(f[11+k], 10, 64)
		ticks += v
	}
	return float64(ticks) * 10, nil
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e3 + float64(t.Usec)/1e3 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// dockerdPID finds the Docker daemon's process (comm "dockerd"); 0 when
// it is not visible (another PID namespace, DOCKER_HOST remote).
func dockerdPID() int {
	if b, err := os.ReadFile("/var/run/docker.pid"); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			if c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(c)) == "dockerd" {
				return p
			}
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(c)) == "dockerd" {
			return p
		}
	}
	return 0
}

func dockerdCPU(pid int) float64 {
	if pid == 0 {
		return math.NaN()
	}
	v, err := procCPU(pid, false)
	if err != nil {
		return math.NaN()
	}
	return v
}

var httpClient = &http.Client{
	Timeout:   500 * time.Millisecond,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// answers reports whether http://ip:port/ answers 200 with marker.
func answers(ctx context.Context, ip, port, marker string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(ip, port)+"/", nil)
	if err != nil {
		return false
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(marker))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitGone polls until container id no longer exists.
func waitGone(ctx context.Context, cli *client.Client, id string) error {
	for {
		_, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return nil
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("container %.12s still there: %w", id, err)
		}
	}
}

// ---------------------------------------------------------------------------
// The direct path.

// directApp is one app deployed with direct Engine API calls.
type directApp struct {
	cli      *client.Client
	app      string
	base     string
	poll     time.Duration
	stopWait int
	prevID   string // container running as <app>.web.1
	prevImg  string
	deploys  int
}

type phases map[string]float64

func contextTar(files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildStream reads a build's JSON messages; it returns the built image's
// ID and the time of the first "Step" line (zero when none).
// classicBuild builds the context tarball with the options dokku-sshd
// uses (classic builder, intermediate containers removed) and returns the
// image id and when the first step began.
func classicBuild(ctx context.Context, cli *client.Client, tarball []byte, o client.ImageBuildOptions) (string, time.Time, error) {
	o.Remove, o.ForceRemove, o.Version = true, true, build.BuilderV1
	res, err := cli.ImageBuild(ctx, bytes.NewReader(tarball), o)
	if err != nil {
		return "", time.Time{}, err
	}
	defer res.Body.Close()
	return buildStream(res.Body)
}

func buildStream(r io.Reader) (id string, firstStep time.Time, err error) {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			return id, firstStep, nil
		} else if err != nil {
			return id, firstStep, err
		}
		if m.Error != nil {
			return id, firstStep, errors.New(strings.TrimSpace(m.Error.Message))
		}
		if firstStep.IsZero() && strings.HasPrefix(m.Stream, "Step ") {
			firstStep = time.Now()
		}
		if m.Aux != nil {
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
}

// deploy builds files as dokku/<app>:latest (the build, then the release
// step with the labels), runs it as <app>.web.1, waits for it to answer
// with marker, then swaps names and retires the previous container and
// image. Phases are in ms; "running" is the push-to-running equivalent.
func (d *directApp) deploy(ctx context.Context, files map[string]string, marker, rev string) (phases, error) {
	p := phases{}
	cli := d.cli
	image := "dokku/" + d.app + ":latest"
	dpid := dockerdPID()
	dcpu0 := dockerdCPU(dpid)
	cpu0 := selfCPU()
	t0 := time.Now()

	// 1. The app's build: classic builder, same options as dokku-sshd.
	tarball, err := contextTar(files)
	if err != nil {
		return nil, err
	}
	builtID, firstStep, err := classicBuild(ctx, cli, tarball, client.ImageBuildOptions{Dockerfile: "Dockerfile"})
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if builtID == "" {
		return nil, errors.New("build: no image ID reported")
	}
	t1 := time.Now()
	if !firstStep.IsZero() {
		p["before_build"] = ms(firstStep.Sub(t0))
		p["docker_build"] = ms(t1.Sub(firstStep))
	}

	// 2. The release step: FROM the built image, the labels, the tag.
	rel, err := contextTar(map[string]string{"Dockerfile": deploy.ReleaseDockerfile(d.app)})
	if err != nil {
		return nil, err
	}
	releasedID, _, err := classicBuild(ctx, cli, rel, client.ImageBuildOptions{
		Tags: []string{image}, BuildArgs: map[string]*string{"APP_IMAGE": &builtID},
	})
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	t2 := time.Now()
	p["release"] = ms(t2.Sub(t1))

	// 3. The container, configured as docker-local configures web.1.
	dyno := "web.1"
	cfg := &container.Config{
		Image: image,
		Env:   []string{"GIT_REV=" + rev, "DYNO=" + dyno, "PORT=" + webPort},
		Labels: map[string]string{
			"com.dokku.app-name":              d.app,
			"com.dokku.container-type":        "deploy",
			"com.dokku.process-type":          "web",
			"com.dokku.dyno":                  dyno,
			"org.label-schema.schema-version": "1.0",
			"org.label-schema.vendor":         "dokku",
			"dokku":                           "",
		},
	}
	withInit := true
	hc := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 10},
		Init:          &withInit,
	}
	name := fmt.Sprintf("%s.%s.upcoming-%d", d.app, dyno, mrand.IntN(32768))
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	t3 := time.Now()
	p["create"] = ms(t3.Sub(t2))
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	t4 := time.Now()
	p["start"] = ms(t4.Sub(t3))
	ins, err := cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	ip := ""
	if ns := ins.Container.NetworkSettings; ns != nil {
		if ep := ns.Networks["bridge"]; ep != nil && ep.IPAddress.IsValid() {
			ip = ep.IPAddress.String()
		}
	}
	if ip == "" {
		return nil, errors.New("the new container has no bridge address")
	}
	t5 := time.Now()
	p["inspect"] = ms(t5.Sub(t4))
	p["container"] = ms(t5.Sub(t2))

	// 4. Until it answers.
	hctx, hcancel := context.WithTimeout(ctx, 60*time.Second)
	for !answers(hctx, ip, webPort, marker) {
		if err := sleepCtx(hctx, d.poll); err != nil {
			hcancel()
			return nil, fmt.Errorf("the new container never answered at %s: %w", ip, err)
		}
	}
	hcancel()
	t6 := time.Now()
	p["until_answer"] = ms(t6.Sub(t5))
	p["running"] = ms(t6.Sub(t0))

	// 5. The swap: the old web.1 renamed away, the new one named web.1,
	// the old one stopped and removed, its image removed.
	if d.prevID != "" {
		away := fmt.Sprintf("%s.%s.%d", d.app, dyno, time.Now().Unix())
		if _, err := cli.ContainerRename(ctx, d.prevID, client.ContainerRenameOptions{NewName: away}); err != nil {
			return nil, fmt.Errorf("rename away: %w", err)
		}
	}
	if _, err := cli.ContainerRename(ctx, created.ID, client.ContainerRenameOptions{NewName: d.app + "." + dyno}); err != nil {
		return nil, fmt.Errorf("rename: %w", err)
	}
	if d.prevID != "" {
		no := container.RestartPolicy{Name: container.RestartPolicyDisabled}
		_, _ = cli.ContainerUpdate(ctx, d.prevID, client.ContainerUpdateOptions{RestartPolicy: &no})
		t := d.stopWait
		if _, err := cli.ContainerStop(ctx, d.prevID, client.ContainerStopOptions{Timeout: &t}); err != nil && !cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("stop old: %w", err)
		}
		if _, err := cli.ContainerRemove(ctx, d.prevID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("remove old: %w", err)
		}
		if d.prevImg != "" && d.prevImg != releasedID {
			_, _ = cli.ImageRemove(ctx, d.prevImg, client.ImageRemoveOptions{PruneChildren: true})
		}
	}
	t7 := time.Now()
	p["after_running"] = ms(t7.Sub(t6))
	p["client_cpu"] = selfCPU() - cpu0
	time.Sleep(100 * time.Millisecond) // as on the server path: counters settled
	p["dockerd_cpu"] = dockerdCPU(dpid) - dcpu0
	d.prevID, d.prevImg = created.ID, releasedID
	d.deploys++
	return p, nil
}

func newNonce() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func cmdDirect(args []string) error {
	fs := flag.NewFlagSet("direct", flag.ExitOnError)
	runs := fs.Int("runs", 5, "deploys: a first one, then redeploys")
	app := fs.String("app", "", "app name (default pdd<random>)")
	poll := fs.Duration("poll", 5*time.Millisecond, "HTTP poll interval")
	keep := fs.Bool("keep", false, "keep the app's containers and images")
	_ = fs.Parse(args)
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if *app == "" {
		*app = "pdd" + newNonce()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := ensureBase(ctx, cli); err != nil {
		return err
	}
	if !*keep {
		defer func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer ccancel()
			if err := dockertest.RemoveApp(cctx, cli, *app); err != nil {
				fmt.Fprintln(os.Stderr, "pushdocker: cleanup:", err)
			}
		}()
	}
	d := &directApp{cli: cli, app: *app, base: dockertest.BaseImage, poll: *poll, stopWait: 30}
	cols := []string{"before_build", "docker_build", "release", "create", "start", "inspect", "until_answer", "running", "after_running", "client_cpu"}
	fmt.Printf("direct deploys of %s (ms)\n| run | %s |\n|---|%s\n", *app, strings.Join(cols, " | "), strings.Repeat("---:|", len(cols)))
	for i := 0; i < *runs; i++ {
		marker := fmt.Sprintf("direct %s run %d %s", *app, i+1, newNonce())
		p, err := d.deploy(ctx, map[string]string{"Dockerfile": dockerfile(d.base), "index.html": indexHTML(marker)}, marker, fmt.Sprintf("%040x", i+1))
		if err != nil {
			return err
		}
		var cells []string
		for _, c := range cols {
			cells = append(cells, fmt.Sprintf("%.0f", p[c]))
		}
		kind := "redeploy"
		if i == 0 {
			kind = "first"
		}
		fmt.Printf("| %d %s | %s |\n", i+1, kind, strings.Join(cells, " | "))
	}
	return nil
}

// ---------------------------------------------------------------------------
// The server path: one `git push`, timed from the client.

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

// markers are the transcript lines whose arrival times split the push
// into phases (the first line containing each string).
var markers = map[string]string{
	"step1":     "Step 1/",
	"built":     "Successfully built",
	"deployweb": "-----> Deploying web",
	"checks":    "Attempting pre-flight checks",
	"listened":  "Healthcheck succeeded name='port listening check'",
	"execute":   "Executing ",
	"checked":   "All checks successful",
	"skipped":   "Zero downtime checks have been skipped",
	"deployed":  "Application deployed",
}

// push commits files, pushes them and times the push. It returns the
// phases (ms) and the transcript.
func (s *serverApp) push(ctx context.Context, files map[string]string, marker string) (phases, string, error) {
	if s.pushes == 0 {
		if err := os.MkdirAll(s.repo, 0o755); err != nil {
			return nil, "", err
		}
		if err := s.git("init", "-q"); err != nil {
			return nil, "", err
		}
		if err := s.git("symbolic-ref", "HEAD", "refs/heads/main"); err != nil {
			return nil, "", err
		}
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(s.repo, n), []byte(body), 0o644); err != nil {
			return nil, "", err
		}
	}
	if err := s.git("add", "-A"); err != nil {
		return nil, "", err
	}
	if err := s.git("commit", "-q", "-m", marker); err != nil {
		return nil, "", err
	}
	oldID := s.stateFile("CONTAINER")
	p := phases{}
	pid := dockerdPID()
	cpu0, err := procCPU(s.pid, true)
	if err != nil {
		return nil, "", fmt.Errorf("server process: %w", err)
	}
	cpuSelf0, _ := procCPU(s.pid, false)
	dcpu0 := dockerdCPU(pid)

	pctx, pcancel := context.WithTimeout(ctx, s.timeout)
	defer pcancel()
	cmd := exec.CommandContext(pctx, "git", "-C", s.repo, "push", "--porcelain", s.url+s.app, "main")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	// The transcript, each line timed as it arrives.
	seen := map[string]time.Time{}
	var transcript strings.Builder
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		sc.Split(scanLinesCR)
		for sc.Scan() {
			now := time.Now()
			line := strings.TrimRight(sc.Text(), " ")
			fmt.Fprintf(&transcript, "%7.0f %s\n", ms(now.Sub(t0)), line)
			for k, m := range markers {
				if _, ok := seen[k]; !ok && strings.Contains(line, m) {
					seen[k] = now
				}
			}
		}
	}()
	// The moment the new web.1 answers with this commit's page at the
	// address of the state files.
	running := make(chan time.Time, 1)
	go func() {
		for pctx.Err() == nil {
			if id := s.stateFile("CONTAINER"); id != "" && id != oldID {
				if ip, port := s.stateFile("IP"), s.stateFile("PORT"); ip != "" && port != "" && answers(pctx, ip, port, marker) {
					running <- time.Now()
					return
				}
			}
			_ = sleepCtx(pctx, s.poll)
		}
	}()
	<-lines
	werr := cmd.Wait()
	tExit := time.Now()
	if werr != nil {
		return nil, transcript.String(), fmt.Errorf("git push: %w\n%s", werr, transcript.String())
	}
	var tRun time.Time
	select {
	case tRun = <-running:
	case <-time.After(30 * time.Second):
		return nil, transcript.String(), errors.New("the push succeeded but the app never answered with the new page")
	}
	p["running"] = ms(tRun.Sub(t0))
	p["push_exit"] = ms(tExit.Sub(t0))
	at := func(k string) (time.Time, bool) { t, ok := seen[k]; return t, ok }
	between := func(name, from, to string) {
		a, ok1 := at(from)
		b, ok2 := at(to)
		if ok1 && ok2 {
			p[name] = ms(b.Sub(a))
		}
	}
	if t, ok := at("step1"); ok {
		p["before_build"] = ms(t.Sub(t0))
		if ds := s.deployStarted(); !ds.IsZero() && ds.After(t0.Add(-time.Second)) {
			p["git_receive"] = ms(ds.Sub(t0))
			p["pipeline_to_step1"] = ms(t.Sub(ds))
		}
	}
	between("docker_build", "step1", "built")
	between("release", "built", "deployweb")
	between("container", "deployweb", "checks")
	if t, ok := at("checks"); ok {
		p["until_answer"] = ms(tRun.Sub(t))
	}
	end := "checked"
	if _, ok := seen["skipped"]; ok {
		end = "skipped"
	}
	between("checks", "checks", end)
	between("listen_check", "execute", "listened")
	if t, ok := at(end); ok {
		p["after_checks"] = ms(tRun.Sub(t))
	}
	if _, ok := seen["skipped"]; ok {
		p["checks_skipped"] = 1
	}

	// Retirement of the old container (wait-to-retire 0), so that the
	// next deploy starts on a quiet daemon; then the server's CPU.
	if oldID != "" {
		rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
		err := waitGone(rctx, s.cli, oldID)
		rcancel()
		if err != nil {
			return nil, transcript.String(), fmt.Errorf("retirement: %w", err)
		}
		p["retired_after_exit"] = ms(time.Since(tExit))
	}
	time.Sleep(100 * time.Millisecond) // children reaped, counters settled
	cpu1, err := procCPU(s.pid, true)
	if err != nil {
		return nil, transcript.String(), fmt.Errorf("server process: %w", err)
	}
	cpuSelf1, _ := procCPU(s.pid, false)
	p["server_cpu"] = cpu1 - cpu0
	p["server_self_cpu"] = cpuSelf1 - cpuSelf0
	p["dockerd_cpu"] = dockerdCPU(pid) - dcpu0
	s.pushes++
	return p, transcript.String(), nil
}

// scanLinesCR splits on \n and \r (git's progress lines end in \r).
func scanLinesCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// ---------------------------------------------------------------------------
// bench: server pushes and direct deploys, interleaved.

type result struct {
	Regime string
	Path   string // server | direct
	Round  int
	Index  int // 0: first deploy
	P      phases
}

func (r result) kind() string {
	if r.Index == 0 {
		return "first"
	}
	return "redeploy"
}

func cmdBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	url := fs.String("url", "", "ssh://dokku@127.0.0.1:PORT/ (required)")
	data := fs.String("data", "", "dokku-sshd's data dir (required)")
	pid := fs.Int("pid", 0, "dokku-sshd's pid (required)")
	work := fs.String("work", "", "directory for the client repositories (required)")
	prefix := fs.String("prefix", "", "app name prefix (required)")
	rounds := fs.Int("rounds", 1, "rounds: each is a first deploy of new apps, then -redeploys redeploys")
	redeploys := fs.Int("redeploys", 4, "redeploys per round")
	regimes := fs.String("regimes", "skip,min", "check regimes, in order: skip (checks skipped=_all_), min (default-wait 0: uptime 0 + listening check)")
	poll := fs.Duration("poll", 5*time.Millisecond, "poll interval of the state files and of HTTP, both paths")
	settle := fs.Duration("settle", 500*time.Millisecond, "pause between deploys")
	out := fs.String("out", "", "directory for raw results (results.csv, transcripts)")
	timeout := fs.Duration("timeout", 5*time.Minute, "limit of one push")
	serverLog := fs.String("log", "", "the server's log file (text format), to split git receive from the pipeline")
	_ = fs.Parse(args)
	if *url == "" || *data == "" || *pid <= 0 || *work == "" || len(*prefix) < 4 || *out == "" {
		return errors.New("bench: -url, -data, -pid, -work, -prefix and -out are required")
	}
	if *rounds < 1 || *redeploys < 0 {
		return errors.New("bench: -rounds >= 1 and -redeploys >= 0")
	}
	var regs []string
	for _, r := range strings.Split(*regimes, ",") {
		r = strings.TrimSpace(r)
		if r != "skip" && r != "min" {
			return fmt.Errorf("bench: unknown regime %q (skip, min)", r)
		}
		regs = append(regs, r)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ctx := context.Background()
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := ensureBase(ctx, cli); err != nil {
		return err
	}
	base := dockertest.BaseImage
	var results []result
	for _, reg := range regs {
		for r := 1; r <= *rounds; r++ {
			sapp := fmt.Sprintf("%s-%s%d", *prefix, reg, r)
			dapp := sapp + "-d"
			if reg == "skip" {
				// An app property, written before the app exists: the
				// first push creates it and keeps its properties.
				dir := filepath.Join(*data, "lib", "config", "checks", sapp)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, "skipped"), []byte("_all_"), 0o644); err != nil {
					return err
				}
			}
			srv := &serverApp{url: *url, data: *data, pid: *pid, app: sapp, repo: filepath.Join(*work, sapp), poll: *poll, timeout: *timeout, cli: cli, logFile: *serverLog}
			dir := &directApp{cli: cli, app: dapp, base: base, poll: *poll, stopWait: 30}
			for i := 0; i <= *redeploys; i++ {
				runServer := func() error {
					marker := fmt.Sprintf("server %s %d %s", sapp, i, newNonce())
					p, transcript, err := srv.push(ctx, map[string]string{"Dockerfile": dockerfile(base), "index.html": indexHTML(marker)}, marker)
					_ = os.WriteFile(filepath.Join(*out, fmt.Sprintf("%s.%d.transcript", sapp, i)), []byte(transcript), 0o644)
					if err != nil {
						return fmt.Errorf("server %s push %d: %w", sapp, i, err)
					}
					if reg == "skip" && p["checks_skipped"] != 1 {
						return fmt.Errorf("server %s: checks were not skipped (see the transcript)", sapp)
					}
					res := result{Regime: reg, Path: "server", Round: r, Index: i, P: p}
					results = append(results, res)
					logResult(res)
					return nil
				}
				runDirect := func() error {
					marker := fmt.Sprintf("direct %s %d %s", dapp, i, newNonce())
					p, err := dir.deploy(ctx, map[string]string{"Dockerfile": dockerfile(base), "index.html": indexHTML(marker)}, marker, fmt.Sprintf("%040x", i+1))
					if err != nil {
						return fmt.Errorf("direct %s deploy %d: %w", dapp, i, err)
					}
					res := result{Regime: reg, Path: "direct", Round: r, Index: i, P: p}
					results = append(results, res)
					logResult(res)
					return nil
				}
				// Alternate which path goes first.
				order := []func() error{runServer, runDirect}
				if (i+r)%2 == 1 {
					order = []func() error{runDirect, runServer}
				}
				for _, f := range order {
					if err := f(); err != nil {
						_ = writeCSV(filepath.Join(*out, "results.csv"), results)
						return err
					}
					time.Sleep(*settle)
				}
			}
			// This round's containers and images go; the next round starts clean.
			cctx, ccancel := context.WithTimeout(ctx, 2*time.Minute)
			for _, a := range []string{sapp, dapp} {
				if err := dockertest.RemoveApp(cctx, cli, a); err != nil {
					fmt.Fprintf(os.Stderr, "pushdocker: cleanup of %s: %v\n", a, err)
				}
			}
			ccancel()
		}
	}
	if err := writeCSV(filepath.Join(*out, "results.csv"), results); err != nil {
		return err
	}
	if info, err := cli.Info(ctx, client.InfoOptions{}); err == nil {
		fmt.Printf("Docker %s (storage driver %s, cgroup v%s), %d CPUs; %d rounds x (1 first deploy + %d redeploys) per regime and path; poll %v\n",
			info.Info.ServerVersion, info.Info.Driver, info.Info.CgroupVersion, info.Info.NCPU, *rounds, *redeploys, *poll)
	}
	report(os.Stdout, results, regs)
	return nil
}

func logResult(r result) {
	fmt.Fprintf(os.Stderr, "==> %s %s round %d %s %d: running %.0f ms (before_build %.0f, docker_build %.0f, release %.0f, container %.0f, until_answer %.0f)\n",
		r.Regime, r.Path, r.Round, r.kind(), r.Index, r.P["running"], r.P["before_build"], r.P["docker_build"], r.P["release"], r.P["container"], r.P["until_answer"])
}

var csvCols = []string{"running", "before_build", "git_receive", "pipeline_to_step1", "docker_build", "release", "container", "create", "start", "inspect", "until_answer", "checks", "listen_check", "after_checks", "push_exit", "after_running", "retired_after_exit", "server_cpu", "server_self_cpu", "client_cpu", "dockerd_cpu"}

func writeCSV(path string, rs []result) error {
	var b strings.Builder
	b.WriteString("regime,path,round,index," + strings.Join(csvCols, ",") + "\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "%s,%s,%d,%d", r.Regime, r.Path, r.Round, r.Index)
		for _, c := range csvCols {
			if v, ok := r.P[c]; ok && !math.IsNaN(v) {
				fmt.Fprintf(&b, ",%.1f", v)
			} else {
				b.WriteString(",")
			}
		}
		b.WriteString("\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func minMax(xs []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		if !math.IsNaN(x) {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	return lo, hi
}

func pick(rs []result, regime, path, kind, col string) []float64 {
	var out []float64
	for _, r := range rs {
		if r.Regime != regime || r.Path != path || (kind != "all" && r.kind() != kind) {
			continue
		}
		if v, ok := r.P[col]; ok {
			out = append(out, v)
		} else {
			out = append(out, math.NaN())
		}
	}
	return out
}

// pairOverheads are (server - direct) / direct of push-to-running for the
// deploys run back to back (same regime, round and index).
func pairOverheads(rs []result, regime, kind string) (rel, abs []float64) {
	type key struct{ round, index int }
	srv := map[key]float64{}
	for _, r := range rs {
		if r.Regime == regime && r.Path == "server" && (kind == "all" || r.kind() == kind) {
			srv[key{r.Round, r.Index}] = r.P["running"]
		}
	}
	for _, r := range rs {
		if r.Regime == regime && r.Path == "direct" && (kind == "all" || r.kind() == kind) {
			if s, ok := srv[key{r.Round, r.Index}]; ok && r.P["running"] > 0 {
				rel = append(rel, (s-r.P["running"])/r.P["running"])
				abs = append(abs, s-r.P["running"])
			}
		}
	}
	return rel, abs
}

func fmtMS(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func report(w io.Writer, rs []result, regimes []string) {
	regimeDesc := map[string]string{
		"skip": "checks skipped (checks <app> skipped=_all_)",
		"min":  "checks on, at their minimum (checks --global default-wait=0: uptime 0 + the warn-only port listening check)",
	}
	for _, reg := range regimes {
		for _, kind := range []string{"first", "redeploy"} {
			n := len(pick(rs, reg, "server", kind, "running"))
			if n == 0 {
				continue
			}
			fmt.Fprintf(w, "\n### %s, %s deploys: %s; %d server / %d direct runs, medians (ms)\n\n", reg, kind, regimeDesc[reg], n, len(pick(rs, reg, "direct", kind, "running")))
			fmt.Fprintln(w, "| phase | dokku-sshd (git push) | direct API | server - direct |")
			fmt.Fprintln(w, "|---|---:|---:|---:|")
			row := func(label, scol, dcol string) {
				s := median(pick(rs, reg, "server", kind, scol))
				d := math.NaN()
				if dcol != "" {
					d = median(pick(rs, reg, "direct", kind, dcol))
				}
				diff := "-"
				if !math.IsNaN(s) && !math.IsNaN(d) {
					diff = fmt.Sprintf("%+.0f", s-d)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s |\n", label, fmtMS(s), fmtMS(d), diff)
			}
			row("start → first build step (ssh, git, context, daemon)", "before_build", "before_build")
			row("  of which push start → \"deploy started\" (ssh, receive-pack, index-pack, log ms)", "git_receive", "")
			row("  of which \"deploy started\" → Step 1 (pipeline, git reads, build request)", "pipeline_to_step1", "")
			row("docker build (Step 1 → built)", "docker_build", "docker_build")
			row("release step (+ server bookkeeping)", "release", "release")
			row("container create + start + inspect", "container", "container")
			row("→ answering HTTP at the state file's IP", "until_answer", "until_answer")
			row("  of which checks (server)", "checks", "")
			row("  of which port listening check (server)", "listen_check", "")
			row("**push-to-running**", "running", "running")
			row("git push exit (server)", "push_exit", "")
			row("old container gone after push exit / direct swap+retire", "retired_after_exit", "after_running")
			row("CPU: dokku-sshd tree / pushdocker process", "server_cpu", "client_cpu")
			row("CPU: dokku-sshd own (children excluded)", "server_self_cpu", "")
			row("CPU: dockerd", "dockerd_cpu", "dockerd_cpu")
			lo, hi := minMax(pick(rs, reg, "direct", kind, "running"))
			slo, shi := minMax(pick(rs, reg, "server", kind, "running"))
			fmt.Fprintf(w, "\nspread of push-to-running: server %s–%s ms, direct %s–%s ms\n", fmtMS(slo), fmtMS(shi), fmtMS(lo), fmtMS(hi))
		}
		rel, abs := pairOverheads(rs, reg, "all")
		relR, _ := pairOverheads(rs, reg, "redeploy")
		relF, _ := pairOverheads(rs, reg, "first")
		s, d := median(pick(rs, reg, "server", "all", "running")), median(pick(rs, reg, "direct", "all", "running"))
		verdict := "MISS"
		if m := median(rel); !math.IsNaN(m) && m < 0.05 {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "\n**%s: overhead (server − direct) / direct, median over %d back-to-back pairs: %.1f%% (%s ms); first deploys %.1f%%, redeploys %.1f%%; ratio of medians %.1f%%. Target < 5%%: %s**\n",
			reg, len(rel), 100*median(rel), fmtMS(median(abs)), 100*median(relF), 100*median(relR), 100*(s-d)/d, verdict)
	}
}
