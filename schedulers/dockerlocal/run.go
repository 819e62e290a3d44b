package dockerlocal

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"dokku-sshd/dockeropts"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// One-off containers (Dokku's scheduler-run and friends on docker-local):
// APP.run.N from the deployed image, labelled com.dokku.container-type=run,
// removed by the engine when they exit.

// The labels Dokku puts on its containers and images.
const (
	labelApp      = "com.dokku.app-name"
	labelType     = "com.dokku.container-type"
	labelDyno     = "com.dokku.dyno"
	labelProcess  = "com.dokku.process-type"
	labelDeadline = "com.dokku.active-deadline-seconds"
	labelStage    = "com.dokku.image-stage"
	// labelRev is ours, not Dokku's: the git revision of the release a
	// process container runs.
	labelRev = "com.dokku.git-rev"
)

var _ schedulers.Runner = (*Scheduler)(nil)

// Run starts a one-off container of o.App (see schedulers.Runner).
func (s *Scheduler) Run(ctx context.Context, o *schedulers.RunOptions) (string, int, error) {
	image := o.Image
	if o.Legacy {
		if id := s.stateImage(ctx, o.App); id != "" {
			image = id // see Deploy
		}
	}
	img, err := s.Client.ImageInspect(ctx, image)
	if cerrdefs.IsNotFound(err) {
		return "", 1, output.Userf("App image (%s) not found", image)
	}
	if err != nil {
		return "", 1, fmt.Errorf("inspect %s: %w", image, err)
	}
	var vendor, stage string
	if img.Config != nil {
		vendor, stage = img.Config.Labels["org.opencontainers.image.vendor"], img.Config.Labels[labelStage]
	}
	if stage != "release" {
		return "", 1, output.Userf("Invalid image stage detected: expected 'release', got '%s'\nSuccessfully deploy your app to fix dokku run calls", stage)
	}

	cmd, proc, err := s.runCommand(o)
	if err != nil {
		return "", 1, err
	}
	ttl := o.TTL
	if ttl <= 0 {
		ttl = schedulers.DefaultRunTTL
	}
	attach := !o.Detach
	// The app's run-phase docker-options first; what Dokku passes after
	// them wins (its labels, DYNO and run's -e pairs, removal, --init, the
	// network).
	opts, err := s.runOptions(o.App)
	if err != nil {
		return "", 1, err
	}
	cfg, hc := &opts.Config, &opts.Host
	optEnv, optLabels := cfg.Env, cfg.Labels
	cfg.Image, cfg.Cmd, cfg.Tty = image, cmd, o.TTY
	cfg.OpenStdin, cfg.StdinOnce, cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr = attach, attach, attach, attach, attach
	hc.AutoRemove = true
	if useInit, err := s.initProcess(o.App, vendor); err != nil {
		return "", 1, err
	} else if useInit {
		t := true
		hc.Init = &t
	}
	if n, err := s.initialNetwork(o.App); err != nil {
		return "", 1, err
	} else if n != "" {
		hc.NetworkMode = container.NetworkMode(n)
	}
	if t := o.Terminal; o.TTY && t != nil && t.Width > 0 && t.Height > 0 {
		hc.ConsoleSize = [2]uint{uint(t.Height), uint(t.Width)}
	}
	var id, name string
	for try := 0; ; try++ {
		n := rand.IntN(32768)
		dyno := "run." + strconv.Itoa(n)
		name = o.App + "." + dyno
		cfg.Env = dockeropts.MergeEnv(dockeropts.MergeEnv(runEnv(o, dyno), optEnv), append([]string{"DYNO=" + dyno}, o.Env...))
		cfg.Labels = map[string]string{}
		for k, v := range optLabels {
			cfg.Labels[k] = v
		}
		for k, v := range runLabels(o, dyno, proc, ttl) {
			cfg.Labels[k] = v
		}
		res, err := s.Client.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
		if err == nil {
			id = res.ID
			break
		}
		if !cerrdefs.IsConflict(err) || try == 4 {
			return "", 1, fmt.Errorf("create %s: %w", name, err)
		}
	}
	s.log().Info("run container created", "app", o.App, "container", name, "detached", o.Detach, "tty", o.TTY)
	if o.Detach {
		if _, err := s.Client.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			s.removeRun(id)
			return "", 1, fmt.Errorf("start %s: %w", name, err)
		}
		s.deadline(o.App, id, ttl)
		return name, 0, nil
	}
	status, err := s.runAttached(ctx, o, id, name, ttl)
	return name, status, err
}

