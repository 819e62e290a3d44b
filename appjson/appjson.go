// Package appjson is an app's app.json: the part of it schedulers read
// (formation and healthchecks, as Dokku's app-json plugin does) and its
// life on disk, staged by a build and committed by the deploy that runs
// the build's image.
//
// It is a package of its own, below both its writer and its readers: the
// builder (deploy) stages it and a scheduler (schedulers/...) reads and
// commits it, so it belongs to neither; the scheduler interface's package
// stays about scheduling. It imports only store.
package appjson

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

// File is the part of an app's app.json that schedulers read
// (Dokku's plugins/app-json: formation and healthchecks).
type File struct {
	Formation    map[string]Formation     `json:"formation"`
	Healthchecks map[string][]Healthcheck `json:"healthchecks"`
}

// Formation is app.json's formation.<process type>.
type Formation struct {
	Quantity    *int `json:"quantity"`
	MaxParallel *int `json:"max_parallel"`
}

// Healthcheck is one entry of app.json's healthchecks.<process type>, as
// docker-container-healthchecker reads it.
type Healthcheck struct {
	Attempts     int          `json:"attempts,omitempty"`
	Command      []string     `json:"command,omitempty"`
	Content      string       `json:"content,omitempty"`
	HTTPHeaders  []HTTPHeader `json:"httpHeaders,omitempty"`
	InitialDelay int          `json:"initialDelay,omitempty"`
	Listening    bool         `json:"listening,omitempty"`
	Name         string       `json:"name,omitempty"`
	Path         string       `json:"path,omitempty"`
	Port         int          `json:"port,omitempty"`
	Scheme       string       `json:"scheme,omitempty"`
	Timeout      int          `json:"timeout,omitempty"`
	Type         string       `json:"type,omitempty"`
	Uptime       int          `json:"uptime,omitempty"`
	Wait         int          `json:"wait,omitempty"`
	Warn         bool         `json:"warn,omitempty"`
}

// HTTPHeader is a header sent by a path healthcheck.
type HTTPHeader struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// Parse reads app.json (plain JSON).
func Parse(data []byte) (*File, error) {
	var a File
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("invalid app.json: %w", err)
	}
	return &a, nil
}

// The app.json of a deployed release is kept where Dokku keeps it,
// LibDir/data/app-json/<app>/app.json. A build stages the app.json of its
// image beside it as app.json.<image id> (app.json.<image id>.missing when
// the tree has none) so that a failed deploy leaves the current one in
// place; Commit makes it current once the image is deployed.

func currentPath(st *store.Store, app string) string {
	return filepath.Join(st.AppDataDir("app-json", app), "app.json")
}

func stagedSuffix(imageID string) string {
	id := strings.TrimPrefix(imageID, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return "." + id
}

// Stage records the app.json of a built image; data nil means the tree
// has none.
func Stage(st *store.Store, app, imageID string, data []byte) error {
	p := currentPath(st, app) + stagedSuffix(imageID)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	_ = os.Remove(p)
	_ = os.Remove(p + ".missing")
	if data == nil {
		return store.WriteFileAtomic(p+".missing", nil, 0o644)
	}
	return store.WriteFileAtomic(p, data, 0o644)
}

// ForDeploy returns the app.json for a deploy of imageID: the one staged
// by its build, else the current one; nil when there is none.
func ForDeploy(st *store.Store, app, imageID string) (*File, error) {
	p := currentPath(st, app)
	if imageID != "" {
		staged := p + stagedSuffix(imageID)
		if _, err := os.Stat(staged + ".missing"); err == nil {
			return nil, nil
		}
		if _, err := os.Stat(staged); err == nil {
			p = staged
		}
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Commit makes the app.json staged for imageID the current one and drops
// every other staged one. Nothing staged: the current one stays.
func Commit(st *store.Store, app, imageID string) error {
	p := currentPath(st, app)
	staged := p + stagedSuffix(imageID)
	if imageID != "" {
		if _, err := os.Stat(staged + ".missing"); err == nil {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		} else if _, err := os.Stat(staged); err == nil {
			if err := os.Rename(staged, p); err != nil {
				return err
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "app.json.") {
			_ = os.Remove(filepath.Join(filepath.Dir(p), e.Name()))
		}
	}
	return nil
}

// Current returns the app.json of the deployed release as the docker-local
// scheduler last committed it (nil when there is none).
func Current(st *store.Store, app string) ([]byte, error) {
	data, err := os.ReadFile(currentPath(st, app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}
