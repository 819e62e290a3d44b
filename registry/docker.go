package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"dokku-sshd/internal/appimages"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Registry is the registry plugin's work on the Docker Engine: logins
// checked by the Engine, pushes of an app's image, digests of images in a
// registry. It implements k3s.Images.
type Registry struct {
	Store  *store.Store
	Client *client.Client // nil: no Docker on this server; every Engine call says so
}

// New returns the registry plugin on cli (nil: no Docker).
func New(st *store.Store, cli *client.Client) *Registry {
	return &Registry{Store: st, Client: cli}
}

// errNoDocker is what an Engine call says when the server has no Docker.
var errNoDocker = output.Userf("Docker is not available on this server")

// Login checks user and password against server through the Engine (as
// docker login does: the daemon contacts the registry) and stores them for
// app ("" for the global login). The error is Dokku's "Unable to run
// docker login: <the Engine's message>".
func (r *Registry) Login(ctx context.Context, app, server, user, password string) error {
	if err := CheckServer(server); err != nil {
		return err
	}
	if r.Client == nil {
		return output.Userf("Unable to run docker login: %v", errNoDocker)
	}
	addr := AuthKey(server)
	res, err := r.Client.RegistryLogin(ctx, client.RegistryLoginOptions{Username: user, Password: password, ServerAddress: addr})
	if err != nil {
		return output.Userf("Unable to run docker login: %s", engineMessage(err))
	}
	c := Credential{Username: user, Password: password, IdentityToken: res.Auth.IdentityToken}
	return SaveLogin(r.Store, app, server, c)
}

// engineMessage is the Engine's message for err, on one line.
func engineMessage(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// encodedAuth is the X-Registry-Auth value for app's login to server ("{}"
// encoded without one: some Engines refuse a push with no header at all).
func (r *Registry) encodedAuth(app, server string) (string, error) {
	c, ok, err := Lookup(r.Store, app, server)
	if err != nil {
		return "", err
	}
	type authConfig struct {
		Username      string `json:"username,omitempty"`
		Password      string `json:"password,omitempty"`
		ServerAddress string `json:"serveraddress,omitempty"`
		IdentityToken string `json:"identitytoken,omitempty"`
	}
	a := authConfig{}
	if ok {
		a = authConfig{Username: c.Username, Password: c.Password, ServerAddress: AuthKey(server), IdentityToken: c.IdentityToken}
	}
	data, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(data), nil
}

// Push tags image as app's next registry reference, SERVER/REPO:N (Dokku's
// tag scheme, N the bumped tag-version), pushes it and each push-extra-tag
// with the Engine's progress as lines on out (one per layer state change),
// and returns the pushed reference by digest, SERVER/REPO@sha256:...
// The local registry tags are removed again when the image has a name of
// its own, so that a push leaves the host's images as they were.
func (r *Registry) Push(ctx context.Context, app, image string, out io.Writer) (string, error) {
	if r.Client == nil {
		return "", errNoDocker
	}
	server, err := Server(r.Store, app)
	if err != nil {
		return "", err
	}
	repo, err := ImageRepo(r.Store, app)
	if err != nil {
		return "", err
	}
	if server == "" && repo == "dokku/"+app {
		// Docker Hub's dokku/ namespace is not the user's: nothing was
		// configured, and the push could only be refused.
		return "", output.Userf("No registry server is set for %s: set one with 'registry:set %s server HOST' or 'registry:set --global server HOST'", app, app)
	}
	extra, err := ExtraTags(r.Store, app)
	if err != nil {
		return "", err
	}
	auth, err := r.encodedAuth(app, server)
	if err != nil {
		return "", err
	}
	output.Info1(out, "Pushing image to registry")
	n, err := nextTag(r.Store, app)
	if err != nil {
		return "", err
	}
	output.Verbose(out, "Bumping tag to %d", n)
	full := Target(server, repo, strconv.Itoa(n))
	output.Verbose(out, "Tagging %s:%d in registry format", repo, n)
	if err := r.tag(ctx, image, full); err != nil {
		return "", err
	}
	defer r.untag(ctx, image, full)
	for _, tag := range extra {
		output.Verbose(out, "Tagging %s as %s in registry format", repo, tag)
		target := Target(server, repo, tag)
		if err := r.tag(ctx, image, target); err != nil {
			return "", err
		}
		_, err := r.push(ctx, target, auth, out)
		r.untag(ctx, image, target)
		if err != nil {
			return "", err
		}
	}
	digest, err := r.push(ctx, full, auth, out)
	if err != nil {
		return "", err
	}
	named, err := reference.ParseNormalizedNamed(full)
	if err != nil {
		return "", fmt.Errorf("registry: parse %s: %w", full, err)
	}
	output.Verbose(out, "Image %s pushed", full)
	return named.Name() + "@" + digest, nil
}

// Repository is the repository app's pushes go to now, as Push's
// references name it (SERVER/REPO; docker.io/REPO on Docker Hub): a
// scheduler keeping a pushed reference checks that the app's registry
// settings have not moved since.
func (r *Registry) Repository(app string) (string, error) {
	server, err := Server(r.Store, app)
	if err != nil {
		return "", err
	}
	repo, err := ImageRepo(r.Store, app)
	if err != nil {
		return "", err
	}
	named, err := reference.ParseNormalizedNamed(Target(server, repo, "latest"))
	if err != nil {
		return "", fmt.Errorf("registry: parse the repository of %s: %w", app, err)
	}
	return named.Name(), nil
}

// tag tags image as target.
func (r *Registry) tag(ctx context.Context, image, target string) error {
	if _, err := r.Client.ImageTag(ctx, client.ImageTagOptions{Source: image, Target: target}); err != nil {
		return output.Userf("Unable to tag image %s as %s: %s", image, target, engineMessage(err))
	}
	return nil
}

// push pushes target and returns its digest.
func (r *Registry) push(ctx context.Context, target, auth string, out io.Writer) (string, error) {
	output.Verbose(out, "Pushing %s", target)
	resp, err := r.Client.ImagePush(ctx, target, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return "", output.Userf("Unable to push image %s: %s", target, engineMessage(err))
	}
	defer resp.Close()
	digest, err := readPush(ctx, resp, out)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", output.Userf("Unable to push image %s: %s", target, engineMessage(err))
	}
	return digest, nil
}

