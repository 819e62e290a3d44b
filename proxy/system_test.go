package proxy

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/internal/testenv"
)

// TestSystemNginx: with an operator-run nginx the server writes the
// include file (default servers and the apps' configs), validates with
// the system's nginx -t and runs the reload command.
func TestSystemNginx(t *testing.T) {
	bin := nginxBin(t)
	if _, err := os.Stat("/etc/nginx/nginx.conf"); err != nil {
		testenv.SkipOrFail(t, "this test needs Debian's /etc/nginx/nginx.conf (apt-get install -y nginx)")
	}
	st := newStore(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "reloaded")
	n := &Nginx{Bin: bin, Root: st.Paths.RootDir, System: true, IncludeFile: filepath.Join(dir, "dokku-sshd.conf"),
		ReloadCmd: []string{"touch", marker}}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &Router{Store: st, Nginx: n}
	newApp(t, st, "alpha", "alpha.test", 18081, 5000)
	if err := r.Route(context.Background(), "alpha", []string{"172.17.0.7"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	inc, err := os.ReadFile(n.IncludeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen      18081 default_server;", "return 444;", "include " + st.Paths.RootDir + "/*/nginx.conf;"} {
		if !strings.Contains(string(inc), want) {
			t.Errorf("include file lacks %q:\n%s", want, inc)
		}
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the reload command did not run: %v", err)
	}
	if conf, _ := os.ReadFile(r.ConfPath("alpha")); !strings.Contains(string(conf), "access_log  /var/log/nginx/alpha-access.log;") {
		t.Errorf("system mode logs where Debian's nginx keeps them:\n%s", conf)
	}
}
