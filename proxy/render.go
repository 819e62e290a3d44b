package proxy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"dokku-sshd/schedulers"
)

// App is what an app's nginx config is rendered from.
type App struct {
	Name    string
	Root    string   // RootDir: the app's directory is Root/<Name>
	Domains []string // server_name; none: the server answers every Host on its ports
	Ports   []schedulers.PortMap
	// Web are the addresses (IPs) of the app's web processes; none: every
	// request gets 502, as Dokku's template answers for an app with no
	// listeners.
	Web []string
	// Settings are the computed nginx properties (Computed).
	Settings map[string]string
	// TLSCrt and TLSKey are the app's certificate and key; both set: the
	// https servers are rendered, and http on ProxyPort redirects to
	// SSLPort.
	TLSCrt, TLSKey string
	// TLSDigest is the SHA-256 of the certificate file, rendered beside
	// it: a new certificate at the same path changes the config, so the
	// router reloads nginx (which reads certificates only then).
	TLSDigest string
	ProxyPort int // proxy-port: the http port that redirects when TLS is on
	SSLPort   int // proxy-ssl-port
	// Listen4 and Listen6 are the addresses to listen on ("": every IPv4
	// address; Listen6 "": no IPv6 listen).
	Listen4, Listen6  string
	AccessLog, ErrLog string
}

func (a *App) tls() bool { return a.TLSCrt != "" && a.TLSKey != "" }

// HTTPPorts returns the ports the app listens on: ssl ones separately.
func (a *App) listenPorts() (plain, ssl []int) {
	for _, p := range a.servers() {
		if p.Scheme == "https" {
			ssl = append(ssl, p.Host)
		} else {
			plain = append(plain, p.Host)
		}
	}
	return plain, ssl
}

// servers are the port maps that get a server block: http ones, https
// ones when the app has a certificate (with one on SSLPort added, to the
// first http map's container port, when none is mapped), as Dokku's
// certs:add maps https:443 for the app.
func (a *App) servers() []schedulers.PortMap {
	var out []schedulers.PortMap
	hasSSL := false
	for _, p := range a.Ports {
		switch p.Scheme {
		case "http":
			out = append(out, p)
		case "https":
			if a.tls() {
				out = append(out, p)
				hasSSL = true
			}
		}
	}
	if a.tls() && !hasSSL {
		for _, p := range a.Ports {
			if p.Scheme == "http" {
				out = append(out, schedulers.PortMap{Scheme: "https", Host: a.SSLPort, Container: p.Container})
				break
			}
		}
	}
	return out
}

