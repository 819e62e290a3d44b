// Package urls computes an app's URLs as Dokku's domains-urls trigger does:
// one per domain and port map, printed by `urls`, `url` and after a
// deploy's "Application deployed:".
package urls

import (
	"os"
	"slices"
	"strconv"
	"strings"

	"dokku-sshd/certs"
	"dokku-sshd/domains"
	"dokku-sshd/proxy"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// Hostname is the host's name, used when neither the app nor the host has
// a domain (Dokku uses `hostname -f`); a variable for tests.
var Hostname = func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// List returns app's URLs, sorted, each once (`urls`).
func List(st *store.Store, app string) ([]string, error) {
	all, _, err := generate(st, app)
	if err != nil {
		return nil, err
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// First returns the first of app's URLs in the default scheme (https when
// the app has a certificate, else http), in domain and port-map order
// (`url`); "" when there is none.
func First(st *store.Store, app string) (string, error) {
	all, scheme, err := generate(st, app)
	if err != nil {
		return "", err
	}
	for _, u := range all {
		if strings.Contains(u, scheme+"://") {
			return u, nil
		}
	}
	return "", nil
}

// generate is Dokku's fn-domains-generate-urls: for each of the app's
// domains (else the host's global domains, else its hostname), a URL per
// port map of the app, https ones only with a certificate. An app whose
// proxy is disabled is reached on its containers' ports, which this server
// does not list: it has no URLs.
func generate(st *store.Store, app string) (urls []string, defaultScheme string, err error) {
	hasCert, err := certs.Exists(st, app)
	if err != nil {
		return nil, "", err
	}
	defaultScheme = "http"
	if hasCert {
		defaultScheme = "https"
	}
	vhosts, err := domains.List(st, app)
	if err != nil {
		return nil, "", err
	}
	if len(vhosts) == 0 {
		if vhosts, err = domains.Global(st); err != nil {
			return nil, "", err
		}
	}
	if len(vhosts) == 0 {
		vhosts = []string{Hostname()}
	}
	if disabled, err := proxy.Disabled(st, app); err != nil || disabled {
		return nil, defaultScheme, err
	}
	maps, err := schedulers.PortMaps(st, app)
	if err != nil {
		return nil, "", err
	}
	for _, vhost := range vhosts {
		for _, s := range maps {
			m, err := schedulers.ParsePortMap(s)
			if err != nil {
				continue
			}
			if m.Scheme == "https" && !hasCert {
				continue
			}
			urls = append(urls, url(m.Scheme, vhost, m.Host))
		}
	}
	return urls, defaultScheme, nil
}

// url is Dokku's fn-domains-generate-url: port 80 is always plain http,
// 443 is left out for https.
func url(scheme, vhost string, port int) string {
	switch {
	case port == 80:
		return "http://" + vhost
	case port == 443 && scheme == "https":
		return "https://" + vhost
	}
	return scheme + "://" + vhost + ":" + strconv.Itoa(port)
}
