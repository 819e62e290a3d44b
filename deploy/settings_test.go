package deploy

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// TestDeployRecordsRev: a deploy writes its revision into the app's config
// as the var git:set rev-env-var names (GIT_REV unless set; none when set
// empty), quietly; a name that is no valid key fails the deploy with
// Dokku's message.
func TestDeployRecordsRev(t *testing.T) {
	repo, rev := testRepo(t, map[string]string{"README": "x"})
	tests := []struct {
		name     string
		revVar   *string // git rev-env-var of the app; nil: not set
		global   *string // git --global rev-env-var; nil: not set
		wantVars map[string]string
		wantFail string
	}{
		{name: "default", wantVars: map[string]string{"GIT_REV": rev}},
		{name: "renamed", revVar: ptr("SOURCE_VERSION"), wantVars: map[string]string{"SOURCE_VERSION": rev}},
		{name: "disabled", revVar: ptr(""), wantVars: map[string]string{}},
		{name: "renamed globally", global: ptr("SOURCE_VERSION"), wantVars: map[string]string{"SOURCE_VERSION": rev}},
		{name: "disabled globally", global: ptr(""), wantVars: map[string]string{}},
		{name: "disabled for the app only", revVar: ptr(""), global: ptr("SOURCE_VERSION"), wantVars: map[string]string{}},
		{name: "not a key", revVar: ptr("BAD-KEY"), wantVars: map[string]string{},
			wantFail: "Unable to set BAD-KEY: Invalid key name: 'BAD-KEY'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPipeline(t)
			if err := p.Store.SetProperty("builder", "app", "selected", "null"); err != nil {
				t.Fatal(err)
			}
			for who, v := range map[string]*string{"app": tt.revVar, store.Global: tt.global} {
				if v != nil {
					if err := p.Store.SetProperty("git", who, "rev-env-var", *v); err != nil {
						t.Fatal(err)
					}
				}
			}
			var out bytes.Buffer
			err := p.Deploy(context.Background(), Request{App: "app", Kind: "git-hook", Source: GitSource{Repo: repo, Rev: rev}, Out: &out})
			if tt.wantFail != "" {
				if err == nil || !strings.Contains(out.String(), " !     "+tt.wantFail+"\n") || strings.Contains(out.String(), output.DetailsInLog) {
					t.Fatalf("err %v, output:\n%s\nwant the message %q", err, out.String(), tt.wantFail)
				}
			} else if err != nil {
				t.Fatalf("Deploy: %v\n%s", err, out.String())
			}
			if strings.Contains(out.String(), "Setting config vars") {
				t.Errorf("the revision was written aloud:\n%s", out.String())
			}
			env, err := p.Store.Env("app")
			if err != nil {
				t.Fatal(err)
			}
			if len(env) != len(tt.wantVars) {
				t.Errorf("config %q, want %q", env, tt.wantVars)
			}
			for k, v := range tt.wantVars {
				if env[k] != v {
					t.Errorf("config %q, want %q", env, tt.wantVars)
				}
			}
		})
	}
}

// TestDeployUnreadableSetting: a setting the deploy needs that cannot be
// read fails the deploy; it is not taken for its default.
func TestDeployUnreadableSetting(t *testing.T) {
	repo, rev := testRepo(t, map[string]string{"README": "x"})
	tests := []struct{ plugin, app, key string }{
		{"ps", "app", "skip-deploy"},
		{"git", "app", "rev-env-var"},
		{"git", store.Global, "rev-env-var"},
	}
	for _, tt := range tests {
		t.Run(tt.plugin+"/"+tt.app+"/"+tt.key, func(t *testing.T) {
			p := testPipeline(t)
			if err := p.Store.SetProperty("builder", "app", "selected", "null"); err != nil {
				t.Fatal(err)
			}
			// A directory where the value should be.
			if err := p.Store.SetProperty(tt.plugin, tt.app, tt.key+"/x", "y"); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := p.Deploy(context.Background(), Request{App: "app", Kind: "git-hook", Source: GitSource{Repo: repo, Rev: rev}, Out: &out})
			if err == nil || strings.Contains(out.String(), "Application deployed") {
				t.Fatalf("deployed with an unreadable %s: %v\n%s", tt.key, err, out.String())
			}
			if v, _ := p.Store.Property("common", "app", "deployed"); v == "true" {
				t.Fatal("recorded as deployed")
			}
			if env, err := p.Store.Env("app"); err != nil || len(env) != 0 {
				t.Fatalf("config %q, %v; want none written", env, err)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestDeployBranch(t *testing.T) {
	tests := []struct {
		name        string
		app, global *string // nil: not set
		unreadable  bool    // the app's value cannot be read
		want        string
		wantSet     bool
	}{
		{name: "default", want: "master"},
		{name: "app", app: ptr("main"), global: ptr("prod"), want: "main", wantSet: true},
		{name: "global", global: ptr("prod"), want: "prod", wantSet: true},
		{name: "empty app value", app: ptr(""), global: ptr("prod"), want: "prod", wantSet: true},
		{name: "unreadable", global: ptr("prod"), unreadable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := testPipeline(t).Store
			for who, v := range map[string]*string{"app": tt.app, store.Global: tt.global} {
				if v != nil {
					if err := st.SetProperty("git", who, "deploy-branch", *v); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.unreadable {
				// A directory where the value should be.
				if err := st.SetProperty("git", "app", "deploy-branch/x", "y"); err != nil {
					t.Fatal(err)
				}
			}
			branch, set, err := DeployBranch(st, "app")
			if tt.unreadable {
				if err == nil {
					t.Fatalf("= %q %v, want an error", branch, set)
				}
				return
			}
			if err != nil || branch != tt.want || set != tt.wantSet {
				t.Fatalf("= %q %v %v; want %q %v", branch, set, err, tt.want, tt.wantSet)
			}
		})
	}
}
