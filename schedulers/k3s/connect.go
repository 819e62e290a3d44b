package k3s

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Time limits of API calls: no call may hang on a cluster that went away.
const (
	// APITimeout bounds every request that is not a stream (get, list,
	// apply, delete).
	APITimeout = 20 * time.Second
	// dialTimeout bounds connecting, streams included (watch, logs,
	// attach, exec), whose length is bounded by their context instead.
	dialTimeout = 5 * time.Second
)

// Managed is Dokku's label and annotation on what it manages
// (dokku.com/managed: "true").
const Managed = "dokku.com/managed"

// cluster is a connection to the app's cluster and namespace.
type cluster struct {
	// cs is for requests that end (APITimeout each); stream for those
	// that last as long as their context (watches, logs, attach, exec).
	cs, stream kubernetes.Interface
	config     *rest.Config // stream's config, for remotecommand
	ns         string
	server     string // the API server's URL, for messages
}

// kubeconfigFiles are the kubeconfig files the scheduler reads: the
// kubeconfig-path property; else k3s' own file when it exists; else
// $KUBECONFIG's files (a list, as kubectl reads it); else k3s' path, which
// is then reported missing.
func kubeconfigFiles(st *store.Store) ([]string, error) {
	p, err := st.ComputedProperty(Plugin, store.Global, "kubeconfig-path", "")
	if err != nil {
		return nil, fmt.Errorf("reading %s kubeconfig-path: %w", Plugin, err)
	}
	if p != "" {
		return []string{p}, nil
	}
	if _, err := os.Stat(DefaultKubeconfigPath); err == nil {
		return []string{DefaultKubeconfigPath}, nil
	}
	var files []string
	for _, f := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) > 0 {
		return files, nil
	}
	return []string{DefaultKubeconfigPath}, nil
}

// KubeconfigPath is the computed kubeconfig-path (scheduler-k3s:report):
// the file, or $KUBECONFIG's list, the scheduler reads.
func KubeconfigPath(st *store.Store) (string, error) {
	files, err := kubeconfigFiles(st)
	if err != nil {
		return "", err
	}
	return strings.Join(files, string(filepath.ListSeparator)), nil
}

// loadKubeconfig reads files (merged in order, as kubectl merges
// $KUBECONFIG) into a client config for context kctx ("" for the files'
// current context). At least one file must exist.
func loadKubeconfig(files []string, kctx string) (clientcmd.ClientConfig, error) {
	shown := strings.Join(files, string(filepath.ListSeparator))
	found := false
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			found = true
		}
	}
	if !found {
		return nil, output.Userf("No kubeconfig found at %s: set one with scheduler-k3s:set --global kubeconfig-path PATH", shown)
	}
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: files}
	if len(files) == 1 {
		// An explicit path fails on a file it cannot read, where a
		// precedence list would skip it silently.
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: files[0]}
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kctx}), nil
}

// CheckKubeconfig is scheduler-k3s:set kubeconfig-path's check: path is a
// kubeconfig file that parses and names a current context or at least
// one context.
func CheckKubeconfig(path string) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return output.Userf("Invalid kubeconfig-path value specified: %s (no such file)", path)
	}
	// The parser's error is not shown: it can quote the file, which
	// need not be a kubeconfig at all.
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return output.Userf("Invalid kubeconfig-path value specified: %s (not a kubeconfig file)", path)
	}
	if len(cfg.Contexts) == 0 {
		return output.Userf("Invalid kubeconfig-path value specified: %s (it names no context)", path)
	}
	return nil
}

// KubeContexts lists the contexts of the kubeconfig the scheduler reads
// (scheduler-k3s:set kube-context warns about a name not among them).
func KubeContexts(st *store.Store) ([]string, error) {
	files, err := kubeconfigFiles(st)
	if err != nil {
		return nil, err
	}
	cc, err := loadKubeconfig(files, "")
	if err != nil {
		return nil, err
	}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, output.Userf("Unable to load kubeconfig %s: %v", strings.Join(files, string(filepath.ListSeparator)), err)
	}
	names := make([]string, 0, len(raw.Contexts))
	for n := range raw.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// restConfig loads the kubeconfig with the kube-context property.
func (s *Scheduler) restConfig() (*rest.Config, error) {
	files, err := kubeconfigFiles(s.Store)
	if err != nil {
		return nil, err
	}
	kctx, err := s.prop(store.Global, "kube-context")
	if err != nil {
		return nil, err
	}
	cc, err := loadKubeconfig(files, kctx)
	if err != nil {
		return nil, err
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, output.Userf("Unable to load kubeconfig %s: %v", strings.Join(files, string(filepath.ListSeparator)), err)
	}
	cfg.UserAgent = "dokku-sshd"
	cfg.Dial = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}).DialContext
	return cfg, nil
}

// connect opens app's cluster and makes sure its namespace exists.
func (s *Scheduler) connect(ctx context.Context, app string) (*cluster, error) {
	cfg, err := s.restConfig()
	if err != nil {
		return nil, err
	}
	ns, err := s.prop(app, "namespace")
	if err != nil {
		return nil, err
	}
	stream, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	short := rest.CopyConfig(cfg)
	short.Timeout = APITimeout
	cs, err := kubernetes.NewForConfig(short)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	c := &cluster{cs: cs, stream: stream, config: cfg, ns: ns, server: cfg.Host}
	if err := c.ensureNamespace(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// ensureNamespace creates the namespace when it is missing, with Dokku's
// managed label and annotation; one that exists is left as it is.
func (c *cluster) ensureNamespace(ctx context.Context) error {
	_, err := c.cs.CoreV1().Namespaces().Get(ctx, c.ns, metav1.GetOptions{})
	if err == nil || apierrors.IsForbidden(err) {
		// A credential confined to the namespace may not read it: the
		// namespace is then taken to exist, and the first write into it
		// says otherwise.
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return c.fail("reading namespace "+c.ns, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        c.ns,
		Labels:      map[string]string{Managed: "true"},
		Annotations: map[string]string{Managed: "true"},
	}}
	_, err = c.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return c.fail("creating namespace "+c.ns, err)
	}
	return nil
}

// fail turns an API error into what the user is told: what was being
// done, the API server and the cause. A server that cannot be reached
// says so; an API refusal keeps the server's own message.
func (c *cluster) fail(doing string, err error) error {
	if err == nil {
		return nil
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return output.Userf("Kubernetes API server %s refused %s: %s%w", c.server, doing, status.Status().Message, silent{err})
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return output.Userf("Unable to reach the Kubernetes API server at %s while %s: %w", c.server, doing, err)
}

// silent wraps an error for errors.Is and errors.As and prints nothing:
// the message already says what it holds.
type silent struct{ error }

func (silent) Error() string   { return "" }
func (s silent) Unwrap() error { return s.error }
