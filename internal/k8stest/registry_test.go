package k8stest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"dokku-sshd/internal/dockertest"
)

// TestRegistryPush pushes the Docker test base image through the Engine
// API to a registry, with and without a login, and reads its manifest back.
func TestRegistryPush(t *testing.T) {
	cli := dockertest.Require(t)
	base := dockertest.EnsureBaseImage(t, cli)
	for _, tc := range []struct {
		name string
		opts []RegistryOption
	}{
		{"open", nil},
		{"login", []RegistryOption{WithAuth("pusher", "secret-"+randHex())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Registry(t, tc.opts...)
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			repo := "k8stest/busybox"
			ref := r.Addr + "/" + repo + ":" + tc.name
			if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: base, Target: ref}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = cli.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{})
			})
			if r.User != "" {
				resp, err := http.Get(r.URL() + "/v2/")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("GET /v2/ without a login: %s, want 401", resp.Status)
				}
				if err := push(ctx, cli, ref, "pusher", "wrong"); err == nil {
					t.Fatal("push with a wrong password succeeded")
				}
			}
			if err := push(ctx, cli, ref, r.User, r.Password); err != nil {
				t.Fatalf("push %s: %v", ref, err)
			}
			body, mediaType, digest, err := r.Manifest(ctx, repo, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(digest, "sha256:") || !strings.Contains(mediaType, "manifest") || !json.Valid(body) {
				t.Fatalf("manifest: digest %q, type %q, body %s", digest, mediaType, body)
			}
			// The digest names the same manifest.
			if _, _, d2, err := r.Manifest(ctx, repo, digest); err != nil || d2 != digest {
				t.Fatalf("manifest by digest %s: %v (digest %q)", digest, err, d2)
			}
		})
	}
}

// push pushes ref through the Engine, with credentials when user is set,
// and returns the first error of the progress stream.
func push(ctx context.Context, cli *client.Client, ref, user, password string) error {
	opts := client.ImagePushOptions{}
	if user != "" {
		b, err := json.Marshal(registry.AuthConfig{Username: user, Password: password})
		if err != nil {
			return err
		}
		opts.RegistryAuth = base64.URLEncoding.EncodeToString(b)
	} else {
		// The Engine wants some auth header even for an open registry.
		opts.RegistryAuth = base64.URLEncoding.EncodeToString([]byte("{}"))
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := cli.ImagePush(pctx, ref, opts)
	if err != nil {
		return err
	}
	defer res.Close()
	for m, err := range res.JSONMessages(pctx) {
		if err != nil {
			return err
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
	}
	return nil
}
