package integration

// Clients other than OpenSSH: PuTTY's plink, dropbear's dbclient, paramiko
// and JSch 0.1.x, with ed25519, RSA and ECDSA keys, against OpenSSH's
// default algorithm policy (and the --legacy-algorithms option for JSch's
// ssh-rsa signatures). scripts/test installs them (Debian's putty-tools,
// dropbear-bin, python3-paramiko, libjsch-java, default-jdk-headless);
// a missing one skips its subtests, or fails them when CI=true.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"dokku-sshd/internal/testenv"
)

// jschJar is where Debian's libjsch-java puts JSch.
const jschJar = "/usr/share/java/jsch.jar"

// otherClient runs one SSH client against a server.
type otherClient struct {
	name     string
	keyTypes []string // the key types it can use
	// argv is the client's command line up to (not including) the
	// destination, for a key, as a git wrapper uses it; nil when the
	// client is a library driven by a program.
	argv func(t *testing.T, s *server, key *keyPair) []string
	// exec runs a command and returns its result.
	exec func(t *testing.T, s *server, key *keyPair, command string) result
	// version is how the client names itself in the SSH banner.
	version string
}

// hostKeyFiles are the server's public host keys.
func hostKeyFiles(t *testing.T, s *server) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.DataDir, "host-keys", "*.pub"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no public host keys in %s: %v", s.DataDir, err)
	}
	return files
}

// knownHosts writes an OpenSSH known_hosts file with the server's host keys.
func knownHosts(t *testing.T, s *server) string {
	t.Helper()
	var b strings.Builder
	for _, f := range hostKeyFiles(t, s) {
		pub, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(pub))
		b.WriteString("[127.0.0.1]:" + strconv.Itoa(s.Port) + " " + f[0] + " " + f[1] + "\n")
	}
	return writeFile(t, filepath.Join(t.TempDir(), "known_hosts"), b.String())
}

// converted holds the keys convertKey made: "format\x00private key" ->
// converted path.
var converted sync.Map

// convertKey converts a private key with a tool, once per key and format.
func convertKey(t *testing.T, key *keyPair, format string, convert func(dst string) []string) string {
	t.Helper()
	if p, ok := converted.Load(format + "\x00" + key.Priv); ok {
		return p.(string)
	}
	dst := key.Priv + "." + format
	argv := convert(dst)
	run(t, "", argv[0], argv[1:]...)
	converted.Store(format+"\x00"+key.Priv, dst)
	return dst
}

var clientPlink = otherClient{
	name:     "plink",
	keyTypes: []string{"ed25519", "rsa", "ecdsa"},
	version:  "SSH-2.0-PuTTY_",
	argv: func(t *testing.T, s *server, key *keyPair) []string {
		testenv.Tool(t, "plink")
		testenv.Tool(t, "puttygen")
		ppk := convertKey(t, key, "ppk", func(dst string) []string {
			return []string{"puttygen", key.Priv, "-O", "private", "-o", dst}
		})
		// -hostkey accepts exactly these keys, without asking (-batch).
		argv := []string{"plink", "-batch", "-ssh", "-P", strconv.Itoa(s.Port), "-i", ppk}
		for _, f := range hostKeyFiles(t, s) {
			argv = append(argv, "-hostkey", fingerprint(t, f))
		}
		return argv
	},
}

var clientDbclient = otherClient{
	name:     "dbclient",
	keyTypes: []string{"ed25519", "rsa", "ecdsa"},
	version:  "SSH-2.0-dropbear_",
	argv: func(t *testing.T, s *server, key *keyPair) []string {
		testenv.Tool(t, "dbclient")
		testenv.Tool(t, "dropbearconvert")
		db := convertKey(t, key, "dropbear", func(dst string) []string {
			return []string{"dropbearconvert", "openssh", "dropbear", key.Priv, dst}
		})
		// -y accepts the host key (it prints its fingerprint, checked below).
		return []string{"dbclient", "-y", "-i", db, "-p", strconv.Itoa(s.Port)}
	},
}

var clientParamiko = otherClient{
	name:     "paramiko",
	keyTypes: []string{"ed25519", "rsa", "ecdsa"},
	version:  "SSH-2.0-paramiko_",
	exec: func(t *testing.T, s *server, key *keyPair, command string) result {
		py := paramikoPython(t)
		script, err := filepath.Abs(filepath.Join("testdata", "paramiko_exec.py"))
		if err != nil {
			t.Fatal(err)
		}
		return runCmd(t, "", nil, py, script, "127.0.0.1", strconv.Itoa(s.Port), key.Priv, knownHosts(t, s), command)
	},
}

