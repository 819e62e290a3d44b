// Package dockerlocal is Dokku's docker-local scheduler on the Docker
// Engine API: one container per process (APP.PROC.N), zero-downtime swaps
// gated by healthchecks, Dokku's labels, names, state files and transcript
// (docs/dokku-behaviour.md#docker-local-deploy).
package dockerlocal

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"dokku-sshd/appjson"
	"dokku-sshd/dockeropts"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// Name is the scheduler's name.
const Name = "docker-local"

// Scheduler is the docker-local scheduler. Its settings are Dokku's
// properties: checks wait-to-retire (60 s) and --global default-wait
// (10 s), checks disabled/skipped, ps restart-policy (on-failure:10),
// stop-timeout-seconds (30), dockerfile-start-cmd and scale,
// scheduler-docker-local init-process and parallel-schedule-count, ports
// map/map-detected, network initial-network.
type Scheduler struct {
	Client *client.Client
	Store  *store.Store
	Logger *slog.Logger
	// Router is the proxy that routes the apps' domains to their web
	// containers (nil: none).
	Router schedulers.Router

	deadMu sync.Mutex // the dead-containers file

	locks schedulers.AppLocks // per-app serialisation of Deploy/Stop/Destroy

	mu      sync.Mutex
	retires map[string][]context.CancelFunc // pending background retirements per app
	closed  bool
	wg      sync.WaitGroup
}

var (
	_ schedulers.Scheduler      = (*Scheduler)(nil)
	_ schedulers.DomainsUpdater = (*Scheduler)(nil)
)

// New returns the docker-local scheduler.
func New(cli *client.Client, st *store.Store, logger *slog.Logger) *Scheduler {
	return &Scheduler{Client: cli, Store: st, Logger: logger}
}

// Name is "docker-local".
func (s *Scheduler) Name() string { return Name }

func (s *Scheduler) log() *slog.Logger { return schedulers.Logger(s.Logger) }

// Wait blocks until the background retirements started so far are done.
func (s *Scheduler) Wait() { s.wg.Wait() }

// Close abandons the pending background retirements (they stay in the
// dead-containers file for Retire) and waits for running ones to stop.
func (s *Scheduler) Close() {
	s.mu.Lock()
	s.closed = true
	for _, cs := range s.retires {
		for _, c := range cs {
			c()
		}
	}
	s.retires = nil
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Scheduler) cancelRetirements(app string) {
	s.mu.Lock()
	for _, c := range s.retires[app] {
		c()
	}
	delete(s.retires, app)
	s.mu.Unlock()
}

// retireLater stops ids after wait seconds, in the background, as
// Dokku's detached shutdown job does: restart policy off, then a stop
// with the app's stop-timeout-seconds (a kill when that fails). They stay
// registered in dead-containers: Retire (ps:retire, and the server's
// retirement loop) removes them and their images.
func (s *Scheduler) retireLater(app string, ids []string, wait int) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	if s.retires == nil {
		s.retires = map[string][]context.CancelFunc{}
	}
	s.retires[app] = append(s.retires[app], cancel)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				s.log().Error("retire: panic", "app", app, "panic", r)
			}
		}()
		if !sleep(ctx, time.Duration(wait)*time.Second) {
			return
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Duration(s.stopTimeout(app)+60)*time.Second)
		defer rcancel()
		for _, id := range ids {
			if err := s.stopContainer(rctx, app, id); err != nil && !cerrdefs.IsNotFound(err) {
				s.log().Warn("retire: stop failed", "app", app, "container", short(id), "err", err)
			}
		}
	}()
}