// runAttached relays the client's streams to the created container id
// until it exits, and returns its exit status. Whatever ends the relay
// early (the client went away, an error) leaves no container behind.
func (s *Scheduler) runAttached(ctx context.Context, o *schedulers.RunOptions, id, name string, ttl int) (status int, err error) {
	removed := false
	defer func() {
		if !removed {
			s.removeRun(id)
		}
	}()
	// The wait is set up before the start: an auto-removed container may
	// be gone before a later wait could find it.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	wait := s.Client.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	hr, err := s.Client.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return 1, fmt.Errorf("attach %s: %w", name, err)
	}
	defer hr.Close()
	a := &attachment{hr: hr.HijackedResponse, tty: o.TTY, io: o.Stdio}
	if o.TTY {
		a.resize = func(ctx context.Context, sz schedulers.WindowSize) error {
			_, err := s.Client.ContainerResize(ctx, id, client.ContainerResizeOptions{Width: uint(sz.Width), Height: uint(sz.Height)})
			return err
		}
	}
	if _, err := s.Client.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return 1, fmt.Errorf("start %s: %w", name, err)
	}
	stopTTL := s.deadline(o.App, id, ttl)
	defer stopTTL()
	a.initialSize(ctx)
	if err := a.relay(ctx); err != nil {
		return 1, err
	}
	select {
	case r := <-wait.Result:
		removed = true
		if r.Error != nil && r.Error.Message != "" {
			return 1, fmt.Errorf("wait %s: %s", name, r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-wait.Error:
		return 1, fmt.Errorf("wait %s: %w", name, err)
	case <-ctx.Done():
		return 1, ctx.Err()
	}
}

// runCommand is the container's command: the Procfile command when the
// first word is a Procfile key (the rest appended), the words as given,
// else the shell. proc is the Procfile key used.
func (s *Scheduler) runCommand(o *schedulers.RunOptions) (cmd []string, proc string, err error) {
	if len(o.Command) == 0 {
		return schedulers.ShellCommand(o.Shell), "", nil
	}
	key := o.Command[0]
	line, ok := o.Process[key]
	if !ok || strings.TrimSpace(line) == "" {
		return o.Command, "", nil
	}
	if !o.Quiet {
		output.Info1(o.Stdout, "Found '%s' in Procfile, running that command", key)
	}
	port := schedulers.DefaultContainerPort
	if key == "web" {
		webPort, err := s.webPort(o.App)
		if err != nil {
			return nil, "", err
		}
		port = containerPort(webPort)
	}
	words, err := splitWords(expandCommand(line, o.Config, key, port))
	if err != nil {
		return nil, "", output.Userf("Invalid Procfile command for %s: %v", key, err)
	}
	return append(words, o.Command[1:]...), key, nil
}

// runEnv is the app's config, then DYNO, then the -e pairs (later ones
// win in the engine).
func runEnv(o *schedulers.RunOptions, dyno string) []string {
	keys := make([]string, 0, len(o.Config))
	for k := range o.Config {
		if k != "DYNO" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys)+1+len(o.Env))
	for _, k := range keys {
		env = append(env, k+"="+o.Config[k])
	}
	env = append(env, "DYNO="+dyno)
	return append(env, o.Env...)
}

func runLabels(o *schedulers.RunOptions, dyno, proc string, ttl int) map[string]string {
	labels := map[string]string{}
	for k, v := range o.Labels {
		labels[k] = v
	}
	for k, v := range map[string]string{
		labelApp:                          o.App,
		labelType:                         "run",
		labelDyno:                         dyno,
		labelDeadline:                     strconv.Itoa(ttl),
		"org.label-schema.schema-version": "1.0",
		"org.label-schema.vendor":         "dokku",
		"dokku":                           "",
	} {
		labels[k] = v
	}
	if proc != "" {
		labels[labelProcess] = proc
	}
	return labels
}

