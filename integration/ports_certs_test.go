package integration

import (
	"strings"
	"testing"
	"time"

	"dokku-sshd/certs"
)

// testCertTar is a fresh self-signed certificate for hosts and its key, as
// the tar archive `certs:add <app> < cert-key.tar` reads.
func testCertTar(t *testing.T, hosts ...string) (crt, key []byte, archive string) {
	t.Helper()
	crt, key, err := certs.SelfSigned(hosts, time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := certs.Tar(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	return crt, key, string(b)
}

// ports:*, certs:* and urls over the real ssh client (Dokku's messages and
// exit codes; the certificate travels as a tar on stdin).
func TestPortsCertsURLsOverSSH(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	const app = "tls-app"
	s.mustSSH(t, admin, "apps:create", app)
	s.mustSSH(t, admin, "domains:set", app, "tls.example.test")

	expect(t, "ports:list none", s.ssh(t, admin, "ports:list", app), 1, "", warn("No port mappings configured for app"))
	expect(t, "ports:set", s.ssh(t, admin, "ports:set", app, "http:80:5000", "http:8080:5000"), 0, "", "")
	expect(t, "ports:list", s.ssh(t, admin, "ports:list", app), 0, "-----> Port mappings for "+app+"\n"+
		"    -----> scheme  host port  container port\n    http           8080       5000\n    http           80         5000\n", "")
	expect(t, "ports:add reused", s.ssh(t, admin, "ports:add", app, "http:80:3000"), 1, "",
		warn("Error validating all port mappings: The same scheme:host-port is being reused: http:80"))
	expect(t, "ports:add invalid", s.ssh(t, admin, "ports:add", app, "http:80"), 1, "", warn("Invalid port map http:80 [len=2]"))
	expect(t, "ports:set missing app", s.ssh(t, admin, "ports:set", "nope", "http:80:5000"), 20, "", warn("App nope does not exist"))
	expect(t, "ports:report json", s.ssh(t, admin, "ports:report", app, "--ports-map"), 0, "http:8080:5000 http:80:5000\n", "")
	expect(t, "urls", s.ssh(t, admin, "urls", app), 0, "http://tls.example.test\nhttp://tls.example.test:8080\n", "")

	_, _, archive := testCertTar(t, "tls.example.test")
	crt, _, _ := testCertTar(t, "tls.example.test")
	_, otherKey, _ := testCertTar(t, "tls.example.test")
	bad, err := certs.Tar(crt, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "certs:add mismatched", s.sshIn(t, admin, string(bad), "certs:add", app), 1, "",
		warn("KEY does not match CRT: the key is not the certificate's private key"))
	expect(t, "certs:add no tar", s.sshIn(t, admin, "not a tar", "certs:add", app), 1, "",
		warn("Tar archive containing server.crt and server.key expected on stdin"))
	expect(t, "certs:add missing app", s.sshIn(t, admin, archive, "certs:add", "nope"), 20, "", warn("App nope does not exist"))
	expect(t, "certs:add", s.sshIn(t, admin, archive, "certs:add", app), 0, "", "")
	expect(t, "certs:report enabled", s.ssh(t, admin, "certs:report", app, "--ssl-enabled"), 0, "true\n", "")
	expect(t, "certs:report hostnames", s.ssh(t, admin, "certs:report", app, "--ssl-hostnames"), 0, "tls.example.test\n", "")
	expect(t, "certs:report verified", s.ssh(t, admin, "certs:report", app, "--ssl-verified"), 0, "self signed\n", "")
	r := s.ssh(t, admin, "certs:report", app, "--format", "json")
	if r.Code != 0 || !strings.Contains(r.Stdout, `"enabled":"true"`) || !strings.Contains(r.Stdout, `"hostnames":"tls.example.test"`) {
		t.Errorf("certs:report --format json: %s", r)
	}
	expect(t, "https map", s.ssh(t, admin, "ports:report", app, "--ports-map"), 0, "http:8080:5000 http:80:5000 https:443:5000\n", "")
	expect(t, "urls with a cert", s.ssh(t, admin, "urls", app), 0,
		"http://tls.example.test\nhttp://tls.example.test:8080\nhttps://tls.example.test\n", "")
	expect(t, "url with a cert", s.ssh(t, admin, "url", app), 0, "https://tls.example.test\n", "")
	expect(t, "certs:remove", s.ssh(t, admin, "certs:remove", app), 0, "-----> Removing SSL endpoint from "+app+"\n", "")
	expect(t, "certs:remove again", s.ssh(t, admin, "certs:remove", app), 1, "", warn("An app-specific SSL endpoint is not defined"))
	expect(t, "https map gone", s.ssh(t, admin, "ports:report", app, "--ports-map"), 0, "http:8080:5000 http:80:5000\n", "")
	expect(t, "ports:clear", s.ssh(t, admin, "ports:clear", app), 0, "", "")
	expect(t, "urls after clear", s.ssh(t, admin, "urls", app), 0, "http://tls.example.test\n", "")
}

// A docker-local push prints the app's URLs under "Application deployed:"
// (Dokku's deploy transcript), https with an imported certificate.
func TestDockerPushPrintsURLs(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "urls")
	app := a.name
	a.s.mustSSH(t, a.key, "apps:create", app)
	a.s.mustSSH(t, a.key, "domains:set", app, app+".example.test")
	_, _, archive := testCertTar(t, app+".example.test")
	if r := a.s.sshIn(t, a.key, archive, "certs:add", app); r.Code != 0 {
		t.Fatalf("certs:add: %s", r)
	}
	r := a.deployHTTP(t, "hello")
	lines := remoteLines(r.Stderr)
	if !inOrder(lines, "-----> Deploying "+app+" via the docker-local scheduler...", "=====> Application deployed:",
		"       http://"+app+".example.test", "       https://"+app+".example.test", "") {
		t.Errorf("push transcript lacks the URLs after Application deployed:\n%s", r.Stderr)
	}
}
