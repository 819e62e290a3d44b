package k3s

import (
	"strings"

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

// ingressTLS is how a process's Ingresses get their certificate.
type ingressTLS struct {
	enabled     bool
	secret      string            // the tls section's secretName
	annotations map[string]string // the cert-manager issuer annotation
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
	if v, err := s.Store.Property(Plugin, app, "tls-cert-imported"); err != nil || v == "true" {
		return ingressTLS{enabled: v == "true", secret: "tls-" + app}, err
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
	issuer := "letsencrypt-" + env
	if own == "" {
		return ingressTLS{enabled: true, secret: secret, annotations: map[string]string{annotationClusterIssuer: issuer}}, nil
	}
	return ingressTLS{enabled: true, secret: secret, annotations: map[string]string{annotationIssuer: app + "-" + issuer}}, nil
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
