package appjson

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"dokku-sshd/store"
)

func TestParse(t *testing.T) {
	two := 2
	for _, tc := range []struct {
		name, data string
		want       *File
		err        string // prefix of the error; "" for none
	}{
		{name: "empty", data: `{}`, want: &File{}},
		{
			name: "formation and healthchecks",
			data: `{"formation":{"web":{"quantity":2,"max_parallel":2}},"healthchecks":{"web":[{"type":"startup","path":"/up","attempts":3,"httpHeaders":[{"name":"Host","value":"a"}]}]},"scripts":{"dokku":{}}}`,
			want: &File{
				Formation:    map[string]Formation{"web": {Quantity: &two, MaxParallel: &two}},
				Healthchecks: map[string][]Healthcheck{"web": {{Type: "startup", Path: "/up", Attempts: 3, HTTPHeaders: []HTTPHeader{{Name: "Host", Value: "a"}}}}},
			},
		},
		{name: "not JSON", data: `{"formation":`, err: "invalid app.json: "},
		{name: "wrong type", data: `{"formation":[]}`, err: "invalid app.json: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q...", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

// doc is an app.json whose web healthcheck has path p, to tell them apart.
func doc(p string) []byte {
	return []byte(`{"healthchecks":{"web":[{"type":"startup","path":"` + p + `"}]}}`)
}

// webPath is the path of f's web healthcheck; "" when f is nil.
func webPath(t *testing.T, f *File) string {
	t.Helper()
	if f == nil {
		return ""
	}
	if len(f.Healthchecks["web"]) != 1 {
		t.Fatalf("unexpected app.json %+v", f)
	}
	return f.Healthchecks["web"][0].Path
}

const (
	imageA = "sha256:aaaaaaaaaaaaaaaaaaaa"
	imageB = "sha256:bbbbbbbbbbbbbbbbbbbb"
)

// TestStageCommit follows app.json through builds (Stage) and deploys
// (Commit): what a deploy of an image reads, what is current after, and
// which staged files are left.
func TestStageCommit(t *testing.T) {
	type step struct {
		commit bool   // Commit image; else Stage data for it
		image  string // image id
		data   []byte // nil: the tree has no app.json
	}
	for _, tc := range []struct {
		name        string
		steps       []step
		deploy      string // ForDeploy of this image...
		wantDeploy  string // ...reads the app.json with this web path ("" none)
		wantCurrent string // Current's web path ("" none)
		wantFiles   []string
	}{
		{name: "nothing", deploy: imageA},
		{
			name:       "staged is not current",
			steps:      []step{{image: imageA, data: doc("/a")}},
			deploy:     imageA,
			wantDeploy: "/a",
			wantFiles:  []string{"app.json.aaaaaaaaaaaa"},
		},
		{
			name:       "staged is not read for another image",
			steps:      []step{{image: imageA, data: doc("/a")}},
			deploy:     "",
			wantDeploy: "",
			wantFiles:  []string{"app.json.aaaaaaaaaaaa"},
		},
		{
			name:        "commit makes it current",
			steps:       []step{{image: imageA, data: doc("/a")}, {commit: true, image: imageA}},
			deploy:      imageB,
			wantDeploy:  "/a",
			wantCurrent: "/a",
			wantFiles:   []string{"app.json"},
		},
		{
			name:        "a build without app.json stages its absence",
			steps:       []step{{image: imageA, data: doc("/a")}, {commit: true, image: imageA}, {image: imageB}},
			deploy:      imageB,
			wantDeploy:  "",
			wantCurrent: "/a",
			wantFiles:   []string{"app.json", "app.json.bbbbbbbbbbbb.missing"},
		},
		{
			name:   "committing an absence removes the current one",
			steps:  []step{{image: imageA, data: doc("/a")}, {commit: true, image: imageA}, {image: imageB}, {commit: true, image: imageB}},
			deploy: "",
		},
		{
			name:       "a build staged again replaces what it staged",
			steps:      []step{{image: imageA}, {image: imageA, data: doc("/a2")}},
			deploy:     imageA,
			wantDeploy: "/a2",
			wantFiles:  []string{"app.json.aaaaaaaaaaaa"},
		},
		{
			name:        "commit drops every other staged one",
			steps:       []step{{image: imageA, data: doc("/a")}, {image: imageB, data: doc("/b")}, {commit: true, image: imageB}},
			deploy:      imageA,
			wantDeploy:  "/b",
			wantCurrent: "/b",
			wantFiles:   []string{"app.json"},
		},
		{
			name:        "a commit with nothing staged keeps the current one",
			steps:       []step{{image: imageA, data: doc("/a")}, {commit: true, image: imageA}, {image: imageB, data: doc("/b")}, {commit: true, image: ""}},
			deploy:      imageB,
			wantDeploy:  "/a",
			wantCurrent: "/a",
			wantFiles:   []string{"app.json"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.New(store.Paths{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				if s.commit {
					err = Commit(st, "app", s.image)
				} else {
					err = Stage(st, "app", s.image, s.data)
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			f, err := ForDeploy(st, "app", tc.deploy)
			if err != nil {
				t.Fatal(err)
			}
			if got := webPath(t, f); got != tc.wantDeploy {
				t.Errorf("ForDeploy(%q) reads %q, want %q", tc.deploy, got, tc.wantDeploy)
			}
			data, err := Current(st, "app")
			if err != nil {
				t.Fatal(err)
			}
			var cur *File
			if data != nil {
				if cur, err = Parse(data); err != nil {
					t.Fatal(err)
				}
			}
			if got := webPath(t, cur); got != tc.wantCurrent {
				t.Errorf("current %q, want %q", got, tc.wantCurrent)
			}
			var files []string
			ents, _ := os.ReadDir(filepath.Dir(currentPath(st, "app")))
			for _, e := range ents {
				files = append(files, e.Name())
			}
			sort.Strings(files)
			if strings.Join(files, " ") != strings.Join(tc.wantFiles, " ") {
				t.Errorf("files %q, want %q", files, tc.wantFiles)
			}
		})
	}
}

// An app.json staged unreadable fails the deploy that reads it, with the
// reason.
func TestForDeployInvalid(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := Stage(st, "app", imageA, []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := ForDeploy(st, "app", imageA); err == nil || !strings.HasPrefix(err.Error(), "invalid app.json: ") {
		t.Fatalf("err %v", err)
	}
}
