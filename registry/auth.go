package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// HubKey is the key Docker's config.json keeps Docker Hub's credentials
// under, whatever name the login used for it.
const HubKey = "https://index.docker.io/v1/"

// hubNames are the names that mean Docker Hub.
var hubNames = map[string]bool{
	"docker.io": true, "hub.docker.com": true, "docker.com": true,
	"index.docker.io": true, "registry-1.docker.io": true,
}

// AppConfigPath is app's own config.json, where Dokku's per-app
// registry:login keeps it (LIB/config/registry/<app>/config.json): it moves
// with the app's properties on apps:rename and apps:clone and goes with
// them on apps:destroy.
func AppConfigPath(st *store.Store, app string) string {
	return filepath.Join(st.Paths.LibDir, "config", Plugin, app, "config.json")
}

// GlobalConfigPath is the config.json of the global registry:login:
// DOKKU_ROOT/.docker/config.json, the dokku user's own Docker config on a
// Dokku host (where Dokku's `docker login` writes it).
func GlobalConfigPath(st *store.Store) string {
	return filepath.Join(st.Paths.RootDir, ".docker", "config.json")
}

// configPath is app's config.json, or the global one for "" and --global.
func configPath(st *store.Store, app string) string {
	if app == "" || app == store.Global {
		return GlobalConfigPath(st)
	}
	return AppConfigPath(st, app)
}

// Credential is one registry's login.
type Credential struct {
	Username      string
	Password      string
	IdentityToken string // a registry's refresh token, kept instead of the password
}

// authEntry is one entry of config.json's "auths".
type authEntry struct {
	Auth          string `json:"auth,omitempty"` // base64 of user:password
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

func (a authEntry) credential() (Credential, bool) {
	c := Credential{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
	if a.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return Credential{}, false
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return Credential{}, false
		}
		c.Username, c.Password = user, pass
	}
	return c, c.Username != "" || c.IdentityToken != ""
}

func entryOf(c Credential) authEntry {
	e := authEntry{IdentityToken: c.IdentityToken}
	pass := c.Password
	if c.IdentityToken != "" {
		pass = "" // as docker login keeps a token: user only
	}
	e.Auth = base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + pass))
	return e
}

// configFile is a Docker config.json: its "auths" read and written, every
// other key kept as it was (credsStore, proxies, ...).
type configFile struct {
	other map[string]json.RawMessage
	auths map[string]authEntry
}

// readConfig reads path; a missing file is an empty config.
func readConfig(path string) (*configFile, error) {
	c := &configFile{other: map[string]json.RawMessage{}, auths: map[string]authEntry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: read credentials: %w", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(data, &c.other); err != nil {
		return nil, fmt.Errorf("registry: read credentials %s: %w", filepath.Base(path), err)
	}
	if raw, ok := c.other["auths"]; ok {
		if err := json.Unmarshal(raw, &c.auths); err != nil {
			return nil, fmt.Errorf("registry: read credentials %s: %w", filepath.Base(path), err)
		}
		if c.auths == nil {
			c.auths = map[string]authEntry{}
		}
		delete(c.other, "auths")
	}
	return c, nil
}

// write replaces path atomically, mode 0600 in a 0700 directory: it holds
// passwords.
func (c *configFile) write(path string) error {
	doc := map[string]any{}
	for k, v := range c.other {
		doc[k] = v
	}
	doc["auths"] = c.auths
	data, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return fmt.Errorf("registry: write credentials: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("registry: write credentials: %w", err)
	}
	if err := store.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("registry: write credentials: %w", err)
	}
	return nil
}

// find returns the entry for server, matched by host as Docker does
// (scheme and path ignored, Docker Hub's names all one).
func (c *configFile) find(server string) (string, authEntry, bool) {
	want := AuthKey(server)
	keys := make([]string, 0, len(c.auths))
	for k := range c.auths {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same one every time when two keys match
	for _, k := range keys {
		if AuthKey(k) == want {
			return k, c.auths[k], true
		}
	}
	return "", authEntry{}, false
}

// AuthKey is the config.json key of server's credentials: its host[:port],
// or HubKey for Docker Hub.
func AuthKey(server string) string {
	h := server
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	h, _, _ = strings.Cut(h, "/")
	h = strings.ToLower(h)
	if hubNames[h] || h == "" {
		return HubKey
	}
	return h
}

var hostPort = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)

// CheckServer refuses a login server that is not a registry host
// (host[:port], a scheme and path allowed, as docker login takes them).
func CheckServer(server string) error {
	h := server
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	h, _, _ = strings.Cut(h, "/")
	if !hostPort.MatchString(h) {
		return output.Userf("Invalid registry server specified: %s", server)
	}
	return nil
}

// SaveLogin stores c as the login to server for app ("" or --global: the
// global login), replacing any earlier one for that server.
func SaveLogin(st *store.Store, app, server string, c Credential) error {
	path := configPath(st, app)
	cfg, err := readConfig(path)
	if err != nil {
		return err
	}
	if k, _, ok := cfg.find(server); ok {
		delete(cfg.auths, k)
	}
	cfg.auths[AuthKey(server)] = entryOf(c)
	return cfg.write(path)
}

// RemoveLogin forgets app's (or the global) login to server; false when
// there was none.
func RemoveLogin(st *store.Store, app, server string) (bool, error) {
	path := configPath(st, app)
	cfg, err := readConfig(path)
	if err != nil {
		return false, err
	}
	k, _, ok := cfg.find(server)
	if !ok {
		return false, nil
	}
	delete(cfg.auths, k)
	return true, cfg.write(path)
}

// computedConfig is the config.json app's registry work uses, as Dokku
// chooses it: app's own when it holds any login, else the global one.
func computedConfig(st *store.Store, app string) (*configFile, error) {
	if app != "" && app != store.Global {
		cfg, err := readConfig(AppConfigPath(st, app))
		if err != nil {
			return nil, err
		}
		if len(cfg.auths) > 0 {
			return cfg, nil
		}
	}
	return readConfig(GlobalConfigPath(st))
}

// Lookup returns app's login to server (the app's own logins, else the
// global ones); false when there is none.
func Lookup(st *store.Store, app, server string) (Credential, bool, error) {
	cfg, err := computedConfig(st, app)
	if err != nil {
		return Credential{}, false, err
	}
	_, e, ok := cfg.find(server)
	if !ok {
		return Credential{}, false, nil
	}
	c, ok := e.credential()
	return c, ok, nil
}

// PullSecret is the .dockerconfigjson of app's logins for its
// pull-secret-APP Secret: every login of the config.json app's registry
// work uses (Dokku hands the cluster that whole file), reduced to the
// "auths" a kubelet reads; nil when there is none.
func PullSecret(st *store.Store, app string) ([]byte, error) {
	cfg, err := computedConfig(st, app)
	if err != nil {
		return nil, err
	}
	type entry struct {
		Username string `json:"username,omitempty"`
		Password string `json:"password,omitempty"`
		Auth     string `json:"auth"`
	}
	auths := map[string]entry{}
	for k, e := range cfg.auths {
		c, ok := e.credential()
		if !ok || c.IdentityToken != "" {
			continue // a kubelet cannot use a registry's refresh token
		}
		auths[k] = entry{Username: c.Username, Password: c.Password, Auth: base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))}
	}
	if len(auths) == 0 {
		return nil, nil
	}
	return json.Marshal(map[string]any{"auths": auths})
}