// signalRetired sends SIGTERM to the running containers among ids, with
// their restart policy off, as Dokku does the moment the new containers
// take over: the processes begin their graceful shutdown at once (a
// process that does not exit on it is stopped after wait-to-retire).
func (s *Scheduler) signalRetired(ctx context.Context, app string, ids []string) {
	no := container.RestartPolicy{Name: container.RestartPolicyDisabled}
	for _, id := range ids {
		res, err := s.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil || res.Container.State == nil || !res.Container.State.Running {
			continue
		}
		if _, err := s.Client.ContainerUpdate(ctx, id, client.ContainerUpdateOptions{RestartPolicy: &no}); err != nil && !cerrdefs.IsNotFound(err) {
			s.log().Warn("retire: disable restart policy", "app", app, "container", short(id), "err", err)
		}
		if _, err := s.Client.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGTERM"}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
			s.log().Warn("retire: SIGTERM failed", "app", app, "container", short(id), "err", err)
		}
	}
}

// newContainer is a container started by this deploy.
type newContainer struct {
	Proc  string
	Index int
	ID    string
	Name  string
	IP    string
	Port  string
}

func (n newContainer) Dyno() string { return n.Proc + "." + strconv.Itoa(n.Index) }

// deployment is one Deploy in progress.
type deployment struct {
	s       *Scheduler
	r       *schedulers.Release
	out     io.Writer
	app     string
	image   string // the release's image id
	appJSON *appjson.File
	scale   []schedulers.ProcessCount // every process type of the app and its count
	slots   []slot                    // the state files as the deploy found them
	old     map[string]string         // dyno -> container id, from the state files
	wait    int                       // wait-to-retire
	// attempts is checks' attempts (0: each healthcheck's own default).
	attempts int
	port     string // PORT of web
	vendor   string // image vendor label
	restart  container.RestartPolicy
	network  string
	// options are the words of the app's deploy-phase docker-options,
	// checked by plan and parsed again for each container.
	options   []string
	publishes bool // they publish ports
	// parallel is how many process types other than web deploy at once.
	parallel int

	mu      sync.Mutex
	created []newContainer // every container this deploy created, for rollback
	started []newContainer // those that passed their checks
	failed  []newContainer // those that failed their checks: kept stopped for logs:failed until retired
	orphans []slot         // state of slots past the new counts
	stopped []string       // old containers stopped first (checks disabled)
}

// ErrNoImage is returned when the release has no image (the null builder).
var ErrNoImage = output.Userf("The docker-local scheduler needs an image, and nothing was built: select a builder that builds one, or the null scheduler")

// Deploy runs every process type at its scale (web first), each container
// as APP.PROC.N.upcoming-RANDOM; once all pass their checks the containers
// are recorded in the state files and renamed to APP.PROC.N, and the old
// ones are retired after wait-to-retire seconds. A failure removes every
// container this deploy made and leaves the old ones serving.
//
// Its phases are plan, start (each container is checked as it starts:
// checkDeploy), record and commit; a failure after plan rolls back.
func (s *Scheduler) Deploy(ctx context.Context, r *schedulers.Release) (err error) {
	if r.Image == "" {
		return ErrNoImage
	}
	unlock, err := s.locks.Lock(ctx, r.App, "deploy")
	if err != nil {
		return err
	}
	defer unlock()
	d, err := s.plan(ctx, r)
	if err != nil {
		return err
	}

	defer func() {
		if err != nil {
			d.rollback()
		}
	}()

	skipped, err := d.start(ctx)
	if err != nil {
		return err
	}
	if err := d.route(ctx); err != nil {
		return err
	}
	retire, err := d.record(skipped)
	if err != nil {
		d.routeBack(ctx)
		return err
	}
	d.commit(ctx, retire)
	return nil
}