// deadline stops the container once its TTL has passed (while this
// server runs; RunRetire catches up after a restart). The returned
// function cancels it.
func (s *Scheduler) deadline(app, id string, ttl int) (cancel func()) {
	t := time.AfterFunc(time.Duration(ttl)*time.Second, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.stopTimeout(app)+30)*time.Second)
		defer cancel()
		s.log().Info("run container reached its deadline", "app", app, "container", short(id), "ttl", ttl)
		if err := s.stopContainer(ctx, app, id); err != nil && !cerrdefs.IsNotFound(err) {
			s.log().Warn("stop run container", "app", app, "container", short(id), "err", err)
		}
	})
	return func() { t.Stop() }
}

// removeRun stops and removes a run container the client no longer
// follows (the engine's auto-removal may be removing it already).
func (s *Scheduler) removeRun(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.Client.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		s.log().Warn("remove run container", "container", short(id), "err", err)
	}
}

// runContainers lists the run containers of app ("" for every app).
func (s *Scheduler) runContainers(ctx context.Context, app string, all bool) ([]container.Summary, error) {
	f := make(client.Filters).Add("label", labelType+"=run")
	if app != "" {
		f = f.Add("label", labelApp+"="+app)
	}
	res, err := s.Client.ContainerList(ctx, client.ContainerListOptions{All: all, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list run containers: %w", err)
	}
	items := res.Items
	sort.Slice(items, func(i, j int) bool {
		if items[i].Created != items[j].Created {
			return items[i].Created < items[j].Created
		}
		return containerName(items[i]) < containerName(items[j])
	})
	return items, nil
}

func containerName(c container.Summary) string {
	if len(c.Names) == 0 {
		return short(c.ID)
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// RunList lists app's run containers, oldest first (scheduler-run-list).
func (s *Scheduler) RunList(ctx context.Context, app string) ([]schedulers.RunContainer, error) {
	items, err := s.runContainers(ctx, app, true)
	if err != nil {
		return nil, err
	}
	out := make([]schedulers.RunContainer, 0, len(items))
	for _, c := range items {
		out = append(out, schedulers.RunContainer{
			Name: containerName(c), State: string(c.State), Command: c.Command, Created: time.Unix(c.Created, 0),
		})
	}
	return out, nil
}

// RunStop stops app's running run containers, or the one called name
// (scheduler-run-stop).
func (s *Scheduler) RunStop(ctx context.Context, app, name string) ([]string, error) {
	if name != "" {
		res, err := s.Client.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return nil, schedulers.ErrNoSuchContainer
		}
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", name, err)
		}
		if res.Container.Config == nil || res.Container.Config.Labels[labelApp] != app || res.Container.Config.Labels[labelType] != "run" {
			return nil, output.Userf("Specified container must be a run container")
		}
		if err := s.stopContainer(ctx, app, res.Container.ID); err != nil && !cerrdefs.IsNotFound(err) {
			return nil, err
		}
		return []string{name}, nil
	}
	items, err := s.runContainers(ctx, app, false)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, schedulers.ErrNoRunContainers
	}
	var stopped []string
	for _, c := range items {
		if err := s.stopContainer(ctx, app, c.ID); err != nil && !cerrdefs.IsNotFound(err) {
			return stopped, err
		}
		stopped = append(stopped, containerName(c))
	}
	return stopped, nil
}

// RunRetire stops the running run containers of app ("" for every app of
// this server's store) older than their com.dokku.active-deadline-seconds
// (scheduler-run-retire).
func (s *Scheduler) RunRetire(ctx context.Context, app string) error {
	items, err := s.runContainers(ctx, app, false)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, c := range items {
		ttl, err := strconv.Atoi(c.Labels[labelDeadline])
		if err != nil || ttl <= 0 {
			ttl = schedulers.DefaultRunTTL
		}
		if now.Sub(time.Unix(c.Created, 0)) < time.Duration(ttl)*time.Second {
			continue
		}
		owner := c.Labels[labelApp]
		if app == "" && !s.Store.AppExists(owner) {
			// Not an app of this server's data directory: another server
			// (or a test's) on the same Docker daemon owns it.
			continue
		}
		s.log().Info("retiring run container past its deadline", "app", owner, "container", containerName(c), "ttl", ttl)
		if err := s.stopContainer(ctx, owner, c.ID); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("stop %s: %w", containerName(c), err)
		}
	}
	return nil
}
