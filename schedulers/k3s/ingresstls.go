package k3s

import (
	"context"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"dokku-sshd/output"
)

// cert-manager issuer kinds and the values that turn TLS off, as Dokku's
// scheduler-k3s names them.
const (
	IssuerKindIssuer        = "Issuer"
	IssuerKindClusterIssuer = "ClusterIssuer"
	// certIssuerNameDisabled as cert-issuer-name opts one app out of a
	// global cert-issuer-name; letsencryptDisabled as letsencrypt-server
	// turns automatic certificates off.
	certIssuerNameDisabled = "false"
	letsencryptDisabled    = "false"
)

// Let's Encrypt's ACME directories, as Dokku's issuers use them.
const (
	letsencryptProd = "https://acme-v02.api.letsencrypt.org/directory"
	letsencryptStag = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// ingressTLS is how a process's Ingresses get their certificate.
type ingressTLS struct {
	enabled     bool
	secret      string            // the tls section's secretName
	annotations map[string]string // the cert-manager issuer annotation
	// issuer is the Let's Encrypt issuer the server makes for it, as
	// Dokku does; nil for an issuer of the user's (cert-issuer-name).
	issuer *acmeIssuer
}

// acmeIssuer is a cert-manager Let's Encrypt issuer: the shared
// ClusterIssuer letsencrypt-prod|stag, or an app's own Issuer
// APP-letsencrypt-prod|stag in its namespace.
type acmeIssuer struct {
	kind, name, email, server string
}

// resolveTLS decides proc's certificate in Dokku's order: a certificate
// imported for the app (secret tls-APP), else nothing when letsencrypt-
// server is "false", else the issuer cert-issuer-name names (kind from
// cert-issuer-kind, default ClusterIssuer), else Let's Encrypt when the
// letsencrypt-email-prod (or -stag, with letsencrypt-server stag) is set:
// the app's own Issuer APP-letsencrypt-prod when the app sets the email,
// the shared ClusterIssuer letsencrypt-prod when only --global does.
// cert-manager is asked through the Ingress's issuer annotation and
// stores the certificate in tls-APP-PROC.
func (s *Scheduler) resolveTLS(app, proc string) (ingressTLS, error) {
	get := func(key string) (string, error) { return s.prop(app, key) }
	if v, err := s.Store.Property(Plugin, app, propCertImported); err != nil || v == "true" {
		return ingressTLS{enabled: v == "true", secret: TLSSecretName(app)}, err
	}
	secret := "tls-" + app + "-" + proc
	server, err := get("letsencrypt-server")
	if err != nil || server == letsencryptDisabled {
		return ingressTLS{}, err
	}
	name, err := get("cert-issuer-name")
	if err != nil {
		return ingressTLS{}, err
	}
	if name != "" && name != certIssuerNameDisabled {
		kind, err := get("cert-issuer-kind")
		if err != nil {
			return ingressTLS{}, err
		}
		a, err := issuerAnnotation(kind, name)
		return ingressTLS{enabled: err == nil, secret: secret, annotations: a}, err
	}
	var env string
	switch server {
	case "", "prod", "production":
		env = "prod"
	case "stag", "staging":
		env = "stag"
	default:
		return ingressTLS{}, output.Userf("Invalid letsencrypt server config: %s", server)
	}
	email, err := get("letsencrypt-email-" + env)
	if err != nil || email == "" {
		return ingressTLS{}, err
	}
	own, err := s.Store.Property(Plugin, app, "letsencrypt-email-"+env)
	if err != nil {
		return ingressTLS{}, err
	}
	acme := &acmeIssuer{kind: IssuerKindClusterIssuer, name: "letsencrypt-" + env, email: email, server: letsencryptProd}
	if env == "stag" {
		acme.server = letsencryptStag
	}
	annotation := annotationClusterIssuer
	if own != "" {
		acme.kind, acme.name, annotation = IssuerKindIssuer, app+"-"+acme.name, annotationIssuer
	}
	return ingressTLS{enabled: true, secret: secret, annotations: map[string]string{annotation: acme.name}, issuer: acme}, nil
}

// issuerAnnotation is cert-manager's annotation naming an issuer of kind
// (case-insensitive; "" is ClusterIssuer).
func issuerAnnotation(kind, name string) (map[string]string, error) {
	switch strings.ToLower(kind) {
	case "", strings.ToLower(IssuerKindClusterIssuer):
		return map[string]string{annotationClusterIssuer: name}, nil
	case strings.ToLower(IssuerKindIssuer):
		return map[string]string{annotationIssuer: name}, nil
	}
	return nil, output.Userf("Invalid cert-issuer-kind: %s, valid values are %s and %s", kind, IssuerKindIssuer, IssuerKindClusterIssuer)
}

// cert-manager's issuer resources.
var (
	issuersGVR        = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	clusterIssuersGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
)

// applyIssuer makes the Let's Encrypt issuer tls asks for, as Dokku makes
// its ClusterIssuers and the app's Issuer, solving HTTP-01 challenges
// through class; the app's own Issuer is removed when it is no longer the
// one asked for. A cluster without cert-manager gets a warning: the
// Ingresses still say what they need, and work once it is installed.
func (s *Scheduler) applyIssuer(ctx context.Context, c *cluster, app, class string, tls ingressTLS, out io.Writer) error {
	dyn, err := c.dynamic()
	if err != nil {
		return err
	}
	if err := pruneIssuers(ctx, c, dyn, app, tls.issuer); err != nil {
		return err
	}
	iss := tls.issuer
	if iss == nil {
		return nil
	}
	meta := map[string]any{"name": iss.name, "annotations": map[string]any{Managed: "true"}}
	res := dyn.Resource(clusterIssuersGVR).Namespace("")
	if iss.kind == IssuerKindIssuer {
		meta["namespace"] = c.ns
		meta["labels"] = map[string]any{LabelName: iss.name, LabelPartOf: app}
		res = dyn.Resource(issuersGVR).Namespace(c.ns)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1", "kind": iss.kind, "metadata": meta,
		"spec": map[string]any{"acme": map[string]any{
			"email": iss.email, "server": iss.server,
			"privateKeySecretRef": map[string]any{"name": iss.name},
			"solvers":             []any{map[string]any{"http01": map[string]any{"ingress": map[string]any{"class": class}}}},
		}},
	}}
	_, err = res.Apply(ctx, iss.name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	switch {
	case apierrors.IsNotFound(err):
		output.Warn(out, "cert-manager is not installed on the cluster: no certificate will be issued for %s until it is", app)
		return nil
	case apierrors.IsForbidden(err):
		// A kubeconfig limited to the app's namespace may not write a
		// ClusterIssuer: the cluster's admin makes it; the app still deploys.
		output.Warn(out, "Unable to apply %s %s, certificates for %s need it: %s", iss.kind, iss.name, app, err.Error())
		return nil
	}
	return c.fail("applying "+iss.kind+" "+iss.name, err)
}

// pruneIssuers deletes the app's own Issuers (labelled part-of APP, with
// the managed annotation) other than want, with their ACME key Secrets.
func pruneIssuers(ctx context.Context, c *cluster, dyn dynamic.Interface, app string, want *acmeIssuer) error {
	list, err := dyn.Resource(issuersGVR).Namespace(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, "")})
	if apierrors.IsNotFound(err) {
		return nil // no cert-manager: nothing to prune
	}
	if err != nil {
		return c.fail("listing the issuers of "+app, err)
	}
	for _, it := range list.Items {
		if it.GetAnnotations()[Managed] != "true" || want != nil && want.kind == IssuerKindIssuer && want.name == it.GetName() {
			continue
		}
		err := dyn.Resource(issuersGVR).Namespace(c.ns).Delete(ctx, it.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return c.fail("deleting issuer "+it.GetName(), err)
		}
		// cert-manager keeps the issuer's ACME account key in a Secret
		// of no label; it is of no use without the issuer.
		key, _, _ := unstructured.NestedString(it.Object, "spec", "acme", "privateKeySecretRef", "name")
		if key == "" {
			continue
		}
		err = c.cs.CoreV1().Secrets(c.ns).Delete(ctx, key, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return c.fail("deleting secret "+key, err)
		}
	}
	return nil
}

// destroyIssuers deletes the cert-manager Issuers the app's deploys made
// (apps:destroy). A credential that may not list them cannot have made
// them: that is no reason to keep the app.
func (c *cluster) destroyIssuers(ctx context.Context, app string) error {
	dyn, err := c.dynamic()
	if err != nil {
		return err
	}
	err = pruneIssuers(ctx, c, dyn, app, nil)
	if apierrors.IsForbidden(err) {
		return nil
	}
	return err
}

// dynamic is a client for resources without typed clients (cert-manager's),
// with cs's HTTP client (its per-call timeout and connections).
func (c *cluster) dynamic() (dynamic.Interface, error) {
	cfg := rest.CopyConfig(c.config)
	cfg.Timeout = APITimeout
	dyn, err := dynamic.NewForConfigAndClient(cfg, c.short)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	return dyn, nil
}
