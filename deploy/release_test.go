package deploy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// TestDeployedRelease: the record is what every redeploy starts; an app
// deployed before records existed falls back to the deployed-image
// property and the kept Procfile; a clone forgets both.
func TestDeployedRelease(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	const app = "app"
	if d, err := DeployedRelease(st, app); d != nil || err != nil {
		t.Fatalf("nothing deployed: %+v, %v", d, err)
	}

	// Legacy: what a deploy kept before records existed.
	if err := st.SetProperty("common", app, "deployed-image", "dokku/app:latest"); err != nil {
		t.Fatal(err)
	}
	p := schedulers.LegacyProcfilePath(st, app)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("web: httpd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := DeployedRelease(st, app)
	if err != nil || d == nil || !d.Legacy || d.Ref() != "dokku/app:latest" || d.Procfile["web"] != "httpd" {
		t.Fatalf("legacy release: %+v, %v", d, err)
	}

	// A record supersedes the legacy state.
	want := &schedulers.Deployed{ImageID: "sha256:abc", Image: "dokku/app:latest", Rev: "0123", Procfile: map[string]string{"web": "httpd -p $PORT"},
		AppJSON: []byte(`{"healthchecks":{}}`), DeployedAt: time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)}
	if err := schedulers.SaveDeployed(st, app, want); err != nil {
		t.Fatal(err)
	}
	d, err = DeployedRelease(st, app)
	if err != nil || !reflect.DeepEqual(d, want) {
		t.Fatalf("recorded release:\n got %+v, %v\nwant %+v", d, err, want)
	}
	if d.Ref() != "sha256:abc" {
		t.Errorf("ref %q: want the image id", d.Ref())
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("the legacy Procfile stayed beside the record")
	}
	if v, _ := st.Property("common", app, "deployed-image"); v != "" {
		t.Errorf("the legacy deployed-image property stayed: %q", v)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	for _, e := range ents {
		if e.Name() != "release.json" {
			t.Errorf("left in the record's directory: %s", e.Name())
		}
	}

	if err := schedulers.ForgetDeployed(st, app); err != nil {
		t.Fatal(err)
	}
	if d, err := DeployedRelease(st, app); d != nil || err != nil {
		t.Errorf("after ForgetDeployed: %+v, %v", d, err)
	}

	// A legacy deployed-image that cannot be read (a directory where the
	// value should be) is an error, not "nothing deployed".
	if err := st.SetProperty("common", app, "deployed-image/x", "y"); err != nil {
		t.Fatal(err)
	}
	if d, err := DeployedRelease(st, app); d != nil || err == nil {
		t.Errorf("unreadable deployed-image: %+v, %v; want an error", d, err)
	}
}

// TestReleaseAndDeploy: config changes and ps:start release the recorded
// release with Dokku's "Releasing <app>..." line (release-and-deploy);
// ps:restart and ps:scale deploy it without (Dokku's deploy).
func TestReleaseAndDeploy(t *testing.T) {
	p := testPipeline(t)
	if err := schedulers.SaveDeployed(p.Store, "app", &schedulers.Deployed{Image: "dokku/app:latest", Rev: "0123"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := p.ReleaseAndDeploy(context.Background(), "app", "config-redeploy", &out); err != nil {
		t.Fatalf("ReleaseAndDeploy: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "-----> Releasing app...\n-----> Deploying app via the null scheduler...\n") {
		t.Errorf("ReleaseAndDeploy output:\n%s", out.String())
	}
	out.Reset()
	if err := p.Redeploy(context.Background(), "app", "ps:restart", "", &out); err != nil {
		t.Fatalf("Redeploy: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "-----> Deploying app via the null scheduler...\n") {
		t.Errorf("Redeploy output:\n%s", out.String())
	}
	recs, _ := p.Builds.List("app")
	if len(recs) != 2 || recs[0].Kind != "ps:restart" || recs[1].Kind != "config-redeploy" {
		t.Errorf("builds: %+v", recs)
	}
}
