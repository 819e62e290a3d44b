package gitrecv

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dokku-sshd/store"
)

// topLevelLocks are the lock files git leaves at the top of a repository
// when it is killed between creating and renaming them; those under refs/
// are found by name.
var topLevelLocks = []string{"packed-refs.lock", "HEAD.lock", "config.lock", "shallow.lock"}

// removeStale removes what a killed server may have left in repo:
// quarantine directories (objects/incoming-*) and git's lock files of refs.
// The caller holds the app's deploy lock, under which every write to the
// repository happens, so none of them belongs to a running process. It
// logs one line per removed item with its size and returns the count and
// the bytes freed.
func removeStale(app, repo string, log *slog.Logger) (n int, bytes int64) {
	remove := func(rel, msg string) {
		p := filepath.Join(repo, rel)
		size := treeSize(p)
		if err := os.RemoveAll(p); err != nil {
			log.Warn("remove "+strings.TrimPrefix(msg, "removed "), "app", app, "path", rel, "err", err)
			return
		}
		log.Info(msg, "app", app, "path", rel, "bytes", size)
		n++
		bytes += size
	}
	if ents, err := os.ReadDir(filepath.Join(repo, "objects")); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "incoming-") {
				remove(filepath.Join("objects", e.Name()), "removed stale quarantine")
			}
		}
	}
	var locks []string
	_ = filepath.WalkDir(filepath.Join(repo, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lock") {
			rel, _ := filepath.Rel(repo, p)
			locks = append(locks, rel)
		}
		return nil
	})
	for _, f := range topLevelLocks {
		if _, err := os.Lstat(filepath.Join(repo, f)); err == nil {
			locks = append(locks, f)
		}
	}
	for _, rel := range locks {
		remove(rel, "removed stale lock")
	}
	return n, bytes
}

// treeSize is the total size of the regular files under p.
func treeSize(p string) int64 {
	var total int64
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// SweepStale removes, in every app's repository, the quarantines and ref
// lock files a killed server left behind, so that they do not wait for the
// app's next push. It runs at start, before the server serves. Each app is
// swept under its deploy lock (not apps:lock, which only blocks deploys):
// an app whose lock another process holds (a second server's push in
// flight) is skipped, its leftovers are swept by its next push.
func (g *Server) SweepStale() error {
	start := time.Now()
	apps, err := g.Store.Apps()
	if err != nil {
		return fmt.Errorf("start-up sweep: %w", err)
	}
	log := g.log()
	var removed int
	var freed int64
	for _, app := range apps {
		repo := g.Store.AppDir(app)
		if _, err := os.Stat(filepath.Join(repo, "objects")); err != nil {
			continue // no repository yet
		}
		lock, err := g.Store.TryRepoLock(app, fmt.Sprintf("pid %d start-up sweep", os.Getpid()))
		if errors.Is(err, store.ErrDeployLocked) {
			log.Info("start-up sweep skipped a locked app", "app", app, "holder", g.Store.DeployLockHolder(app))
			continue
		}
		if err != nil {
			log.Warn("start-up sweep", "app", app, "err", err)
			continue
		}
		n, b := removeStale(app, repo, log)
		lock.Release()
		removed += n
		freed += b
	}
	log.Info("start-up sweep done", "apps", len(apps), "removed", removed, "bytes", freed, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}
