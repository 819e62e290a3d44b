package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Build states.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Record is what is kept of one build, beside its output log.
type Record struct {
	ID       string    `json:"id"`
	App      string    `json:"app"`
	Kind     string    `json:"kind"` // its source: git-hook, ps:rebuild, ... (Request.Kind)
	Rev      string    `json:"rev"`
	Status   string    `json:"status"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started_at"`
	Finished time.Time `json:"finished_at,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// Builds keeps build records and output under LibDir/data/builds/<app>/ and
// knows the builds running in this process.
type Builds struct {
	// OnChange, when set, is told the app of each build that starts or
	// ends (the dashboard's lists show deploys running now).
	OnChange func(app string)

	store   *store.Store
	mu      sync.Mutex
	running map[string]*runningBuild // app -> build
}

type runningBuild struct {
	id     string
	cancel context.CancelFunc
}

// NewBuilds returns the build records of st.
func NewBuilds(st *store.Store) *Builds {
	return &Builds{store: st, running: map[string]*runningBuild{}}
}

func (b *Builds) dir(app string) string { return b.store.AppDataDir("builds", app) }

func newBuildID(now time.Time) string {
	var r [3]byte
	_, _ = rand.Read(r[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:])
}

// start records a new build and returns its log (also the client's
// terminal through tee) and a context that builds:cancel can cancel.
func (b *Builds) start(ctx context.Context, app, kind, rev string) (*Record, *os.File, context.Context, context.CancelFunc, error) {
	if err := os.MkdirAll(b.dir(app), 0o755); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("build record: %w", err)
	}
	rec := &Record{ID: newBuildID(time.Now()), App: app, Kind: kind, Rev: rev, Status: StatusRunning, PID: os.Getpid(), Started: time.Now().UTC()}
	log, err := os.OpenFile(filepath.Join(b.dir(app), rec.ID+".log"), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("build log: %w", err)
	}
	if err := b.save(rec); err != nil {
		log.Close()
		return nil, nil, nil, nil, err
	}
	bctx, cancel := context.WithCancel(ctx)
	b.mu.Lock()
	b.running[app] = &runningBuild{id: rec.ID, cancel: cancel}
	b.mu.Unlock()
	go b.watchCancelFile(bctx, app, rec.ID, cancel)
	b.changed(app)
	return rec, log, bctx, cancel, nil
}

// finish records the outcome.
func (b *Builds) finish(rec *Record, err error, canceled bool) {
	b.mu.Lock()
	if r := b.running[rec.App]; r != nil && r.id == rec.ID {
		delete(b.running, rec.App)
	}
	b.mu.Unlock()
	rec.Finished = time.Now().UTC()
	switch {
	case canceled:
		rec.Status = StatusCanceled
	case err != nil:
		rec.Status, rec.Error = StatusFailed, output.CutPaths(err.Error()) // builds:list shows it to clients
	default:
		rec.Status = StatusSucceeded
	}
	_ = b.save(rec)
	os.Remove(b.cancelFile(rec.App, rec.ID))
	b.changed(rec.App)
}

// runningHere reports whether this process runs the build (before a
// deploy takes the app's deploy lock, or one that takes none).
func (b *Builds) runningHere(app, id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.running[app]
	return r != nil && r.id == id
}

func (b *Builds) changed(app string) {
	if b.OnChange != nil {
		b.OnChange(app)
	}
}

func (b *Builds) save(rec *Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(b.dir(rec.App), rec.ID+".json"), append(data, '\n'), 0o644)
}

func (b *Builds) cancelFile(app, id string) string {
	return filepath.Join(b.dir(app), id+".cancel")
}

// watchCancelFile lets a builds:cancel run in another process (a local
// dokku-sshd command) stop a build of this one.
func (b *Builds) watchCancelFile(ctx context.Context, app, id string, cancel context.CancelFunc) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := os.Stat(b.cancelFile(app, id)); err == nil {
				cancel()
				return
			}
		}
	}
}

// ErrNotDeploying is returned by Cancel when app has no running build.
var ErrNotDeploying = errors.New("not deploying")

// Cancel stops app's running build, here or in another process.
func (b *Builds) Cancel(app string) (*Record, error) {
	b.mu.Lock()
	r := b.running[app]
	b.mu.Unlock()
	if r != nil {
		r.cancel()
		return b.Get(app, r.id)
	}
	recs, err := b.List(app)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if rec.Status == StatusRunning && b.store.DeployRunning(app) {
			if err := os.WriteFile(b.cancelFile(app, rec.ID), nil, 0o644); err != nil {
				return nil, err
			}
			return &rec, nil
		}
	}
	return nil, ErrNotDeploying
}

// List returns app's builds, newest first. A record still "running" whose
// process is gone (server killed) is reported as failed.
func (b *Builds) List(app string) ([]Record, error) {
	ents, err := os.ReadDir(b.dir(app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		rec, err := b.Get(app, id)
		if err == nil {
			out = append(out, *rec)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// Get returns one build record.
func (b *Builds) Get(app, id string) (*Record, error) {
	if strings.ContainsAny(id, "/\\") || id == "" {
		return nil, fs.ErrNotExist
	}
	data, err := os.ReadFile(filepath.Join(b.dir(app), id+".json"))
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("build record %s: %w", id, err)
	}
	if rec.Status == StatusRunning && !b.runningHere(app, id) && !b.store.DeployRunning(app) {
		rec.Status, rec.Error = StatusFailed, "abandoned: the server stopped during the build"
	}
	return &rec, nil
}

// Output copies a build's log to w.
func (b *Builds) Output(app, id string, w io.Writer) error {
	f, err := os.Open(filepath.Join(b.dir(app), id+".log"))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// followPoll is how often Follow looks for new output and for the end of
// the build: one open file of one build, so a short poll costs little.
var followPoll = 150 * time.Millisecond

// Follow copies a build's log to w as it is written, as the pushing client
// sees it, until the build is no longer running and every byte of its log
// is copied, or ctx ends (then it returns ctx's error). A finished build's
// log is copied whole.
func (b *Builds) Follow(ctx context.Context, app, id string, w io.Writer) error {
	if _, err := b.Get(app, id); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(b.dir(app), id+".log"))
	if err != nil {
		return err
	}
	defer f.Close()
	t := time.NewTicker(followPoll)
	defer t.Stop()
	buf := make([]byte, 32<<10)
	for {
		// Asked before the drain: the log is closed before the record
		// says the build ended, so once it is not running the drain
		// below reads every byte it wrote.
		running := b.isRunning(app, id)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return werr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// isRunning reports whether build id of app is still running, as its
// record says (Get knows the builds of this process without the lock).
func (b *Builds) isRunning(app, id string) bool {
	rec, err := b.Get(app, id)
	return err == nil && rec.Status == StatusRunning
}
