package commands

import (
	"testing"

	"dokku-sshd/urls"
)

// TestURLs runs urls and url as Dokku's domains-urls computes them: the
// hostname without domains, one URL per domain and port map, port 80 and
// https's 443 left out, https only with a certificate, url the first in the
// default scheme, none with the proxy disabled.
func TestURLs(t *testing.T) {
	d := configDispatcher(t)
	old := urls.Hostname
	urls.Hostname = func() string { return "host.example" }
	t.Cleanup(func() { urls.Hostname = old })
	_, _, archive := testCert(t, "a.example.com")
	missing := " !     App nope does not exist\n"
	runSteps(t, d, local, []cfgStep{
		{name: "hostname", argv: []string{"urls", "app1"}, stdout: "http://host.example\n"},
		{name: "url hostname", argv: []string{"url", "app1"}, stdout: "http://host.example\n"},
		{name: "global domain", argv: []string{"domains:set-global", "example.org"}, stdout: "-----> Set example.org\n"},
		{name: "from the global domain", argv: []string{"urls", "app2"}, stdout: "http://example.org\n"},
		{name: "domains", argv: []string{"domains:set", "app1", "b.example.com", "a.example.com"}, stdout: "-----> Set b.example.com a.example.com for app1\n"},
		{name: "ports", argv: []string{"ports:set", "app1", "http:80:5000", "http:8080:5000", "https:8443:5000"}},
		{name: "https left out without a cert", argv: []string{"urls", "app1"},
			stdout: "http://a.example.com\nhttp://a.example.com:8080\nhttp://b.example.com\nhttp://b.example.com:8080\n"},
		{name: "url in domain and stored map order", argv: []string{"url", "app1"}, stdout: "http://b.example.com:8080\n"},
		{name: "cert", argv: []string{"certs:add", "app1"}, stdin: archive},
		{name: "https with a cert", argv: []string{"urls", "app1"},
			stdout: "http://a.example.com\nhttp://a.example.com:8080\nhttp://b.example.com\nhttp://b.example.com:8080\n" +
				"https://a.example.com\nhttps://a.example.com:8443\nhttps://b.example.com\nhttps://b.example.com:8443\n"},
		{name: "url prefers https (certs:add added https:443)", argv: []string{"url", "app1"}, stdout: "https://b.example.com\n"},
		{name: "missing app", argv: []string{"urls", "nope"}, stderr: missing, code: 20},
		{name: "url missing app", argv: []string{"url", "nope"}, stderr: missing, code: 20},
		{name: "no app", argv: []string{"urls"}, stderr: " !     App  does not exist\n", code: 20},
		{name: "unknown flag", argv: []string{"urls", "app1", "--nope"}, stderr: "Usage of urls:\nunknown flag: --nope\n", code: 2},
	})
	if err := d.cfg.Store.SetProperty("proxy", "app1", "disabled", "true"); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, local, []cfgStep{{name: "proxy disabled", argv: []string{"urls", "app1"}}})
}
