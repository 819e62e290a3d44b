package main

import (
	"context"
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
	r := &proxy.Router{Store: st, Nginx: n, Web: dl.WebAddresses}
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