// JSch 0.1.x has no ed25519, and signs with ssh-rsa (SHA-1) only: its RSA
// keys need --legacy-algorithms (TestOtherClients checks both ways).
var clientJSch = otherClient{
	name:     "jsch",
	keyTypes: []string{"ecdsa"},
	version:  "SSH-2.0-JSCH-",
	exec: func(t *testing.T, s *server, key *keyPair, command string) result {
		classes := jschClasses(t)
		pem := convertKey(t, key, "pem", func(dst string) []string {
			copyFile(t, key.Priv, dst, 0o600)
			return []string{"ssh-keygen", "-q", "-p", "-m", "PEM", "-N", "", "-f", dst}
		})
		return runCmd(t, "", nil, "java", "-cp", classes+":"+jschJar, "JSchExec",
			"127.0.0.1", strconv.Itoa(s.Port), pem, knownHosts(t, s), command)
	},
}

// paramikoPython finds a python3 that has paramiko: Debian's, which
// python3-paramiko installs into, before whatever python3 is on PATH.
func paramikoPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import paramiko").Run() == nil {
			return py
		}
	}
	testenv.SkipOrFail(t, "this test needs python3 with paramiko (Debian: apt-get install -y python3-paramiko; scripts/test installs it)")
	return ""
}

var (
	jschOnce sync.Once
	jschDir  string
	jschErr  string
)

// jschClasses compiles testdata/JSchExec.java once per test run and returns
// the class directory.
func jschClasses(t *testing.T) string {
	t.Helper()
	testenv.Tool(t, "java")
	testenv.Tool(t, "javac")
	if _, err := os.Stat(jschJar); err != nil {
		testenv.SkipOrFail(t, "this test needs JSch at %s (Debian: apt-get install -y libjsch-java; scripts/test installs it)", jschJar)
	}
	jschOnce.Do(func() {
		// Beside the test binary: TestMain removes that directory.
		dir := filepath.Join(filepath.Dir(binPath), "jsch")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			jschErr = err.Error()
			return
		}
		out, err := exec.Command("javac", "-cp", jschJar, "-d", dir, filepath.Join("testdata", "JSchExec.java")).CombinedOutput()
		if err != nil {
			jschErr = "javac: " + err.Error() + "\n" + string(out)
			return
		}
		jschDir = dir
	})
	if jschErr != "" {
		t.Fatal(jschErr)
	}
	return jschDir
}

// run runs a command with the client.
func (c otherClient) run(t *testing.T, s *server, key *keyPair, command string) result {
	t.Helper()
	if c.exec != nil {
		return c.exec(t, s, key, command)
	}
	argv := append(c.argv(t, s, key), "dokku@127.0.0.1", command)
	r := runCmd(t, "", []string{"HOME=" + t.TempDir()}, argv[0], argv[1:]...)
	if c.name == "dbclient" && r.Code != 255 {
		// -y printed the host key it accepted: it must be the server's.
		ok := false
		for _, f := range hostKeyFiles(t, s) {
			ok = ok || strings.Contains(r.Stderr, fingerprint(t, f))
		}
		if !ok {
			t.Errorf("dbclient accepted a host key that is not the server's:\n%s", r.Stderr)
		}
	}
	return r
}

// logAttrs parses the attributes of a slog text line (key=value, values
// quoted when they hold spaces or quotes).
func logAttrs(line string) map[string]string {
	attrs := map[string]string{}
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimLeft(line, " ") {
		k, rest, ok := strings.Cut(line, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				break
			}
			v, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		attrs[k] = v
		line = rest
	}
	return attrs
}

// authLines returns the attributes of the auth log lines whose attributes
// include want (a value ending in "*" matches as a prefix).
func authLines(t *testing.T, s *server, want map[string]string) []map[string]string {
	t.Helper()
	s.syncLog(t)
	var out []map[string]string
next:
	for _, line := range strings.Split(s.Log(), "\n") {
		if !strings.Contains(line, `msg="auth attempt"`) {
			continue
		}
		a := logAttrs(line)
		for k, v := range want {
			if p, ok := strings.CutSuffix(v, "*"); ok && strings.HasPrefix(a[k], p) || a[k] == v {
				continue
			}
			continue next
		}
		out = append(out, a)
	}
	return out
}

// TestOtherClients: every client, with every key type it has, runs a
// command and gets its exit status under the default policy, and the auth
// line shows it used no legacy algorithm; plink and dbclient push with git.
// JSch's RSA key (ssh-rsa signatures) is refused with a reason naming
// --legacy-algorithms. The clients run in parallel, each on its own.
func TestOtherClients(t *testing.T) {
	t.Parallel()
	s, _ := pushSetup(t, pushServerOpts{})
	keys := map[string]*keyPair{}
	for _, typ := range []string{"ed25519", "rsa", "ecdsa"} {
		keys[typ] = newKey(t, typ, "client-"+typ)
		s.addKey(t, "client-"+typ, keys[typ])
	}
	for _, c := range []otherClient{clientPlink, clientDbclient, clientParamiko, clientJSch} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, typ := range c.keyTypes {
				t.Run(typ, func(t *testing.T) { checkClientLogin(t, s, c, keys[typ]) })
			}
			t.Run("exit 0 and stdout", func(t *testing.T) {
				r := c.run(t, s, keys[c.keyTypes[0]], "version")
				expectCode(t, c.name+" version", r, 0, "dokku-sshd version ", "")
			})
			if c.name == clientJSch.name {
				t.Run("rsa refused without --legacy-algorithms", func(t *testing.T) {
					r := c.run(t, s, keys["rsa"], "apps:exists no-such-app")
					expectCode(t, "jsch with an RSA key", r, 255, "", "Auth fail")
					lines := authLines(t, s, map[string]string{"client_version": c.version + "*", "sig_alg": "ssh-rsa", "accepted": "false"})
					if len(lines) == 0 || !strings.Contains(lines[0]["reason"], "--legacy-algorithms") || lines[0]["legacy"] != "true" {
						t.Errorf("want a refused auth line for JSch's ssh-rsa signature naming --legacy-algorithms, got %v", lines)
					}
				})
			}
			if c.argv != nil {
				t.Run("git push", func(t *testing.T) { checkClientPush(t, s, c, keys["ed25519"]) })
			}
		})
	}
}

