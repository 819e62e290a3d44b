package k3s

import (
	"errors"
	"testing"
	"time"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

func newTestScheduler(t *testing.T) *Scheduler {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return New(st, nil, nil)
}

func TestParseDeployTimeout(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"300s", 300 * time.Second, true},
		{"300", 300 * time.Second, true},
		{" 45 ", 45 * time.Second, true},
		{"5m", 5 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"0", 0, false},
		{"-5", 0, false},
		{"0s", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, err := ParseDeployTimeout(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDeployTimeout(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !output.IsUserError(err) {
			t.Errorf("ParseDeployTimeout(%q): %v is not a message for the user", tt.in, err)
		}
	}
}

func TestValidateProp(t *testing.T) {
	for _, tt := range []struct {
		key, value, want string
		ok               bool
	}{
		{"cert-issuer-kind", "clusterissuer", "ClusterIssuer", true},
		{"cert-issuer-kind", "ISSUER", "Issuer", true},
		{"cert-issuer-kind", "Vault", "", false},
		{"cert-issuer-name", "letsencrypt-prod", "letsencrypt-prod", true},
		{"cert-issuer-name", "false", "false", true},
		{"cert-issuer-name", "Bad_Name", "", false},
		{"deploy-timeout", "90", "90", true},
		{"deploy-timeout", "never", "", false},
		{"image-pull-secrets", "regcred", "regcred", true},
		{"image-pull-secrets", "reg cred", "", false},
		{"ingress-class", "traefik", "traefik", true},
		{"ingress-class", "-x", "", false},
		{"letsencrypt-email-prod", "a@example.com", "a@example.com", true},
		{"letsencrypt-email-prod", "A <a@example.com>", "", false},
		{"letsencrypt-server", "prod", "prod", true},
		{"letsencrypt-server", "false", "false", true},
		{"letsencrypt-server", "https://x", "", false},
		{"namespace", "default", "default", true},
		{"namespace", "a-very-long-namespace-name-that-goes-past-sixty-three-characters-x", "", false},
		{"namespace", "kube_system", "", false},
		{"network-interface", "eth0", "eth0", true},
		{"network-interface", "wg0.100", "wg0.100", true},
		{"network-interface", "eth 0", "", false},
		{"network-interface", "averyveryverylongiface", "", false},
		{"rollback-on-failure", "false", "false", true},
		{"rollback-on-failure", "1", "", false},
		{"shm-size", "1Gi", "1Gi", true},
		{"shm-size", "0", "", false},
		{"shm-size", "big", "", false},
		{"token", "anything at all", "anything at all", true},
		{"kube-context", "ctx", "ctx", true},
	} {
		got, err := ValidateProp(tt.key, tt.value)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ValidateProp(%s, %q) = %q, %v; want %q ok=%v", tt.key, tt.value, got, err, tt.want, tt.ok)
		}
		if err != nil && !output.IsUserError(err) {
			t.Errorf("ValidateProp(%s, %q): %v is not a message for the user", tt.key, tt.value, err)
		}
	}
}

// TestProp: app, then --global, then the default; an empty value counts
// as unset.
func TestProp(t *testing.T) {
	s := newTestScheduler(t)
	set := func(app, key, v string) {
		t.Helper()
		if err := s.Store.SetProperty(Plugin, app, key, v); err != nil {
			t.Fatal(err)
		}
	}
	check := func(app, key, want string) {
		t.Helper()
		if got, err := s.prop(app, key); err != nil || got != want {
			t.Errorf("prop(%s, %s) = %q, %v; want %q", app, key, got, err, want)
		}
	}
	check("a", "namespace", "default")
	check("a", "letsencrypt-server", "prod")
	check("a", "cert-issuer-kind", "ClusterIssuer")
	set(store.Global, "namespace", "shared")
	check("a", "namespace", "shared")
	set("a", "namespace", "own")
	check("a", "namespace", "own")
	check("b", "namespace", "shared")
	set("a", "namespace", "")
	check("a", "namespace", "shared")
	set("a", "deploy-timeout", "42")
	if d, err := s.deployTimeout("a"); err != nil || d != 42*time.Second {
		t.Errorf("deployTimeout = %v, %v", d, err)
	}
	set("a", "deploy-timeout", "bogus")
	var ue *output.Error
	if _, err := s.deployTimeout("a"); !errors.As(err, &ue) {
		t.Errorf("a stored bad deploy-timeout: %v, want a message for the user", err)
	}
}