// Render returns the app's nginx config: one server per http (and, with a
// certificate, https) port map and one upstream per container port, with
// the directives and headers of Dokku's default nginx.conf.sigil.
func Render(a *App) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	set := a.Settings
	var upstreamPorts []int
	for _, p := range a.servers() {
		ssl := p.Scheme == "https"
		redirect := !ssl && a.tls() && p.Host == a.ProxyPort
		if !slices.Contains(upstreamPorts, p.Container) && !redirect {
			upstreamPorts = append(upstreamPorts, p.Container)
		}
		w("server {")
		sslFlag := ""
		if ssl {
			// "listen ... http2" rather than "http2 on" (nginx 1.25.1+):
			// Debian's nginx 1.22 knows only the former, later ones warn.
			sslFlag = " ssl http2"
		}
		if a.Listen6 != "" {
			w("  listen      [%s]:%d%s;", a.Listen6, p.Host, sslFlag)
		}
		if a.Listen4 != "" {
			w("  listen      %s:%d%s;", a.Listen4, p.Host, sslFlag)
		} else {
			w("  listen      %d%s;", p.Host, sslFlag)
		}
		if len(a.Domains) > 0 {
			w("  server_name %s;", strings.Join(a.Domains, " "))
		}
		accessLog := a.AccessLog
		if f := set["access-log-format"]; f != "" && accessLog != "off" {
			accessLog += " " + f
		}
		w("  access_log  %s;", accessLog)
		w("  error_log   %s;", a.ErrLog)
		w("  underscores_in_headers %s;", set["underscore-in-headers"])
		w("")
		for _, k := range []string{"client-body-timeout", "client-header-timeout", "keepalive-timeout", "lingering-timeout", "send-timeout"} {
			w("  %s %s;", strings.ReplaceAll(k, "-", "_"), set[k])
		}
		if ssl {
			w("")
			if a.TLSDigest != "" {
				w("  # server.crt sha256 %s", a.TLSDigest)
			}
			w("  ssl_certificate           %s;", a.TLSCrt)
			w("  ssl_certificate_key       %s;", a.TLSKey)
			w("  ssl_protocols             TLSv1.2 TLSv1.3;")
			w("  ssl_prefer_server_ciphers off;")
		}
		w("")
		include := fmt.Sprintf("  include %s/%s/nginx.conf.d/*.conf;", a.Root, a.Name)
		if redirect {
			w("%s", include)
			w("  location / {")
			w("    return 301 https://$host:%d$request_uri;", a.SSLPort)
			w("  }")
			w("}")
			continue
		}
		w("  location    / {")
		if len(a.Web) == 0 {
			w("    return 502;")
		} else {
			w("    gzip on;")
			w("    gzip_min_length  1100;")
			w("    gzip_buffers  4 32k;")
			w("    gzip_types    text/css text/javascript text/xml text/plain text/x-component application/javascript application/x-javascript application/wasm application/json application/xml application/rss+xml font/truetype application/x-font-ttf font/opentype application/vnd.ms-fontobject image/svg+xml;")
			w("    gzip_vary on;")
			w("    gzip_comp_level  6;")
			w("")
			w("    proxy_pass  http://%s-%d;", a.Name, p.Container)
			w("    proxy_http_version 1.1;")
			for _, k := range []string{"proxy-connect-timeout", "proxy-read-timeout", "proxy-send-timeout", "proxy-buffer-size", "proxy-buffering", "proxy-buffers", "proxy-busy-buffers-size"} {
				w("    %s %s;", strings.ReplaceAll(k, "-", "_"), set[k])
			}
			w("    proxy_set_header Upgrade $http_upgrade;")
			w("    proxy_set_header Connection $http_connection;")
			w("    proxy_set_header Host $http_host;")
			w("    proxy_set_header X-Forwarded-For %s;", set["x-forwarded-for-value"])
			w("    proxy_set_header X-Forwarded-Port %s;", set["x-forwarded-port-value"])
			w("    proxy_set_header X-Forwarded-Proto %s;", set["x-forwarded-proto-value"])
			w("    proxy_set_header X-Request-Start $msec;")
			if v := set["x-forwarded-ssl"]; v != "" {
				w("    proxy_set_header X-Forwarded-Ssl %s;", v)
			}
		}
		w("  }")
		w("")
		w("  client_max_body_size %s;", set["client-max-body-size"])
		w("%s", include)
		w("}")
	}
	if len(a.Web) > 0 {
		for _, port := range upstreamPorts {
			w("upstream %s-%d {", a.Name, port)
			if k := set["proxy-keepalive"]; k != "" {
				w("  keepalive %s;", k)
			}
			for _, ip := range a.Web {
				host := ip
				if strings.Contains(ip, ":") {
					host = "[" + ip + "]"
				}
				w("  server %s:%s;", host, strconv.Itoa(port))
			}
			w("}")
		}
	}
	return b.String()
}

// DefaultServers renders the catch-all servers for the given ports (as
// Dokku's default site): an unknown Host gets no answer (nginx's 444
// closes the connection), and a TLS handshake for an unknown name is
// refused.
func DefaultServers(listen4, listen6 string, plain, ssl []int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	addr := func(port int, flags string) {
		if listen6 != "" {
			w("  listen      [%s]:%d%s default_server;", listen6, port, flags)
		}
		if listen4 != "" {
			w("  listen      %s:%d%s default_server;", listen4, port, flags)
		} else {
			w("  listen      %d%s default_server;", port, flags)
		}
	}
	if len(plain)+len(ssl) == 0 {
		return ""
	}
	w("server {")
	for _, p := range plain {
		addr(p, "")
	}
	for _, p := range ssl {
		addr(p, " ssl")
	}
	w("  server_name _;")
	w("  access_log  off;")
	if len(ssl) > 0 {
		w("  ssl_reject_handshake on;")
	}
	w("  return 444;")
	w("}")
	return b.String()
}
