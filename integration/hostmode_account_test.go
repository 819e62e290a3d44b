package integration

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dokku-sshd/internal/testenv"
)

// The account both host-mode servers serve. Run as root, the tests serve a
// dedicated unprivileged user, as a Dokku host serves its dokku user:
// OpenSSH's sshd (running as root) logs it in, and dokku-sshd runs as it.
// Its home holds only an empty .bashrc and .profile, so the login shell
// (bash, which reads ~/.bashrc when started by sshd) does the same thing
// every time, whatever the machine's root account is set up to do. Run as
// anyone else, the tests serve their own user, the only one an sshd not
// running as root can log in.
const (
	hostTestUser  = "dokku-sshd-test"
	hostTestHome  = "/home/dokku-sshd-test"
	hostTestShell = "/bin/bash"
)

// hostAccount is the login both servers serve.
type hostAccount struct {
	Name string
	Home string
	// Cred is what dokku-sshd runs as; nil: the tests' own user.
	Cred *syscall.Credential
}

var (
	hostAccountOnce sync.Once
	hostAccountVal  hostAccount
	hostAccountErr  error
)

// hostLogin returns the account, setting it up once per test binary. It
// skips the test when the dedicated user cannot be made (fails under
// CI=true).
func hostLogin(t testing.TB) hostAccount {
	t.Helper()
	hostAccountOnce.Do(func() { hostAccountVal, hostAccountErr = setupHostAccount() })
	if hostAccountErr != nil {
		testenv.SkipOrFail(t, "host-mode tests run as root serve a dedicated user %s (made with useradd, Debian's passwd package): %v",
			hostTestUser, hostAccountErr)
	}
	return hostAccountVal
}

func setupHostAccount() (hostAccount, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return hostAccount{}, fmt.Errorf("current user: %w", err)
		}
		return hostAccount{Name: u.Username, Home: u.HomeDir}, nil
	}
	u, err := ensureTestUser()
	if err != nil {
		return hostAccount{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	a := hostAccount{Name: u.Username, Home: u.HomeDir,
		Cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	if err := a.freshHome(); err != nil {
		return hostAccount{}, err
	}
	return a, nil
}

// ensureTestUser makes the dedicated user, or puts an existing one (an
// earlier run's, or another test binary's running at the same time) right:
// hostTestHome, hostTestShell, and a password field that refuses every
// password without locking the account ("*": sshd refuses a locked
// account's keys too when it does not use PAM).
func ensureTestUser() (*user.User, error) {
	if _, err := exec.LookPath("useradd"); err != nil {
		return nil, fmt.Errorf("useradd: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if u, err := user.Lookup(hostTestUser); err == nil {
			return u, fixTestUser(u)
		}
		out, err := exec.Command("useradd", "--home-dir", hostTestHome, "--no-create-home", "--shell", hostTestShell,
			"--user-group", "--password", "*", hostTestUser).CombinedOutput()
		if err == nil {
			return user.Lookup(hostTestUser)
		}
		// Another test binary may be making it, or holding the passwd lock.
		lastErr = fmt.Errorf("useradd %s: %v: %s", hostTestUser, err, strings.TrimSpace(string(out)))
		time.Sleep(200 * time.Millisecond)
	}
	return nil, lastErr
}

// fixTestUser changes what differs in an existing user's entries.
func fixTestUser(u *user.User) error {
	var args []string
	if u.HomeDir != hostTestHome {
		args = append(args, "--home", hostTestHome)
	}
	if shell, err := passwdField(u.Username, 6); err != nil {
		return err
	} else if shell != hostTestShell {
		args = append(args, "--shell", hostTestShell)
	}
	if pw, err := shadowPassword(u.Username); err != nil {
		return err
	} else if pw != "*" {
		args = append(args, "--password", "*")
	}
	if len(args) == 0 {
		return nil
	}
	if out, err := exec.Command("usermod", append(args, u.Username)...).CombinedOutput(); err != nil {
		return fmt.Errorf("usermod %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	u.HomeDir = hostTestHome
	return nil
}

// passwdField is field i (0-based) of name's /etc/passwd entry.
func passwdField(name string, i int) (string, error) {
	return dbField("/etc/passwd", name, i)
}

// shadowPassword is name's password field in /etc/shadow.
func shadowPassword(name string) (string, error) {
	return dbField("/etc/shadow", name, 1)
}

func dbField(file, name string, i int) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if fields[0] == name && i < len(fields) {
			return fields[i], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	return "", fmt.Errorf("%s: no entry for %s", file, name)
}

// freshHome leaves the home with an empty .bashrc and .profile and nothing
// else, owned by the user.
func (a hostAccount) freshHome() error {
	if err := os.MkdirAll(a.Home, 0o755); err != nil {
		return fmt.Errorf("home: %w", err)
	}
	entries, err := os.ReadDir(a.Home)
	if err != nil {
		return fmt.Errorf("home: %w", err)
	}
	for _, e := range entries {
		if e.Name() != ".bashrc" && e.Name() != ".profile" {
			if err := os.RemoveAll(filepath.Join(a.Home, e.Name())); err != nil {
				return fmt.Errorf("home: %w", err)
			}
		}
	}
	for _, name := range []string{".bashrc", ".profile"} {
		if err := os.WriteFile(filepath.Join(a.Home, name), nil, 0o644); err != nil {
			return fmt.Errorf("home: %w", err)
		}
	}
	if err := os.Chmod(a.Home, 0o755); err != nil {
		return fmt.Errorf("home: %w", err)
	}
	return a.chownTree(a.Home)
}

// chownTree gives path and everything under it to the account (nothing to
// do when it is the tests' own user).
func (a hostAccount) chownTree(path string) error {
	if a.Cred == nil {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(a.Cred.Uid), int(a.Cred.Gid))
	})
}

// own is chownTree failing the test.
func (a hostAccount) own(t testing.TB, path string) {
	t.Helper()
	if err := a.chownTree(path); err != nil {
		t.Fatalf("give %s to %s: %v", path, a.Name, err)
	}
}

// dir is a fresh t.TempDir the account owns and can reach (the test's
// temporary directories are root's, mode 0700).
func (a hostAccount) dir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	if a.Cred == nil {
		return d
	}
	if err := os.Chmod(filepath.Dir(d), 0o711); err != nil {
		t.Fatal(err)
	}
	a.own(t, d)
	return d
}

// env is the environment dokku-sshd gets on top of the tests' own: the
// account's, as systemd's User= gives it.
func (a hostAccount) env() []string {
	if a.Cred == nil {
		return nil
	}
	return []string{"HOME=" + a.Home, "USER=" + a.Name, "LOGNAME=" + a.Name, "SHELL=" + hostTestShell}
}
