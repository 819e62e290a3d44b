package k3s

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dokku-sshd/certs"
	"dokku-sshd/domains"
	"dokku-sshd/schedulers"
)

// testKeyPair is a self-signed certificate for host and its key.
func testKeyPair(t *testing.T, host string) (crt, key []byte) {
	t.Helper()
	crt, key, err := certs.SelfSigned([]string{host}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return crt, key
}

// certsCall runs CertsUpdated (crt not nil) or CertsRemoved and returns
// its output and error.
func (f *ingressFixture) certsCall(crt, key []byte) (string, error) {
	f.t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	if crt != nil {
		err = f.s.CertsUpdated(ctx, f.app, crt, key, &out)
	} else {
		err = f.s.CertsRemoved(ctx, f.app, &out)
	}
	return out.String(), err
}

// tlsSecret returns Secret tls-shop, nil when there is none.
func (f *ingressFixture) tlsSecret() *corev1.Secret {
	f.t.Helper()
	sec, err := f.cs.CoreV1().Secrets(f.ns).Get(context.Background(), "tls-shop", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return sec
}

func (f *ingressFixture) certImported() string {
	f.t.Helper()
	v, err := f.s.Store.Property(Plugin, f.app, "tls-cert-imported")
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// TestImportedCertificate: certs:add, certs:update and certs:remove as
// the k3s scheduler sees them, on a real API server. Each step starts
// from what the one before left.
func TestImportedCertificate(t *testing.T) {
	f := newIngressFixture(t)
	crt1, key1 := testKeyPair(t, "shop.example.com")
	crt2, key2 := testKeyPair(t, "shop.example.com")
	const (
		syncing  = "-----> Syncing TLS certificate for shop to kubernetes\n-----> Installing TLS certificate for shop\n"
		updating = "-----> Updating the ingresses of shop\n"
		removing = "-----> Removing TLS certificate for shop\n"
	)

	// Never deployed, its namespace not made yet: the Secret and the
	// namespace are made, no Ingress is.
	if err := schedulers.ForgetDeployed(f.s.Store, f.app); err != nil {
		t.Fatal(err)
	}
	out, err := f.certsCall(crt1, key1)
	if err != nil || out != syncing {
		t.Fatalf("add before a deploy: %v\n%q, want %q", err, out, syncing)
	}
	sec := f.tlsSecret()
	if sec == nil || sec.Type != corev1.SecretTypeTLS || !bytes.Equal(sec.Data["tls.crt"], crt1) || !bytes.Equal(sec.Data["tls.key"], key1) || len(sec.Data) != 2 {
		t.Fatalf("secret after add: %+v", sec)
	}
	if sec.Labels[LabelPartOf] != "shop" || sec.Labels["dokku.com/cert-source"] != "imported" || sec.Annotations[Managed] != "true" {
		t.Errorf("secret metadata: labels %v annotations %v", sec.Labels, sec.Annotations)
	}
	if v := f.certImported(); v != "true" {
		t.Errorf("tls-cert-imported = %q after add, want true", v)
	}
	if names := f.names(); len(names) != 0 {
		t.Errorf("ingresses of an app never deployed: %q", names)
	}

	// Deployed, with a domain: an update replaces the data and the
	// Ingress names the Secret at once.
	if err := schedulers.SaveDeployed(f.s.Store, f.app, &schedulers.Deployed{Image: "x"}); err != nil {
		t.Fatal(err)
	}
	f.service("http-80-5000")
	if _, err := domains.Add(f.s.Store, f.app, []string{"shop.example.com"}); err != nil {
		t.Fatal(err)
	}
	out, err = f.certsCall(crt2, key2)
	if err != nil || !strings.HasPrefix(out, syncing+updating) {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if sec := f.tlsSecret(); sec == nil || !bytes.Equal(sec.Data["tls.crt"], crt2) || !bytes.Equal(sec.Data["tls.key"], key2) {
		t.Errorf("secret after update: %+v", sec)
	}
	ing := f.ingresses()["shop-web-shop-example-com"]
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "tls-shop" || len(ing.Spec.TLS[0].Hosts) != 1 || ing.Spec.TLS[0].Hosts[0] != "shop.example.com" {
		t.Errorf("ingress tls after update: %+v", ing.Spec.TLS)
	}
	if ing.Annotations[annotationSSLRedirect] != "true" {
		t.Errorf("ingress annotations after update: %v", ing.Annotations)
	}

	// Removed: the Secret and the property go, the Ingress has no TLS.
	out, err = f.certsCall(nil, nil)
	if err != nil || !strings.HasPrefix(out, removing+updating) {
		t.Fatalf("remove: %v\n%s", err, out)
	}
	if sec := f.tlsSecret(); sec != nil {
		t.Errorf("secret left after remove: %+v", sec)
	}
	if v := f.certImported(); v != "" {
		t.Errorf("tls-cert-imported = %q after remove", v)
	}
	if ing := f.ingresses()["shop-web-shop-example-com"]; len(ing.Spec.TLS) != 0 {
		t.Errorf("ingress tls after remove: %+v", ing.Spec.TLS)
	}

	// Removed again: nothing to do, nothing said.
	if out, err = f.certsCall(nil, nil); err != nil || out != "" {
		t.Errorf("second remove: %v %q", err, out)
	}

	// apps:destroy takes the Secret with the app.
	if _, err := f.certsCall(crt1, key1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := f.s.Destroy(ctx, f.app); err != nil {
		t.Fatal(err)
	}
	if sec := f.tlsSecret(); sec != nil {
		t.Errorf("secret left after destroy: %+v", sec)
	}
}
