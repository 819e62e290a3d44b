package k3s

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// User annotations and labels (scheduler-k3s:annotations:set and
// :labels:set) are kept as Dokku keeps them: one JSON object per process
// type and resource type, in the property "<proc>.<resource>" (labels:
// "labels.<proc>.<resource>") of the app or of --global; the process type
// "--global" means every process type
// (docs/dokku-behaviour.md#k3s-properties).

// MetaKind says which of the two a setting is.
type MetaKind string

// The two kinds of user metadata.
const (
	Annotations MetaKind = "annotations"
	Labels      MetaKind = "labels"
)

// AllProcesses is the process type of settings for every process type.
const AllProcesses = store.Global

// Resource types a user may annotate or label, with Dokku's names; Dokku
// takes no labels for its KEDA objects. Settings for a resource this
// server does not create (cronjob, certificate, keda_*, traefik_*) are
// kept, for a host shared with Dokku, and have no effect here.
var (
	AnnotationResources = []string{
		"certificate", "cronjob", "deployment", "ingress", "job",
		"keda_scaled_object", "keda_secret", "keda_trigger_authentication",
		"pod", "secret", "service", "serviceaccount", "traefik_ingressroute", "traefik_middleware",
	}
	LabelResources = []string{
		"certificate", "cronjob", "deployment", "ingress", "job",
		"pod", "secret", "service", "serviceaccount", "traefik_ingressroute", "traefik_middleware",
	}
)

// Resources are the resource types kind may be set on.
func (k MetaKind) Resources() []string {
	if k == Labels {
		return LabelResources
	}
	return AnnotationResources
}

// CheckResource refuses a resource type kind cannot be set on.
func (k MetaKind) CheckResource(resource string) error {
	if !slices.Contains(k.Resources(), resource) {
		return output.Userf("Invalid resource-type specified: %s, valid resource types include: %s",
			resource, strings.Join(k.Resources(), ", "))
	}
	return nil
}

// reserved are the keys the scheduler sets itself: a user value would
// break its selectors (labels) or ps:restart's per-process rollout.
var reserved = map[MetaKind][]string{
	Labels:      {LabelPartOf, LabelName, LabelInstance},
	Annotations: {Managed, AnnotationVersion},
}

// metaMu serialises the read-modify-write of the settings' files.
var metaMu sync.Mutex

// metaProperty is the property holding kind's settings for proc and
// resource.
func metaProperty(kind MetaKind, proc, resource string) string {
	p := proc + "." + resource
	if kind == Labels {
		return "labels." + p
	}
	return p
}

// checkScope refuses a process type or resource type that cannot name a
// setting (a path separator would leave the plugin's directory).
func checkScope(kind MetaKind, proc, resource string) error {
	if resource == "" {
		return output.Userf("Missing resource-type")
	}
	if err := kind.CheckResource(resource); err != nil {
		return err
	}
	if proc == "" || strings.ContainsAny(proc, "/\\\x00") || strings.HasPrefix(proc, ".") {
		return output.Userf("Invalid process-type specified: %q", proc)
	}
	return nil
}

// Kubernetes' rules for keys and label values, said briefly.
const (
	keyRule        = "a name of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, optionally after a DNS subdomain and '/', such as example.com/owner"
	labelValueRule = "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
)

// CheckMeta checks a key and value of kind: Kubernetes' rules, so that
// the next deploy cannot fail on them, and no key the scheduler sets.
func CheckMeta(kind MetaKind, key, value string) error {
	if key == "" {
		return output.Userf("No key specified")
	}
	if slices.Contains(reserved[kind], key) {
		return output.Userf("Invalid key specified: %s is set by the scheduler", key)
	}
	if len(validation.IsQualifiedName(key)) > 0 {
		return output.Userf("Invalid key specified: %s (%s)", key, keyRule)
	}
	if kind == Labels && len(validation.IsValidLabelValue(value)) > 0 {
		return output.Userf("Invalid label value specified: %s (%s)", value, labelValueRule)
	}
	return nil
}

