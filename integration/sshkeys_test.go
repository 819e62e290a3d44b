package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const allowedKeys = "no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding"

// sshcommandLine is the exact line `sshcommand acl-add` writes
// (docs/dokku-behaviour.md#authorized-keys-line).
func sshcommandLine(home, name string, k *keyPair) string {
	return `command="FINGERPRINT=` + k.Fingerprint + ` NAME=\"` + name + `\" ` + "`cat " + home + "/.sshcommand`" +
		` $SSH_ORIGINAL_COMMAND",` + allowedKeys + " " + k.PubLine
}

// listText is one line of `ssh-keys:list` text output
// (docs/dokku-behaviour.md#ssh-keys-list).
func listText(name string, k *keyPair) string {
	return k.Fingerprint + ` NAME="` + name + `" SSHCOMMAND_ALLOWED_KEYS="` + allowedKeys + `"` + "\n"
}

// listJSONSpaced is one object of sshcommand's hand-built JSON.
func listJSONSpaced(name string, k *keyPair) string {
	return `{ "fingerprint": "` + k.Fingerprint + `", "name": "` + name + `", "SSHCOMMAND_ALLOWED_KEYS": "` + allowedKeys + `", "public-key": "` + k.PubLine + `" }`
}

// listJSONCompact is the same object after jq -cM.
func listJSONCompact(name string, k *keyPair) string {
	return `{"fingerprint":"` + k.Fingerprint + `","name":"` + name + `","SSHCOMMAND_ALLOWED_KEYS":"` + allowedKeys + `","public-key":"` + k.PubLine + `"}`
}

