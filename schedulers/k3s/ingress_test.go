package k3s

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

func init() {
	// Other tests of the package may declare it too.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

// goldenJSON compares v, as indented JSON, with testdata/<name>.json.
func goldenJSON(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", t.Name(), path, got, want)
	}
}

func TestRenderIngresses(t *testing.T) {
	base := ingressInput{
		app: "shop", proc: "web", ns: "apps", class: "nginx",
		domains: []string{"www.Shop.com", "*.shop.com", "shop.com", "_", "10.0.0.1", "www.shop.com", "www-shop.com"},
		service: "shop-web", port: "http-80-5000",
	}
	tls := base
	tls.tls = ingressTLS{enabled: true, secret: "tls-shop-web", annotations: map[string]string{annotationClusterIssuer: "letsencrypt-prod"}}
	tls.labels = map[string]string{"team": "a", LabelPartOf: "other"} // a selector label stays Dokku's
	tls.annotations = map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "10m"}
	traefik := base
	traefik.class = "traefik"
	traefik.domains = []string{"a.org"}
	traefik.tls = tls.tls
	tests := []struct {
		name        string
		in          ingressInput
		wantSkipped []skippedDomain
	}{
		{"ingress-plain", base, []skippedDomain{
			{"10.0.0.1", "an Ingress host cannot be an IP address"},
			{"_", "the catch-all name has no meaning for an Ingress"},
			{"www.shop.com", "its ingress name shop-web-www-shop-com is taken by www-shop.com"},
		}},
		{"ingress-tls", tls, nil},
		{"ingress-none", ingressInput{app: "shop", proc: "web", ns: "apps", class: "nginx", service: "shop-web", port: "http-80-5000",
			domains: []string{strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".com"}},
			[]skippedDomain{{strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".com",
				"its ingress name would be longer than 253 characters"}}},
		{"ingress-traefik-tls", traefik, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, skipped := renderIngresses(tt.in)
			if tt.wantSkipped != nil && !reflect.DeepEqual(skipped, tt.wantSkipped) {
				t.Errorf("skipped = %q, want %q", skipped, tt.wantSkipped)
			}
			goldenJSON(t, tt.name, objs)
		})
	}
}

func TestIngressName(t *testing.T) {
	tests := []struct{ domain, want string }{
		{"example.com", "app-web-example-com"},
		{"WWW.Example.com", "app-web-www-example-com"},
		{"*.example.com", "app-web-wildcard-example-com"},
		{"a--b.com", "app-web-a-b-com"},
		{"-a.com-", "app-web-a-com"},
	}
	for _, tt := range tests {
		if got := ingressName("app", "web", tt.domain); got != tt.want {
			t.Errorf("ingressName(%q) = %q, want %q", tt.domain, got, tt.want)
		}
	}
}

func TestPrimaryPortName(t *testing.T) {
	tests := []struct {
		ports []string
		want  string
	}{
		{nil, ""},
		{[]string{"http-5000-5000"}, "http-5000-5000"},
		{[]string{"http-8080-5000", "http-80-5000"}, "http-80-5000"},
		{[]string{"http-80-5000", "https-443-5000"}, "https-443-5000"},
		{[]string{"https-8443-5000", "http-8080-5000"}, "https-8443-5000"},
		{[]string{"tcp-9000-9000", "http-8080-5000"}, "http-8080-5000"},
		{[]string{"udp-53-53", "tcp-9000-9000"}, "tcp-9000-9000"},
		{[]string{"http-80-5000", "http-80-3000"}, "http-80-5000"},
	}
	for _, tt := range tests {
		if got := primaryPortName(tt.ports); got != tt.want {
			t.Errorf("primaryPortName(%q) = %q, want %q", tt.ports, got, tt.want)
		}
	}
}

func TestResolveTLS(t *testing.T) {
	cm := func(k, v string) map[string]string { return map[string]string{k: v} }
	tests := []struct {
		name    string
		props   map[string]string // "app:key" or "--global:key" -> value
		want    ingressTLS
		wantErr string
	}{
		{"nothing set", nil, ingressTLS{}, ""},
		{"global prod email", map[string]string{"--global:letsencrypt-email-prod": "ops@x.org"},
			ingressTLS{enabled: true, secret: "tls-app-web", annotations: cm(annotationClusterIssuer, "letsencrypt-prod"),
				issuer: &acmeIssuer{IssuerKindClusterIssuer, "letsencrypt-prod", "ops@x.org", letsencryptProd}}, ""},
		{"app prod email", map[string]string{"app:letsencrypt-email-prod": "me@x.org", "--global:letsencrypt-email-prod": "ops@x.org"},
			ingressTLS{enabled: true, secret: "tls-app-web", annotations: cm(annotationIssuer, "app-letsencrypt-prod"),
				issuer: &acmeIssuer{IssuerKindIssuer, "app-letsencrypt-prod", "me@x.org", letsencryptProd}}, ""},
		{"stag server without stag email", map[string]string{"--global:letsencrypt-email-prod": "ops@x.org", "app:letsencrypt-server": "staging"},
			ingressTLS{}, ""},
		{"stag", map[string]string{"--global:letsencrypt-email-stag": "ops@x.org", "--global:letsencrypt-server": "stag"},
			ingressTLS{enabled: true, secret: "tls-app-web", annotations: cm(annotationClusterIssuer, "letsencrypt-stag"),
				issuer: &acmeIssuer{IssuerKindClusterIssuer, "letsencrypt-stag", "ops@x.org", letsencryptStag}}, ""},
		{"disabled", map[string]string{"--global:letsencrypt-email-prod": "ops@x.org", "app:letsencrypt-server": "false"},
			ingressTLS{}, ""},
		{"custom issuer", map[string]string{"--global:cert-issuer-name": "corp-ca"},
			ingressTLS{enabled: true, secret: "tls-app-web", annotations: cm(annotationClusterIssuer, "corp-ca")}, ""},
		{"custom namespaced issuer", map[string]string{"--global:cert-issuer-name": "corp-ca", "app:cert-issuer-kind": "issuer"},
			ingressTLS{enabled: true, secret: "tls-app-web", annotations: cm(annotationIssuer, "corp-ca")}, ""},
		{"custom issuer opted out", map[string]string{"--global:cert-issuer-name": "corp-ca", "app:cert-issuer-name": "false", "--global:letsencrypt-email-prod": "ops@x.org"},
			ingressTLS{enabled: true, secret: "tls-app-web", annotations: cm(annotationClusterIssuer, "letsencrypt-prod"),
				issuer: &acmeIssuer{IssuerKindClusterIssuer, "letsencrypt-prod", "ops@x.org", letsencryptProd}}, ""},
		{"imported certificate", map[string]string{"app:tls-cert-imported": "true", "--global:letsencrypt-email-prod": "ops@x.org"},
			ingressTLS{enabled: true, secret: "tls-app"}, ""},
		{"bad kind", map[string]string{"app:cert-issuer-name": "x", "app:cert-issuer-kind": "Other"},
			ingressTLS{}, "Invalid cert-issuer-kind: Other, valid values are Issuer and ClusterIssuer"},
		{"bad server", map[string]string{"app:letsencrypt-server": "elsewhere"},
			ingressTLS{}, "Invalid letsencrypt server config: elsewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.New(store.Paths{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.props {
				app, key, _ := cutColon(k)
				if err := st.SetProperty(Plugin, app, key, v); err != nil {
					t.Fatal(err)
				}
			}
			got, err := New(st, nil, nil).resolveTLS("app", "web")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !output.IsUserError(err) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("resolveTLS = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func cutColon(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