// checkClientLogin runs a failing command with the client and key, and
// checks the exit status and the auth line: accepted, with a key exchange
// and a SHA-2 signature, no legacy algorithm.
func checkClientLogin(t *testing.T, s *server, c otherClient, key *keyPair) {
	t.Helper()
	r := c.run(t, s, key, "apps:exists no-such-app")
	expectCode(t, c.name+" apps:exists no-such-app", r, 20, "", "App no-such-app does not exist")
	lines := authLines(t, s, map[string]string{"fingerprint": key.Fingerprint, "client_version": c.version + "*"})
	if len(lines) == 0 {
		t.Fatalf("no auth line for %s with %s", c.name, key.Fingerprint)
	}
	for _, a := range lines {
		if a["accepted"] != "true" || a["legacy"] != "false" || a["kex"] == "" || a["sig_alg"] == "" || a["sig_alg"] == "ssh-rsa" {
			t.Errorf("auth line: %v; want accepted=true legacy=false, a kex and a SHA-2 signature", a)
		}
	}
}

// checkClientPush pushes a new app with git through the client, given to
// git as GIT_SSH: a wrapper with the client's options, called with the
// destination and the remote command (an scp-like URL without a port: the
// wrapper carries it).
func checkClientPush(t *testing.T, s *server, c otherClient, key *keyPair) {
	t.Helper()
	argv := c.argv(t, s, key)
	wrapper := filepath.Join(t.TempDir(), c.name+"-git")
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	writeFile(t, wrapper, "#!/bin/sh\nexec "+strings.Join(quoted, " ")+` "$@"`+"\n")
	if err := os.Chmod(wrapper, 0o700); err != nil {
		t.Fatal(err)
	}
	g := newGitClient(t, s, key)
	env := []string{"GIT_SSH=" + wrapper, "GIT_SSH_VARIANT=simple"}
	for _, kv := range g.env() {
		if !strings.HasPrefix(kv, "GIT_SSH_COMMAND=") {
			env = append(env, kv)
		}
	}
	dir := g.newRepo(t)
	head := g.mustGit(t, dir, "rev-parse", "HEAD")
	app := c.name + "-app"
	r := runTimeout(t, pushTimeout, dir, env, "git", "push", "dokku@127.0.0.1:"+app, "main")
	if r.Code != 0 || !hasLine(remoteLines(r.Stderr), "=====> Application deployed:") {
		t.Fatalf("git push through %s: %s", c.name, r)
	}
	if got := g.serverRef(t, appRepo(s, app), "refs/heads/main"); got != head {
		t.Errorf("server refs/heads/main = %q, want %s", got, head)
	}
}

// TestOtherClientsLegacy: with --legacy-algorithms, JSch's RSA key logs in
// with an ssh-rsa signature, and the auth line says legacy=true; its ECDSA
// key still uses no legacy algorithm.
func TestOtherClientsLegacy(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--legacy-algorithms")
	for _, c := range []struct {
		typ     string
		sig     string
		legacy  string
		keyName string
	}{
		{"rsa", "ssh-rsa", "true", "jsch-rsa"},
		{"ecdsa", "ecdsa-sha2-nistp256", "false", "jsch-ecdsa"},
	} {
		t.Run("jsch/"+c.typ, func(t *testing.T) {
			key := newKey(t, c.typ, c.keyName)
			s.addKey(t, c.keyName, key)
			r := clientJSch.run(t, s, key, "apps:exists no-such-app")
			expectCode(t, "jsch apps:exists no-such-app", r, 20, "", "App no-such-app does not exist")
			lines := authLines(t, s, map[string]string{"fingerprint": key.Fingerprint, "accepted": "true"})
			if len(lines) != 1 || lines[0]["sig_alg"] != c.sig || lines[0]["legacy"] != c.legacy {
				t.Errorf("auth lines %v; want one with sig_alg=%s legacy=%s", lines, c.sig, c.legacy)
			}
		})
	}
	if !strings.Contains(s.Log(), "legacy algorithms enabled") {
		t.Errorf("the server did not warn that legacy algorithms are enabled; log:\n%s", s.Log())
	}
}