// plan reads what the deploy runs and where: the image by id, its
// app.json and scale, the app's settings and the containers it replaces.
// No container is touched yet, so a failure here has nothing to roll back.
func (s *Scheduler) plan(ctx context.Context, r *schedulers.Release) (*deployment, error) {
	out := r.Out
	if out == nil {
		out = io.Discard
	}
	d := &deployment{s: s, r: r, out: out, app: r.App}
	_ = os.Remove(filepath.Join(s.Store.AppDataDir("scheduler-docker-local", r.App), "failed-containers"))
	var err error
	if d.image, d.vendor, err = s.releaseImage(ctx, r); err != nil {
		return nil, err
	}
	if d.appJSON, err = s.releaseAppJSON(r, d.image); err != nil {
		return nil, err
	}
	if d.scale, err = schedulers.SyncScale(s.Store, r.App, d.appJSON, r.Process); err != nil {
		return nil, err
	}
	if err := d.readSettings(); err != nil {
		return nil, err
	}
	if err := d.readOptions(); err != nil {
		return nil, err
	}
	if d.slots, err = s.slots(r.App); err != nil {
		return nil, err
	}
	d.old = map[string]string{}
	for _, sl := range d.slots {
		if r.ProcessType != "" && sl.Proc != r.ProcessType {
			continue
		}
		d.old[sl.Dyno()] = sl.ID
	}
	return d, nil
}

// releaseImage is the id of the image the release runs, and its vendor
// label: every container of this deploy runs the image as it is now, by
// id, even if a build moves its tag meanwhile.
func (s *Scheduler) releaseImage(ctx context.Context, r *schedulers.Release) (id, vendor string, err error) {
	ref := r.Image
	if r.Legacy {
		// No record of the release (an app deployed before they existed):
		// the image its containers run, from the state files, is what was
		// deployed; the tag is only a guess a failed build may have moved.
		if id := s.stateImage(ctx, r.App); id != "" {
			ref = id
		}
	}
	img, err := s.Client.ImageInspect(ctx, ref)
	if err != nil {
		if r.Redeploy && cerrdefs.IsNotFound(err) {
			return "", "", output.Userf("The image of the deployed release of %s (%s) is no longer on this host: 'ps:rebuild %s' builds it again", r.App, short(strings.TrimPrefix(r.Image, "sha256:")), r.App)
		}
		return "", "", s.engineError(fmt.Sprintf("Unable to inspect image %s", ref), r.App, err)
	}
	if img.Config != nil {
		vendor = img.Config.Labels["org.opencontainers.image.vendor"]
	}
	return img.ID, vendor, nil
}

// releaseAppJSON is the app.json the release runs with: a redeploy's is
// the recorded release's own (a build that failed since may have staged
// another one); a build's is the one it staged for imageID.
func (s *Scheduler) releaseAppJSON(r *schedulers.Release, imageID string) (*appjson.File, error) {
	if r.Redeploy {
		if len(r.AppJSON) > 0 {
			return appjson.Parse(r.AppJSON)
		}
		return nil, nil
	}
	return appjson.ForDeploy(s.Store, r.App, imageID)
}

// start deploys the process types of the release, web first, then the
// others parallel-schedule-count at a time; a container counts as
// started once it passed its checks. It returns the process types skipped
// because the Procfile no longer has them.
func (d *deployment) start(ctx context.Context) (skipped map[string]bool, err error) {
	var web []schedulers.ProcessCount
	var others []schedulers.ProcessCount
	skipped = map[string]bool{}
	for _, f := range d.scale {
		if d.r.ProcessType != "" && f.Proc != d.r.ProcessType {
			continue
		}
		if d.r.Process != nil && d.r.Process[f.Proc] == "" {
			// Its containers are retired with the old ones, as in Dokku,
			// and its state goes (Dokku leaves it, pointing at nothing).
			output.Warn(d.out, "Skipping %s as it is missing from the current Procfile", f.Proc)
			skipped[f.Proc] = true
			continue
		}
		if f.Proc == "web" {
			web = append(web, f)
		} else {
			others = append(others, f)
		}
	}
	for _, f := range web {
		if err := d.deployProcess(ctx, f); err != nil {
			return nil, err
		}
	}
	jobs := make([]func() error, 0, len(others))
	for _, f := range others {
		jobs = append(jobs, func() error { return d.deployProcess(ctx, f) })
	}
	if err := runJobs(ctx, d.parallel, jobs); err != nil {
		return nil, err
	}
	return skipped, nil
}

