package schedulers

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"dokku-sshd/store"
)

// TestLockRelease: one release of an app at a time; a waiter gives up
// when its context ends, saying why; other apps are not held up.
func TestLockRelease(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := LockRelease(context.Background(), st, "app")
	if err != nil {
		t.Fatal(err)
	}
	other, err := LockRelease(context.Background(), st, "app2")
	if err != nil {
		t.Fatalf("another app waits: %v", err)
	}
	other()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LockRelease(ctx, st, "app"); !errors.Is(err, context.Canceled) || err.Error() == "" {
		t.Fatalf("waiting with a cancelled context: %v", err)
	}

	got := make(chan error, 1)
	go func() {
		u, err := LockRelease(context.Background(), st, "app")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("the waiter after unlock: %v", err)
	}
}

func TestDeployedRef(t *testing.T) {
	tests := []struct {
		name string
		d    Deployed
		want string
	}{
		{name: "by id", d: Deployed{ImageID: "sha256:abc", Image: "dokku/app:latest"}, want: "sha256:abc"},
		{name: "legacy: by name", d: Deployed{Image: "dokku/app:latest", Legacy: true}, want: "dokku/app:latest"},
		{name: "null builder: nothing", d: Deployed{}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Ref(); got != tt.want {
				t.Fatalf("Ref = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDeployedRecord: the record reads back as written and supersedes
// what an app deployed before records existed kept; forgetting it removes
// both; a record that does not parse is an error naming the app.
func TestDeployedRecord(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		d    *Deployed
	}{
		{name: "built release", d: &Deployed{ImageID: "sha256:1", Image: "dokku/app:latest", Rev: "abc",
			Procfile: map[string]string{"web": "bin/web"}, AppJSON: json.RawMessage(`{"formation":{}}`), DeployedAt: at}},
		{name: "null builder", d: &Deployed{Rev: "abc", DeployedAt: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.New(store.Paths{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if d, err := LoadDeployed(st, "app"); d != nil || err != nil {
				t.Fatalf("nothing deployed: %+v %v", d, err)
			}
			// What was kept before records existed.
			if err := os.MkdirAll(st.AppDataDir("ps", "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(LegacyProcfilePath(st, "app"), []byte("web: old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := st.SetProperty("common", "app", "deployed-image", "dokku/app:latest"); err != nil {
				t.Fatal(err)
			}

			if err := SaveDeployed(st, "app", tt.d); err != nil {
				t.Fatal(err)
			}
			got, err := LoadDeployed(st, "app")
			if err != nil || !reflect.DeepEqual(got, tt.d) {
				t.Fatalf("LoadDeployed = %+v, %v; want %+v", got, err, tt.d)
			}
			if _, err := os.Stat(LegacyProcfilePath(st, "app")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the legacy Procfile outlived the record: %v", err)
			}
			if _, set, _ := st.LookupProperty("common", "app", "deployed-image"); set {
				t.Error("deployed-image outlived the record")
			}
			if d, _ := LoadDeployed(st, "other"); d != nil {
				t.Errorf("another app has a record: %+v", d)
			}

			if err := ForgetDeployed(st, "app"); err != nil {
				t.Fatal(err)
			}
			if d, err := LoadDeployed(st, "app"); d != nil || err != nil {
				t.Fatalf("after ForgetDeployed: %+v %v", d, err)
			}
			if err := ForgetDeployed(st, "app"); err != nil {
				t.Fatalf("forgetting twice: %v", err)
			}

			if err := os.WriteFile(deployedPath(st, "app"), []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadDeployed(st, "app"); err == nil || !strings.Contains(err.Error(), "read the deployed release of app") {
				t.Fatalf("a broken record: %v", err)
			}
		})
	}
}
