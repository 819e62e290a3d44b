package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// quickKey is a public key made in process (ssh-keygen for hundreds of
// keys would dominate the test): only its line and fingerprint are used.
func quickKey(t *testing.T, name string) *keyPair {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &keyPair{
		Name: name, Type: "ed25519",
		PubLine:     strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sp))) + " " + name + "@integration",
		Fingerprint: gossh.FingerprintSHA256(sp),
	}
}

// appendLine appends one line to path from a shell, as sshcommand acl-add
// does (`echo "$KEY_LINE" >> "$KEY_FILE"`), without the server's lock.
func appendLine(t *testing.T, path, line string) result {
	t.Helper()
	return runCmd(t, "", nil, "bash", "-c", `echo "$1" >> "$2"`, "append", line, path)
}

// The authorized_keys file is shared with sshcommand, which appends with
// `>>` and no lock. ssh-keys:add and ssh-keys:remove racing such appends
// must keep every appended line: 10 rounds of 20 of each at once.
func TestSSHKeysRaceWithAppends(t *testing.T) {
	t.Parallel()
	requireTools(t, "bash")
	s, admin := adminServer(t)
	home := filepath.Join(s.DataDir, "home")
	akPath := filepath.Join(home, ".ssh", "authorized_keys")
	const rounds, perSide = 10, 20

	// check reads the file: every line of want exactly once, none of gone.
	check := func(t *testing.T, what string, want, gone []string) {
		t.Helper()
		b, err := os.ReadFile(akPath)
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]int{}
		for _, l := range strings.Split(string(b), "\n") {
			lines[l]++
		}
		missing := 0
		for _, l := range want {
			if lines[l] != 1 {
				missing++
				t.Errorf("%s: line present %d times, want once: %.120s...", what, lines[l], l)
			}
		}
		for _, l := range gone {
			if lines[l] != 0 {
				t.Errorf("%s: removed line still present: %.120s...", what, l)
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d lines lost", what, missing, len(want))
		}
	}

	var kept []string // every line that must stay to the end
	for round := range rounds {
		// Adds through the server race appends from a shell.
		var adds, appended []*keyPair
		for i := range perSide {
			adds = append(adds, quickKey(t, fmt.Sprintf("add%d-%d", round, i)))
			appended = append(appended, quickKey(t, fmt.Sprintf("app%d-%d", round, i)))
		}
		results := make([]result, 2*perSide)
		var wg sync.WaitGroup
		for i := range perSide {
			wg.Add(2)
			go func() {
				defer wg.Done()
				results[i] = s.sshIn(t, admin, adds[i].PubLine+"\n", "ssh-keys:add", adds[i].Name)
			}()
			go func() {
				defer wg.Done()
				results[perSide+i] = appendLine(t, akPath, sshcommandLine(home, appended[i].Name, appended[i]))
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.Code != 0 {
				t.Fatalf("round %d: command %d failed: %s", round, i, r)
			}
		}
		for i := range perSide {
			kept = append(kept, sshcommandLine(home, adds[i].Name, adds[i]), sshcommandLine(home, appended[i].Name, appended[i]))
		}
		check(t, fmt.Sprintf("round %d (adds)", round), kept, nil)
		if t.Failed() {
			return
		}

		// Removals through the server race more appends: the removed keys
		// go, every appended line stays.
		var removed []string
		for i := range perSide {
			removed = append(removed, sshcommandLine(home, adds[i].Name, adds[i]))
		}
		var more []*keyPair
		for i := range perSide {
			more = append(more, quickKey(t, fmt.Sprintf("more%d-%d", round, i)))
		}
		for i := range perSide {
			wg.Add(2)
			go func() {
				defer wg.Done()
				results[i] = s.ssh(t, admin, "ssh-keys:remove", adds[i].Name)
			}()
			go func() {
				defer wg.Done()
				results[perSide+i] = appendLine(t, akPath, sshcommandLine(home, more[i].Name, more[i]))
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.Code != 0 {
				t.Fatalf("round %d: removal or append %d failed: %s", round, i, r)
			}
		}
		next := kept[:0:0]
		for _, l := range kept {
			if !strings.Contains(l, `NAME=\"add`) {
				next = append(next, l)
			}
		}
		for i := range perSide {
			next = append(next, sshcommandLine(home, more[i].Name, more[i]))
		}
		kept = next
		check(t, fmt.Sprintf("round %d (removals)", round), kept, removed)
		if t.Failed() {
			return
		}
	}
	// The admin key still works and the file is valid for the server.
	r := s.ssh(t, admin, "ssh-keys:list")
	if r.Code != 0 || strings.Count(r.Stdout, "\n") != 1+rounds*2*perSide {
		t.Errorf("ssh-keys:list at the end: %d lines, want %d: %s", strings.Count(r.Stdout, "\n"), 1+rounds*2*perSide, r)
	}
}
