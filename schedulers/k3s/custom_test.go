package k3s

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dokku-sshd/store"
)

// TestMetaRoundTrip: what SetMeta stores ReadMeta returns, in Dokku's
// file, and Dokku's older "key: value" files are read as well.
func TestMetaRoundTrip(t *testing.T) {
	s := newTestScheduler(t)
	type op struct{ key, value string }
	for _, tt := range []struct {
		name                string
		kind                MetaKind
		app, proc, resource string
		ops                 []op
		file                string // relative to config/scheduler-k3s/<app>
		want                map[string]string
	}{
		{name: "annotation", kind: Annotations, app: "a", proc: "web", resource: "deployment",
			ops: []op{{"example.com/x", "1"}, {"example.com/y", "two words"}}, file: "web.deployment",
			want: map[string]string{"example.com/x": "1", "example.com/y": "two words"}},
		{name: "overwrite and remove", kind: Annotations, app: "a", proc: AllProcesses, resource: "pod",
			ops: []op{{"k", "1"}, {"k", "2"}, {"gone", "x"}, {"gone", ""}}, file: "--global.pod",
			want: map[string]string{"k": "2"}},
		{name: "label", kind: Labels, app: "a", proc: "worker", resource: "service",
			ops: []op{{"team", "core"}}, file: "labels.worker.service", want: map[string]string{"team": "core"}},
		{name: "global label", kind: Labels, app: store.Global, proc: AllProcesses, resource: "pod",
			ops: []op{{"env", "prod"}}, file: "labels.--global.pod", want: map[string]string{"env": "prod"}},
		{name: "remove everything", kind: Labels, app: "b", proc: "web", resource: "pod",
			ops: []op{{"x", "1"}, {"x", ""}}, file: "labels.web.pod", want: map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, o := range tt.ops {
				if err := SetMeta(s.Store, tt.kind, tt.app, tt.proc, tt.resource, o.key, o.value); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadMeta(s.Store, tt.kind, tt.app, tt.proc, tt.resource)
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("ReadMeta = %v, %v; want %v", got, err, tt.want)
			}
			path := filepath.Join(s.Store.Paths.LibDir, "config", Plugin, tt.app, tt.file)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("not in Dokku's file: %v", err)
			}
		})
	}
	// Dokku before its JSON maps: one "key: value" line per entry.
	if err := s.Store.SetProperty(Plugin, "old", "web.ingress", "a.io/x: 1\nb: two: parts\n"); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMeta(s.Store, Annotations, "old", "web", "ingress")
	if want := map[string]string{"a.io/x": "1", "b": "two: parts"}; err != nil || !maps.Equal(got, want) {
		t.Errorf("legacy lines = %v, %v; want %v", got, err, want)
	}
	if err := SetMeta(s.Store, Annotations, "old", "web", "ingress", "c", "3"); err != nil {
		t.Fatal(err)
	}
	if raw, _ := s.Store.Property(Plugin, "old", "web.ingress"); raw != `{"a.io/x":"1","b":"two: parts","c":"3"}` {
		t.Errorf("a legacy file is rewritten as JSON: %s", raw)
	}
	if err := s.Store.SetProperty(Plugin, "old", "web.pod", "garbage"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMeta(s.Store, Annotations, "old", "web", "pod"); err == nil {
		t.Errorf("a file that is neither JSON nor lines must fail, not read as empty")
	}
	for _, bad := range []struct{ proc, resource string }{{"web", ""}, {"web", "pods"}, {"../x", "pod"}, {"", "pod"}} {
		if err := SetMeta(s.Store, Annotations, "a", bad.proc, bad.resource, "k", "v"); err == nil {
			t.Errorf("SetMeta(proc %q, resource %q) must fail", bad.proc, bad.resource)
		}
	}
}

