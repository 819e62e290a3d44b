package k3s

import (
	"context"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// propCertImported is the property that makes an app's Ingresses name its
// imported certificate's Secret (resolveTLS), set while the Secret exists.
const propCertImported = "tls-cert-imported"

// labelCertSource says where a certificate Secret came from, as Dokku
// labels its imported ones (dokku.com/cert-source: imported).
const labelCertSource = "dokku.com/cert-source"

// TLSSecretName is the Secret of app's imported certificate.
func TLSSecretName(app string) string { return "tls-" + app }

var _ schedulers.CertsUpdater = (*Scheduler)(nil)

// CertsUpdated is Dokku's post-certs-update: Secret tls-APP (type
// kubernetes.io/tls) in the app's namespace holds crt and key, made with
// the namespace when missing, and tls-cert-imported is set. Where Dokku
// redeploys a deployed app for its Ingresses to name the Secret, its
// Ingresses are applied again, which is all that changes.
func (s *Scheduler) CertsUpdated(ctx context.Context, app string, crt, key []byte, out io.Writer) error {
	unlock, err := s.lockApp(ctx, app, "certificate update", out)
	if err != nil {
		return err
	}
	defer unlock()
	output.Info1(out, "Syncing TLS certificate for %s to kubernetes", app)
	c, err := s.connect(ctx, app)
	if err != nil {
		return err
	}
	name := TLSSecretName(app)
	secret := corev1ac.Secret(name, c.ns).
		WithLabels(map[string]string{LabelName: name, LabelPartOf: app, labelCertSource: "imported"}).
		WithAnnotations(managedAnnotations(nil)).
		WithType(corev1.SecretTypeTLS).
		WithData(map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key})
	output.Info1(out, "Installing TLS certificate for %s", app)
	if _, err := c.cs.CoreV1().Secrets(c.ns).Apply(ctx, secret, applyOptions); err != nil {
		return c.fail("applying Secret "+name, err)
	}
	if err := s.Store.SetProperty(Plugin, app, propCertImported, "true"); err != nil {
		return err
	}
	return s.reapplyIngresses(ctx, c, app, out)
}

// CertsRemoved is Dokku's post-certs-remove: Secret tls-APP is deleted
// and tls-cert-imported unset; a deployed app's Ingresses are applied
// again when they named the Secret. With no kubeconfig this server never
// made the Secret: only the property goes.
func (s *Scheduler) CertsRemoved(ctx context.Context, app string, out io.Writer) error {
	unlock, err := s.lockApp(ctx, app, "certificate removal", out)
	if err != nil {
		return err
	}
	defer unlock()
	imported, err := s.Store.Property(Plugin, app, propCertImported)
	if err != nil {
		return err
	}
	if ok, err := s.haveKubeconfig("certificate removal", app); err != nil || !ok {
		if err != nil {
			return err
		}
		return s.Store.DeleteProperty(Plugin, app, propCertImported)
	}
	c, err := s.open(app)
	if err != nil {
		return err
	}
	name := TLSSecretName(app)
	err = c.cs.CoreV1().Secrets(c.ns).Delete(ctx, name, metav1.DeleteOptions{})
	deleted := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return c.fail("deleting Secret "+name, err)
	}
	if deleted {
		output.Info1(out, "Removing TLS certificate for %s", app)
	}
	if err := s.Store.DeleteProperty(Plugin, app, propCertImported); err != nil {
		return err
	}
	if !deleted && imported != "true" {
		return nil // the Ingresses never named it
	}
	return s.reapplyIngresses(ctx, c, app, out)
}

// reapplyIngresses applies a deployed app's Ingresses again, for a change
// of their TLS; an app never deployed gets them with its first deploy.
func (s *Scheduler) reapplyIngresses(ctx context.Context, c *cluster, app string, out io.Writer) error {
	d, err := schedulers.LoadDeployed(s.Store, app)
	if err != nil || d == nil {
		return err
	}
	output.Info1(out, "Updating the ingresses of %s", app)
	return s.applyIngresses(ctx, c, app, out)
}
