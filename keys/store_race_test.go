package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/testenv"
)

// requireLeases skips (fails on CI) where write leases are not available
// in dir: without them a removal cannot wait for appenders.
func requireLeases(t *testing.T, dir string) {
	t.Helper()
	f, err := os.CreateTemp(dir, "lease-probe-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	release, err := waitUnheld(f, 0)
	if err != nil {
		testenv.SkipOrFail(t, "file leases unavailable in %s: %v", dir, err)
	}
	release()
}

// An appender that takes no lock (sshcommand's `>>`) and opened the file
// before a removal renamed the new one into place still writes to the old,
// now nameless, file. The removal must wait until it has closed that file
// and carry its line over to the new one.
func TestRemoveCarriesOverAppendToReplacedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	requireLeases(t, filepath.Dir(path))
	s := Open(path, nil)
	for _, n := range []string{"alice", "bob"} {
		if _, err := s.Add(n, []byte(goKey(t, n+"@host"))); err != nil {
			t.Fatal(err)
		}
	}
	held, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldInfo, err := held.Stat()
	if err != nil {
		t.Fatal(err)
	}
	late := goKey(t, "late@host")

	done := make(chan error, 1)
	go func() { done <- s.RemoveByName("alice") }()
	// Wait until the path names the new file (the rename has happened),
	// then write after the removal's own reads of the old file: once it has
	// returned, or after a moment if it waits for this descriptor (the
	// pause only makes the old behaviour fail; the checks below do not
	// depend on it).
	replaced := func() bool {
		fi, err := os.Stat(path)
		return err == nil && !os.SameFile(fi, heldInfo)
	}
	var removeErr error
	returned := false
	for !returned && !replaced() {
		select {
		case removeErr = <-done:
			returned = true
		case <-time.After(time.Millisecond):
		}
	}
	if !replaced() {
		t.Fatalf("removal returned (%v) without replacing the file", removeErr)
	}
	if !returned {
		select {
		case removeErr = <-done:
			returned = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := held.WriteString(late + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if !returned {
		removeErr = <-done
	}
	if removeErr != nil {
		t.Fatal(removeErr)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if n := strings.Count(got, late+"\n"); n != 1 {
		t.Errorf("line appended to the replaced file present %d times, want once; file:\n%s", n, got)
	}
	if strings.Contains(got, `NAME=\"alice\"`) || !strings.Contains(got, `NAME=\"bob\"`) {
		t.Errorf("want alice removed and bob kept; file:\n%s", got)
	}
}

// A descriptor of the replaced file that stays open (a pager, `tail -f`)
// delays a removal by leaseTimeout at most; the removal still completes and
// keeps every line written before it.
func TestRemoveDoesNotWaitForeverForHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	requireLeases(t, filepath.Dir(path))
	defer func(d time.Duration) { leaseTimeout = d }(leaseTimeout)
	leaseTimeout = 50 * time.Millisecond

	s := Open(path, nil)
	for _, n := range []string{"alice", "bob"} {
		if _, err := s.Add(n, []byte(goKey(t, n+"@host"))); err != nil {
			t.Fatal(err)
		}
	}
	before := goKey(t, "before@host")
	held, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.WriteString(before + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveByName("alice"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if strings.Count(got, before+"\n") != 1 || strings.Contains(got, `NAME=\"alice\"`) || !strings.Contains(got, `NAME=\"bob\"`) {
		t.Errorf("want alice removed, bob and the appended line kept once; file:\n%s", got)
	}
}

// An add that reads the file while a lockless appender (sshcommand's `>>`)
// is halfway through its line must not take the half line for a broken
// key: it waits for the line's end (regression: "line N failed ssh-keygen
// check", seen under load).
func TestAddDuringLocklessAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	s := Open(path, nil)
	if _, err := s.Add("alice", []byte(goKey(t, "alice@host"))); err != nil {
		t.Fatal(err)
	}
	other := strings.TrimSpace(goKey(t, "other@host"))
	half := len(other) / 2
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(other[:half]); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(5 * time.Millisecond) // the rest of the appender's line
		f.WriteString(other[half:] + "\n")
	}()
	if _, err := s.Add("bob", []byte(goKey(t, "bob@host"))); err != nil {
		t.Fatalf("add while another program appends: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), other+"\n") || !strings.Contains(string(data), `NAME=\"bob\"`) {
		t.Errorf("want the appended line whole and bob's line:\n%s", data)
	}
}

// halfLine tells a writer's half line, worth waiting for, from a complete
// last line that only lacks its newline (a file edited by hand), which is
// read at once: every read of such a file used to wait 100 ms.
func TestHalfLine(t *testing.T) {
	key := goKey(t, "")
	line := FormatLine("n", fpOf(t, key), DefaultOptions, key, "/home/dokku")
	for _, tc := range []struct {
		name string
		b    string
		want bool
	}{
		{"empty", "", false},
		{"ends with a newline", line + "\n", false},
		{"complete last line, no newline", line + "\n" + key, false},
		{"half a key", line + "\n" + key[:len(key)/2], true},
		{"half an sshcommand line", line[:len(line)/3], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := halfLine([]byte(tc.b)); got != tc.want {
				t.Errorf("halfLine = %v, want %v", got, tc.want)
			}
		})
	}
}