// record runs once every process passed: this release is the app now.
// Its containers go into the state files, and what it replaces is
// registered for retirement and returned: the previous container of each
// new one, the slots past the new counts, and the process types that are
// no longer defined.
func (d *deployment) record(skipped map[string]bool) ([]string, error) {
	s, r := d.s, d.r
	defined := map[string]bool{}
	for _, f := range d.scale {
		defined[f.Proc] = true
	}
	var retire []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			retire = append(retire, id)
		}
	}
	for _, n := range d.started {
		add(d.old[n.Dyno()])
		if err := s.writeSlot(r.App, n.Dyno(), n.ID, n.IP, n.Port); err != nil {
			return nil, fmt.Errorf("record %s: %w", n.Dyno(), err)
		}
	}
	for _, o := range d.orphans {
		add(o.ID)
		s.removeSlot(r.App, o.Dyno())
	}
	for _, id := range d.stopped {
		add(id)
	}
	for _, sl := range d.slots {
		if (!defined[sl.Proc] || skipped[sl.Proc]) && (r.ProcessType == "" || sl.Proc == r.ProcessType) {
			add(sl.ID)
		}
		if skipped[sl.Proc] {
			s.removeSlot(r.App, sl.Dyno())
		}
	}
	for _, f := range []string{"CONTAINER", "IP", "PORT"} { // pre-0.5 Dokku state
		_ = os.Remove(filepath.Join(s.Store.AppDir(r.App), f))
	}
	if len(retire) > 0 {
		if err := s.registerRetired(r.App, retire, d.wait); err != nil {
			s.log().Warn("register retired containers", "app", r.App, "err", err)
		}
	}
	return retire, nil
}

// commit ends a deploy that can no longer fail: the release's app.json
// becomes the current one, post-deploy runs, and the containers in retire
// are retired after wait-to-retire.
func (d *deployment) commit(ctx context.Context, retire []string) {
	s, r, out := d.s, d.r, d.out
	if !r.Redeploy {
		// A redeploy leaves the committed app.json as it is, and the ones
		// a build running meanwhile (no deploy lock here) has staged.
		if err := appjson.Commit(s.Store, r.App, d.image); err != nil {
			s.log().Warn("commit app.json", "app", r.App, "err", err)
		}
	}

	output.Info1(out, "Running post-deploy")
	s.renameContainers(context.WithoutCancel(ctx), out, r.App, d.scale)
	// The images of containers retired since the last deploy, once the new
	// containers run (off the path to a running app); no build of this
	// app runs now (the pipeline builds before it deploys).
	s.pruneImages(context.WithoutCancel(ctx), r.App, io.Discard)

	if len(retire) > 0 {
		s.signalRetired(context.WithoutCancel(ctx), r.App, retire)
		output.Info1(out, "Shutting down old containers in %d seconds", d.wait)
		s.retireLater(r.App, retire, d.wait)
	}
}

