package k3s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
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
	short      *http.Client // cs's HTTP client, for other clients of requests that end
	ns         string
	server     string // the API server's URL, for messages
}

// MachineKubeconfig is k3s' own kubeconfig, read when kubeconfig-path is
// not set and the file exists. A variable so that tests on a machine that
// runs k3s can point it elsewhere.
var MachineKubeconfig = DefaultKubeconfigPath

// errNoKubeconfig: none of the kubeconfig files exists.
var errNoKubeconfig = errors.New("no kubeconfig file exists")

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
	if _, err := os.Stat(MachineKubeconfig); err == nil {
		return []string{MachineKubeconfig}, nil
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
	return []string{MachineKubeconfig}, nil
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
// current context). At least one file must exist, else errNoKubeconfig.
func loadKubeconfig(files []string, kctx string) (clientcmd.ClientConfig, error) {
	if !slices.ContainsFunc(files, func(f string) bool { _, err := os.Stat(f); return err == nil }) {
		return nil, errNoKubeconfig
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
// (scheduler-k3s:set kube-context, an admin's command, warns about a name
// not among them; its messages may name the files).
func KubeContexts(st *store.Store) ([]string, error) {
	files, err := kubeconfigFiles(st)
	if err != nil {
		return nil, err
	}
	shown := strings.Join(files, string(filepath.ListSeparator))
	cc, err := loadKubeconfig(files, "")
	if err != nil {
		return nil, output.Userf("No kubeconfig found at %s: set one with scheduler-k3s:set --global kubeconfig-path PATH", shown)
	}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, output.Userf("Unable to load kubeconfig %s: %v", shown, err)
	}
	names := make([]string, 0, len(raw.Contexts))
	for n := range raw.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// User messages of a kubeconfig that cannot be used. Any user of an app
// sees them (logs, run, ps:report): they name no host path, and the
// server's log has the files and the cause.
var (
	errNoKubeconfigUser = output.Userf("No kubeconfig is configured on this server (scheduler-k3s:set --global kubeconfig-path PATH)")
	errKubeconfigGone   = output.Userf("The kubeconfig set on this server (scheduler-k3s:set --global kubeconfig-path) does not exist")
	errBadKubeconfig    = output.Userf("The kubeconfig of this server could not be loaded (see the server's log)")
)

// restConfig loads the kubeconfig with the kube-context property; key
// identifies what it was made from (the files, their contents and the
// context), for the client cache.
func (s *Scheduler) restConfig() (cfg *rest.Config, key string, err error) {
	files, err := kubeconfigFiles(s.Store)
	if err != nil {
		return nil, "", err
	}
	kctx, err := s.prop(store.Global, "kube-context")
	if err != nil {
		return nil, "", err
	}
	cc, err := loadKubeconfig(files, kctx)
	if errors.Is(err, errNoKubeconfig) {
		s.log().Error("no kubeconfig file exists", "files", files)
		if set, _ := s.Store.Property(Plugin, store.Global, "kubeconfig-path"); set != "" {
			return nil, "", errKubeconfigGone
		}
		return nil, "", errNoKubeconfigUser
	}
	if err != nil {
		return nil, "", err
	}
	if cfg, err = cc.ClientConfig(); err != nil {
		s.log().Error("unable to load the kubeconfig", "files", files, "context", kctx, "err", err)
		if raw, rerr := cc.RawConfig(); rerr == nil && kctx != "" && raw.Contexts[kctx] == nil {
			return nil, "", output.Userf("The kubeconfig of this server has no context %q (scheduler-k3s:set --global kube-context)", kctx)
		}
		return nil, "", errBadKubeconfig
	}
	cfg.UserAgent = "dokku-sshd"
	cfg.Dial = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}).DialContext
	return cfg, configKey(files, kctx), nil
}

// configKey identifies a kubeconfig by its files' paths and contents and
// the context: a changed file makes a new key.
func configKey(files []string, kctx string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n", kctx)
	for _, f := range files {
		data, err := os.ReadFile(f)
		fmt.Fprintf(h, "%q %v %d\n", f, err, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// clients are client sets for one kubeconfig, shared by every command: a
// config with a Dial func defeats client-go's transport cache, so a client
// set per command would leave one idle connection to the API server per
// command behind.
type clients struct {
	key        string
	cs, stream kubernetes.Interface
	config     *rest.Config
	short      *http.Client // APITimeout per request
	hc         *http.Client // no timeout, for streams
}

// clientCache holds the clients of the kubeconfig last used; one whose
// kubeconfig changed is replaced, its idle connections closed.
var clientCache struct {
	sync.Mutex
	cur *clients
}

// clientsFor returns the shared clients of cfg (identified by key).
func clientsFor(cfg *rest.Config, key string) (*clients, error) {
	clientCache.Lock()
	defer clientCache.Unlock()
	if cur := clientCache.cur; cur != nil && cur.key == key {
		return cur, nil
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	stream, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	// One transport for both: requests and streams share its connections.
	short := &http.Client{Transport: hc.Transport, Timeout: APITimeout}
	shortCfg := rest.CopyConfig(cfg)
	shortCfg.Timeout = APITimeout
	cs, err := kubernetes.NewForConfigAndClient(shortCfg, short)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	if old := clientCache.cur; old != nil {
		old.hc.CloseIdleConnections()
	}
	clientCache.cur = &clients{key: key, cs: cs, stream: stream, config: cfg, short: short, hc: hc}
	return clientCache.cur, nil
}

// open connects to app's cluster, for what only reads or changes objects
// that exist: a namespace that does not exist holds nothing, and is not
// made.
func (s *Scheduler) open(app string) (*cluster, error) {
	cfg, key, err := s.restConfig()
	if err != nil {
		return nil, err
	}
	ns, err := s.prop(app, "namespace")
	if err != nil {
		return nil, err
	}
	cl, err := clientsFor(cfg, key)
	if err != nil {
		return nil, err
	}
	return &cluster{cs: cl.cs, stream: cl.stream, config: cl.config, short: cl.short, ns: ns, server: cl.config.Host}, nil
}

// connect opens app's cluster and makes sure its namespace exists: for
// what creates objects in it (a deploy, a run).
func (s *Scheduler) connect(ctx context.Context, app string) (*cluster, error) {
	c, err := s.open(app)
	if err != nil {
		return nil, err
	}
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
	// The request's method and URL say nothing a user can act on: the
	// cause is what follows them (connection refused, a timeout).
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	return output.Userf("Unable to reach the Kubernetes API server at %s while %s: %v%w", c.server, doing, cause, silent{err})
}

// silent wraps an error for errors.Is and errors.As and prints nothing:
// the message already says what it holds.
type silent struct{ error }

func (silent) Error() string   { return "" }
func (s silent) Unwrap() error { return s.error }
