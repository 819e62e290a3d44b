package k8stest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// readyTimeout bounds waiting for the control plane to come up; it only
// stops a hang, the plane is usually up in a few seconds.
const readyTimeout = 90 * time.Second

// NodeName is the fake node kwok runs every pod on.
const NodeName = "kwok-node-0"

// Cluster is a running control plane on 127.0.0.1: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok with one fake node.
type Cluster struct {
	// Kubeconfig is a file whose current context is this cluster, as the
	// admin user, namespace default.
	Kubeconfig string
	// Server is the API server's URL, https://127.0.0.1:PORT.
	Server string
	// Token is the admin user's bearer token (group system:masters).
	Token string
	// CAData is the PEM certificate the API server serves, which the
	// kubeconfig trusts.
	CAData []byte
	// ExecDir is the working directory of commands run through pods/exec
	// (kwok runs them on this host, in this directory).
	ExecDir string
	// Dir is the state directory (logs, data, keys); removed at stop.
	Dir string

	bins       string
	pki        *pki
	etcdPort   int
	etcdPeer   int
	apiPort    int
	kwokPort   int
	logFile    string // served as every container's log (pods/log)
	attachFile string // served to every pods/attach

	procs     procs
	mu        sync.Mutex // guards api, and appends to logFile and attachFile
	api       *proc
	stopOnce  sync.Once
	clientset kubernetes.Interface
}

// errPortClash marks a start that failed because a port was taken between
// choosing it and binding it; start then tries again with new ports.
var errPortClash = errors.New("port already in use")

// Start starts a private cluster for this test, stopped when it ends. Use
// it for tests that stop or break the cluster; others share one (Shared).
func Start(t testing.TB) *Cluster {
	t.Helper()
	bins := requireBins(t, controlPlane...)
	c, err := start(bins)
	if err != nil {
		t.Fatalf("k8stest: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// start starts a cluster, retrying with new ports on a port clash.
func start(bins string) (*Cluster, error) {
	for attempt := 1; ; attempt++ {
		c, err := tryStart(bins)
		if err == nil {
			return c, nil
		}
		if attempt < 4 && errors.Is(err, errPortClash) {
			continue
		}
		return nil, err
	}
}

// tryStart starts every component once; on failure it stops what it
// started and says which component failed, with the tail of its log.
func tryStart(bins string) (_ *Cluster, err error) {
	dir, err := newStateDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bins: bins}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	c.etcdPort, c.etcdPeer, c.apiPort, c.kwokPort = ports[0], ports[1], ports[2], ports[3]
	c.Server = "https://127.0.0.1:" + strconv.Itoa(c.apiPort)
	if c.pki, err = writePKI(dir); err != nil {
		return nil, err
	}
	c.Token, c.CAData = c.pki.token, c.pki.caPEM
	if err := c.writeFiles(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := c.startEtcd(); err != nil {
		return nil, err
	}
	if err := c.startAPIServer(ctx); err != nil {
		return nil, err
	}
	if err := c.startControllers(); err != nil {
		return nil, err
	}
	return c, c.waitReady(ctx)
}

// writeFiles writes the kubeconfig, kwok's configuration and the files
// kwok serves as logs and attach output.
func (c *Cluster) writeFiles() error {
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	c.ExecDir = filepath.Join(c.Dir, "exec")
	c.logFile = filepath.Join(c.Dir, "container.log")
	c.attachFile = filepath.Join(c.Dir, "attach.log")
	if err := os.MkdirAll(c.ExecDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(c.logFile, nil, 0o644); err != nil {
		return err
	}
	// Never empty: WaitAttach tells a reader that has found the end of the
	// file from one that has only opened it by its offset.
	if err := os.WriteFile(c.attachFile, []byte(criLine("attach log start")), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "kwok.yaml"), c.kwokConfig(), 0o644); err != nil {
		return err
	}
	return clientcmd.WriteToFile(c.kubeconfig(), c.Kubeconfig)
}

// kubeconfig is the admin's configuration, trusting the serving
// certificate.
func (c *Cluster) kubeconfig() clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.Token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "test"
	return *cfg
}

// RESTConfig returns a client configuration of the admin user.
func (c *Cluster) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            c.Server,
		BearerToken:     c.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
		QPS:             100,
		Burst:           200,
	}
}

// Clientset returns a client of the admin user.
func (c *Cluster) Clientset() kubernetes.Interface {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clientset == nil {
		c.clientset = kubernetes.NewForConfigOrDie(c.RESTConfig())
	}
	return c.clientset
}

// Kubectl returns the path of the kubectl built with the control plane.
// It may be missing; NeedKubectl skips a test that needs it.
func (c *Cluster) Kubectl() string { return filepath.Join(c.bins, "kubectl") }

// NeedKubectl returns kubectl's path, or skips (fails under CI=true).
func NeedKubectl(t testing.TB) string {
	t.Helper()
	return filepath.Join(requireBins(t, "kubectl"), "kubectl")
}

// Stop kills every component and removes the state directory. It is safe
// to call more than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		c.procs.stopAll()
		if c.Dir != "" && os.Getenv("DOKKU_SSHD_K8S_KEEP") == "" {
			_ = os.RemoveAll(c.Dir)
		}
	})
}

// failure wraps err with the first component that died, and marks a port
// clash so that start retries.
func (c *Cluster) failure(doing string, err error) error {
	p := c.procs.dead()
	if p == nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	desc := p.describe()
	if strings.Contains(desc, "address already in use") {
		return fmt.Errorf("%s: %w: %s", doing, errPortClash, desc)
	}
	return fmt.Errorf("%s: %v: %s", doing, err, desc)
}