// docs/dokku-behaviour.md#ssh-keys-commands and #ssh-keys-list: ssh-keys
// messages, list formats, file format.
func TestSSHKeys(t *testing.T) {
	t.Parallel()
	requireTools(t, "ssh", "ssh-keygen", "bash", "grep", "sed")
	s, admin := adminServer(t)
	home := filepath.Join(s.DataDir, "home")
	akPath := filepath.Join(home, ".ssh", "authorized_keys")
	keysNow := func() string {
		b, err := os.ReadFile(akPath)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dir := t.TempDir()
	alpha := newKey(t, "ed25519", "alpha")
	beta := newKey(t, "rsa", "beta")
	gamma := newKey(t, "ecdsa", "gamma")
	spaced := newKey(t, "ed25519", "spaced")

	dupTail := warn("sshcommand returned an error: 1")

	t.Run("add", func(t *testing.T) {
		expect(t, "ssh-keys:add alpha", s.local(t, "", "ssh-keys:add", "alpha", alpha.Pub), 0, alpha.Fingerprint+"\n", "")
		// A single key without a trailing newline is fine.
		noNL := writeFile(t, filepath.Join(dir, "beta-no-newline.pub"), beta.PubLine)
		expect(t, "ssh-keys:add beta (no newline)", s.local(t, "", "ssh-keys:add", "beta", noNL), 0, beta.Fingerprint+"\n", "")
		// Over SSH, from stdin, as admin.
		expect(t, "ssh ssh-keys:add gamma < gamma.pub", s.sshIn(t, admin, gamma.PubLine+"\n", "ssh-keys:add", "gamma"), 0, gamma.Fingerprint+"\n", "")
		// A name with a space (sshcommand allows it), quoted on the SSH line.
		expect(t, `ssh ssh-keys:add "my key"`, s.sshIn(t, admin, spaced.PubLine+"\n", `ssh-keys:add "my key"`), 0, spaced.Fingerprint+"\n", "")
		expectVersion(t, "key with a spaced name logs in", s.ssh(t, spaced, "version"))
	})

	t.Run("add errors", func(t *testing.T) {
		before := keysNow()
		other := newKey(t, "ed25519", "other")
		withOptions := writeFile(t, filepath.Join(dir, "options.pub"), "no-pty "+other.PubLine+"\n")
		withCommand := writeFile(t, filepath.Join(dir, "command.pub"), `command="echo hi" `+other.PubLine+"\n")
		twoKeys := writeFile(t, filepath.Join(dir, "two.pub"), other.PubLine+"\n"+newKey(t, "ed25519", "third").PubLine+"\n")
		garbage := writeFile(t, filepath.Join(dir, "garbage.pub"), "this is not a key\n")
		truncated := writeFile(t, filepath.Join(dir, "truncated.pub"), other.PubLine[:40]+"\n")
		empty := writeFile(t, filepath.Join(dir, "empty.pub"), "")
		cases := []struct {
			name   string
			args   []string
			stderr string
		}{
			{"duplicate name", []string{"alpha", other.Pub}, "Duplicate ssh key name\n" + dupTail},
			{"duplicate name with a space", []string{"my key", other.Pub}, "Duplicate ssh key name\n" + dupTail},
			// sshcommand checks the name before it looks at the key
			// (docs/dokku-behaviour.md#authorized-keys-line).
			{"duplicate name, key with options", []string{"alpha", withOptions}, "Duplicate ssh key name\n" + dupTail},
			{"duplicate key", []string{"alpha-again", alpha.Pub}, "Duplicate ssh public key specified\n" + dupTail},
			{"duplicate key without newline", []string{"beta-again", beta.Pub}, "Duplicate ssh public key specified\n" + dupTail},
			{"key with options", []string{"opt", withOptions}, "Invalid ssh public key\n" + dupTail},
			{"key with command=", []string{"cmd", withCommand}, "Invalid ssh public key\n" + dupTail},
			{"two keys", []string{"two", twoKeys}, warn("Too many keys provided, set one per invocation of dokku ssh-keys:add <NAME> <KEY_FILE>")},
			{"garbage", []string{"garbage", garbage}, warn("Key specified in is not a valid ssh public key")},
			{"truncated", []string{"truncated", truncated}, warn("Key specified in is not a valid ssh public key")},
			{"empty", []string{"empty", empty}, warn("Empty key was specified")},
		}
		for _, c := range cases {
			r := s.local(t, "", append([]string{"ssh-keys:add"}, c.args...)...)
			expect(t, "ssh-keys:add "+c.name, r, 1, "", c.stderr)
			if keysNow() != before {
				t.Fatalf("ssh-keys:add %s changed authorized_keys:\n%s", c.name, keysNow())
			}
		}
		// The same messages over SSH with the key on stdin.
		expect(t, "ssh ssh-keys:add alpha (duplicate name)", s.sshIn(t, admin, other.PubLine+"\n", "ssh-keys:add", "alpha"), 1, "", "Duplicate ssh key name\n"+dupTail)
		expect(t, "ssh ssh-keys:add (duplicate key)", s.sshIn(t, admin, alpha.PubLine+"\n", "ssh-keys:add", "x"), 1, "", "Duplicate ssh public key specified\n"+dupTail)
		expect(t, "ssh ssh-keys:add (options)", s.sshIn(t, admin, "no-pty "+other.PubLine+"\n", "ssh-keys:add", "x"), 1, "", "Invalid ssh public key\n"+dupTail)
		expect(t, "ssh ssh-keys:add (garbage)", s.sshIn(t, admin, "garbage\n", "ssh-keys:add", "x"), 1, "", warn("Key specified in is not a valid ssh public key"))
		r := s.ssh(t, admin, "ssh-keys:add", "x") // nothing on stdin
		if r.Code != 1 || r.Stdout != "" {
			t.Errorf("ssh-keys:add with empty stdin: %s\nwant exit 1, nothing on stdout", r)
		}
		if keysNow() != before {
			t.Fatalf("a failed ssh-keys:add over SSH changed authorized_keys:\n%s", keysNow())
		}
	})

	t.Run("file format", func(t *testing.T) {
		want := strings.Join([]string{
			sshcommandLine(home, "admin", admin),
			sshcommandLine(home, "alpha", alpha),
			sshcommandLine(home, "beta", beta),
			sshcommandLine(home, "gamma", gamma),
			sshcommandLine(home, "my key", spaced),
		}, "\n") + "\n"
		if got := keysNow(); got != want {
			t.Errorf("authorized_keys is not what sshcommand acl-add writes:\n%s", lineDiff(want, got))
		}
		// Check every line with the real ssh-keygen and with sshcommand's
		// list regex in bash's own regex engine (sed -E / grep -E).
		script := `
set -u
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
re='^command="FINGERPRINT=(\S+) NAME=(\\"|)(.*)\2 ` + "`" + `.*",(\S+).*'
n=0
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n+1))
  printf '%s\n' "$line" > "$tmp"
  ssh-keygen -lf "$tmp" >/dev/null 2>&1 || { echo "line $n fails ssh-keygen -lf"; exit 1; }
  printf '%s\n' "$line" | grep -qE "$re" || { echo "line $n does not match the list regex"; exit 1; }
  printf '%s\n' "$line" | sed -E "s/$re/\1|\3|\4/"
done < "$1"
`
		got := run(t, "", "bash", "-c", script, "check", akPath)
		var b strings.Builder
		for _, e := range []struct {
			name string
			k    *keyPair
		}{{"admin", admin}, {"alpha", alpha}, {"beta", beta}, {"gamma", gamma}, {"my key", spaced}} {
			fmt.Fprintf(&b, "%s|%s|%s\n", e.k.Fingerprint, e.name, allowedKeys)
		}
		if got != b.String() {
			t.Errorf("sshcommand's regex parses authorized_keys as:\n%s\nwant:\n%s", got, b.String())
		}
	})

	t.Run("list", func(t *testing.T) {
		all := listText("admin", admin) + listText("alpha", alpha) + listText("beta", beta) + listText("gamma", gamma) + listText("my key", spaced)
		expect(t, "ssh-keys:list", s.ssh(t, alpha, "ssh-keys:list"), 0, all, "")
		expect(t, "ssh-keys:list --format text", s.ssh(t, alpha, "ssh-keys:list", "--format", "text"), 0, all, "")
		expect(t, "ssh-keys:list beta", s.ssh(t, alpha, "ssh-keys:list", "beta"), 0, listText("beta", beta), "")
		expect(t, "ssh-keys:list --format text beta", s.ssh(t, alpha, "ssh-keys:list", "--format", "text", "beta"), 0, listText("beta", beta), "")
		expect(t, `ssh-keys:list "my key"`, s.ssh(t, alpha, `ssh-keys:list "my key"`), 0, listText("my key", spaced), "")
		expect(t, "ssh-keys:list nobody", s.ssh(t, alpha, "ssh-keys:list", "nobody"), 1, "", "")

		spacedJSON := "[" + strings.Join([]string{
			listJSONSpaced("admin", admin), listJSONSpaced("alpha", alpha), listJSONSpaced("beta", beta),
			listJSONSpaced("gamma", gamma), listJSONSpaced("my key", spaced),
		}, ",") + "]\n"
		expect(t, "ssh-keys:list --format json", s.ssh(t, alpha, "ssh-keys:list", "--format", "json"), 0, spacedJSON, "")
		expect(t, "ssh-keys:list --format json gamma", s.ssh(t, alpha, "ssh-keys:list", "--format", "json", "gamma"), 0,
			"["+listJSONCompact("gamma", gamma)+"]\n", "")
		expect(t, "ssh-keys:list --format json nobody", s.ssh(t, alpha, "ssh-keys:list", "--format", "json", "nobody"), 0, "[]\n", "")
		expect(t, "ssh-keys:list --format yaml", s.ssh(t, alpha, "ssh-keys:list", "--format", "yaml"), 1, "",
			warn("Invalid output format specified, supported formats: json, text"))
		// Local and SSH agree.
		if l, r := s.local(t, "", "ssh-keys:list", "--format", "json"), s.ssh(t, alpha, "ssh-keys:list", "--format", "json"); l != r {
			t.Errorf("local and ssh ssh-keys:list --format json differ:\n%s\n%s", l, r)
		}
	})

	t.Run("foreign lines", func(t *testing.T) {
		// Comments, blank lines and keys without sshcommand's prefix are
		// valid; list skips them and they do not break anything.
		plain := newKey(t, "ed25519", "plain")
		before := keysNow()
		f, err := os.OpenFile(akPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "# a comment\n\n%s\n", plain.PubLine)
		f.Close()
		all := listText("admin", admin) + listText("alpha", alpha) + listText("beta", beta) + listText("gamma", gamma) + listText("my key", spaced)
		expect(t, "ssh-keys:list with foreign lines", s.ssh(t, alpha, "ssh-keys:list"), 0, all, "")
		if err := os.WriteFile(akPath, []byte(before), 0o600); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("remove", func(t *testing.T) {
		expect(t, "ssh-keys:remove (no name)", s.local(t, "", "ssh-keys:remove"), 1, "",
			warn("A name is required to remove a key, ie: dokku ssh-keys:remove <name>"))
		expect(t, "ssh-keys:remove --fingerprint (no value)", s.local(t, "", "ssh-keys:remove", "--fingerprint"), 1, "",
			warn("A fingerprint is required to remove a key, ie: dokku ssh-keys:remove --fingerprint FINGERPRINT"))
		before := keysNow()
		expect(t, "ssh-keys:remove nobody", s.local(t, "", "ssh-keys:remove", "nobody"), 0, "", "")
		expect(t, "ssh-keys:remove --fingerprint unknown", s.local(t, "", "ssh-keys:remove", "--fingerprint", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 0, "", "")
		if keysNow() != before {
			t.Errorf("removing unknown keys changed authorized_keys")
		}
		expect(t, "ssh-keys:remove alpha", s.ssh(t, admin, "ssh-keys:remove", "alpha"), 0, "", "")
		expect(t, `ssh-keys:remove "my key"`, s.ssh(t, admin, `ssh-keys:remove "my key"`), 0, "", "")
		expect(t, "ssh-keys:remove --fingerprint beta", s.local(t, "", "ssh-keys:remove", "--fingerprint", beta.Fingerprint), 0, "", "")
		want := sshcommandLine(home, "admin", admin) + "\n" + sshcommandLine(home, "gamma", gamma) + "\n"
		if got := keysNow(); got != want {
			t.Errorf("authorized_keys after removals:\n%s", lineDiff(want, got))
		}
		expect(t, "ssh-keys:list after removals", s.ssh(t, admin, "ssh-keys:list"), 0, listText("admin", admin)+listText("gamma", gamma), "")
	})

	t.Run("invalid line", func(t *testing.T) {
		before := keysNow()
		if err := os.WriteFile(akPath, []byte(before+"this line is broken\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(akPath, []byte(before), 0o600)
		// A broken line never locks the valid keys out.
		expectVersion(t, "admin with a broken line in the file", s.ssh(t, admin, "version"))
		expect(t, "ssh-keys:list with a broken line", s.ssh(t, admin, "ssh-keys:list"), 1, "", akPath+" line 3 failed ssh-keygen check.\n")
		expect(t, "ssh-keys:remove with a broken line", s.local(t, "", "ssh-keys:remove", "gamma"), 1, "", warn(akPath+" line 3 failed ssh-keygen check."))
	})
}

// docs/dokku-behaviour.md#ssh-keys-list and #ssh-keys-commands on a host
// without any key yet.
func TestSSHKeysNoKeys(t *testing.T) {
	t.Parallel()
	requireSSH(t)
	s := &server{t: t, DataDir: t.TempDir()}
	r := s.local(t, "", "ssh-keys:list")
	if r.Code != 1 || r.Stdout != "" || (r.Stderr != "authorized_keys not found for dokku\n" && r.Stderr != "authorized_keys is empty for dokku\n") {
		t.Errorf("ssh-keys:list without keys: %s\nwant exit 1 and sshcommand's `authorized_keys not found|is empty for dokku`", r)
	}
	expect(t, "ssh-keys:remove without keys", s.local(t, "", "ssh-keys:remove", "x"), 1, "", warn("No public keys found."))
	k := newKey(t, "ed25519", "first")
	expect(t, "first ssh-keys:add", s.local(t, "", "ssh-keys:add", "first", k.Pub), 0, k.Fingerprint+"\n", "")
	expect(t, "ssh-keys:remove first", s.local(t, "", "ssh-keys:remove", "first"), 0, "", "")
	r = s.local(t, "", "ssh-keys:list")
	expect(t, "ssh-keys:list after removing the only key", r, 1, "", "authorized_keys is empty for dokku\n")
	expect(t, "ssh-keys:remove on an empty file", s.local(t, "", "ssh-keys:remove", "x"), 1, "", warn("No public keys found."))
	expect(t, "ssh-keys:list --format json on an empty file", s.local(t, "", "ssh-keys:list", "--format", "json"), 1, "", "authorized_keys is empty for dokku\n")
}

// Concurrent key changes from several processes and sessions lose nothing.
func TestConcurrentKeyAdds(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	const perSide = 6
	var local, remote []*keyPair
	for i := range perSide {
		local = append(local, newKey(t, "ed25519", fmt.Sprintf("local%d", i)))
		remote = append(remote, newKey(t, "ed25519", fmt.Sprintf("remote%d", i)))
	}
	var wg sync.WaitGroup
	results := make([]result, 2*perSide)
	for i := range perSide {
		wg.Add(2)
		go func() {
			defer wg.Done()
			results[i] = s.local(t, "", "ssh-keys:add", local[i].Name, local[i].Pub)
		}()
		go func() {
			defer wg.Done()
			results[perSide+i] = s.sshIn(t, admin, remote[i].PubLine+"\n", "ssh-keys:add", remote[i].Name)
		}()
	}
	wg.Wait()
	all := append(append([]*keyPair{}, local...), remote...)
	for i, r := range results {
		expect(t, "ssh-keys:add "+all[i].Name, r, 0, all[i].Fingerprint+"\n", "")
	}
	r := s.ssh(t, admin, "ssh-keys:list")
	if r.Code != 0 {
		t.Fatalf("ssh-keys:list: %s", r)
	}
	for _, k := range all {
		if strings.Count(r.Stdout, listText(k.Name, k)) != 1 {
			t.Errorf("key %s is not listed exactly once after concurrent adds:\n%s", k.Name, r.Stdout)
		}
		expectVersion(t, k.Name, s.ssh(t, k, "version"))
	}
}
