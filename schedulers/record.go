package schedulers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"dokku-sshd/store"
)

// Deployed is the record of the release an app runs: written once a deploy
// has succeeded, read by every redeploy that does not build (ps:start,
// ps:restart, ps:scale, config changes, ps:restore) so that they start
// exactly that image, by id. A failed build or deploy never writes it.
// Dokku restarts its dokku/<app>:latest tag instead, which a build moves
// before its deploy can fail.
type Deployed struct {
	ImageID string `json:"image_id,omitempty"` // "" for a release without an image (null builder)
	// Image is the reference the release was built as (dokku/<app>:latest),
	// for messages; never run by name.
	Image      string            `json:"image,omitempty"`
	Rev        string            `json:"git_rev,omitempty"`
	Procfile   map[string]string `json:"procfile,omitempty"` // nil: the release has no Procfile
	AppJSON    json.RawMessage   `json:"app_json,omitempty"` // nil: the release has no app.json
	DeployedAt time.Time         `json:"deployed_at"`
	// Remote marks Image as a registry reference by digest that was
	// deployed with no build (Release.Remote); ImageID is then "".
	Remote bool `json:"remote,omitempty"`
	// Legacy marks a record made up from what an app deployed before
	// records existed left behind; it is never written.
	Legacy bool `json:"-"`
}

// Ref is what a scheduler runs: the image id, else (a legacy record) the
// image reference.
func (d *Deployed) Ref() string {
	if d.ImageID != "" {
		return d.ImageID
	}
	return d.Image
}

// deployedPath is the release record's file, beside the deployed Procfile
// in the ps plugin's data directory (LIB/data/ps/<app>/release.json), so
// apps:destroy removes it and apps:clone copies it (the copy forgets it:
// see ForgetDeployed).
func deployedPath(st *store.Store, app string) string {
	return filepath.Join(st.AppDataDir("ps", app), "release.json")
}

// LegacyProcfilePath is where the deployed Procfile was kept before
// records existed (Dokku's place for it).
func LegacyProcfilePath(st *store.Store, app string) string {
	return filepath.Join(st.AppDataDir("ps", app), "Procfile")
}

// SaveDeployed records d as the release app runs, atomically.
func SaveDeployed(st *store.Store, app string, d *Deployed) error {
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("record the deployed release: %w", err)
	}
	p := deployedPath(st, app)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("record the deployed release: %w", err)
	}
	if err := store.WriteFileAtomic(p, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("record the deployed release: %w", err)
	}
	// What an app deployed before records existed kept instead; the
	// record supersedes it.
	_ = os.Remove(LegacyProcfilePath(st, app))
	_ = st.DeleteProperty("common", app, "deployed-image")
	return nil
}

// ForgetDeployed removes app's record (a clone or rename: nothing of the
// new app is deployed yet).
func ForgetDeployed(st *store.Store, app string) error {
	for _, p := range []string{deployedPath(st, app), LegacyProcfilePath(st, app)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("forget the deployed release: %w", err)
		}
	}
	return st.DeleteProperty("common", app, "deployed-image")
}

// LoadDeployed returns the record of the release app runs; nil when there
// is none (nothing deployed, or deployed before records existed: see
// deploy.DeployedRelease for those).
func LoadDeployed(st *store.Store, app string) (*Deployed, error) {
	data, err := os.ReadFile(deployedPath(st, app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the deployed release of %s: %w", app, err)
	}
	var d Deployed
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("read the deployed release of %s: %w", app, err)
	}
	return &d, nil
}

// LockRelease serialises the releases of app across processes (the
// server and a local `dokku-sshd COMMAND`): a redeploy reads the record
// and a deploy writes it while they hold the lock, so that a restart that
// waited for a deploy starts what that deploy recorded, never the release
// it replaced. It waits until the lock is free or ctx ends.
func LockRelease(ctx context.Context, st *store.Store, app string) (unlock func(), err error) {
	unlock, err = store.LockFile(ctx, filepath.Join(st.Paths.LibDir, "data", "ps", ".release-locks", app))
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("waiting for the release of %s that is under way: %w", app, err)
		}
		return nil, fmt.Errorf("release lock of %s: %w", app, err)
	}
	return unlock, nil
}
