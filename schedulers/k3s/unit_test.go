package k3s

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// These paths end before any cluster is asked.

func TestDeployWithoutRegistry(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, nil, nil)
	for _, tc := range []struct {
		name string
		r    *schedulers.Release
		want string
	}{
		{"no image", &schedulers.Release{App: "a"}, "needs an image"},
		{"local image", &schedulers.Release{App: "a", Image: "sha256:" + strings.Repeat("1", 64)}, "registry:set --global server"},
		{"remote by tag", &schedulers.Release{App: "a", Image: "registry.test/a:1", Remote: true}, "registry:set --global server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Deploy(context.Background(), tc.r)
			var ue *output.Error
			if !errors.As(err, &ue) || !strings.Contains(ue.Msg, tc.want) || output.ExitCode(err) == 0 {
				t.Errorf("Deploy = %v, want a user error with %q", err, tc.want)
			}
		})
	}
}

func TestNoKubeconfig(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if err := st.SetProperty(Plugin, store.Global, "kubeconfig-path", missing); err != nil {
		t.Fatal(err)
	}
	s := New(st, nil, nil)
	if err := s.Destroy(context.Background(), "a"); err != nil {
		t.Errorf("Destroy without a kubeconfig = %v, want nil (nothing was deployed)", err)
	}
	err = s.Stop(context.Background(), "a")
	if err == nil || !strings.Contains(err.Error(), "The kubeconfig set on this server (scheduler-k3s:set --global kubeconfig-path) does not exist") || strings.Contains(err.Error(), missing) {
		t.Errorf("Stop without a kubeconfig = %v", err)
	}
	var inspect strings.Builder
	if err := s.Inspect(context.Background(), "a", io.MultiWriter(&inspect)); err == nil {
		t.Errorf("Inspect without a kubeconfig succeeded: %s", inspect.String())
	}
}
