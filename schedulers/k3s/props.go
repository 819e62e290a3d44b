package k3s

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"dokku-sshd/output"
)

// Plugin is the property namespace of the scheduler's settings
// (LibDir/config/scheduler-k3s/<app|--global>/<key>), as in Dokku.
const Plugin = "scheduler-k3s"

// Property defaults (docs/dokku-behaviour.md#k3s-properties).
const (
	DefaultNamespace         = "default"
	DefaultDeployTimeout     = "300s"
	DefaultIngressClass      = "nginx"
	DefaultKubeconfigPath    = "/etc/rancher/k3s/k3s.yaml"
	DefaultNetworkIface      = "eth0"
	DefaultRollback          = "false"
	DefaultCertIssuerKind    = "ClusterIssuer"
	DefaultLetsencryptServer = "prod"
)

// AppProps are the properties set per app or --global; GlobalProps only
// --global. Helm-only ones (kustomize-root-path, node-sysctls-*) are not
// here: the server applies typed objects, with no chart to post-render and
// no node DaemonSet of Dokku's.
var (
	AppProps = []string{
		"cert-issuer-kind", "cert-issuer-name", "deploy-timeout", "image-pull-secrets",
		"letsencrypt-email-prod", "letsencrypt-email-stag", "letsencrypt-server",
		"namespace", "rollback-on-failure", "shm-size",
	}
	GlobalProps = []string{"ingress-class", "kube-context", "kubeconfig-path", "network-interface", "token"}
)

// Defaults maps each property with a computed default to it.
// kubeconfig-path is not here: its default depends on the machine
// (KubeconfigPath).
var Defaults = map[string]string{
	"cert-issuer-kind":    DefaultCertIssuerKind,
	"deploy-timeout":      DefaultDeployTimeout,
	"ingress-class":       DefaultIngressClass,
	"letsencrypt-server":  DefaultLetsencryptServer,
	"namespace":           DefaultNamespace,
	"network-interface":   DefaultNetworkIface,
	"rollback-on-failure": DefaultRollback,
}

// prop is app's computed value of key (app, then --global, then the
// default).
func (s *Scheduler) prop(app, key string) (string, error) {
	v, err := s.Store.ComputedProperty(Plugin, app, key, Defaults[key])
	if err != nil {
		return "", fmt.Errorf("reading %s %s: %w", Plugin, key, err)
	}
	return v, nil
}

// ParseDeployTimeout reads deploy-timeout as Dokku does: a Go duration
// ("300s", "5m") or bare seconds ("300").
func ParseDeployTimeout(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, output.Userf("Invalid deploy-timeout value specified: %s (a duration such as 300s, or seconds)", v)
	}
	return d, nil
}

// deployTimeout is app's computed deploy-timeout.
func (s *Scheduler) deployTimeout(app string) (time.Duration, error) {
	v, err := s.prop(app, "deploy-timeout")
	if err != nil {
		return 0, err
	}
	return ParseDeployTimeout(v)
}

// ifaceName is what Linux takes as a network interface name (at most 15
// bytes, no slash or space).
var ifaceName = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

// Kubernetes' naming rules, said briefly.
const (
	dnsLabelRule     = "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
	dnsSubdomainRule = "at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
)

// ValidateProp checks a value of key before scheduler-k3s:set stores it,
// so that a typo fails at once instead of every later deploy, and returns
// the value to store (cert-issuer-kind in cert-manager's casing).
// kubeconfig-path is checked by CheckKubeconfig, which reads the file.
func ValidateProp(key, value string) (string, error) {
	bad := func(why string) (string, error) {
		return "", output.Userf("Invalid %s value specified: %s (%s)", key, value, why)
	}
	switch key {
	case "deploy-timeout":
		if _, err := ParseDeployTimeout(value); err != nil {
			return "", err
		}
	case "rollback-on-failure":
		if value != "true" && value != "false" {
			return bad("valid values include: true, false")
		}
	case "namespace":
		if len(validation.IsDNS1123Label(value)) > 0 {
			return bad(dnsLabelRule)
		}
	case "ingress-class", "image-pull-secrets":
		if len(validation.IsDNS1123Subdomain(value)) > 0 {
			return bad(dnsSubdomainRule)
		}
	case "cert-issuer-kind":
		for _, k := range []string{"Issuer", "ClusterIssuer"} {
			if strings.EqualFold(value, k) {
				return k, nil
			}
		}
		return bad("valid values include: Issuer, ClusterIssuer")
	case "cert-issuer-name":
		// "false" opts an app out of a global issuer, as in Dokku.
		if value != "false" && len(validation.IsDNS1123Subdomain(value)) > 0 {
			return bad(dnsSubdomainRule + ", or false")
		}
	case "letsencrypt-server":
		switch value {
		case "prod", "production", "stag", "staging", "false":
		default:
			return bad("valid values include: prod, production, stag, staging, false")
		}
	case "letsencrypt-email-prod", "letsencrypt-email-stag":
		if a, err := mail.ParseAddress(value); err != nil || a.Address != value {
			return bad("an email address such as admin@example.com")
		}
	case "shm-size":
		if q, err := resource.ParseQuantity(value); err != nil || q.Sign() <= 0 {
			return bad("a positive size such as 64Mi or 1Gi")
		}
	case "network-interface":
		if !ifaceName.MatchString(value) {
			return bad("a network interface name such as eth0")
		}
	}
	return value, nil
}
