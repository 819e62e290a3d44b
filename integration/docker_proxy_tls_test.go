package integration

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/testenv"
	"dokku-sshd/proxy"
)

// tlsAnswer is what the server's nginx said to one request.
type tlsAnswer struct {
	Code     int
	Body     string
	Location string
	PeerDER  []byte // the certificate presented (https only)
}

// proxyRequest sends GET / with Host host to 127.0.0.1:port, over TLS with
// SNI host when https; redirects are not followed. The certificate is not
// verified here: the caller compares its bytes.
func proxyRequest(scheme string, port int, host string) (tlsAnswer, error) {
	req, err := http.NewRequest("GET", scheme+"://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	if err != nil {
		return tlsAnswer{}, err
	}
	req.Host = host
	c := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{ServerName: host, InsecureSkipVerify: true}},
	}
	resp, err := c.Do(req)
	if err != nil {
		return tlsAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return tlsAnswer{}, err
	}
	a := tlsAnswer{Code: resp.StatusCode, Body: strings.TrimSpace(string(b)), Location: resp.Header.Get("Location")}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		a.PeerDER = resp.TLS.PeerCertificates[0].Raw
	}
	return a, nil
}

// tlsHandshake dials 127.0.0.1:port and completes a TLS handshake for
// serverName; the presented certificate, or why there is none.
func tlsHandshake(port int, serverName string) ([]byte, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", "127.0.0.1:"+strconv.Itoa(port),
		&tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw, nil
}

// certDER is the DER bytes of a PEM certificate.
func certDER(t *testing.T, crt []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(crt)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate:\n%s", crt)
	}
	return b.Bytes
}

// TestDockerProxyTLS takes an imported certificate end to end: a pushed
// app behind the server's nginx on two loopback ports (http and https maps,
// proxy-port and proxy-ssl-port set to them), certs:add over ssh with the
// tar on stdin, then certs:update and certs:remove. With the certificate
// https answers with the app and presents exactly the imported
// certificate, http redirects to the https port, urls lists the https URL,
// and an unknown name's handshake is refused; certs:update is presented
// without a deploy; after certs:remove the https port is closed and http
// serves the app again.
func TestDockerProxyTLS(t *testing.T) {
	if proxy.FindNginx("") == "" {
		testenv.SkipOrFail(t, "this test needs nginx (Debian: apt-get install -y nginx; scripts/test installs it)")
	}
	a := newDockerAppArgs(t, "tls", "--no-proxy=false", "--proxy-listen", "127.0.0.1")
	t.Cleanup(func() { stopLeftNginx(a.s.DataDir) })
	httpPort, httpsPort := freePort(t), freePort(t)
	for httpsPort == httpPort {
		httpsPort = freePort(t)
	}
	ssh := func(words ...string) result { return a.s.mustSSH(t, a.key, words...) }
	host := a.name + ".test"
	ssh("apps:create", a.name)
	ssh("domains:set", a.name, host)
	ssh("ports:set", a.name, fmt.Sprintf("http:%d:5000", httpPort), fmt.Sprintf("https:%d:5000", httpsPort))
	// The redirect goes from proxy-port to proxy-ssl-port (80 and 443
	// unless set).
	ssh("proxy:set", a.name, "proxy-port", strconv.Itoa(httpPort))
	ssh("proxy:set", a.name, "proxy-ssl-port", strconv.Itoa(httpsPort))
	a.deployHTTP(t, "secure body")

	httpURL := fmt.Sprintf("http://%s:%d", host, httpPort)
	httpsURL := fmt.Sprintf("https://%s:%d", host, httpsPort)
	if got, err := proxyRequest("http", httpPort, host); err != nil || got.Code != 200 || got.Body != "secure body" {
		t.Fatalf("http before certs:add: %+v, %v; want 200 secure body", got, err)
	}
	if _, err := tlsHandshake(httpsPort, host); err == nil {
		t.Errorf("https port answered TLS before certs:add")
	}
	expect(t, "urls without a cert", a.s.ssh(t, a.key, "urls", a.name), 0, httpURL+"\n", "")

	// withCert checks everything that holds while crt is the app's certificate.
	withCert := func(step string, crt []byte) {
		t.Helper()
		want := certDER(t, crt)
		got, err := proxyRequest("https", httpsPort, host)
		switch {
		case err != nil:
			t.Errorf("%s: https: %v", step, err)
		case got.Code != 200 || got.Body != "secure body":
			t.Errorf("%s: https answered %d %q, want 200 secure body", step, got.Code, got.Body)
		case !bytes.Equal(got.PeerDER, want):
			t.Errorf("%s: https presented another certificate than the imported one", step)
		}
		got, err = proxyRequest("http", httpPort, host)
		if err != nil || got.Code != http.StatusMovedPermanently || got.Location != httpsURL+"/" {
			t.Errorf("%s: http answered %+v, %v; want 301 to %s/", step, got, err, httpsURL)
		}
		if der, err := tlsHandshake(httpsPort, "unknown.test"); err == nil {
			t.Errorf("%s: an unknown name completed a handshake (same certificate as the app's: %t)", step, bytes.Equal(der, want))
		}
		expect(t, step+": urls", a.s.ssh(t, a.key, "urls", a.name), 0, httpURL+"\n"+httpsURL+"\n", "")
	}

	// What the rebuild after each certs command prints.
	rebuilt := func(scheme string) string {
		return "-----> Configuring " + host + "...(using built-in template)\n-----> Creating " + scheme + " nginx.conf\n       Reloading nginx\n"
	}
	crt1, _, tar1 := testCertTar(t, host)
	expect(t, "certs:add", a.s.sshIn(t, a.key, tar1, "certs:add", a.name), 0, rebuilt("https"), "")
	withCert("after certs:add", crt1)

	crt2, _, tar2 := testCertTar(t, host)
	expect(t, "certs:update", a.s.sshIn(t, a.key, tar2, "certs:update", a.name), 0, rebuilt("https"), "")
	withCert("after certs:update", crt2)

	expect(t, "certs:remove", a.s.ssh(t, a.key, "certs:remove", a.name), 0,
		"-----> Removing SSL endpoint from "+a.name+"\n"+rebuilt("http"), "")
	if der, err := tlsHandshake(httpsPort, host); err == nil {
		t.Errorf("after certs:remove the https port completed a handshake (the removed certificate: %t)", bytes.Equal(der, certDER(t, crt2)))
	}
	if got, err := proxyRequest("http", httpPort, host); err != nil || got.Code != 200 || got.Body != "secure body" || got.Location != "" {
		t.Errorf("http after certs:remove: %+v, %v; want 200 secure body, no redirect", got, err)
	}
	expect(t, "urls after certs:remove", a.s.ssh(t, a.key, "urls", a.name), 0, httpURL+"\n", "")
}
