package k3s

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"dokku-sshd/store"
)

// pushedKeep is how many of an app's pushed images are remembered: the
// release a redeploy starts is the app's last deployed build, and a few
// builds may have been pushed and failed to deploy since.
const pushedKeep = 5

// pushedImage is one built image that was pushed for an app: its local
// id and the registry's reference to it by digest.
type pushedImage struct {
	ImageID string `json:"image_id"`
	Ref     string `json:"ref"`
}

// pushedPath is the record of app's pushed images, in the scheduler's data
// directory (LIB/data/scheduler-k3s/APP/pushed.json), which apps:destroy
// removes.
func pushedPath(st *store.Store, app string) string {
	return filepath.Join(st.AppDataDir(Plugin, app), "pushed.json")
}

// loadPushed reads app's pushed images, newest first.
func loadPushed(st *store.Store, app string) ([]pushedImage, error) {
	data, err := os.ReadFile(pushedPath(st, app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the pushed images of %s: %w", app, err)
	}
	var list []pushedImage
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("read the pushed images of %s: %w", app, err)
	}
	return list, nil
}

// pushedRef is the registry reference of app's image imageID when it was
// pushed, else "".
func pushedRef(st *store.Store, app, imageID string) (string, error) {
	list, err := loadPushed(st, app)
	if err != nil {
		return "", err
	}
	for _, p := range list {
		if p.ImageID == imageID {
			return p.Ref, nil
		}
	}
	return "", nil
}

// recordPushed remembers that app's image imageID is ref in the registry.
func recordPushed(st *store.Store, app, imageID, ref string) error {
	list, err := loadPushed(st, app)
	if err != nil {
		return err
	}
	out := []pushedImage{{ImageID: imageID, Ref: ref}}
	for _, p := range list {
		if p.ImageID != imageID && len(out) < pushedKeep {
			out = append(out, p)
		}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("record the pushed image of %s: %w", app, err)
	}
	p := pushedPath(st, app)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("record the pushed image of %s: %w", app, err)
	}
	if err := store.WriteFileAtomic(p, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("record the pushed image of %s: %w", app, err)
	}
	return nil
}

// pushedRef is the reference the push of app's image imageID made, when
// it is in the repository app's pushes go to now; else "" (push again).
func (s *Scheduler) pushedRef(app, imageID string) (string, error) {
	ref, err := pushedRef(s.Store, app, imageID)
	if err != nil || ref == "" {
		return "", err
	}
	if repos, ok := s.Images.(Repositories); ok {
		repo, err := repos.Repository(app)
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(ref, repo+"@") {
			return "", nil
		}
	}
	return ref, nil
}
