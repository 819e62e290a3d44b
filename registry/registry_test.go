package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/jsonstream"

	"dokku-sshd/store"
)

func testStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func set(t *testing.T, st *store.Store, app, key, value string) {
	t.Helper()
	if err := st.SetProperty(Plugin, app, key, value); err != nil {
		t.Fatal(err)
	}
}

func TestServer(t *testing.T) {
	for _, tc := range []struct {
		name, app, global, want string
	}{
		{name: "none is Docker Hub"},
		{name: "global", global: "registry.example.com", want: "registry.example.com"},
		{name: "app over global", app: "127.0.0.1:5000/", global: "registry.example.com", want: "127.0.0.1:5000"},
		{name: "hub.docker.com is Hub", app: "hub.docker.com", want: ""},
		{name: "docker.io is Hub", global: "docker.io/", want: ""},
		{name: "a namespace stays", app: "ghcr.io/acme", want: "ghcr.io/acme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := testStore(t)
			if tc.app != "" {
				set(t, st, "app", PropServer, tc.app)
			}
			if tc.global != "" {
				set(t, st, store.Global, PropServer, tc.global)
			}
			got, err := Server(st, "app")
			if err != nil || got != tc.want {
				t.Fatalf("Server = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestImageRepo(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		repo, tmpl, globalTmpl string
		want                   string
		wantErr                string
	}{
		{name: "default", want: "dokku/app"},
		{name: "image-repo", repo: "acme/web", tmpl: "x/{{ .AppName }}", want: "acme/web"},
		{name: "app template", tmpl: "acme/{{ .AppName }}", globalTmpl: "g/{{ .AppName }}", want: "acme/app"},
		{name: "global template", globalTmpl: "g/{{ .AppName }}-img", want: "g/app-img"},
		{name: "template that does not parse", tmpl: "{{ .AppName", wantErr: "Unable to parse image-repo-template"},
		{name: "template that does not run", tmpl: "{{ .Nope }}", wantErr: "Unable to execute image-repo-template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := testStore(t)
			for _, p := range []struct{ app, key, v string }{
				{"app", PropImageRepo, tc.repo}, {"app", PropImageRepoTemplate, tc.tmpl}, {store.Global, PropImageRepoTemplate, tc.globalTmpl},
			} {
				if p.v != "" {
					set(t, st, p.app, p.key, p.v)
				}
			}
			got, err := ImageRepo(st, "app")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ImageRepo = %q, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ImageRepo = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPushSettings(t *testing.T) {
	st := testStore(t)
	if on, err := PushOnRelease(st, "app"); on || err != nil {
		t.Fatalf("PushOnRelease default = %v, %v", on, err)
	}
	set(t, st, store.Global, PropPushOnRelease, "true")
	if on, _ := PushOnRelease(st, "app"); !on {
		t.Fatal("global push-on-release true not taken")
	}
	set(t, st, "app", PropPushOnRelease, "false")
	if on, _ := PushOnRelease(st, "app"); on {
		t.Fatal("app push-on-release false not taken over global")
	}
	set(t, st, store.Global, PropPushExtraTags, " latest, ,stable ")
	if tags, err := ExtraTags(st, "app"); err != nil || !reflect.DeepEqual(tags, []string{"latest", "stable"}) {
		t.Fatalf("ExtraTags = %q, %v", tags, err)
	}
	for want := 1; want <= 3; want++ {
		if n, err := nextTag(st, "app"); err != nil || n != want {
			t.Fatalf("nextTag = %d, %v; want %d", n, err, want)
		}
	}
	set(t, st, "app", PropTagVersion, "x")
	if _, err := nextTag(st, "app"); err == nil || !strings.Contains(err.Error(), "Unable to convert existing tag version (x)") {
		t.Fatalf("nextTag of a bad tag-version: %v", err)
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct{ server, repo, tag, want string }{
		{"", "dokku/app", "1", "dokku/app:1"},
		{"127.0.0.1:5000", "dokku/app", "7", "127.0.0.1:5000/dokku/app:7"},
	} {
		if got := Target(tc.server, tc.repo, tc.tag); got != tc.want {
			t.Errorf("Target(%q, %q, %q) = %q, want %q", tc.server, tc.repo, tc.tag, got, tc.want)
		}
	}
}

func TestAuthKeyAndCheckServer(t *testing.T) {
	for _, tc := range []struct{ server, key string }{
		{"docker.io", HubKey}, {"hub.docker.com", HubKey}, {"https://index.docker.io/v1/", HubKey},
		{"127.0.0.1:5000", "127.0.0.1:5000"}, {"https://Registry.Example.com/v2/", "registry.example.com"},
		{"ghcr.io/acme", "ghcr.io"},
	} {
		if got := AuthKey(tc.server); got != tc.key {
			t.Errorf("AuthKey(%q) = %q, want %q", tc.server, got, tc.key)
		}
		if err := CheckServer(tc.server); err != nil {
			t.Errorf("CheckServer(%q): %v", tc.server, err)
		}
	}
	for _, bad := range []string{"", "a b", "-x.com", "x.com:port", "https://"} {
		if err := CheckServer(bad); err == nil || !strings.Contains(err.Error(), "Invalid registry server specified") {
			t.Errorf("CheckServer(%q) = %v, want refused", bad, err)
		}
	}
}

// TestLoginStorage checks the config.json a login writes: Docker's format,
// mode 0600, the file's other keys kept, the app's own file over the
// global one, logout.
func TestLoginStorage(t *testing.T) {
	st := testStore(t)
	global := GlobalConfigPath(st)
	if err := os.MkdirAll(filepath.Dir(global), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(global, []byte(`{"credsStore":"","psFormat":"table {{.ID}}","auths":{"other.example.com":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("o:p"))+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SaveLogin(st, store.Global, "127.0.0.1:5000", Credential{Username: "g", Password: "gpass"}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	data, _ := os.ReadFile(global)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["psFormat"] != "table {{.ID}}" {
		t.Errorf("other keys not kept: %s", data)
	}
	auths := doc["auths"].(map[string]any)
	if e := auths["127.0.0.1:5000"].(map[string]any); e["auth"] != base64.StdEncoding.EncodeToString([]byte("g:gpass")) {
		t.Errorf("auth entry = %v", e)
	}
	if fi, err := os.Stat(global); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode(), err)
	}

	// The app has no login of its own: the global ones serve it.
	if c, ok, err := Lookup(st, "app", "127.0.0.1:5000"); err != nil || !ok || c.Username != "g" || c.Password != "gpass" {
		t.Fatalf("Lookup global = %+v, %v, %v", c, ok, err)
	}
	if err := SaveLogin(st, "app", "http://127.0.0.1:5000/", Credential{Username: "a", Password: "apass"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(AppConfigPath(st, "app")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("app config mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if c, ok, _ := Lookup(st, "app", "127.0.0.1:5000"); !ok || c.Username != "a" {
		t.Fatalf("Lookup app = %+v, %v", c, ok)
	}
	// As in Dokku, an app with logins of its own uses only those.
	if _, ok, _ := Lookup(st, "app", "other.example.com"); ok {
		t.Error("global login used although the app has its own config")
	}
	if ok, err := RemoveLogin(st, "app", "127.0.0.1:5000"); !ok || err != nil {
		t.Fatalf("RemoveLogin = %v, %v", ok, err)
	}
	if ok, err := RemoveLogin(st, "app", "127.0.0.1:5000"); ok || err != nil {
		t.Fatalf("RemoveLogin again = %v, %v", ok, err)
	}
	if c, ok, _ := Lookup(st, "app", "127.0.0.1:5000"); !ok || c.Username != "g" {
		t.Fatalf("after logout the global login serves again: %+v, %v", c, ok)
	}
}

func TestPullSecret(t *testing.T) {
	st := testStore(t)
	if data, err := PullSecret(st, "app"); data != nil || err != nil {
		t.Fatalf("PullSecret without logins = %s, %v", data, err)
	}
	if err := SaveLogin(st, "app", "127.0.0.1:5000", Credential{Username: "u", Password: "p:w"}); err != nil {
		t.Fatal(err)
	}
	if err := SaveLogin(st, "app", "docker.io", Credential{Username: "hub", Password: "hp"}); err != nil {
		t.Fatal(err)
	}
	data, err := PullSecret(st, "app")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Auths map[string]struct{ Username, Password, Auth string }
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	for key, want := range map[string][2]string{"127.0.0.1:5000": {"u", "p:w"}, HubKey: {"hub", "hp"}} {
		e := doc.Auths[key]
		raw, _ := base64.StdEncoding.DecodeString(e.Auth)
		if e.Username != want[0] || e.Password != want[1] || string(raw) != want[0]+":"+want[1] {
			t.Errorf("auths[%q] = %+v (auth %q), want %v", key, e, raw, want)
		}
	}
}

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	for _, m := range []jsonstream.Message{
		{Status: "The push refers to repository [127.0.0.1:5000/dokku/app]"},
		{ID: "aaa", Status: "Preparing", Progress: &jsonstream.Progress{}},
		{ID: "bbb", Status: "Preparing"},
		{ID: "aaa", Status: "Waiting"},
		{ID: "aaa", Status: "Pushing", Progress: &jsonstream.Progress{Current: 1, Total: 10}},
		{ID: "aaa", Status: "Pushing", Progress: &jsonstream.Progress{Current: 5, Total: 10}},
		{ID: "aaa", Status: "Pushing", Progress: &jsonstream.Progress{Current: 10, Total: 10}},
		{ID: "bbb", Status: "Layer already exists"},
		{ID: "aaa", Status: "Pushed"},
		{Status: "1: digest: sha256:abc size: 528"},
		{},
	} {
		p.message(m)
	}
	want := `       The push refers to repository [127.0.0.1:5000/dokku/app]
       aaa: Preparing
       bbb: Preparing
       aaa: Waiting
       aaa: Pushing
       bbb: Layer already exists
       aaa: Pushed
       1: digest: sha256:abc size: 528
`
	if b.String() != want {
		t.Fatalf("lines:\n%s\nwant:\n%s", b.String(), want)
	}
	aux := json.RawMessage(`{"Tag":"1","Digest":"sha256:abc","Size":528}`)
	if d := auxDigest(jsonstream.Message{Aux: &aux}); d != "sha256:abc" {
		t.Fatalf("auxDigest = %q", d)
	}
}

// TestRepository: the repository is named as Push's references name it.
func TestRepository(t *testing.T) {
	for _, tt := range []struct{ server, repo, want string }{
		{"registry.example.com:5000", "", "registry.example.com:5000/dokku/app"},
		{"registry.example.com/", "team/app", "registry.example.com/team/app"},
		{"docker.io", "team/app", "docker.io/team/app"},
	} {
		st := testStore(t)
		set(t, st, "app", PropServer, tt.server)
		if tt.repo != "" {
			set(t, st, "app", PropImageRepo, tt.repo)
		}
		if got, err := New(st, nil).Repository("app"); err != nil || got != tt.want {
			t.Errorf("Repository with server %q, repo %q = %q, %v; want %q", tt.server, tt.repo, got, err, tt.want)
		}
	}
}
