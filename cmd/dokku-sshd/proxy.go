package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"dokku-sshd/proxy"
	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/store"
)

// newRouter wires HTTP routing of docker-local apps: nil (with one log
// line saying why) without docker-local, with --no-proxy, in Dokku host
// mode (Dokku's own nginx-vhosts plugin routes there), or when no nginx
// is found.
func newRouter(c *config, st *store.Store, dl *dockerlocal.Scheduler, logger *slog.Logger) *proxy.Router {
	switch {
	case dl == nil:
		return nil
	case c.NoProxy:
		logger.Info("http routing is off: --no-proxy")
		return nil
	case c.DokkuHost:
		return nil
	}
	bin := proxy.FindNginx(c.NginxBin)
	if bin == "" {
		logger.Warn("http routing is off: no nginx found (install Debian's nginx package, or set --nginx-bin)", "nginx_bin", c.NginxBin)
		return nil
	}
	n := &proxy.Nginx{
		Bin: bin, Prefix: filepath.Join(st.Paths.DataDir, "nginx"), Root: st.Paths.RootDir,
		Listen: c.ProxyListen, System: c.NginxSystem, IncludeFile: c.NginxInclude,
		ReloadCmd: strings.Fields(c.NginxReloadCmd), Logger: logger.With("component", "nginx"),
	}
	r := &proxy.Router{Store: st, Nginx: n, Reroute: dl.Reroute}
	dl.Router = r
	return r
}

// startNginx starts the server's nginx (or checks the system one); a
// failure leaves routing off for this run, said in the log.
func startNginx(r *proxy.Router, logger *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Nginx.Start(ctx); err != nil {
		logger.Error("http routing is off: nginx did not start", "err", err)
		return false
	}
	return true
}

// rebuildRoutes renders every app's config again once nginx runs, as
// Dokku's ps:restore rebuilds the proxy config at boot: containers may
// have new addresses after a restart of Docker, and apps deployed before
// routing was on get their routes.
func rebuildRoutes(ctx context.Context, r *proxy.Router, logger *slog.Logger) {
	apps, err := r.Store.Apps()
	if err != nil {
		logger.Warn("rebuild nginx configs: list apps", "err", err)
		return
	}
	for _, app := range apps {
		if ctx.Err() != nil {
			return
		}
		if err := r.Rebuild(ctx, app, io.Discard); err != nil {
			logger.Warn("rebuild nginx config", "app", app, "err", err)
		}
	}
}