// TestCustomMeta: the four levels merge from the widest to the narrowest,
// per resource type, labels and annotations apart.
func TestCustomMeta(t *testing.T) {
	s := newTestScheduler(t)
	for _, e := range []struct {
		kind                MetaKind
		app, proc, resource string
		key, value          string
	}{
		{Annotations, store.Global, AllProcesses, "deployment", "level", "global-all"},
		{Annotations, store.Global, AllProcesses, "deployment", "only-global", "g"},
		{Annotations, store.Global, "web", "deployment", "level", "global-web"},
		{Annotations, "a", AllProcesses, "deployment", "level", "app-all"},
		{Annotations, "a", AllProcesses, "deployment", "only-app-all", "x"},
		{Annotations, "a", "web", "deployment", "level", "app-web"},
		{Annotations, "a", "web", "pod", "pod-only", "p"},
		{Annotations, "b", "web", "deployment", "other-app", "o"},
		{Labels, "a", "web", "deployment", "team", "web"},
		{Labels, "a", AllProcesses, "deployment", "team", "all"},
		{Labels, store.Global, AllProcesses, "deployment", "env", "prod"},
		{Annotations, "a", AllProcesses, "keda_secret", "k", "v"},
	} {
		if err := SetMeta(s.Store, e.kind, e.app, e.proc, e.resource, e.key, e.value); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name, app, resource, proc string
		labels, annotations       map[string]string
	}{
		{name: "web deployment", app: "a", resource: "deployment", proc: "web",
			labels:      map[string]string{"team": "web", "env": "prod"},
			annotations: map[string]string{"level": "app-web", "only-global": "g", "only-app-all": "x"}},
		{name: "worker deployment", app: "a", resource: "deployment", proc: "worker",
			labels:      map[string]string{"team": "all", "env": "prod"},
			annotations: map[string]string{"level": "app-all", "only-global": "g", "only-app-all": "x"}},
		{name: "other app", app: "b", resource: "deployment", proc: "web",
			labels:      map[string]string{"env": "prod"},
			annotations: map[string]string{"level": "global-web", "only-global": "g", "other-app": "o"}},
		{name: "pod", app: "a", resource: "pod", proc: "web",
			labels: map[string]string{}, annotations: map[string]string{"pod-only": "p"}},
		{name: "app-wide object", app: "a", resource: "serviceaccount", proc: "",
			labels: map[string]string{}, annotations: map[string]string{}},
		{name: "no labels for keda", app: "a", resource: "keda_secret", proc: "web",
			labels: map[string]string{}, annotations: map[string]string{"k": "v"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, a, err := s.customMeta(tt.app, tt.resource, tt.proc)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(l, tt.labels) || !maps.Equal(a, tt.annotations) {
				t.Errorf("customMeta = labels %v annotations %v\nwant labels %v annotations %v", l, a, tt.labels, tt.annotations)
			}
		})
	}
}

func TestCheckMeta(t *testing.T) {
	for _, tt := range []struct {
		kind       MetaKind
		key, value string
		ok         bool
	}{
		{Annotations, "example.com/any", "any value: at all\n", true},
		{Annotations, "plain", "", true},
		{Annotations, "", "x", false},
		{Annotations, "bad key", "x", false},
		{Annotations, Managed, "false", false},
		{Annotations, AnnotationVersion, "1", false},
		{Labels, "team", "core-1.a_b", true},
		{Labels, "team", "has space", false},
		{Labels, LabelName, "x", false},
		{Labels, LabelInstance, "x", false},
		{Labels, "example.com/x", "y", true},
	} {
		if err := CheckMeta(tt.kind, tt.key, tt.value); (err == nil) != tt.ok {
			t.Errorf("CheckMeta(%s, %q, %q) = %v, want ok=%v", tt.kind, tt.key, tt.value, err, tt.ok)
		}
	}
}

// TestListMeta: only annotation (or label) settings are listed, not the
// plugin's other properties whose names end like a resource type.
func TestListMeta(t *testing.T) {
	s := newTestScheduler(t)
	for prop, v := range map[string]string{
		"deploy-timeout":                  "60",
		"chart.cert-manager.deployment":   "x",
		"chart-overrides.traefik.service": `{"a":"b"}`,
		"trigger-auth.aws.pod":            "x",
		"web.unknownkind":                 `{"a":"b"}`,
		"web.deployment":                  `{"a":"1"}`,
		"--global.pod":                    `{"b":"2"}`,
		"labels.web.pod":                  `{"l":"3"}`,
	} {
		if err := s.Store.SetProperty(Plugin, "a", prop, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		kind           MetaKind
		proc, resource string
		want           []MetaEntry
	}{
		{Annotations, "", "", []MetaEntry{{AllProcesses, "pod", "b", "2"}, {"web", "deployment", "a", "1"}}},
		{Annotations, "web", "", []MetaEntry{{"web", "deployment", "a", "1"}}},
		{Annotations, "", "pod", []MetaEntry{{AllProcesses, "pod", "b", "2"}}},
		{Labels, "", "", []MetaEntry{{"web", "pod", "l", "3"}}},
		{Labels, "worker", "", nil},
	} {
		got, err := ListMeta(s.Store, tt.kind, "a", tt.proc, tt.resource)
		slices.SortFunc(got, func(x, y MetaEntry) int { return strings.Compare(x.Proc+x.Resource, y.Proc+y.Resource) })
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ListMeta(%s, %q, %q) = %v, %v; want %v", tt.kind, tt.proc, tt.resource, got, err, tt.want)
		}
	}
	if got, err := ListMeta(s.Store, Annotations, "none", "", ""); err != nil || got != nil {
		t.Errorf("an app without settings: %v, %v", got, err)
	}
}
