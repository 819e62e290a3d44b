package k3s

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"dokku-sshd/output"
)

// Plugin is the property namespace of the scheduler's settings
// (LibDir/config/scheduler-k3s/<app|--global>/<key>), as in Dokku.
const Plugin = "scheduler-k3s"

// Property defaults (docs/dokku-behaviour.md#k3s-properties).
const (
	DefaultNamespace      = "default"
	DefaultDeployTimeout  = "300s"
	DefaultIngressClass   = "nginx"
	DefaultKubeconfigPath = "/etc/rancher/k3s/k3s.yaml"
	DefaultNetworkIface   = "eth0"
	DefaultRollback       = "false"
)

// AppProps are the properties set per app or --global; GlobalProps only
// --global. Helm-only ones (kustomize-root-path, node-sysctls-*) are not
// here: the server applies typed objects, with no chart to post-render.
var (
	AppProps = []string{
		"cert-issuer-kind", "cert-issuer-name", "deploy-timeout", "image-pull-secrets",
		"letsencrypt-email-prod", "letsencrypt-email-stag", "letsencrypt-server",
		"namespace", "rollback-on-failure", "shm-size",
	}
	GlobalProps = []string{"ingress-class", "kube-context", "kubeconfig-path", "network-interface", "token"}
)

// Defaults maps each property with a computed default to it.
var Defaults = map[string]string{
	"deploy-timeout":      DefaultDeployTimeout,
	"ingress-class":       DefaultIngressClass,
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
