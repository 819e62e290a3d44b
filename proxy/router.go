package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"dokku-sshd/certs"
	"dokku-sshd/domains"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// ConfFile is the name of an app's nginx config in its directory.
const ConfFile = "nginx.conf"

// Router routes apps' domains to their web processes through Nginx; it is
// the schedulers.Router docker-local calls.
type Router struct {
	Store *store.Store
	Nginx *Nginx
	// Reroute routes app again to its running web processes, from the
	// scheduler's state and under its per-app lock (docker-local's
	// Reroute), for a rebuild outside a deploy; an app the scheduler does
	// not run is left alone.
	Reroute func(ctx context.Context, app string, out io.Writer) error
}

var _ schedulers.Router = (*Router)(nil)

// ConfPath is app's nginx config.
func (r *Router) ConfPath(app string) string { return filepath.Join(r.Store.AppDir(app), ConfFile) }

// Build reads what app's config is rendered from; web are its web
// processes' addresses.
func (r *Router) Build(app string, web []string) (*App, error) {
	st := r.Store
	set, err := Computed(st, app)
	if err != nil {
		return nil, err
	}
	a := &App{Name: app, Root: st.Paths.RootDir, Web: web, Settings: set}
	if a.Domains, err = domains.List(st, app); err != nil {
		return nil, err
	}
	maps, err := schedulers.PortMaps(st, app)
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		p, err := schedulers.ParsePortMap(m)
		if err != nil {
			return nil, output.Userf("%v", err)
		}
		a.Ports = append(a.Ports, p)
	}
	crt, key := certs.Files(st, app)
	if fileExists(crt) && fileExists(key) {
		a.TLSCrt, a.TLSKey = crt, key
		b, err := os.ReadFile(crt)
		if err != nil {
			return nil, fmt.Errorf("read the certificate of %s: %w", app, err)
		}
		a.TLSDigest = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	for _, pp := range []struct {
		key, def string
		dst      *int
	}{{"proxy-port", schedulers.DefaultProxyPort, &a.ProxyPort}, {"proxy-ssl-port", "443", &a.SSLPort}} {
		v, err := st.ComputedProperty(ProxyPlugin, app, pp.key, pp.def)
		if err != nil {
			return nil, err
		}
		if *pp.dst, err = strconv.Atoi(v); err != nil {
			return nil, output.Userf("Invalid %s of %s: %q", pp.key, app, v)
		}
	}
	a.Listen4, a.Listen6 = r.Nginx.Listen, r.Nginx.listen6()
	if v := set["bind-address-ipv4"]; v != "" {
		a.Listen4 = v
	}
	if v := set["bind-address-ipv6"]; v != "" {
		a.Listen6 = v
	}
	a.AccessLog = set["access-log-path"]
	if a.AccessLog == "" {
		a.AccessLog = filepath.Join(r.Nginx.LogDir(), app+"-access.log")
	}
	a.ErrLog = set["error-log-path"]
	if a.ErrLog == "" {
		a.ErrLog = filepath.Join(r.Nginx.LogDir(), app+"-error.log")
	}
	return a, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Route points app's routes at web (the addresses of its web processes;
// none: 502) and reloads nginx: the app's config is written, nginx -t
// validates the whole config, and only then nginx reloads. A config nginx
// refuses is replaced by the previous one (the routes stay as they were)
// and the error carries nginx's message. An app with its proxy disabled
// has no config.
func (r *Router) Route(ctx context.Context, app string, web []string, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	disabled, err := Disabled(r.Store, app)
	if err != nil {
		return err
	}
	conf := ""
	if !disabled {
		a, err := r.Build(app, web)
		if err != nil {
			return err
		}
		conf = Render(a)
		// Dokku names the scheme the config serves: https with a certificate.
		scheme := "http"
		if a.tls() {
			scheme = "https"
			warnUncoveredDomains(out, app, a.Domains, a.TLSCrt)
		}
		for _, d := range slices.Compact(slices.Sorted(slices.Values(a.Domains))) {
			output.Info1(out, "Configuring %s...(using built-in template)", d)
		}
		output.Info1(out, "Creating %s nginx.conf", scheme)
	}
	return r.apply(ctx, app, conf, out)
}

// Unroute removes app's config and reloads nginx (apps:destroy,
// proxy:disable).
func (r *Router) Unroute(ctx context.Context, app string) error {
	return r.apply(ctx, app, "", io.Discard)
}

// Rebuild renders app's config again from its settings and the
// scheduler's state (proxy:build-config, nginx:set, domains and ports
// changes); nothing happens for an app the router does not route.
func (r *Router) Rebuild(ctx context.Context, app string, out io.Writer) error {
	if r.Reroute == nil {
		return nil
	}
	return r.Reroute(ctx, app, out)
}

// apply writes conf as app's config ("" removes it), validates and
// reloads; a refused config is undone.
func (r *Router) apply(ctx context.Context, app, conf string, out io.Writer) error {
	n := r.Nginx
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.prepare(); err != nil {
		return err
	}
	path := r.ConfPath(app)
	old, err := os.ReadFile(path)
	hadOld := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the nginx config of %s: %w", app, err)
	}
	if !hadOld && conf == "" {
		return nil
	}
	if hadOld && string(old) == conf {
		return nil
	}
	if err := r.write(app, conf); err != nil {
		return err
	}
	if err := r.writeDefaults(); err != nil {
		return err
	}
	if err := n.test(ctx); err != nil {
		r.restore(app, old, hadOld)
		var inv *InvalidError
		if errors.As(err, &inv) {
			return output.Userf("The nginx config of %s is invalid, the previous one stays:\n%s", app, output.CutPaths(inv.Output))
		}
		return err
	}
	output.Verbose(out, "Reloading nginx")
	start := time.Now()
	if err := n.reload(ctx); err != nil {
		// nginx still serves the previous config: so does the disk.
		n.log().Error("nginx reload", "app", app, "err", err)
		r.restore(app, old, hadOld)
		return output.Userf("Unable to reload nginx, the previous config stays: %s", output.CutPaths(err.Error()))
	}
	n.log().Info("nginx reloaded", "app", app, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// restore puts app's previous config (none: no config) back.
func (r *Router) restore(app string, old []byte, hadOld bool) {
	restore := ""
	if hadOld {
		restore = string(old)
	}
	if err := r.write(app, restore); err != nil {
		r.Nginx.log().Error("restore nginx config", "app", app, "err", err)
	}
	if err := r.writeDefaults(); err != nil {
		r.Nginx.log().Error("restore nginx default servers", "err", err)
	}
}

func (r *Router) write(app, conf string) error {
	path := r.ConfPath(app)
	if conf == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the nginx config of %s: %w", app, err)
		}
		return nil
	}
	if err := store.WriteFileAtomic(path, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("write the nginx config of %s: %w", app, err)
	}
	return nil
}

