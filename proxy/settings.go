// Package proxy is HTTP routing for docker-local apps: each app's nginx
// config, rendered as Dokku's nginx-vhosts plugin renders its default
// template and written where Dokku keeps it (RootDir/<app>/nginx.conf),
// included from one config the server owns, and a real nginx the server
// runs (or an operator's system nginx it reloads).
package proxy

import (
	"fmt"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Plugin is the property namespace of the nginx settings (Dokku's
// nginx-vhosts plugin stores them as "nginx").
const Plugin = "nginx"

// ProxyPlugin is the property namespace of the proxy plugin (disabled,
// proxy-port, proxy-ssl-port, type).
const ProxyPlugin = "proxy"

// Setting is one nginx property the rendered config uses, with Dokku's
// default.
type Setting struct {
	Name    string
	Default string
}

// Settings are the nginx properties this server renders, in nginx:set's
// order. Dokku's template-only ones (hsts*, nginx-conf-sigil-path,
// disable-custom-config, nginx-service-command) are not among them.
var Settings = []Setting{
	{"access-log-format", ""},
	{"access-log-path", ""}, // default: the app's log in the log directory
	{"bind-address-ipv4", ""},
	{"bind-address-ipv6", ""}, // default: "::" unless the server listens on one address
	{"client-body-timeout", "60s"},
	{"client-header-timeout", "60s"},
	{"client-max-body-size", "1m"},
	{"error-log-path", ""}, // default: the app's log in the log directory
	{"keepalive-timeout", "75s"},
	{"lingering-timeout", "5s"},
	{"proxy-buffer-size", "4k"},
	{"proxy-buffering", "on"},
	{"proxy-buffers", "8 4k"},
	{"proxy-busy-buffers-size", "8k"},
	{"proxy-connect-timeout", "60s"},
	{"proxy-keepalive", ""},
	{"proxy-read-timeout", "60s"},
	{"proxy-send-timeout", "60s"},
	{"send-timeout", "60s"},
	{"underscore-in-headers", "off"},
	{"x-forwarded-for-value", "$remote_addr"},
	{"x-forwarded-port-value", "$server_port"},
	{"x-forwarded-proto-value", "$scheme"},
	{"x-forwarded-ssl", ""},
}

// ValidateValue refuses a value that would end an nginx directive or
// block early (it would inject others); nginx itself judges the rest
// when the config is validated.
func ValidateValue(name, value string) error {
	if strings.ContainsAny(value, ";{}\n\r\"'#\\") {
		return output.Userf("Invalid value for %s: must not contain ; { } # quotes, backslashes or line breaks", name)
	}
	if name == "proxy-keepalive" {
		for _, r := range value {
			if r < '0' || r > '9' {
				return output.Userf("Invalid value for proxy-keepalive: must be an integer")
			}
		}
	}
	return nil
}

// Computed returns the computed value of every setting for app (its own,
// else --global, else the default; defaults of "" filled in by the
// caller), keyed by name.
func Computed(st *store.Store, app string) (map[string]string, error) {
	out := make(map[string]string, len(Settings))
	for _, s := range Settings {
		v, err := st.ComputedProperty(Plugin, app, s.Name, s.Default)
		if err != nil {
			return nil, fmt.Errorf("read nginx %s of %s: %w", s.Name, app, err)
		}
		out[s.Name] = v
	}
	return out, nil
}

// Disabled reports whether the proxy is disabled for app (proxy:disable:
// the proxy property "disabled" is "true").
func Disabled(st *store.Store, app string) (bool, error) {
	v, err := st.Property(ProxyPlugin, app, "disabled")
	return v == "true", err
}