// ReadMeta is kind's settings of app (or --global) for proc (or
// AllProcesses) and resource; an empty map when there are none. Dokku's
// older "key: value" lines are read too.
func ReadMeta(st *store.Store, kind MetaKind, app, proc, resource string) (map[string]string, error) {
	if err := checkScope(kind, proc, resource); err != nil {
		return nil, err
	}
	prop := metaProperty(kind, proc, resource)
	raw, err := st.Property(Plugin, app, prop)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if strings.TrimSpace(raw) == "" {
		return m, nil
	}
	if json.Unmarshal([]byte(raw), &m) == nil {
		return m, nil
	}
	m = map[string]string{}
	for line := range strings.SplitSeq(raw, "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, fmt.Errorf("%s %s of %s: neither JSON nor key: value lines", Plugin, prop, app)
		}
		m[k] = v
	}
	return m, nil
}

// SetMeta sets key to value in kind's settings of app (or --global) for
// proc (or AllProcesses) and resource; an empty value removes the key.
// The caller checks key and value (CheckMeta).
func SetMeta(st *store.Store, kind MetaKind, app, proc, resource, key, value string) error {
	metaMu.Lock()
	defer metaMu.Unlock()
	m, err := ReadMeta(st, kind, app, proc, resource)
	if err != nil {
		return err
	}
	if _, had := m[key]; value == "" && !had {
		return nil
	}
	if value == "" {
		delete(m, key)
	} else {
		m[key] = value
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s settings: %w", kind, err)
	}
	return st.SetProperty(Plugin, app, metaProperty(kind, proc, resource), string(b))
}

// customMeta is the user's labels and annotations for app's resource of
// process type proc, merged from the widest setting to the narrowest, the
// later winning: --global for every process, --global for proc, app for
// every process (Dokku's "global" process type), app for proc. The caller
// merges them over the object's own, keeping its selector labels.
func (s *Scheduler) customMeta(app, resource, proc string) (labels, annotations map[string]string, err error) {
	merge := func(kind MetaKind) (map[string]string, error) {
		out := map[string]string{}
		if !slices.Contains(kind.Resources(), resource) {
			return out, nil
		}
		for _, level := range []struct{ app, proc string }{
			{store.Global, AllProcesses}, {store.Global, proc}, {app, AllProcesses}, {app, proc},
		} {
			if level.proc == "" {
				continue
			}
			m, err := ReadMeta(s.Store, kind, level.app, level.proc, resource)
			if err != nil {
				return nil, err
			}
			maps.Copy(out, m)
		}
		return out, nil
	}
	if labels, err = merge(Labels); err != nil {
		return nil, nil, err
	}
	if annotations, err = merge(Annotations); err != nil {
		return nil, nil, err
	}
	return labels, annotations, nil
}

// MetaEntry is one stored annotation or label.
type MetaEntry struct {
	Proc     string // a process type, or AllProcesses
	Resource string
	Key      string
	Value    string
}

// notMeta are Dokku's property prefixes whose names can end like a
// resource type without being annotations.
var notMeta = []string{"chart.", "chart-overrides.", "labels.", "node-profile-", "node-sysctls.", "trigger-auth."}

// ListMeta is every annotation (or label) stored for app (or --global),
// in no particular order; proc and resource, when not empty, filter.
func ListMeta(st *store.Store, kind MetaKind, app, proc, resource string) ([]MetaEntry, error) {
	ents, err := os.ReadDir(filepath.Join(st.Paths.LibDir, "config", Plugin, app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s settings: %w", kind, err)
	}
	var out []MetaEntry
	for _, e := range ents {
		name := e.Name()
		if kind == Labels {
			var ok bool
			if name, ok = strings.CutPrefix(name, "labels."); !ok {
				continue
			}
		} else if slices.ContainsFunc(notMeta, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		dot := strings.LastIndex(name, ".")
		if dot <= 0 || e.IsDir() {
			continue
		}
		p, r := name[:dot], name[dot+1:]
		if !slices.Contains(kind.Resources(), r) || (proc != "" && p != proc) || (resource != "" && r != resource) {
			continue
		}
		m, err := ReadMeta(st, kind, app, p, r)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out = append(out, MetaEntry{Proc: p, Resource: r, Key: k, Value: v})
		}
	}
	return out, nil
}
