package k3s

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// TestImportedCertificateNoCluster: with its cluster unreachable or no
// kubeconfig, certs:add fails with a message saying why and the property
// stays as it was; certs:remove without a kubeconfig has nothing on a
// cluster to delete and only unsets the property.
func TestImportedCertificateNoCluster(t *testing.T) {
	crt, key := testKeyPair(t, "shop.example.com")
	for _, c := range []struct {
		name       string
		kubeconfig func(t *testing.T) string // "": none
		remove     bool
		want       string // the error's start; "" for none
		property   string // tls-cert-imported afterwards
	}{
		{name: "add, unreachable", kubeconfig: func(t *testing.T) string { return kubeconfigFor(t, "https://"+closedPort(t)) },
			want: "Unable to reach the Kubernetes API server at https://127.0.0.1:", property: "true"},
		{name: "remove, unreachable", kubeconfig: func(t *testing.T) string { return kubeconfigFor(t, "https://"+closedPort(t)) },
			remove: true, want: "Unable to reach the Kubernetes API server at https://127.0.0.1:", property: "true"},
		{name: "add, no kubeconfig", want: "No kubeconfig is configured on this server", property: "true"},
		{name: "remove, no kubeconfig", remove: true, property: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", "")
			st, err := store.New(store.Paths{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if c.kubeconfig != nil {
				mustSet(t, st, store.Global, "kubeconfig-path", c.kubeconfig(t))
			}
			// The property of an earlier add, which a failure must keep.
			mustSet(t, st, "shop", "tls-cert-imported", "true")
			s := New(st, nil, nil)
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			if c.remove {
				err = s.CertsRemoved(ctx, "shop", &out)
			} else {
				err = s.CertsUpdated(ctx, "shop", crt, key, &out)
			}
			switch {
			case c.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case c.want != "" && (err == nil || !output.IsUserError(err) || !strings.HasPrefix(err.Error(), c.want)):
				t.Errorf("error %v, want a user error starting %q", err, c.want)
			}
			if v, _ := st.Property(Plugin, "shop", "tls-cert-imported"); v != c.property {
				t.Errorf("tls-cert-imported = %q, want %q", v, c.property)
			}
		})
	}
}
