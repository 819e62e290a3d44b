package commands

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dokku-sshd/certs"
	"dokku-sshd/deploy"
	"dokku-sshd/keys"
	"dokku-sshd/proxy"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/k3s"
	"dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

// testCert makes a self-signed certificate for hosts starting at a fixed
// time, and its tar archive.
func testCert(t *testing.T, hosts ...string) (crt, key []byte, archive string) {
	t.Helper()
	crt, key, err := certs.SelfSigned(hosts, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := certs.Tar(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	return crt, key, string(tb)
}

// TestCerts runs the certs commands in sequence: import from a tar on
// stdin or (locally) two paths, the key checked against the certificate,
// the report computed from the certificate, the ports plugin's https map
// added and removed with it, and Dokku's messages and exit codes.
func TestCerts(t *testing.T) {
	d := configDispatcher(t)
	var rebuilt []string
	d.cfg.Proxy = &proxy.Router{Reroute: func(_ context.Context, app string, out io.Writer) error {
		rebuilt = append(rebuilt, app)
		return nil
	}}
	crt, key, archive := testCert(t, "a.example.com", "b.example.com")
	_, otherKey, _ := testCert(t, "a.example.com")
	mismatched, err := certs.Tar(crt, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	onlyCrt := tarOf(t, map[string][]byte{"server.crt": crt, ".hidden/x.key": key})
	twoCrts := tarOf(t, map[string][]byte{"a.crt": crt, "b.crt": crt, "server.key": key})
	dir := t.TempDir()
	crtPath, keyPath := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for p, b := range map[string][]byte{crtPath: crt, keyPath: key} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := " !     App nope does not exist\n"
	runSteps(t, d, user, []cfgStep{
		{name: "report none", argv: []string{"certs:report", "app1", "--ssl-enabled"}, stdout: "false\n"},
		{name: "remove none", argv: []string{"certs:remove", "app1"}, stderr: " !     An app-specific SSL endpoint is not defined\n", code: 1},
		{name: "show none", argv: []string{"certs:show", "app1", "crt"}, stderr: " !     app1 doesn't have an SSL endpoint defined\n", code: 1},
		{name: "ports before", argv: []string{"ports:set", "app1", "http:80:5000"}},
		{name: "mismatched key", argv: []string{"certs:add", "app1"}, stdin: string(mismatched), code: 1,
			stderr: " !     KEY does not match CRT: the key is not the certificate's private key\n"},
		{name: "not a tar", argv: []string{"certs:add", "app1"}, stdin: "hello", code: 1,
			stderr: " !     Tar archive containing server.crt and server.key expected on stdin\n"},
		{name: "empty stdin", argv: []string{"certs:add", "app1"}, code: 1,
			stderr: " !     Tar archive containing server.crt and server.key expected on stdin\n"},
		{name: "no key in tar", argv: []string{"certs:add", "app1"}, stdin: onlyCrt, stderr: " !     Tar archive is missing .key file\n", code: 1},
		{name: "two crts in tar", argv: []string{"certs:add", "app1"}, stdin: twoCrts, stderr: " !     Tar archive contains more than one .crt file\n", code: 1},
		{name: "key for crt", argv: []string{"certs:add", "app1"}, stdin: tarOf(t, map[string][]byte{"server.crt": key, "server.key": key}),
			stderr: " !     CRT is not a PEM-encoded certificate\n", code: 1},
		{name: "crt for key", argv: []string{"certs:add", "app1"}, stdin: tarOf(t, map[string][]byte{"server.crt": crt, "server.key": crt}),
			stderr: " !     KEY is not a PEM-encoded private key\n", code: 1},
		{name: "paths over ssh", argv: []string{"certs:add", "app1", crtPath, keyPath}, code: 1,
			stderr: " !     CRT and KEY paths can only be read on the server; send a tar archive with server.crt and server.key on stdin: dokku certs:add app1 < cert-key.tar\n"},
		{name: "nothing stored", argv: []string{"certs:report", "app1", "--ssl-enabled"}, stdout: "false\n"},
		{name: "missing app", argv: []string{"certs:add", "nope"}, stdin: archive, stderr: missing, code: 20},
		{name: "no app", argv: []string{"certs:add"}, stdin: archive, stderr: " !     App  does not exist\n", code: 20},
		{name: "unknown flag", argv: []string{"certs:add", "app1", "--nope"}, stdin: archive, stderr: "Usage of certs:add:\nunknown flag: --nope\n", code: 2},
		{name: "add", argv: []string{"certs:add", "app1"}, stdin: archive},
		{name: "https map added", argv: []string{"ports:report", "app1", "--ports-map"}, stdout: "http:80:5000 https:443:5000\n"},
		{name: "detected gains https", argv: []string{"ports:report", "app1", "--ports-map-detected"}, stdout: "http:80:5000 https:443:5000\n"},
		{name: "enabled", argv: []string{"certs:report", "app1", "--ssl-enabled"}, stdout: "true\n"},
		{name: "hostnames", argv: []string{"certs:report", "app1", "--ssl-hostnames"}, stdout: "a.example.com b.example.com\n"},
		{name: "expires", argv: []string{"certs:report", "app1", "--ssl-expires-at"}, stdout: "Jan  2 03:04:05 2027 GMT\n"},
		{name: "starts", argv: []string{"certs:report", "app1", "--ssl-starts-at"}, stdout: "Jan  2 03:04:05 2026 GMT\n"},
		{name: "issuer", argv: []string{"certs:report", "app1", "--ssl-issuer"}, stdout: "CN = a.example.com\n"},
		{name: "subject", argv: []string{"certs:report", "app1", "--ssl-subject"}, stdout: "CN=a.example.com\n"},
		{name: "verified", argv: []string{"certs:report", "app1", "--ssl-verified"}, stdout: "self signed\n"},
		{name: "report bad flag", argv: []string{"certs:report", "app1", "--ssl-nope"}, code: 1,
			stderr: " !     Invalid flag passed, valid flags: --ssl-dir, --ssl-enabled, --ssl-expires-at, --ssl-hostnames, --ssl-issuer, --ssl-starts-at, --ssl-subject, --ssl-verified\n"},
		{name: "report missing app", argv: []string{"certs:report", "nope"}, stderr: missing, code: 20},
		{name: "report global", argv: []string{"certs:report", "--global"}, stdout: "=====> --global ssl information\n"},
		{name: "show crt", argv: []string{"certs:show", "app1", "crt"}, stdout: string(crt)},
		{name: "show key", argv: []string{"certs:show", "app1", "key"}, stdout: string(key)},
		{name: "show what", argv: []string{"certs:show", "app1", "pem"}, stderr: " !     specify either 'key' or 'crt'\n", code: 1},
		{name: "update mismatched keeps the old", argv: []string{"certs:update", "app1"}, stdin: string(mismatched), code: 1,
			stderr: " !     KEY does not match CRT: the key is not the certificate's private key\n"},
		{name: "old key kept", argv: []string{"certs:show", "app1", "key"}, stdout: string(key)},
		{name: "clone", argv: []string{"apps:clone", "app1", "app3"}, stdout: "-----> Cloning app1 to app3\n-----> Creating app3...\n"},
		{name: "a clone has no cert", argv: []string{"certs:report", "app3", "--ssl-enabled"}, stdout: "false\n"},
		{name: "nor its https map", argv: []string{"ports:report", "app3", "--ports-map"}, stdout: "http:80:5000\n"},
		{name: "the source keeps its cert", argv: []string{"certs:report", "app1", "--ssl-enabled"}, stdout: "true\n"},
		{name: "remove", argv: []string{"certs:remove", "app1"}, stdout: "-----> Removing SSL endpoint from app1\n"},
		{name: "https map removed", argv: []string{"ports:report", "app1", "--ports-map"}, stdout: "http:80:5000\n"},
		{name: "remove missing app", argv: []string{"certs:remove", "nope"}, stderr: missing, code: 20},
	})
	if want := []string{"app1", "app1", "app1"}; !slices.Equal(rebuilt, want) { // ports:set, certs:add, certs:remove
		t.Errorf("proxy rebuilds = %q, want %q", rebuilt, want)
	}

	// A local caller may name two files on this host.
	runSteps(t, d, local, []cfgStep{
		{name: "add from paths", argv: []string{"certs:add", "app2", crtPath, keyPath}},
		{name: "missing path", argv: []string{"certs:add", "app2", crtPath, filepath.Join(dir, "nope.key")},
			stderr: " !     KEY file specified not found, please check file paths\n", code: 1},
		{name: "report", argv: []string{"certs:report", "app2", "--ssl-hostnames"}, stdout: "a.example.com b.example.com\n"},
	})
	c, k := certs.Files(d.cfg.Store, "app2")
	for p, want := range map[string]os.FileMode{c: 0o640, k: 0o600, filepath.Dir(c): 0o750 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", filepath.Base(p), fi.Mode(), err, want)
		}
	}
	root := d.cfg.Store.Paths.RootDir
	r := run(d, user, false, "", "certs:report", "app2", "--format", "json")
	golden(t, "certs-report-json", strings.ReplaceAll(r.stdout, root, "ROOT"))
	r = run(d, user, false, "", "certs:report", "app2")
	golden(t, "certs-report", strings.ReplaceAll(r.stdout, root, "ROOT"))
	r = run(d, user, false, "", "certs:help")
	golden(t, "certs-help", r.stdout)
}

func tarOf(t *testing.T, files map[string][]byte) string {
	t.Helper()
	var b strings.Builder
	tw := tar.NewWriter(&b)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCertsGenerate: certs:generate installs a self-signed certificate for
// the domain, adds the domain and prints the signing request; an app with
// a certificate keeps it.
func TestCertsGenerate(t *testing.T) {
	d := configDispatcher(t)
	r := run(d, user, false, "", "certs:generate", "app1", "gen.example.com")
	wantStart := "-----> Installing certificate and key...\n-----> Added gen.example.com to app1\n" +
		"-----> The following is a certificate signing request that can be used\n" +
		"-----> to generate an 'officially' signed SSL certificate for app1 at gen.example.com\n" +
		"-----> by a CA of your choosing.\n-----BEGIN CERTIFICATE REQUEST-----\n"
	if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, wantStart) || !strings.HasSuffix(r.stdout, "-----END CERTIFICATE REQUEST-----\n") {
		t.Fatalf("certs:generate: %+v", r)
	}
	runSteps(t, d, user, []cfgStep{
		{name: "hostnames", argv: []string{"certs:report", "app1", "--ssl-hostnames"}, stdout: "gen.example.com\n"},
		{name: "domain added", argv: []string{"domains:report", "app1", "--domains-app-vhosts"}, stdout: "gen.example.com\n"},
		{name: "again", argv: []string{"certs:generate", "app1", "other.example.com"}, stdout: "-----> app1 has an SSL endpoint already defined\n"},
		{name: "kept", argv: []string{"certs:report", "app1", "--ssl-hostnames"}, stdout: "gen.example.com\n"},
		{name: "missing app", argv: []string{"certs:generate", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
	})
	crt, key, err := certs.Read(d.cfg.Store, "app1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certs.Check(crt, key); err != nil {
		t.Errorf("generated pair: %v", err)
	}
}

// TestCertsK3sUnreachable: for an app on the k3s scheduler the certificate
// goes to its cluster before the files are written; with the cluster
// unreachable the commands fail saying so, and the files (and the https
// port map that comes with them) stay as they were.
func TestCertsK3sUnreachable(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sched := k3s.New(st, nil, nil)
	d := New(Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil),
		Pipeline: &deploy.Pipeline{Store: st, Schedulers: schedulers.NewRegistry(null.Scheduler{}, sched)}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := "https://" + l.Addr().String()
	l.Close() // nothing listens there any more
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	doc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + server +
		"\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n" +
		"- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
	if err := os.WriteFile(kubeconfig, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateApp("app1", 1); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][4]string{
		{k3s.Plugin, "--global", "kubeconfig-path", kubeconfig}, {"scheduler", "app1", "selected", k3s.Name},
	} {
		if err := st.SetProperty(p[0], p[1], p[2], p[3]); err != nil {
			t.Fatal(err)
		}
	}
	crt, key, archive := testCert(t, "a.example.com")
	runSteps(t, d, user, []cfgStep{{name: "ports", argv: []string{"ports:set", "app1", "http:80:5000"}}})
	unreachable := " !     Unable to reach the Kubernetes API server at " + server + " while "
	syncing := "-----> Syncing TLS certificate for app1 to kubernetes\n"
	failed := func(name string, argv []string, stdin, stdout string) {
		t.Helper()
		r := run(d, user, false, stdin, argv...)
		if r.code != 1 || r.stdout != stdout || !strings.HasPrefix(r.stderr, unreachable) || !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("%s: %+v\nwant exit 1, stdout %q, stderr starting %q", name, r, stdout, unreachable)
		}
	}
	for _, c := range []struct {
		name   string
		argv   []string
		stdout string
	}{
		{"add", []string{"certs:add", "app1"}, syncing},
		{"update", []string{"certs:update", "app1"}, syncing},
		{"generate", []string{"certs:generate", "app1", "a.example.com"}, "-----> Installing certificate and key...\n" + syncing},
	} {
		failed(c.name, c.argv, archive, c.stdout)
		crtPath, _ := certs.Files(st, "app1")
		if _, err := os.Stat(filepath.Dir(crtPath)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: the tls directory was written: %v", c.name, err)
		}
	}
	runSteps(t, d, user, []cfgStep{
		{name: "no cert", argv: []string{"certs:report", "app1", "--ssl-enabled"}, stdout: "false\n"},
		{name: "no https map", argv: []string{"ports:report", "app1", "--ports-map"}, stdout: "http:80:5000\n"},
		{name: "no domain added", argv: []string{"domains:report", "app1", "--domains-app-vhosts"}, stdout: "\n"},
	})
	if v, _ := st.Property(k3s.Plugin, "app1", "tls-cert-imported"); v != "" {
		t.Errorf("tls-cert-imported = %q after failures", v)
	}

	// A certificate installed while the app was on another scheduler is
	// kept when its removal cannot reach the cluster.
	if err := certs.Install(st, "app1", crt, key); err != nil {
		t.Fatal(err)
	}
	failed("remove", []string{"certs:remove", "app1"}, "", "-----> Removing SSL endpoint from app1\n")
	runSteps(t, d, user, []cfgStep{{name: "kept", argv: []string{"certs:show", "app1", "crt"}, stdout: string(crt)}})
}