// runJobs runs jobs n at a time; after a failure no new job starts and the
// first error is returned (GNU parallel --halt soon,fail=1).
func runJobs(ctx context.Context, n int, jobs []func() error) error {
	if n < 1 {
		n = 1
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, n)
	for _, job := range jobs {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := job(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// deployProcess is bin/scheduler-deploy-process.
func (d *deployment) deployProcess(ctx context.Context, f schedulers.ProcessCount) error {
	s, out := d.s, d.out
	output.Info1(out, "Deploying %s (count=%d)", f.Proc, f.Count)
	disabled, err := s.inList(d.app, "disabled", f.Proc)
	if err != nil {
		return err
	}
	if disabled {
		output.Verbose(out, "Zero downtime is disabled, stopping currently running containers  (%s)", f.Proc)
		for dyno, id := range d.old {
			if !strings.HasPrefix(dyno, f.Proc+".") || id == "" {
				continue
			}
			res, err := s.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil || res.Container.State == nil || !res.Container.State.Running {
				continue
			}
			output.Verbose(out, "Stopping %s (%s)", id, f.Proc)
			if err := s.stopContainer(ctx, d.app, id); err != nil && !cerrdefs.IsNotFound(err) {
				return err
			}
			d.mu.Lock()
			d.stopped = append(d.stopped, id)
			d.mu.Unlock()
		}
	}
	if d.publishes {
		// Dokku's warnings: a published host port can be bound once.
		if f.Count > 1 {
			output.Warn(out, "Deploys may fail when publishing ports and scaling to multiple containers. Consider scaling process type %s to 1.", f.Proc)
		} else if !disabled {
			output.Warn(out, "Deploys may fail when publishing ports and enabling zero downtime. Consider disabling zero downtime for process type %s.", f.Proc)
		}
	}
	cmd, err := d.startCommand(f.Proc)
	if err != nil {
		return err
	}
	parallel := 1
	if d.appJSON != nil {
		if fm, ok := d.appJSON.Formation[f.Proc]; ok && fm.MaxParallel != nil && *fm.MaxParallel > 0 {
			parallel = *fm.MaxParallel
		}
	}
	initFlag, err := s.initProcess(d.app, d.vendor)
	if err != nil {
		return err
	}
	jobs := make([]func() error, 0, f.Count)
	for i := 1; i <= f.Count; i++ {
		jobs = append(jobs, func() error { return d.deployContainer(ctx, f.Proc, i, cmd, initFlag, !disabled) })
	}
	if err := runJobs(ctx, parallel, jobs); err != nil {
		return err
	}
	// Scale down: slots past the count.
	var orphans []slot
	for dyno, id := range d.old {
		proc, n, _ := strings.Cut(dyno, ".")
		idx, _ := strconv.Atoi(n)
		if proc == f.Proc && idx > f.Count {
			orphans = append(orphans, slot{Proc: proc, Index: idx, ID: id})
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i].Index < orphans[j].Index })
	for _, o := range orphans {
		if o.ID != "" {
			output.Verbose(out, "Scheduling orphaned container shutdown in %d seconds (%s)", d.wait, o.Dyno())
		}
	}
	d.mu.Lock()
	d.orphans = append(d.orphans, orphans...)
	d.mu.Unlock()
	return nil
}

// startCommand is the command given to proc's containers: ps
// dockerfile-start-cmd, else the Procfile line (expanded as procfile-util
// does), else none (the image's own CMD).
func (d *deployment) startCommand(proc string) ([]string, error) {
	line, err := d.s.Store.Property("ps", d.app, "dockerfile-start-cmd")
	if err != nil {
		return nil, fmt.Errorf("read ps dockerfile-start-cmd of %s: %w", d.app, err)
	}
	if line == "" && d.r.Process != nil {
		port := schedulers.DefaultContainerPort
		if proc == "web" {
			port = containerPort(d.port)
		}
		line = expandCommand(d.r.Process[proc], d.r.Config, proc, port)
	}
	if strings.TrimSpace(line) == "" {
		return nil, nil
	}
	words, err := splitWords(line)
	if err != nil {
		return nil, output.Userf("Invalid start command for %s: %v", proc, err)
	}
	return words, nil
}

// env is the container's environment: the app's config, then DYNO and
// PORT (which win over config vars of the same name, as in Dokku).
func (d *deployment) env(dyno, port string) []string {
	keys := make([]string, 0, len(d.r.Config))
	for k := range d.r.Config {
		if k != "DYNO" && k != "PORT" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys)+2)
	for _, k := range keys {
		env = append(env, k+"="+d.r.Config[k])
	}
	return append(env, "DYNO="+dyno, "PORT="+port)
}

// deployContainer is bin/scheduler-deploy-process-container.
func (d *deployment) deployContainer(ctx context.Context, proc string, index int, cmd []string, initFlag, checks bool) error {
	s, out := d.s, d.out
	dyno := proc + "." + strconv.Itoa(index)
	port := ""
	if proc == "web" {
		port = d.port
	}
	labels := map[string]string{
		labelApp:                          d.app,
		labelType:                         "deploy",
		labelProcess:                      proc,
		labelDyno:                         dyno,
		"org.label-schema.schema-version": "1.0",
		"org.label-schema.vendor":         "dokku",
		"dokku":                           "",
	}
	if d.r.Rev != "" {
		// ps:inspect shows which revision a container runs; its image is
		// the release's, by id.
		labels[labelRev] = d.r.Rev
	}
	// The app's deploy-phase docker-options first; what Dokku passes after
	// them wins: its labels, DYNO and PORT, the restart policy, --init
	// and the network.
	opts, err := d.containerOptions()
	if err != nil {
		return err
	}
	cfg, hc := &opts.Config, &opts.Host
	cfg.Image = d.image
	cfg.Env = dockeropts.MergeEnv(dockeropts.MergeEnv(d.env(dyno, port), cfg.Env), []string{"DYNO=" + dyno, "PORT=" + port})
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for k, v := range labels {
		cfg.Labels[k] = v
	}
	if len(cmd) > 0 {
		cfg.Cmd = cmd
	}
	hc.RestartPolicy = d.restart
	if initFlag {
		t := true
		hc.Init = &t
	}
	if d.network != "" {
		hc.NetworkMode = container.NetworkMode(d.network)
	}
	var (
		created client.ContainerCreateResult
		name    string
	)
	for try := 0; try < 5; try++ {
		name = fmt.Sprintf("%s.%s.upcoming-%d", d.app, dyno, rand.IntN(32768))
		created, err = s.Client.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
		if err == nil || !cerrdefs.IsConflict(err) {
			break
		}
	}
	if err != nil {
		return s.engineError(fmt.Sprintf("Unable to create the %s container", dyno), d.app, err)
	}
	n := newContainer{Proc: proc, Index: index, ID: created.ID, Name: name, Port: port}
	d.mu.Lock()
	d.created = append(d.created, n)
	d.mu.Unlock()
	if _, err := s.Client.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	n.IP = d.ipAddress(ctx, created.ID)
	if checks {
		output.Verbose(out, "Attempting pre-flight checks (%s)", dyno)
		if err := d.checkDeploy(ctx, n); err != nil {
			return err
		}
	}
	if d.old[dyno] != "" {
		output.Verbose(out, "Scheduling old container shutdown in %d seconds (%s)", d.wait, dyno)
	}
	d.mu.Lock()
	d.started = append(d.started, n)
	d.mu.Unlock()
	return nil
}

// ipAddress is the container's address on its network (network-get-ipaddr).
func (d *deployment) ipAddress(ctx context.Context, id string) string {
	return d.s.ipAddress(ctx, id, d.network)
}

// ipAddress is the address of container id on network ("" for Docker's
// default bridge).
func (s *Scheduler) ipAddress(ctx context.Context, id, network string) string {
	res, err := s.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return ""
	}
	c := res.Container
	if c.HostConfig != nil && c.HostConfig.NetworkMode == "host" {
		return "127.0.0.1"
	}
	if c.NetworkSettings == nil {
		return ""
	}
	if network == "" {
		network = "bridge"
	}
	if ep := c.NetworkSettings.Networks[network]; ep != nil && ep.IPAddress.IsValid() {
		return ep.IPAddress.String()
	}
	return ""
}

