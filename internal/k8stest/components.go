package k8stest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func (c *Cluster) bin(name string) string { return filepath.Join(c.bins, name) }

func (c *Cluster) run(name string, args ...string) (*proc, error) {
	p, err := startProc(c.Dir, name, c.bin(name), args...)
	if err != nil {
		return nil, err
	}
	c.procs.add(p)
	return p, nil
}

func (c *Cluster) startEtcd() error {
	client := "http://127.0.0.1:" + strconv.Itoa(c.etcdPort)
	peer := "http://127.0.0.1:" + strconv.Itoa(c.etcdPeer)
	_, err := c.run("etcd",
		"--data-dir", filepath.Join(c.Dir, "etcd"), "--name", "test",
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer,
		"--unsafe-no-fsync", "--quota-backend-bytes", strconv.Itoa(1<<30),
		"--log-level", "warn")
	return err
}

// apiArgs are kube-apiserver's flags: a static token, RBAC, no
// ServiceAccount admission (pods need no token), no endpoint reconciler
// (the advertise address is loopback) and nothing optional.
func (c *Cluster) apiArgs() []string {
	return []string{
		"--etcd-servers", "http://127.0.0.1:" + strconv.Itoa(c.etcdPort),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(c.apiPort),
		"--tls-cert-file", c.pki.certFile, "--tls-private-key-file", c.pki.keyFile,
		"--cert-dir", filepath.Join(c.Dir, "pki"),
		"--token-auth-file", c.pki.tokenFile,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", c.pki.saPub,
		"--service-account-signing-key-file", c.pki.saKey,
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--allow-privileged=true",
		"--disable-admission-plugins", "ServiceAccount",
		"--endpoint-reconciler-type", "none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"-v", "1",
	}
}

// startAPIServer starts kube-apiserver and waits until /readyz answers.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	p, err := c.run("kube-apiserver", c.apiArgs()...)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.api = p
	c.mu.Unlock()
	return c.waitAPI(ctx)
}

// waitAPI polls /readyz until it answers ok or a component dies.
func (c *Cluster) waitAPI(ctx context.Context) error {
	rc := c.Clientset().Discovery().RESTClient()
	for {
		if p := c.procs.dead(); p != nil {
			return c.failure("kube-apiserver did not become ready", errors.New("a component exited"))
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := rc.Get().AbsPath("/readyz").DoRaw(cctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return c.failure("kube-apiserver did not become ready", fmt.Errorf("%w (last: %v)", ctx.Err(), err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startControllers starts kube-controller-manager, kube-scheduler and kwok.
func (c *Cluster) startControllers() error {
	if _, err := c.run("kube-controller-manager",
		"--kubeconfig", c.Kubeconfig, "--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", "0",
		"--service-account-private-key-file", c.pki.saKey,
		"--root-ca-file", c.pki.certFile,
		// No kubelets: node lifecycle would evict every pod, node IPAM
		// has no CIDRs to hand out.
		"--controllers", "*,-node-lifecycle-controller,-node-ipam-controller",
		"--profiling=false", "-v", "1"); err != nil {
		return err
	}
	if _, err := c.run("kube-scheduler",
		"--kubeconfig", c.Kubeconfig, "--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", "0",
		"--profiling=false", "-v", "1"); err != nil {
		return err
	}
	port := strconv.Itoa(c.kwokPort)
	_, err := c.run("kwok",
		"--kubeconfig", c.Kubeconfig,
		"--manage-all-nodes=true",
		"--config", filepath.Join(c.Dir, "kwok.yaml"),
		"--node-ip", "127.0.0.1", "--node-port", port,
		"--cidr", "10.244.0.0/16", // pod addresses: fake, apart from the service range
		"--server-address", "127.0.0.1:"+port,
		"--tls-cert-file", c.pki.certFile, "--tls-private-key-file", c.pki.keyFile)
	return err
}

// waitReady creates the fake node and waits until kwok has made it Ready
// and the controller manager has made the default ServiceAccount.
func (c *Cluster) waitReady(ctx context.Context) error {
	cs := c.Clientset()
	if err := c.createNode(ctx); err != nil {
		return c.failure("create the fake node", err)
	}
	for {
		if p := c.procs.dead(); p != nil {
			return c.failure("control plane did not become ready", errors.New("a component exited"))
		}
		n, nerr := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		_, serr := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if nerr == nil && nodeReady(n) && serr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			var lagging *proc
			if nerr != nil || !nodeReady(n) {
				lagging = c.procByName("kwok")
			} else {
				lagging = c.procByName("kube-controller-manager")
			}
			return fmt.Errorf("control plane not ready after %v (node: %v, default ServiceAccount: %v): %s",
				readyTimeout, nodeState(n, nerr), serr, lagging.describe())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// createNode registers the fake node, then drops the not-ready taint the
// API server adds: no node lifecycle controller runs to remove it.
func (c *Cluster) createNode(ctx context.Context) error {
	cs := c.Clientset()
	res := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods: resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: NodeName,
			Labels: map[string]string{"type": "kwok", "kubernetes.io/hostname": NodeName,
				"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
		},
		Status: corev1.NodeStatus{Allocatable: res, Capacity: res},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err := cs.CoreV1().Nodes().Patch(ctx, NodeName, types.MergePatchType,
		[]byte(`{"spec":{"taints":null}}`), metav1.PatchOptions{})
	return err
}

func nodeReady(n *corev1.Node) bool {
	if n == nil {
		return false
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func nodeState(n *corev1.Node, err error) string {
	if err != nil {
		return err.Error()
	}
	if nodeReady(n) {
		return "Ready"
	}
	return "not Ready"
}

func (c *Cluster) procByName(name string) *proc {
	c.procs.mu.Lock()
	defer c.procs.mu.Unlock()
	for _, p := range c.procs.list {
		if p.name == name {
			return p
		}
	}
	return &proc{name: name, log: filepath.Join(c.Dir, "logs", name+".log"), done: make(chan struct{})}
}

// StopAPIServer kills the API server (its process group); etcd and the
// other components keep running and reconnect after StartAPIServer.
func (c *Cluster) StopAPIServer() {
	c.mu.Lock()
	p := c.api
	c.api = nil
	c.mu.Unlock()
	if p == nil {
		return
	}
	c.procs.remove(p)
	p.stop()
}

// StartAPIServer starts the API server again, on the same port and etcd,
// and waits until it is ready.
func (c *Cluster) StartAPIServer() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return c.startAPIServer(ctx)
}
