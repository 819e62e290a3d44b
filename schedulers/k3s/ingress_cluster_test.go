package k3s

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"dokku-sshd/domains"
	"dokku-sshd/internal/k8stest"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// ingressFixture is an app "deployed" to the shared cluster as far as its
// Ingresses care: a release record and the web Service the deploy makes.
type ingressFixture struct {
	t   *testing.T
	s   *Scheduler
	cs  kubernetes.Interface
	ns  string
	app string
}

func newIngressFixture(t *testing.T) *ingressFixture {
	t.Helper()
	cluster := k8stest.Shared(t)
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f := &ingressFixture{t: t, s: New(st, nil, nil), cs: cluster.Clientset(),
		ns: fmt.Sprintf("domains-%d", time.Now().UnixNano()), app: "shop"}
	mustSet(t, st, store.Global, "kubeconfig-path", cluster.Kubeconfig)
	mustSet(t, st, f.app, "namespace", f.ns)
	if err := st.CreateApp(f.app, 1); err != nil {
		t.Fatal(err)
	}
	if err := schedulers.SaveDeployed(st, f.app, &schedulers.Deployed{Image: "x"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.cs.CoreV1().Namespaces().Delete(context.Background(), f.ns, metav1.DeleteOptions{})
	})
	return f
}

// service creates (or replaces) the web Service with the named ports, as
// the deploy would.
func (f *ingressFixture) service(ports ...string) {
	f.t.Helper()
	ctx := context.Background()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: f.app + "-web", Labels: objectLabels(f.app, "web")},
		Spec:       corev1.ServiceSpec{Selector: objectLabels(f.app, "web")},
	}
	for i, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: p, Port: int32(8000 + i), TargetPort: intstr.FromInt32(5000)})
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}
	if _, err := f.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		f.t.Fatal(err)
	}
	_ = f.cs.CoreV1().Services(f.ns).Delete(ctx, svc.Name, metav1.DeleteOptions{})
	if len(ports) == 0 {
		return
	}
	if _, err := f.cs.CoreV1().Services(f.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// update runs what the domains commands run after a change, and returns
// its output.
func (f *ingressFixture) update() string {
	f.t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := f.s.DomainsUpdated(ctx, f.app, &out); err != nil {
		f.t.Fatalf("DomainsUpdated: %v\n%s", err, out.String())
	}
	return out.String()
}

// ingresses returns the namespace's Ingresses by name.
func (f *ingressFixture) ingresses() map[string]networkingv1.Ingress {
	f.t.Helper()
	list, err := f.cs.NetworkingV1().Ingresses(f.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	m := map[string]networkingv1.Ingress{}
	for _, ing := range list.Items {
		m[ing.Name] = ing
	}
	return m
}

func (f *ingressFixture) names() []string {
	return slices.Sorted(maps.Keys(f.ingresses()))
}

// TestIngressesFollowDomains changes an app's domains, TLS settings and
// Service on a real API server and checks the Ingresses after each
// DomainsUpdated, as the domains commands call it. Each step starts from
// what the one before left.
func TestIngressesFollowDomains(t *testing.T) {
	f := newIngressFixture(t)
	f.domainsAdded()
	f.letsencryptIssuers()
	f.userMetadata()
	f.classDomainAndTLSChanged()
	f.disabledAndEnabled()
}

// domainsAdded: an Ingress per domain of the web Service, on its https
// port, with no TLS; an unchanged apply leaves it alone.
func (f *ingressFixture) domainsAdded() {
	t, st := f.t, f.s.Store
	f.service("http-80-5000", "https-443-5000")
	if _, err := domains.Add(st, f.app, []string{"shop.example.com", "*.shop.org", "_"}); err != nil {
		t.Fatal(err)
	}
	out := f.update()
	if want := []string{"shop-web-shop-example-com", "shop-web-wildcard-shop-org"}; !slices.Equal(f.names(), want) {
		t.Fatalf("ingresses = %q, want %q\n%s", f.names(), want, out)
	}
	for _, line := range []string{
		"-----> Updating the ingresses of shop\n",
		" !     Skipping domain _: the catch-all name has no meaning for an Ingress\n",
		"       Ingress shop-web-shop-example-com: shop.example.com -> shop-web\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	ing := f.ingresses()["shop-web-wildcard-shop-org"]
	checkIngress(t, ing, "*.shop.org", "nginx", "https-443-5000")
	if len(ing.Spec.TLS) != 0 || ing.Annotations[annotationSSLRedirect] != "" {
		t.Errorf("TLS without letsencrypt: %+v %v", ing.Spec.TLS, ing.Annotations)
	}
	rv := ing.ResourceVersion

	// Nothing changed: server-side apply leaves the object alone.
	f.update()
	if got := f.ingresses()["shop-web-wildcard-shop-org"].ResourceVersion; got != rv {
		t.Errorf("an unchanged apply changed the ingress: resourceVersion %s -> %s", rv, got)
	}
}

// letsencryptIssuers: TLS through cert-manager once a letsencrypt email
// is set.
func (f *ingressFixture) letsencryptIssuers() {
	t, st := f.t, f.s.Store
	// letsencrypt-email-prod, the global one: ClusterIssuer letsencrypt-prod.
	mustSet(t, st, store.Global, "letsencrypt-email-prod", "ops@example.com")
	f.update()
	for _, ing := range f.ingresses() {
		checkTLS(t, ing, annotationClusterIssuer, "letsencrypt-prod", []string{"*.shop.org", "shop.example.com"})
	}
	// The app's own email: its own Issuer.
	mustSet(t, st, f.app, "letsencrypt-email-prod", "me@example.com")
	f.update()
	for _, ing := range f.ingresses() {
		checkTLS(t, ing, annotationIssuer, "shop-letsencrypt-prod", []string{"*.shop.org", "shop.example.com"})
		if _, ok := ing.Annotations[annotationClusterIssuer]; ok {
			t.Errorf("%s keeps the cluster-issuer annotation: %v", ing.Name, ing.Annotations)
		}
	}
}

// userMetadata: the user's annotations and labels
// (scheduler-k3s:annotations:set, labels:set) are on the Ingress, and gone
// again when unset.
func (f *ingressFixture) userMetadata() {
	t, st := f.t, f.s.Store
	const bodySize = "nginx.ingress.kubernetes.io/proxy-body-size"
	for _, m := range []struct {
		kind           MetaKind
		app, proc, key string
	}{{Annotations, f.app, "web", bodySize}, {Labels, store.Global, AllProcesses, "team"}} {
		if err := SetMeta(st, m.kind, m.app, m.proc, "ingress", m.key, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	f.update()
	ing := f.ingresses()["shop-web-shop-example-com"]
	if ing.Annotations[bodySize] != "v1" || ing.Labels["team"] != "v1" || ing.Annotations[Managed] != "true" {
		t.Errorf("user metadata: annotations %v labels %v", ing.Annotations, ing.Labels)
	}
	if err := SetMeta(st, Annotations, f.app, "web", "ingress", bodySize, ""); err != nil {
		t.Fatal(err)
	}
	f.update()
	if ing = f.ingresses()["shop-web-shop-example-com"]; ing.Annotations[bodySize] != "" || ing.Labels["team"] != "v1" {
		t.Errorf("after unset: annotations %v labels %v", ing.Annotations, ing.Labels)
	}
}

// classDomainAndTLSChanged: another class, a removed domain, TLS off
// again: the fields no longer applied go.
func (f *ingressFixture) classDomainAndTLSChanged() {
	t, st := f.t, f.s.Store
	mustSet(t, st, store.Global, "ingress-class", "traefik")
	mustSet(t, st, f.app, "letsencrypt-server", "false")
	if err := domains.Remove(st, f.app, []string{"*.shop.org"}); err != nil {
		t.Fatal(err)
	}
	out := f.update()
	if want := []string{"shop-web-shop-example-com"}; !slices.Equal(f.names(), want) {
		t.Fatalf("after remove: ingresses = %q, want %q", f.names(), want)
	}
	if !strings.Contains(out, "       Removed ingress shop-web-wildcard-shop-org\n") {
		t.Errorf("output lacks the removal:\n%s", out)
	}
	ing := f.ingresses()["shop-web-shop-example-com"]
	checkIngress(t, ing, "shop.example.com", "traefik", "https-443-5000")
	if len(ing.Spec.TLS) != 0 || ing.Annotations[annotationIssuer] != "" || ing.Annotations[annotationSSLRedirect] != "" {
		t.Errorf("TLS left after letsencrypt-server false: %+v %v", ing.Spec.TLS, ing.Annotations)
	}
}

// disabledAndEnabled: someone else's Ingress of the app stays and ours go
// when domains are disabled; enabled again, they follow the Service's
// ports.
func (f *ingressFixture) disabledAndEnabled() {
	t, st := f.t, f.s.Store
	foreign := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "hand-made",
		Labels: map[string]string{LabelPartOf: f.app}}, Spec: ingressSpecTo("hand.example.com", "shop-web")}
	if _, err := f.cs.NetworkingV1().Ingresses(f.ns).Create(context.Background(), foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := domains.Disable(st, f.app); err != nil {
		t.Fatal(err)
	}
	f.update()
	if want := []string{"hand-made"}; !slices.Equal(f.names(), want) {
		t.Fatalf("after disable: ingresses = %q, want %q", f.names(), want)
	}

	// Enabled again with a Service that has only a plain port: that port.
	// Without a Service: none.
	if err := domains.Set(st, f.app, []string{"shop.example.com"}); err != nil {
		t.Fatal(err)
	}
	f.service("tcp-9000-9000")
	f.update()
	checkIngress(t, f.ingresses()["shop-web-shop-example-com"], "shop.example.com", "traefik", "tcp-9000-9000")
	f.service()
	f.update()
	if want := []string{"hand-made"}; !slices.Equal(f.names(), want) {
		t.Fatalf("without a service: ingresses = %q, want %q", f.names(), want)
	}
}

// TestDomainsUpdatedNotDeployed: an app with no release is not routed, and
// the cluster is not even asked (its namespace is not made).
func TestDomainsUpdatedNotDeployed(t *testing.T) {
	f := newIngressFixture(t)
	if err := schedulers.ForgetDeployed(f.s.Store, f.app); err != nil {
		t.Fatal(err)
	}
	if _, err := domains.Add(f.s.Store, f.app, []string{"shop.example.com"}); err != nil {
		t.Fatal(err)
	}
	if out := f.update(); out != "" {
		t.Errorf("output for an app not deployed: %q", out)
	}
	_, err := f.cs.CoreV1().Namespaces().Get(context.Background(), f.ns, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("namespace of an app not deployed: %v", err)
	}
}

func mustSet(t *testing.T, st *store.Store, app, key, value string) {
	t.Helper()
	if err := st.SetProperty(Plugin, app, key, value); err != nil {
		t.Fatal(err)
	}
}

func ingressSpecTo(host, service string) networkingv1.IngressSpec {
	pt := networkingv1.PathTypePrefix
	return networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
		HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pt,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: service,
				Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}
}

// checkIngress checks Dokku's labels, annotations, class and the one rule.
func checkIngress(t *testing.T, ing networkingv1.Ingress, host, class, port string) {
	t.Helper()
	for k, v := range map[string]string{LabelPartOf: "shop", LabelName: "web", LabelInstance: "shop-web"} {
		if ing.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", ing.Name, k, ing.Labels[k], v)
		}
	}
	for k, v := range map[string]string{Managed: "true", AnnotationIngressMethod: "domains"} {
		if ing.Annotations[k] != v {
			t.Errorf("%s: annotation %s = %q, want %q", ing.Name, k, ing.Annotations[k], v)
		}
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != class {
		t.Errorf("%s: class %v, want %s", ing.Name, ing.Spec.IngressClassName, class)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != host || ing.Spec.Rules[0].HTTP == nil ||
		len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("%s: rules %+v, want one for %s", ing.Name, ing.Spec.Rules, host)
	}
	b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	if b == nil || b.Name != "shop-web" || b.Port.Name != port {
		t.Errorf("%s: backend %+v, want shop-web port %s", ing.Name, b, port)
	}
}

func checkTLS(t *testing.T, ing networkingv1.Ingress, annotation, issuer string, hosts []string) {
	t.Helper()
	if ing.Annotations[annotation] != issuer || ing.Annotations[annotationSSLRedirect] != "true" {
		t.Errorf("%s: annotations %v, want %s=%s and the ssl redirect", ing.Name, ing.Annotations, annotation, issuer)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "tls-shop-web" || !slices.Equal(ing.Spec.TLS[0].Hosts, hosts) {
		t.Errorf("%s: tls %+v, want secret tls-shop-web for %q", ing.Name, ing.Spec.TLS, hosts)
	}
}

// TestIngressIssuers: Let's Encrypt issuers are made as Dokku makes them
// once cert-manager's API is on the cluster (its CRDs, installed here
// without cert-manager itself), and a warning says so while it is not.
func TestIngressIssuers(t *testing.T) {
	f := newIngressFixture(t)
	st := f.s.Store
	f.service("http-80-5000")
	if _, err := domains.Add(st, f.app, []string{"shop.example.com"}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, st, store.Global, "letsencrypt-email-prod", "ops@example.com")
	out := f.update()
	if !strings.Contains(out, " !     cert-manager is not installed on the cluster: no certificate will be issued for shop until it is\n") {
		t.Errorf("no warning without cert-manager:\n%s", out)
	}
	checkTLS(t, f.ingresses()["shop-web-shop-example-com"], annotationClusterIssuer, "letsencrypt-prod", []string{"shop.example.com"})

	dyn := installCertManagerCRDs(t, k8stest.Shared(t))
	out = f.update()
	if strings.Contains(out, "cert-manager") {
		t.Errorf("warning with cert-manager's API installed:\n%s", out)
	}
	ctx := context.Background()
	ci, err := dyn.Resource(clusterIssuersGVR).Get(ctx, "letsencrypt-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dyn.Resource(clusterIssuersGVR).Delete(ctx, "letsencrypt-prod", metav1.DeleteOptions{}) })
	checkACME(t, ci.Object, "ops@example.com", letsencryptProd, "letsencrypt-prod")

	// The app's own email: its own Issuer, in its namespace.
	mustSet(t, st, f.app, "letsencrypt-email-prod", "me@example.com")
	f.update()
	iss, err := dyn.Resource(issuersGVR).Namespace(f.ns).Get(ctx, "shop-letsencrypt-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkACME(t, iss.Object, "me@example.com", letsencryptProd, "shop-letsencrypt-prod")
	if iss.GetLabels()[LabelPartOf] != "shop" {
		t.Errorf("issuer labels %v", iss.GetLabels())
	}
	checkTLS(t, f.ingresses()["shop-web-shop-example-com"], annotationIssuer, "shop-letsencrypt-prod", []string{"shop.example.com"})

	// Unset again: the app's Issuer goes.
	if err := st.DeleteProperty(Plugin, f.app, "letsencrypt-email-prod"); err != nil {
		t.Fatal(err)
	}
	f.update()
	_, err = dyn.Resource(issuersGVR).Namespace(f.ns).Get(ctx, "shop-letsencrypt-prod", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("the app's issuer is left: %v", err)
	}

	// apps:destroy takes the app's Issuer with it, and the Secrets
	// cert-manager made for it: the certificate and the ACME key.
	mustSet(t, st, f.app, "letsencrypt-email-prod", "me@example.com")
	f.update()
	certSecrets := []string{"tls-shop-web", "shop-letsencrypt-prod"}
	createSecrets(t, f.ns, append(certSecrets, "tls-shopx-web")...)
	if err := f.s.Destroy(ctx, f.app); err != nil {
		t.Fatal(err)
	}
	_, err = dyn.Resource(issuersGVR).Namespace(f.ns).Get(ctx, "shop-letsencrypt-prod", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("destroy left the app's issuer: %v", err)
	}
	cs := k8stest.Shared(t).Clientset()
	for _, name := range certSecrets {
		if _, err := cs.CoreV1().Secrets(f.ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("destroy left secret %s: %v", name, err)
		}
	}
	if _, err := cs.CoreV1().Secrets(f.ns).Get(ctx, "tls-shopx-web", metav1.GetOptions{}); err != nil {
		t.Errorf("destroy of shop took another app's secret: %v", err)
	}
}

// createSecrets makes Secrets as cert-manager does: without any label of
// the app they belong to.
func createSecrets(t *testing.T, ns string, names ...string) {
	t.Helper()
	cs := k8stest.Shared(t).Clientset()
	for _, name := range names {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"k": []byte("v")}}
		if _, err := cs.CoreV1().Secrets(ns).Create(context.Background(), sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func checkACME(t *testing.T, obj map[string]any, email, server, secret string) {
	t.Helper()
	for path, want := range map[string]string{"email": email, "server": server} {
		got, _, _ := unstructured.NestedString(obj, "spec", "acme", path)
		if got != want {
			t.Errorf("spec.acme.%s = %q, want %q", path, got, want)
		}
	}
	if got, _, _ := unstructured.NestedString(obj, "spec", "acme", "privateKeySecretRef", "name"); got != secret {
		t.Errorf("privateKeySecretRef = %q, want %q", got, secret)
	}
	solvers, _, _ := unstructured.NestedSlice(obj, "spec", "acme", "solvers")
	if len(solvers) != 1 {
		t.Fatalf("solvers = %v", solvers)
	}
	if class, _, _ := unstructured.NestedString(solvers[0].(map[string]any), "http01", "ingress", "class"); class != "nginx" {
		t.Errorf("solver class = %q, want nginx", class)
	}
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCertManagerCRDs installs cert-manager's Issuer and ClusterIssuer
// resources (open schemas) for this test and waits until they are served.
func installCertManagerCRDs(t *testing.T, cluster *k8stest.Cluster) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []struct{ plural, kind, scope string }{
		{"issuers", "Issuer", "Namespaced"}, {"clusterissuers", "ClusterIssuer", "Cluster"},
	} {
		name := r.plural + ".cert-manager.io"
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{
				"group": "cert-manager.io", "scope": r.scope,
				"names": map[string]any{"plural": r.plural, "kind": r.kind, "singular": strings.ToLower(r.kind)},
				"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
			},
		}}
		if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteCRD(t, dyn, name) })
	}
	for _, r := range []string{"issuers", "clusterissuers"} {
		waitEstablished(t, dyn, r+".cert-manager.io")
	}
	return dyn
}

// waitEstablished watches the CRD name until the API server serves it
// (condition Established), bounded so that a broken cluster fails.
func waitEstablished(t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := dyn.Resource(crdGVR).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		u, ok := ev.Object.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return
			}
		}
	}
	t.Fatalf("CRD %s not established: %v", name, ctx.Err())
}

// deleteCRD deletes the CRD name and watches until it is gone (its
// objects with it), so that the next test finds no CRD terminating.
func deleteCRD(t *testing.T, dyn dynamic.Interface, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := dyn.Resource(crdGVR).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Error(err)
		return
	}
	defer w.Stop()
	if err := dyn.Resource(crdGVR).Delete(ctx, name, metav1.DeleteOptions{}); apierrors.IsNotFound(err) {
		return
	} else if err != nil {
		t.Error(err)
		return
	}
	for ev := range w.ResultChan() {
		if ev.Type == watch.Deleted {
			return
		}
	}
	t.Errorf("CRD %s not deleted: %v", name, ctx.Err())
}