// checkDeploy is check-deploy in a deploy: on failure the new container
// is stopped and kept for logs:failed, and the deploy fails.
func (d *deployment) checkDeploy(ctx context.Context, n newContainer) error {
	s := d.s
	octx := context.WithoutCancel(ctx)
	failed, err := s.checkContainer(ctx, d.out, d.app, d.appJSON, d.attempts, n.Proc, n.Dyno(),
		checkTarget{ID: n.ID, IP: n.IP, Port: containerPort(n.Port), Headers: s.tlsHeaders(d.app)},
		func() {
			no := container.RestartPolicy{Name: container.RestartPolicyDisabled}
			_, _ = s.Client.ContainerUpdate(octx, n.ID, client.ContainerUpdateOptions{RestartPolicy: &no})
			_, _ = s.Client.ContainerStop(octx, n.ID, client.ContainerStopOptions{})
			d.mu.Lock()
			d.failed = append(d.failed, n)
			d.mu.Unlock()
		})
	if err != nil {
		return err
	}
	if failed > 0 {
		// The reason is repeated where the transcript is not shown
		// (config:set's "Failure while restarting app: <reason>").
		if len(d.old) > 0 {
			return output.Userf("Deploy of %s failed: %d failed checks (%s); the previous containers keep running", d.app, failed, n.Dyno())
		}
		return output.Userf("Deploy of %s failed: %d failed checks (%s)", d.app, failed, n.Dyno())
	}
	return nil
}

