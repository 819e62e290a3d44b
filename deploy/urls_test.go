package deploy

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"dokku-sshd/domains"
)

// TestDeployPrintsURLs: after "Application deployed:" the deploy prints
// the app's URLs (the urls package's, as `urls` does), each indented 7
// spaces, then a blank line, as Dokku does for every scheduler.
func TestDeployPrintsURLs(t *testing.T) {
	repo, rev := testRepo(t, map[string]string{"Procfile": "web: run\n"})
	p := testPipeline(t)
	st := p.Store
	if err := st.SetProperty("builder", "app", "selected", "null"); err != nil {
		t.Fatal(err)
	}
	if err := domains.Set(st, "app", []string{"app.example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty("ports", "app", "map", "http:80:5000\nhttp:8080:5000\n"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := p.GitPush(context.Background(), "app", repo, nil, []RefUpdate{{Ref: "refs/heads/master", Old: zeros, New: rev}}, &out); err != nil {
		t.Fatalf("GitPush: %v\n%s", err, out.String())
	}
	want := "=====> Application deployed:\n       http://app.example.com\n       http://app.example.com:8080\n\n"
	if !strings.HasSuffix(out.String(), want) {
		t.Errorf("deploy output does not end with %q:\n%s", want, out.String())
	}
}
