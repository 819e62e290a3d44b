package proxy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokku-sshd/certs"
	"dokku-sshd/domains"
	"dokku-sshd/store"
)

// writeCert writes a self-signed certificate for name where certs.Files
// says app's goes.
func writeCert(t *testing.T, st *store.Store, app, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	crt, keyPath := certs.Files(st, app)
	if err := os.MkdirAll(filepath.Dir(crt), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNginxTLS: with a certificate the app answers on its ssl port and
// http on proxy-port redirects there; an unknown name's handshake is
// refused.
func TestNginxTLS(t *testing.T) {
	st := newStore(t)
	r := startNginx(t, st)
	port, sslPort := freePort(t), freePort(t)
	be := backend(t, "127.0.0.1:0", "secure")
	newApp(t, st, "sec", "sec.test", port, be)
	for k, v := range map[string]int{"proxy-port": port, "proxy-ssl-port": sslPort} {
		if err := st.SetProperty(ProxyPlugin, "sec", k, strconv.Itoa(v)); err != nil {
			t.Fatal(err)
		}
	}
	writeCert(t, st, "sec", "sec.test")
	if err := r.Route(context.Background(), "sec", []string{"127.0.0.1"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "sec.test"}}}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+"/x?y=1", nil)
	req.Host = "sec.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://sec.test:" + strconv.Itoa(sslPort) + "/x?y=1"; resp.StatusCode != 301 || resp.Header.Get("Location") != want {
		t.Errorf("http: %d Location %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	req, _ = http.NewRequest("GET", "https://127.0.0.1:"+strconv.Itoa(sslPort)+"/", nil)
	req.Host = "sec.test"
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "secure") || !strings.Contains(string(body), "proto=https") {
		t.Errorf("https: %d %q, want 200 from the app with proto=https", resp.StatusCode, body)
	}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(sslPort), &tls.Config{InsecureSkipVerify: true, ServerName: "unknown.test"})
	if err == nil {
		conn.Close()
		t.Error("TLS handshake for an unknown name succeeded, want it refused")
	}

	// A new certificate at the same path (certs:update): routing again
	// reloads nginx, which then presents it.
	writeCert(t, st, "sec", "sec.test")
	var out strings.Builder
	if err := r.Route(context.Background(), "sec", []string{"127.0.0.1"}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "-----> Configuring sec.test...(using built-in template)\n-----> Creating https nginx.conf\n       Reloading nginx\n"; out.String() != want {
		t.Errorf("route with a new certificate printed:\n%s\nwant:\n%s", out.String(), want)
	}
	crtPath, _ := certs.Files(st, "sec")
	crt, err := os.ReadFile(crtPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(crt)
	conn, err = tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(sslPort), &tls.Config{InsecureSkipVerify: true, ServerName: "sec.test"})
	if err != nil {
		t.Fatalf("handshake after the new certificate: %v", err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].Raw; block == nil || !bytes.Equal(got, block.Bytes) {
		t.Error("after routing again nginx presents the previous certificate, want the new one")
	}
}

// A certificate that names none of the app's domains: Dokku's warning,
// and the config is still built.
func TestRouteWarnsUncoveredDomains(t *testing.T) {
	st := newStore(t)
	r := idleRouter(t, st)
	newApp(t, st, "sec", "b.sec.test", freePort(t), 5000)
	if err := domains.Set(st, "sec", []string{"b.sec.test", "a.sec.test"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ certName, want string }{
		{"other.test", "-----> No matching configured domains for sec found in SSL certificate. Your app will show as insecure in a browser if accessed via SSL\n" +
			"-----> Please add appropriate domains via the dokku domains command\n" +
			"-----> Configured domains for app:\n=====> b.sec.test\n=====> a.sec.test\n" +
			"-----> Domains found in SSL certificate:\n=====> other.test\n"},
		{"*.sec.test", ""},
		{"a.sec.test", ""},
	} {
		writeCert(t, st, "sec", tc.certName)
		var out strings.Builder
		if err := r.Route(context.Background(), "sec", []string{"172.17.0.9"}, &out); err != nil {
			t.Fatal(err)
		}
		want := tc.want + "-----> Configuring a.sec.test...(using built-in template)\n-----> Configuring b.sec.test...(using built-in template)\n-----> Creating https nginx.conf\n       Reloading nginx\n"
		if out.String() != want {
			t.Errorf("certificate for %s: route printed:\n%s\nwant:\n%s", tc.certName, out.String(), want)
		}
	}
}
