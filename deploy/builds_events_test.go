package deploy

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
)

// OnChange hears of a build when it starts and when it ends.
func TestBuildsOnChange(t *testing.T) {
	repo, rev := testRepo(t, map[string]string{"Procfile": "web: run\n"})
	p := testPipeline(t)
	p.Store.SetProperty("builder", "app", "selected", "null")
	var mu sync.Mutex
	var got []string
	p.Builds.OnChange = func(app string) {
		mu.Lock()
		defer mu.Unlock()
		recs, _ := p.Builds.List(app)
		got = append(got, app+" "+recs[0].Status)
	}
	var out bytes.Buffer
	if err := p.Deploy(context.Background(), Request{App: "app", Kind: "git-hook", Source: GitSource{Repo: repo, Rev: rev}, Out: &out}); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"app running", "app succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("OnChange saw %v, want %v", got, want)
	}
}