// checkContainer is check-deploy: nothing when checks are skipped for
// proc; else the checks of proc (app.json's, or the default ones) against
// the container, then its output, after "Could not start due to N failed
// checks" (onFail runs first) or "All checks successful" (Dokku prints the
// output when check-deploy returns either way). It returns the number of
// failed checks.
func (s *Scheduler) checkContainer(ctx context.Context, out io.Writer, app string, aj *appjson.File, attempts int, proc, dyno string, t checkTarget, onFail func()) (int, error) {
	skipped, err := s.inList(app, "skipped", proc)
	if err != nil {
		return 0, err
	}
	if skipped {
		output.Info2(out, "Zero downtime checks have been skipped (%s)", dyno)
		return 0, nil
	}
	checks, err := s.checksFor(out, aj, proc, t.Port, attempts)
	if err != nil {
		return 0, err
	}
	failed := s.runChecks(ctx, out, checks, t)
	if ctx.Err() != nil {
		return failed, ctx.Err()
	}
	octx := context.WithoutCancel(ctx)
	if failed > 0 {
		if onFail != nil {
			onFail()
		}
		output.Warn(out, "Could not start due to %d failed checks (%s)", failed, dyno)
	} else {
		output.Verbose(out, "All checks successful (%s)", dyno)
	}
	s.containerOutput(octx, out, app, t.ID, dyno)
	return failed, nil
}

// rollback undoes a failed deploy: the containers it created go, except
// the ones that failed their checks, which stay stopped (logs:failed reads
// them from failed-containers) and are retired after wait-to-retire, as
// Dokku does; old containers stopped up front (checks disabled) are
// started again.
func (d *deployment) rollback() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	failed := map[string]bool{}
	var lines, keep []string
	for _, n := range d.failed {
		failed[n.ID] = true
		lines = append(lines, n.ID+" "+n.Dyno())
		keep = append(keep, n.ID)
	}
	for _, n := range d.created {
		if failed[n.ID] {
			continue
		}
		if _, err := d.s.Client.ContainerRemove(ctx, n.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			d.s.log().Warn("deploy rollback: remove failed", "app", d.app, "container", short(n.ID), "err", err)
		}
	}
	for _, id := range d.stopped {
		rp := d.restart
		_, _ = d.s.Client.ContainerUpdate(ctx, id, client.ContainerUpdateOptions{RestartPolicy: &rp})
		_, _ = d.s.Client.ContainerStart(ctx, id, client.ContainerStartOptions{})
	}
	if len(keep) > 0 {
		dir := d.s.Store.AppDataDir("scheduler-docker-local", d.app)
		_ = writeLines(dir, "failed-containers", lines)
		if err := d.s.registerRetired(d.app, keep, d.wait); err != nil {
			d.s.log().Warn("register retired containers", "app", d.app, "err", err)
		}
		d.s.retireLater(d.app, keep, d.wait)
	}
}

