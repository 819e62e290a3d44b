package k3s

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// uniqueName is name with a random suffix, for objects in the shared
// cluster.
func uniqueName(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return name + "-" + hex.EncodeToString(b)
}

// clusterScheduler is a scheduler whose kubeconfig-path is kubeconfig.
func clusterScheduler(t *testing.T, kubeconfig string) *Scheduler {
	t.Helper()
	s := newTestScheduler(t)
	if err := s.Store.SetProperty(Plugin, store.Global, "kubeconfig-path", kubeconfig); err != nil {
		t.Fatal(err)
	}
	return s
}

// deleteNamespace removes ns at the end of the test.
func deleteNamespace(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Cleanup(func() {
		err := cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", ns, err)
		}
	})
}

// TestNamespaceOnCluster: the app's namespace is the app's, else the
// global, else "default"; a missing one is created with Dokku's managed
// label and annotation, an existing one is left as it is.
func TestNamespaceOnCluster(t *testing.T) {
	c := k8stest.Shared(t)
	admin := c.Clientset()
	ctx := context.Background()
	own, shared, existing := uniqueName("props-own"), uniqueName("props-shared"), uniqueName("props-existing")
	for _, ns := range []string{own, shared, existing} {
		deleteNamespace(t, admin, ns)
	}
	pre := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: existing, Labels: map[string]string{"team": "x"}}}
	if _, err := admin.CoreV1().Namespaces().Create(ctx, pre, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, appNS, globalNS, want string
		created                     bool
	}{
		{name: "default", want: "default"},
		{name: "global", globalNS: shared, want: shared, created: true},
		{name: "app over global", appNS: own, globalNS: shared, want: own, created: true},
		{name: "again", appNS: own, want: own, created: true},
		{name: "existing", appNS: existing, want: existing},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := clusterScheduler(t, c.Kubeconfig)
			for app, ns := range map[string]string{"app": tt.appNS, store.Global: tt.globalNS} {
				if err := s.Store.SetProperty(Plugin, app, "namespace", ns); err != nil {
					t.Fatal(err)
				}
			}
			cl, err := s.connect(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			if cl.ns != tt.want || cl.server != c.Server {
				t.Fatalf("connect: namespace %s server %s; want %s %s", cl.ns, cl.server, tt.want, c.Server)
			}
			got, err := admin.CoreV1().Namespaces().Get(ctx, tt.want, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			managed := got.Labels[Managed] == "true" && got.Annotations[Managed] == "true"
			if managed != tt.created {
				t.Errorf("namespace %s: labels %v annotations %v; created by the scheduler: %v", tt.want, got.Labels, got.Annotations, tt.created)
			}
			if tt.name == "existing" && got.Labels["team"] != "x" {
				t.Errorf("an existing namespace was changed: %v", got.Labels)
			}
		})
	}
}

// kubeconfigAs writes a kubeconfig for c acting as user (impersonated by
// the admin token, which the API server's RBAC then judges as user).
func kubeconfigAs(t *testing.T, c *k8stest.Cluster, user string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: c.Token, Impersonate: user}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "x"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfinedCredential: a credential that may not read namespaces
// takes its namespace as there; one that may read but not create them is
// refused with the API server's own message.
func TestConfinedCredential(t *testing.T) {
	c := k8stest.Shared(t)
	admin := c.Clientset()
	ctx := context.Background()
	reader := uniqueName("props-reader")
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: reader},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: reader},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: reader},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: reader}}}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), reader, metav1.DeleteOptions{})
		_ = admin.RbacV1().ClusterRoles().Delete(context.Background(), reader, metav1.DeleteOptions{})
	})
	missing := uniqueName("props-missing")
	for _, tt := range []struct {
		name, user, want string
	}{
		{name: "no rights on namespaces", user: uniqueName("props-nobody")},
		{name: "may read, not create", user: reader,
			want: "Kubernetes API server " + c.Server + " refused creating namespace " + missing + `: namespaces is forbidden: User "` + reader + `" cannot create resource "namespaces"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := clusterScheduler(t, kubeconfigAs(t, c, tt.user))
			if err := s.Store.SetProperty(Plugin, "app", "namespace", missing); err != nil {
				t.Fatal(err)
			}
			_, err := s.connect(ctx, "app")
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("connect = %v", err)
			case tt.want != "" && (!output.IsUserError(err) || !strings.HasPrefix(err.Error(), tt.want)):
				t.Fatalf("connect = %v\nwant a message for the user starting %q", err, tt.want)
			}
			if _, err := admin.CoreV1().Namespaces().Get(ctx, missing, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("namespace %s must not have been created: %v", missing, err)
			}
		})
	}
}

// TestAPIServerGoesAway: with the API server stopped, connect fails with
// the server and the cause, within the timeouts; once it is back, connect
// works again.
func TestAPIServerGoesAway(t *testing.T) {
	c := k8stest.Start(t)
	s := clusterScheduler(t, c.Kubeconfig)
	if _, err := s.connect(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	c.StopAPIServer()
	err := connectErr(t, s, "app")
	want := "Unable to reach the Kubernetes API server at " + c.Server + " while reading namespace default: "
	if !output.IsUserError(err) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("connect with the API server stopped = %v\nwant a message starting %q, saying connection refused", err, want)
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := connectErr(t, s, "app"); err != nil {
		t.Fatalf("connect after the API server came back: %v", err)
	}
}