// writeDefaults writes the catch-all servers for the ports of every app
// with a config.
func (r *Router) writeDefaults() error {
	apps, err := r.Store.Apps()
	if err != nil {
		return err
	}
	var plain, ssl []int
	for _, app := range apps {
		if !fileExists(r.ConfPath(app)) {
			continue
		}
		a, err := r.Build(app, nil)
		if err != nil {
			r.Nginx.log().Warn("nginx default servers: skip app", "app", app, "err", err)
			continue
		}
		// Only ports on the server's own addresses: an app bound to
		// another address answers there itself.
		if a.Listen4 != r.Nginx.Listen {
			continue
		}
		p, s := a.listenPorts()
		for _, x := range p {
			if !slices.Contains(plain, x) {
				plain = append(plain, x)
			}
		}
		for _, x := range s {
			if !slices.Contains(ssl, x) {
				ssl = append(ssl, x)
			}
		}
	}
	slices.Sort(plain)
	slices.Sort(ssl)
	return r.Nginx.writeDefaults(plain, ssl)
}

// warnUncoveredDomains prints Dokku's warning when none of app's domains
// is a name of its certificate (crt, a PEM file): browsers will call the
// app insecure. Nothing is refused, as in Dokku.
func warnUncoveredDomains(out io.Writer, app string, domains []string, crt string) {
	b, err := os.ReadFile(crt)
	if err != nil {
		return
	}
	chain := certs.ParseChain(b)
	if len(chain) == 0 {
		return
	}
	names := certs.Hostnames(chain[0])
	if slices.ContainsFunc(domains, func(d string) bool { return certs.Covers(names, d) }) {
		return
	}
	output.Info1(out, "No matching configured domains for %s found in SSL certificate. Your app will show as insecure in a browser if accessed via SSL", app)
	output.Info1(out, "Please add appropriate domains via the dokku domains command")
	if len(domains) > 0 {
		output.Info1(out, "Configured domains for app:")
		for _, d := range domains {
			output.Info2(out, "%s", d)
		}
	}
	if len(names) > 0 {
		output.Info1(out, "Domains found in SSL certificate:")
		for _, n := range names {
			output.Info2(out, "%s", n)
		}
	}
}