// renameContainers is core-post-deploy: state of process types that are
// no longer defined goes; then each CONTAINER.<dyno>'s container is named
// APP.<dyno>, a previous holder of the name becoming APP.<dyno>.<unixtime>.
func (s *Scheduler) renameContainers(ctx context.Context, out io.Writer, app string, scale []schedulers.ProcessCount) {
	output.Info1(out, "Renaming containers")
	defined := map[string]bool{}
	for _, f := range scale {
		defined[f.Proc] = true
	}
	slots, _ := s.slots(app)
	for _, sl := range slots {
		if !defined[sl.Proc] {
			output.Verbose(out, "Container type (%s) is no longer defined. Removing state", sl.Proc)
			s.removeSlot(app, sl.Dyno())
		}
	}
	slots, _ = s.slots(app)
	for _, sl := range slots {
		name := app + "." + sl.Dyno()
		res, err := s.Client.ContainerInspect(ctx, sl.ID, client.ContainerInspectOptions{})
		if err != nil {
			continue
		}
		current := strings.TrimPrefix(res.Container.Name, "/")
		if current == name {
			continue
		}
		list, err := s.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("name", "^/"+regexp.QuoteMeta(name)+"$")})
		if err == nil && len(list.Items) > 0 {
			var ids []string
			for _, c := range list.Items {
				ids = append(ids, short(c.ID))
			}
			output.Verbose(out, "Found previous container(s) (%s) named %s", strings.Join(ids, " "), name)
			for _, c := range list.Items {
				if c.State == container.StateDead {
					continue
				}
				s.renameAway(ctx, out, c.ID, name)
			}
		}
		output.Verbose(out, "Renaming container %s (%s) to %s", current, short(sl.ID), name)
		if _, err := s.Client.ContainerRename(ctx, sl.ID, client.ContainerRenameOptions{NewName: name}); err != nil {
			output.Warn(out, "Failed to rename container %s (%s)", current, short(sl.ID))
			s.containerOutput(ctx, out, app, sl.ID, name)
		}
	}
}

// renameAway renames a previous APP.<dyno> to APP.<dyno>.<unixtime> (with
// a suffix when that name is taken by an earlier deploy of the same
// second).
func (s *Scheduler) renameAway(ctx context.Context, out io.Writer, id, name string) {
	base := name + "." + strconv.FormatInt(time.Now().Unix(), 10)
	to := base
	for i := 1; i < 10; i++ {
		output.Verbose(out, "Renaming container (%s) %s to %s", short(id), name, to)
		_, err := s.Client.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: to})
		if err == nil {
			return
		}
		if !cerrdefs.IsConflict(err) {
			break
		}
		to = base + "-" + strconv.Itoa(i)
	}
	output.Warn(out, "Unable to rename container")
}

func writeLines(dir, name string, lines []string) error {
	if err := mkdirAll(dir); err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// engineError is what the client is told of a Docker Engine error, after
// what: the engine's text with host paths cut (a bind mount's source, the
// daemon's socket), the whole error in the server log.
func (s *Scheduler) engineError(what, app string, err error) error {
	s.log().Error("docker engine error", "app", app, "during", what, "err", err)
	return output.Userf("%s: %s", what, output.CutPaths(err.Error()))
}

// stateImage is the image id of the first container of app's state files
// that still exists; "" when there is none.
func (s *Scheduler) stateImage(ctx context.Context, app string) string {
	slots, err := s.slots(app)
	if err != nil {
		return ""
	}
	for _, sl := range slots {
		res, err := s.Client.ContainerInspect(ctx, sl.ID, client.ContainerInspectOptions{})
		if err == nil && res.Container.Image != "" {
			return res.Container.Image
		}
	}
	return ""
}
