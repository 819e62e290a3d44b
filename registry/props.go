// Package registry is Dokku's registry plugin: where an app's image is
// pushed (the server, image-repo and push-on-release properties, Dokku's
// tag scheme SERVER/REPO:N), the credentials registry:login stores in
// Docker's config.json format, and the push and digest lookups through the
// Docker Engine API that get an image to a cluster (k3s.Images).
// docs/dokku-behaviour.md#registry says what matches Dokku and what does not.
package registry

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Plugin is the property namespace (LIB/config/registry/<app|--global>/<key>).
const Plugin = "registry"

// The properties registry:set takes.
const (
	PropServer            = "server"
	PropImageRepo         = "image-repo"
	PropImageRepoTemplate = "image-repo-template"
	PropPushOnRelease     = "push-on-release"
	PropPushExtraTags     = "push-extra-tags"
	// PropTagVersion is the number of the last push (Dokku's tag scheme:
	// each push is SERVER/REPO:<n+1>); written by Push, only reported.
	PropTagVersion = "tag-version"
)

// Defaults are the values of the properties neither the app nor --global
// sets ("" for image-repo: its default is ImageRepo's dokku/<app>).
var Defaults = map[string]string{
	PropServer:            "",
	PropImageRepo:         "",
	PropImageRepoTemplate: "",
	PropPushOnRelease:     "false",
	PropPushExtraTags:     "",
}

// GlobalProps are the properties --global may set (image-repo is per app).
var GlobalProps = map[string]bool{
	PropServer:            true,
	PropImageRepoTemplate: true,
	PropPushOnRelease:     true,
	PropPushExtraTags:     true,
}

// Server is app's computed registry server (app, then --global) without a
// trailing slash; "" means Docker Hub, which Dokku also makes of
// hub.docker.com and docker.io.
func Server(st *store.Store, app string) (string, error) {
	v, err := st.ComputedProperty(Plugin, app, PropServer, "")
	if err != nil {
		return "", err
	}
	v = strings.TrimSuffix(strings.TrimSpace(v), "/")
	if v == "hub.docker.com" || v == "docker.io" {
		v = ""
	}
	return v, nil
}

// ImageRepo is app's computed image repository: its image-repo, else the
// image-repo-template (app, then --global) executed with .AppName, else
// Dokku's dokku/<app>.
func ImageRepo(st *store.Store, app string) (string, error) {
	v, err := st.Property(Plugin, app, PropImageRepo)
	if err != nil {
		return "", err
	}
	if v = strings.TrimSpace(v); v != "" {
		return v, nil
	}
	tmpl, err := st.ComputedProperty(Plugin, app, PropImageRepoTemplate, "")
	if err != nil {
		return "", err
	}
	if tmpl = strings.TrimSpace(tmpl); tmpl != "" {
		return repoFromTemplate(tmpl, app)
	}
	return "dokku/" + app, nil
}

// repoFromTemplate executes an image-repo-template for app.
func repoFromTemplate(tmpl, app string) (string, error) {
	t, err := template.New("image-repo-template").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", output.Userf("Unable to parse image-repo-template: %v", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ AppName string }{app}); err != nil {
		return "", output.Userf("Unable to execute image-repo-template: %v", err)
	}
	return strings.TrimSpace(b.String()), nil
}

// PushOnRelease reports whether app's image is pushed after each build
// (push-on-release, app then --global, default false).
func PushOnRelease(st *store.Store, app string) (bool, error) {
	v, err := st.ComputedProperty(Plugin, app, PropPushOnRelease, Defaults[PropPushOnRelease])
	return strings.TrimSpace(v) == "true", err
}

// ExtraTags are the computed push-extra-tags: tags pushed besides the
// numbered one (comma separated, blanks dropped).
func ExtraTags(st *store.Store, app string) ([]string, error) {
	v, err := st.ComputedProperty(Plugin, app, PropPushExtraTags, "")
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// TagVersion is the number of app's last push (0 before the first).
func TagVersion(st *store.Store, app string) (int, error) {
	v, err := st.Property(Plugin, app, PropTagVersion)
	if err != nil {
		return 0, err
	}
	if v = strings.TrimSpace(v); v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, output.Userf("Unable to convert existing tag version (%s) to integer: %v", v, err)
	}
	return n, nil
}

// nextTag bumps app's tag-version and returns the new number.
func nextTag(st *store.Store, app string) (int, error) {
	n, err := TagVersion(st, app)
	if err != nil {
		return 0, err
	}
	n++
	if err := st.SetProperty(Plugin, app, PropTagVersion, strconv.Itoa(n)); err != nil {
		return 0, err
	}
	return n, nil
}

// Target is the registry reference of app's image at tag: SERVER/REPO:TAG,
// or REPO:TAG on Docker Hub.
func Target(server, repo, tag string) string {
	if server == "" {
		return fmt.Sprintf("%s:%s", repo, tag)
	}
	return fmt.Sprintf("%s/%s:%s", server, repo, tag)
}