// untag removes the registry tag target when image keeps another name: an
// image known only by that tag (an id passed in) would go with it.
func (r *Registry) untag(ctx context.Context, image, target string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	res, err := r.Client.ImageInspect(cctx, image)
	if err != nil {
		return
	}
	for _, t := range res.RepoTags {
		if t != target {
			_, _ = r.Client.ImageRemove(cctx, target, client.ImageRemoveOptions{})
			return
		}
	}
}

// readPush turns the Engine's push messages into lines on out and returns
// the pushed manifest's digest; the Engine's error message ends it.
func readPush(ctx context.Context, resp client.ImagePushResponse, out io.Writer) (string, error) {
	p := newProgress(out)
	digest := ""
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return "", err
		}
		if msg.Error != nil {
			return "", errors.New(msg.Error.Message)
		}
		p.message(msg)
		if d := auxDigest(msg); d != "" {
			digest = d
		}
	}
	if digest == "" {
		return "", errors.New("the Engine did not report the pushed image's digest")
	}
	return digest, nil
}

// auxDigest is the digest a push's closing aux message carries.
func auxDigest(m jsonstream.Message) string {
	if m.Aux == nil {
		return ""
	}
	var aux struct{ Digest string }
	if json.Unmarshal(*m.Aux, &aux) != nil {
		return ""
	}
	return aux.Digest
}

// progress writes a push's messages as lines: each status without a layer
// once, a layer's status only when it changes (Preparing, Waiting,
// Pushing, Pushed), never every tick of a transfer.
type progress struct {
	out  io.Writer
	last map[string]string
}

func newProgress(out io.Writer) *progress { return &progress{out: out, last: map[string]string{}} }

func (p *progress) message(m jsonstream.Message) {
	status := strings.TrimSpace(m.Status)
	if status == "" {
		return
	}
	if m.ID == "" {
		output.Verbose(p.out, "%s", status)
		return
	}
	if p.last[m.ID] == status {
		return
	}
	p.last[m.ID] = status
	output.Verbose(p.out, "%s: %s", m.ID, status)
}

// Resolve returns ref, an image already in a registry, by digest
// (NAME@sha256:...), asking the registry through the Engine with app's
// login to ref's registry; nothing is pulled. A reference by digest is
// returned as is.
func (r *Registry) Resolve(ctx context.Context, app, ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", output.Userf("Invalid docker image specified: %s (%v)", ref, err)
	}
	if d, ok := named.(reference.Digested); ok {
		return named.Name() + "@" + d.Digest().String(), nil
	}
	if r.Client == nil {
		return "", errNoDocker
	}
	auth, err := r.encodedAuth(app, reference.Domain(named))
	if err != nil {
		return "", err
	}
	full := reference.TagNameOnly(named).String()
	res, err := r.Client.DistributionInspect(ctx, full, client.DistributionInspectOptions{EncodedRegistryAuth: auth})
	if err != nil {
		return "", output.Userf("Unable to find %s in its registry: %s", ref, engineMessage(err))
	}
	if res.Descriptor.Digest == "" {
		return "", output.Userf("Unable to find %s in its registry: no digest", ref)
	}
	return named.Name() + "@" + res.Descriptor.Digest.String(), nil
}

// PullSecret is app's .dockerconfigjson (see the package function).
func (r *Registry) PullSecret(app string) ([]byte, error) { return PullSecret(r.Store, app) }

// PushOnRelease reports whether app pushes after each build.
func (r *Registry) PushOnRelease(app string) (bool, error) { return PushOnRelease(r.Store, app) }

// RemoveImages removes app's images from this host's Engine (apps:destroy
// of an app built here for a cluster): dokku/APP, the images labelled for
// app, and any tag of app's registry repository a push left behind.
func (r *Registry) RemoveImages(ctx context.Context, app string) error {
	if r.Client == nil {
		return errNoDocker
	}
	// Settings that cannot be read leave only the repository's tags; the
	// app's own images still go.
	var repos []string
	if repo, err := r.Repository(app); err == nil {
		if named, err := reference.ParseNormalizedNamed(repo); err == nil {
			// The Engine names local images in the familiar form
			// (docker.io/ dropped), which its reference filter matches.
			repos = append(repos, reference.FamiliarName(named))
		}
	}
	if err := appimages.Remove(ctx, r.Client, app, repos...); err != nil {
		return fmt.Errorf("registry: remove the images of %s: %w", app, err)
	}
	return nil
}
