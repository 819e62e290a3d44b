// Package domains is Dokku's domains plugin: which host names route to an
// app (docs/dokku-behaviour.md#domains). It is the one home of the domains
// rules for every scheduler and proxy: the storage (the app's VHOST file in
// its directory, the global VHOST file in the root, NO_VHOST in the app's
// config for the enabled state), domain validation, the default domain an
// app gets from the global ones, and the report fields.
package domains

import (
	"strconv"
	"strings"
)

// Valid reports whether domain is a host name Dokku accepts (its
// is_valid_hostname): case-insensitively, only letters, digits, '.', '*'
// and '-', not ending in '.', or the catch-all "_". Dokku puts no other
// rule on wildcards: "*.example.com" and "*" pass; a scheduler that cannot
// route a name (an Ingress needs a leading "*." label) says so when it
// routes (see Routable).
func Valid(domain string) bool {
	if domain == "_" {
		return true
	}
	if domain == "" {
		return false
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '*', c == '-':
		case c == '.' && i < len(domain)-1:
		default:
			return false
		}
	}
	return true
}

// IsIP reports whether domain ends in an IPv4 address or is an IPv6 one,
// as Dokku's default-domain rule reads it: an address-like global domain
// ("10.0.0.1", or "x.10.0.0.1") gives apps no default domain. A wildcard
// DNS name such as "*.10.0.0.1.sslip.io" is not one.
func IsIP(domain string) bool {
	if strings.Contains(domain, ":") {
		return true
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 4 {
		return false
	}
	for _, l := range labels[len(labels)-4:] {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > 255 || l == "" || l[0] == '+' || l[0] == '-' {
			return false
		}
	}
	return true
}

// GlobalEnabled reports whether the global domains enable default app
// domains: at least one of them is valid.
func GlobalEnabled(global []string) bool {
	for _, d := range global {
		if Valid(d) {
			return true
		}
	}
	return false
}

// Defaults are the domains a new (or reset, or cloned) app gets from the
// global ones: APP.GLOBAL for each global domain that is not an address,
// or the app's own name when it has a dot in it (Dokku takes such a name
// as a full host name). None when no global domain is valid.
func Defaults(app string, global []string) []string {
	if !GlobalEnabled(global) {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range global {
		if g == "" || IsIP(g) {
			continue
		}
		host := app + "." + g
		if strings.Contains(app, ".") {
			host = app
		}
		if !seen[host] {
			seen[host] = true
			out = append(out, host)
		}
	}
	return out
}

// Renamed is an app's domains after apps:rename from oldApp to newApp:
// every OLD.GLOBAL in them becomes NEW.GLOBAL, so the default domains
// follow the name and the user's own stay.
func Renamed(domains []string, oldApp, newApp string, global []string) []string {
	out := make([]string, len(domains))
	for i, d := range domains {
		for _, g := range global {
			if g == "" {
				continue
			}
			d = strings.ReplaceAll(d, oldApp+"."+g, newApp+"."+g)
		}
		out[i] = d
	}
	return out
}

// Routable reports whether domain can be a host rule of a Kubernetes
// Ingress (a DNS-1123 subdomain, optionally behind one leading "*."
// label) and, when it cannot, why. Dokku accepts names the API server
// refuses ("_", "a*b.com", an address); those are skipped with a warning
// instead of failing every Ingress of the app.
func Routable(domain string) (ok bool, why string) {
	d := strings.ToLower(domain)
	switch {
	case d == "_":
		return false, "the catch-all name has no meaning for an Ingress"
	case IsIP(d):
		return false, "an Ingress host cannot be an IP address"
	}
	d = strings.TrimPrefix(d, "*.")
	if strings.Contains(d, "*") {
		return false, "a wildcard must be the whole first label (*.example.com)"
	}
	if len(d) > 253 {
		return false, "longer than 253 characters"
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false, "not a valid DNS name"
		}
	}
	return true, ""
}

// cleanLines returns the non-empty lines of a VHOST file, trimmed.
func cleanLines(data string) []string {
	var out []string
	for _, l := range strings.Split(data, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
