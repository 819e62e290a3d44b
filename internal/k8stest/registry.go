package k8stest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryServer is a distribution registry (`registry serve`) on 127.0.0.1,
// storing into the test's temporary directory. The Docker Engine pushes to
// it without TLS: 127.0.0.0/8 is an insecure registry by default.
type RegistryServer struct {
	// Addr is "127.0.0.1:PORT", the registry part of image names.
	Addr string
	// User and Password are set when the registry requires them.
	User, Password string
	dir            string
	proc           *proc
}

// RegistryOption configures Registry.
type RegistryOption func(*RegistryServer)

// WithAuth makes the registry require HTTP basic authentication (htpasswd,
// bcrypt) of user and password.
func WithAuth(user, password string) RegistryOption {
	return func(r *RegistryServer) { r.User, r.Password = user, password }
}

// Registry starts a registry for this test, stopped when it ends.
func Registry(t testing.TB, opts ...RegistryOption) *RegistryServer {
	t.Helper()
	bins := requireBins(t, "registry")
	r := &RegistryServer{dir: t.TempDir()}
	for _, o := range opts {
		o(r)
	}
	var err error
	for attempt := 1; attempt <= 4; attempt++ {
		if err = r.start(bins); err == nil || !errors.Is(err, errPortClash) {
			break
		}
	}
	if err != nil {
		t.Fatalf("k8stest: registry: %v", err)
	}
	t.Cleanup(func() { r.proc.stop() })
	return r
}

func (r *RegistryServer) start(bins string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	r.Addr = "127.0.0.1:" + strconv.Itoa(ports[0])
	cfg, err := r.config()
	if err != nil {
		return err
	}
	file := filepath.Join(r.dir, "config.yml")
	if err := os.WriteFile(file, cfg, 0o600); err != nil {
		return err
	}
	if r.proc, err = startProc(r.dir, "registry", filepath.Join(bins, "registry"), "serve", file); err != nil {
		return err
	}
	if err := r.waitReady(); err != nil {
		desc := r.proc.describe()
		r.proc.stop()
		if strings.Contains(desc, "address already in use") {
			return fmt.Errorf("%v: %w: %s", err, errPortClash, desc)
		}
		return fmt.Errorf("%v: %s", err, desc)
	}
	return nil
}

// config is the registry's configuration: filesystem storage, deletes
// allowed, htpasswd when WithAuth was given.
func (r *RegistryServer) config() ([]byte, error) {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	var auth string
	if r.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		htpasswd := filepath.Join(r.dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(r.User+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: dokku-sshd-test\n    path: %q\n", htpasswd)
	}
	return fmt.Appendf(nil, `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: %q
  secret: %q
%s`, filepath.Join(r.dir, "data"), r.Addr, hex.EncodeToString(secret), auth), nil
}

// waitReady polls /v2/ until the registry answers (401 when it requires a
// login).
func (r *RegistryServer) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if r.proc.exited() {
			return errors.New("registry exited")
		}
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry not ready after %v (last: %v)", readyTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the registry's base URL, http://127.0.0.1:PORT.
func (r *RegistryServer) URL() string { return "http://" + r.Addr }

// Manifest fetches repo:ref's manifest over HTTP (with the credentials,
// if any) and returns its body, media type and digest.
func (r *RegistryServer) Manifest(ctx context.Context, repo, ref string) (body []byte, mediaType, digest string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL()+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		return nil, "", "", err
	}
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	if r.User != "" {
		req.SetBasicAuth(r.User, r.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", "", fmt.Errorf("GET manifest %s:%s: %s: %s", repo, ref, resp.Status, body)
	}
	return body, resp.Header.Get("Content-Type"), resp.Header.Get("Docker-Content-Digest"), nil
}
