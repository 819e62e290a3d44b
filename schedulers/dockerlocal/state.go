package dockerlocal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"dokku-sshd/internal/appimages"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// Process state lives in the app directory as Dokku keeps it:
// CONTAINER.<proc>.<n> (the full container id and a newline), IP.<proc>.<n>
// and PORT.<proc>.<n> (no newline).

// slot is one CONTAINER.<proc>.<n> file.
type slot struct {
	Proc  string
	Index int
	ID    string
}

func (sl slot) Dyno() string { return sl.Proc + "." + strconv.Itoa(sl.Index) }

// slots lists app's CONTAINER.* files, sorted by type then index.
func (s *Scheduler) slots(app string) ([]slot, error) {
	ents, err := os.ReadDir(s.Store.AppDir(app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []slot
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "CONTAINER.")
		if !ok || e.IsDir() {
			continue
		}
		proc, n, ok := strings.Cut(rest, ".")
		idx, err := strconv.Atoi(n)
		if !ok || err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.Store.AppDir(app), e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, slot{Proc: proc, Index: idx, ID: strings.TrimSpace(string(data))})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Proc != out[j].Proc {
			return out[i].Proc < out[j].Proc
		}
		return out[i].Index < out[j].Index
	})
	return out, nil
}

func (s *Scheduler) writeSlot(app, dyno, id, ip, port string) error {
	dir := s.Store.AppDir(app)
	if err := store.WriteFileAtomic(filepath.Join(dir, "CONTAINER."+dyno), []byte(id+"\n"), 0o644); err != nil {
		return err
	}
	for name, v := range map[string]string{"IP." + dyno: ip, "PORT." + dyno: port} {
		p := filepath.Join(dir, name)
		if v == "" {
			_ = os.Remove(p)
			continue
		}
		if err := store.WriteFileAtomic(p, []byte(v), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// slotFiles reads the state files of dyno: container id, IP and port
// ("" for a file that is missing).
func (s *Scheduler) slotFiles(app, dyno string) (id, ip, port string) {
	read := func(kind string) string {
		b, _ := os.ReadFile(filepath.Join(s.Store.AppDir(app), kind+dyno))
		return strings.TrimSpace(string(b))
	}
	return read("CONTAINER."), read("IP."), read("PORT.")
}

func (s *Scheduler) removeSlot(app, dyno string) {
	for _, kind := range []string{"CONTAINER.", "IP.", "PORT."} {
		_ = os.Remove(filepath.Join(s.Store.AppDir(app), kind+dyno))
	}
}

// removeAllSlots removes every state file, and the pre-0.x single ones.
func (s *Scheduler) removeAllSlots(app string) {
	ents, _ := os.ReadDir(s.Store.AppDir(app))
	for _, e := range ents {
		n := e.Name()
		if n == "CONTAINER" || n == "IP" || n == "PORT" || strings.HasPrefix(n, "CONTAINER.") || strings.HasPrefix(n, "IP.") || strings.HasPrefix(n, "PORT.") {
			_ = os.Remove(filepath.Join(s.Store.AppDir(app), n))
		}
	}
}

// Status counts the CONTAINER.* files and reports whether all, none or
// some of those containers run (scheduler-app-status).
func (s *Scheduler) Status(ctx context.Context, app string) (int, string, error) {
	sl, err := s.slots(app)
	if err != nil {
		return 0, "", err
	}
	running := 0
	for _, x := range sl {
		res, err := s.Client.ContainerInspect(ctx, x.ID, client.ContainerInspectOptions{})
		if err == nil && res.Container.State != nil && res.Container.State.Running {
			running++
		} else if err != nil && !cerrdefs.IsNotFound(err) {
			return 0, "", err
		}
	}
	switch {
	case running == 0:
		return len(sl), "false", nil
	case running == len(sl):
		return len(sl), "true", nil
	}
	return len(sl), "mixed", nil
}

// IsDeployed reports whether app has a CONTAINER or CONTAINER.* file
// (scheduler-is-deployed).
func (s *Scheduler) IsDeployed(_ context.Context, app string) (bool, error) {
	if _, err := os.Stat(filepath.Join(s.Store.AppDir(app), "CONTAINER")); err == nil {
		return true, nil
	}
	sl, err := s.slots(app)
	return len(sl) > 0, err
}

// Stop disables the restart policy of app's running containers and stops
// them (scheduler-stop): those of the state files and every other one
// labelled com.dokku.app-name=<app>. State files stay, so that Status
// reports the app as stopped.
func (s *Scheduler) Stop(ctx context.Context, app string) error {
	unlock, err := s.locks.Lock(ctx, app, "stop")
	if err != nil {
		return err
	}
	defer unlock()
	ids := map[string]bool{}
	sl, err := s.slots(app)
	if err != nil {
		return err
	}
	for _, x := range sl {
		ids[x.ID] = true
	}
	list, err := s.Client.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", labelApp+"="+app)})
	if err != nil {
		return err
	}
	for _, c := range list.Items {
		ids[c.ID] = true
	}
	var errs []error
	if err := s.unrouteStopped(ctx, app); err != nil {
		errs = append(errs, err)
	}
	for id := range ids {
		if err := s.stopContainer(ctx, app, id); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopContainer sets --restart=no and stops id with app's stop timeout,
// killing it when the stop fails.
func (s *Scheduler) stopContainer(ctx context.Context, app, id string) error {
	no := container.RestartPolicy{Name: container.RestartPolicyDisabled}
	if _, err := s.Client.ContainerUpdate(ctx, id, client.ContainerUpdateOptions{RestartPolicy: &no}); err != nil && cerrdefs.IsNotFound(err) {
		return err
	}
	t := s.stopTimeout(app)
	if _, err := s.Client.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &t}); err != nil {
		if cerrdefs.IsNotFound(err) {
			return err
		}
		if _, kerr := s.Client.ContainerKill(ctx, id, client.ContainerKillOptions{}); kerr != nil && !cerrdefs.IsConflict(kerr) {
			return fmt.Errorf("stop %s: %v; kill: %w", short(id), err, kerr)
		}
	}
	return nil
}

// Destroy removes every container labelled com.dokku.app-name=<app>, the
// dokku/<app> images and every image labelled for app, and the state
// files (apps:destroy).
func (s *Scheduler) Destroy(ctx context.Context, app string) error {
	unlock, err := s.locks.Lock(ctx, app, "destroy")
	if err != nil {
		return err
	}
	defer unlock()
	s.cancelRetirements(app)
	var errs []error
	list, err := s.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", labelApp+"="+app)})
	if err != nil {
		return err
	}
	for _, c := range list.Items {
		if _, err := s.Client.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if err := appimages.Remove(ctx, s.Client, app); err != nil {
		errs = append(errs, err)
	}
	s.removeAllSlots(app)
	if s.Router != nil {
		if err := s.Router.Unroute(ctx, app); err != nil {
			errs = append(errs, err)
		}
	}
	_ = os.RemoveAll(s.Store.AppDataDir("scheduler-docker-local", app))
	notApp := func(es []deadEntry) []deadEntry {
		var keep []deadEntry
		for _, e := range es {
			if e.App != app {
				keep = append(keep, e)
			}
		}
		return keep
	}
	if err := s.editDead(notApp); err != nil {
		errs = append(errs, err)
	}
	if err := s.editDeadImages(notApp); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CloneSetup drops the state files copied into the new app: its
// processes are its own (post-app-clone-setup, post-app-rename-setup).
func (s *Scheduler) CloneSetup(_ context.Context, _, to string) error {
	s.removeAllSlots(to)
	return nil
}

// inspectEnvAllowed are the env prefixes ps:inspect shows in clear.
var inspectEnvAllowed = []string{"CACHE_PATH=", "DOCKER_", "DOKKU_", "DYNO=", "PATH=", "PORT=", "USER="}

// Inspect writes the `docker container inspect` of every CONTAINER.*
// container as a JSON array with sorted keys and 4-space indentation, env
// values other than inspectEnvAllowed replaced by XXXXXX
// (scheduler-inspect).
func (s *Scheduler) Inspect(ctx context.Context, app string, w io.Writer) error {
	sl, err := s.slots(app)
	if err != nil {
		return err
	}
	out := []any{}
	var errs []error
	for _, x := range sl {
		res, err := s.Client.ContainerInspect(ctx, x.ID, client.ContainerInspectOptions{})
		if err != nil {
			errs = append(errs, output.Userf("No such container: %s", x.ID))
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(res.Raw))
		dec.UseNumber()
		var c map[string]any
		if err := dec.Decode(&c); err != nil {
			return err
		}
		if cfg, ok := c["Config"].(map[string]any); ok {
			if env, ok := cfg["Env"].([]any); ok {
				for i, e := range env {
					str, _ := e.(string)
					allowed := false
					for _, p := range inspectEnvAllowed {
						if strings.HasPrefix(str, p) {
							allowed = true
						}
					}
					if !allowed {
						k, _, _ := strings.Cut(str, "=")
						env[i] = k + "=XXXXXX"
					}
				}
			}
		}
		out = append(out, c)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	if _, err := io.WriteString(w, asciiJSON(buf.String())); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// asciiJSON escapes non-ASCII as \uXXXX, as Python's json.dumps does.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, "\\u%04x", u)
		}
	}
	return b.String()
}

// Retirement: an old container is registered in
// LibDir/data/scheduler-docker-local/dead-containers as "APP CID
// DEADTIME" (Dokku's format) and retired in the background once its time
// has come; Retire catches up with whatever a restart of the server
// interrupted.

type deadEntry struct {
	App  string
	ID   string
	Time int64
}

func (s *Scheduler) deadFile() string {
	return filepath.Join(s.Store.Paths.LibDir, "data", "scheduler-docker-local", "dead-containers")
}

func (s *Scheduler) deadImagesFile() string {
	return filepath.Join(s.Store.Paths.LibDir, "data", "scheduler-docker-local", "dead-images")
}

func (s *Scheduler) readDead() ([]deadEntry, error) { return readDeadFile(s.deadFile()) }

func readDeadFile(path string) ([]deadEntry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []deadEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		t, _ := strconv.ParseInt(f[2], 10, 64)
		out = append(out, deadEntry{App: f[0], ID: f[1], Time: t})
	}
	return out, sc.Err()
}

// editDead rewrites the dead-containers file through fn.
func (s *Scheduler) editDead(fn func([]deadEntry) []deadEntry) error {
	return s.editDeadFile(s.deadFile(), fn)
}

// editDeadImages rewrites the dead-images file through fn.
func (s *Scheduler) editDeadImages(fn func([]deadEntry) []deadEntry) error {
	return s.editDeadFile(s.deadImagesFile(), fn)
}

func (s *Scheduler) editDeadFile(path string, fn func([]deadEntry) []deadEntry) error {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	es, err := readDeadFile(path)
	if err != nil {
		return err
	}
	es = fn(es)
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s %s %d\n", e.App, e.ID, e.Time)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return store.WriteFileAtomic(path, []byte(b.String()), 0o644)
}

// registerRetired records ids of app for retirement in wait seconds.
func (s *Scheduler) registerRetired(app string, ids []string, wait int) error {
	at := time.Now().Unix() + int64(wait)
	return s.editDead(func(es []deadEntry) []deadEntry {
		have := map[string]bool{}
		for _, e := range es {
			have[e.ID] = true
		}
		for _, id := range ids {
			if !have[id] {
				es = append(es, deadEntry{App: app, ID: id, Time: at})
			}
		}
		return es
	})
}

func (s *Scheduler) forgetDead(ids ...string) {
	drop := map[string]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	_ = s.editDead(func(es []deadEntry) []deadEntry {
		var keep []deadEntry
		for _, e := range es {
			if !drop[e.ID] {
				keep = append(keep, e)
			}
		}
		return keep
	})
}

// retireContainer stops and removes id (gone already is fine) and records
// its image for pruneImages.
func (s *Scheduler) retireContainer(ctx context.Context, app, id string) error {
	res, err := s.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err := s.stopContainer(ctx, app, id); err != nil && !cerrdefs.IsNotFound(err) {
		s.log().Warn("retire: stop failed", "app", app, "container", short(id), "err", err)
	}
	if _, err := s.Client.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return err
	}
	if err == nil && res.Container.Image != "" {
		_ = s.editDeadImages(func(es []deadEntry) []deadEntry {
			for _, e := range es {
				if e.ID == res.Container.Image {
					return es
				}
			}
			return append(es, deadEntry{App: app, ID: res.Container.Image, Time: time.Now().Unix()})
		})
	}
	return nil
}

// pruneImages removes the images of app's retired containers that no
// longer carry a tag and that no container uses (Dokku's dead-images),
// each announced on out as Dokku's scheduler-retire does.
// It runs only where no build of app can be running (in Deploy, after the
// build; in Retire): removing an untagged image also removes its untagged
// parents, which a running build may be using as cache.
func (s *Scheduler) pruneImages(ctx context.Context, app string, out io.Writer) {
	_ = s.editDeadImages(func(es []deadEntry) []deadEntry {
		var keep []deadEntry
		for _, e := range es {
			if app != "" && e.App != app {
				keep = append(keep, e)
				continue
			}
			// The recorded release's image has lost its tag to any later
			// build, failed ones too: restarts start it by id.
			if d, err := schedulers.LoadDeployed(s.Store, e.App); err != nil || d != nil && d.ImageID == e.ID {
				keep = append(keep, e)
				continue
			}
			img, err := s.Client.ImageInspect(ctx, e.ID)
			if err != nil || len(img.RepoTags) > 0 {
				continue // gone, or still a release
			}
			output.Verbose(out, "Attempting to retire %s image %s", e.App, strings.TrimPrefix(e.ID, "sha256:"))
			if _, err := s.Client.ImageRemove(ctx, e.ID, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
				keep = append(keep, e) // in use
			}
		}
		return keep
	})
}

// Retire retires the registered containers of app ("" = every app) whose
// time has passed, and prunes unused untagged images (scheduler-retire),
// with Dokku's "Attempting to retire APP container CID" and "... image
// ID" lines on out.
func (s *Scheduler) Retire(ctx context.Context, app string, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	es, err := s.readDead()
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	var done []string
	var errs []error
	for _, e := range es {
		if (app != "" && e.App != app) || e.Time > now {
			continue
		}
		output.Verbose(out, "Attempting to retire %s container %s", e.App, e.ID)
		if err := s.retireContainer(ctx, e.App, e.ID); err != nil {
			output.Warn(out, "Container %s still running", e.ID)
			errs = append(errs, err)
			continue
		}
		done = append(done, e.ID)
	}
	s.forgetDead(done...)
	s.pruneImages(ctx, app, out)
	return errors.Join(errs...)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }
