package schedulers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"dokku-sshd/certs"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// DefaultProxyPort is proxy's proxy-port when neither the app nor --global
// sets one.
const DefaultProxyPort = "80"

// DefaultProxySSLPort is proxy's proxy-ssl-port when neither the app nor
// --global sets one.
const DefaultProxySSLPort = "443"

// DefaultContainerPort is the port an app listens on (its PORT) when no
// port map names another.
const DefaultContainerPort = 5000

// DefaultPortMap is the ports plugin's map of an app with none set and
// none detected: http:<proxy-port>:<DefaultContainerPort>, with proxy's
// computed proxy-port. An unreadable proxy-port is an error.
func DefaultPortMap(st *store.Store, app string) (string, error) {
	proxyPort, err := st.ComputedProperty("proxy", app, "proxy-port", DefaultProxyPort)
	if err != nil {
		return "", err
	}
	return "http:" + proxyPort + ":" + strconv.Itoa(DefaultContainerPort), nil
}

// The ports plugin's properties: the user's map and the build's
// detected map, each a list (one map a line).
const (
	portsPlugin    = "ports"
	mapKey         = "map"
	mapDetectedKey = "map-detected"
)

// PortMaps returns app's port map, one scheme:host-port:container-port
// each, as the ports plugin's ports-get trigger computes it: the user's
// map (ports:set/add), else DetectedPortMaps; one map per scheme:host-port
// (the first).
func PortMaps(st *store.Store, app string) ([]string, error) {
	maps, err := AppPortMaps(st, app)
	if err != nil {
		return nil, err
	}
	if len(maps) == 0 {
		if maps, err = DetectedPortMaps(st, app); err != nil {
			return nil, err
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range maps {
		if k := m.schemeHost(); !seen[k] {
			seen[k] = true
			out = append(out, m.String())
		}
	}
	return out, nil
}

// AppPortMaps returns the user's map of app (the ports plugin's map
// property); none when unset. Unparsable entries are skipped, as the
// ports plugin does.
func AppPortMaps(st *store.Store, app string) ([]PortMap, error) {
	return readPortMaps(st, app, mapKey)
}

func readPortMaps(st *store.Store, app, key string) ([]PortMap, error) {
	v, err := st.Property(portsPlugin, app, key)
	if err != nil {
		return nil, err
	}
	var out []PortMap
	for _, f := range strings.Fields(v) {
		if m, err := ParsePortMap(f); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// DetectedPortMaps is the ports plugin's detected map: map-detected
// (stored by the build), else DefaultPortMap; when app has a certificate,
// each http:80 map gains an https map on proxy's computed proxy-ssl-port
// (443), or, with no http:80 map, every http map becomes https.
func DetectedPortMaps(st *store.Store, app string) ([]PortMap, error) {
	maps, err := readPortMaps(st, app, mapDetectedKey)
	if err != nil {
		return nil, err
	}
	if len(maps) == 0 {
		def, err := DefaultPortMap(st, app)
		if err != nil {
			return nil, err
		}
		m, err := ParsePortMap(def)
		if err != nil {
			return nil, fmt.Errorf("proxy-port of %s: %w", app, err)
		}
		maps = []PortMap{m}
	}
	ok, err := certs.Exists(st, app)
	if err != nil || !ok {
		return maps, err
	}
	sslPort, err := st.ComputedProperty("proxy", app, "proxy-ssl-port", DefaultProxySSLPort)
	if err != nil {
		return nil, err
	}
	ssl, err := strconv.Atoi(sslPort)
	if err != nil {
		return nil, fmt.Errorf("proxy-ssl-port of %s: %q is not a number", app, sslPort)
	}
	added := false
	for _, m := range maps {
		if m.Scheme == "http" && m.Host == 80 {
			added = true
			maps = append(maps, PortMap{Scheme: "https", Host: ssl, Container: m.Container})
		}
	}
	if !added {
		for i := range maps {
			if maps[i].Scheme == "http" {
				maps[i].Scheme = "https"
			}
		}
	}
	return maps, nil
}

// PortMap is one scheme:host-port:container-port map. In a ports:remove
// argument a bare host port is a PortMap with Scheme "" and Container 0:
// every map on that host port.
type PortMap struct {
	Container int    `json:"container_port"`
	Host      int    `json:"host_port"`
	Scheme    string `json:"scheme"`
}

// ParsePortMap reads one scheme:host-port:container-port map, with the
// ports plugin's messages; ports run from 1 to 65535.
func ParsePortMap(s string) (PortMap, error) {
	m, err := parsePortMap(s, false)
	return m, err
}

// ParsePortMapArgs reads the maps of a ports:add/set/remove command line
// (each argument may hold several, space-separated). hostOnly admits a bare
// host port (ports:remove).
func ParsePortMapArgs(args []string, hostOnly bool) ([]PortMap, error) {
	var out []PortMap
	for _, s := range strings.Split(strings.TrimSpace(strings.Join(args, " ")), " ") {
		m, err := parsePortMap(s, hostOnly)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func parsePortMap(s string, hostOnly bool) (PortMap, error) {
	parts := strings.SplitN(s, ":", 3)
	port := func(v, what string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, output.Userf("Invalid port map %s [err=%s]", s, err)
		}
		if n < 1 || n > 65535 {
			return 0, output.Userf("Invalid port map %s [%s=%d]", s, what, n)
		}
		return n, nil
	}
	switch len(parts) {
	case 1:
		if !hostOnly {
			return PortMap{}, output.Userf("Invalid port map %s [len=1]", s)
		}
		h, err := port(parts[0], "hostPort")
		return PortMap{Host: h}, err
	case 3:
	default:
		return PortMap{}, output.Userf("Invalid port map %s [len=%d]", s, len(parts))
	}
	h, err := port(parts[1], "hostPort")
	if err != nil {
		return PortMap{}, err
	}
	c, err := port(parts[2], "containerPort")
	if err != nil {
		return PortMap{}, err
	}
	return PortMap{Scheme: parts[0], Host: h, Container: c}, nil
}

// String is the map as the ports plugin writes it.
func (p PortMap) String() string { return fmt.Sprintf("%s:%d:%d", p.Scheme, p.Host, p.Container) }

func (p PortMap) schemeHost() string { return fmt.Sprintf("%s:%d", p.Scheme, p.Host) }

// PortMapsJSON is the ports plugin's JSON of a list of maps ("[]" for none).
func PortMapsJSON(maps []PortMap) string {
	if maps == nil {
		maps = []PortMap{}
	}
	b, _ := json.Marshal(maps) // ints and strings cannot fail
	return string(b)
}

// checkReuse refuses two maps on one scheme:host-port.
func checkReuse(maps []PortMap) error {
	seen := map[string]bool{}
	for _, m := range maps {
		k := m.schemeHost()
		if seen[k] {
			return output.Userf("The same scheme:host-port is being reused: %s", k)
		}
		seen[k] = true
	}
	return nil
}

// writeAppPortMaps stores app's user map, sorted; none deletes it.
func writeAppPortMaps(st *store.Store, app string, maps []PortMap) error {
	if err := checkReuse(maps); err != nil {
		return output.Userf("Error validating port mappings: %w", err)
	}
	if len(maps) == 0 {
		return st.DeleteProperty(portsPlugin, app, mapKey)
	}
	lines := make([]string, len(maps))
	for i, m := range maps {
		lines[i] = m.String()
	}
	sort.Strings(lines)
	return st.SetProperty(portsPlugin, app, mapKey, strings.Join(lines, "\n")+"\n")
}

// SetPortMaps replaces app's user map (ports:set).
func SetPortMaps(st *store.Store, app string, maps []PortMap) error {
	return writeAppPortMaps(st, app, maps)
}

// AddPortMaps adds to app's user map (ports:add); a scheme:host-port in
// use, among the new maps or with the stored ones, is refused.
func AddPortMaps(st *store.Store, app string, maps []PortMap) error {
	if err := checkReuse(maps); err != nil {
		return output.Userf("Error validating new port mappings: %w", err)
	}
	cur, err := AppPortMaps(st, app)
	if err != nil {
		return err
	}
	all := append(cur, maps...)
	if err := checkReuse(all); err != nil {
		return output.Userf("Error validating all port mappings: %w", err)
	}
	return writeAppPortMaps(st, app, all)
}

// RemovePortMaps removes maps from app's user map (ports:remove): a full
// map removes that map, a bare host port every map on it. Maps that are
// not there are ignored.
func RemovePortMaps(st *store.Store, app string, maps []PortMap) error {
	cur, err := AppPortMaps(st, app)
	if err != nil {
		return err
	}
	byMap, byHost := map[PortMap]bool{}, map[int]bool{}
	for _, m := range maps {
		if m.Scheme == "" {
			byHost[m.Host] = true
		} else {
			byMap[m] = true
		}
	}
	var keep []PortMap
	for _, m := range cur {
		if !byMap[m] && !byHost[m.Host] {
			keep = append(keep, m)
		}
	}
	return writeAppPortMaps(st, app, keep)
}

// ClearPortMaps deletes app's user and detected maps (ports:clear); its
// map is then DefaultPortMap until the next build detects one.
func ClearPortMaps(st *store.Store, app string) error {
	if err := st.DeleteProperty(portsPlugin, app, mapKey); err != nil {
		return err
	}
	return st.DeleteProperty(portsPlugin, app, mapDetectedKey)
}

// CertsUpdated is the ports plugin's post-certs-update: proxy-port 80 and
// proxy-ssl-port 443 set on app are dropped (they are the defaults), and
// unless app's user map has https:443 already, each http:80 map gains an
// https:443 map.
func CertsUpdated(st *store.Store, app string) error {
	for key, def := range map[string]string{"proxy-port": DefaultProxyPort, "proxy-ssl-port": DefaultProxySSLPort} {
		v, err := st.Property("proxy", app, key)
		if err != nil {
			return err
		}
		if v == def {
			if err := st.DeleteProperty("proxy", app, key); err != nil {
				return err
			}
		}
	}
	cur, err := AppPortMaps(st, app)
	if err != nil {
		return err
	}
	var add []PortMap
	seen := map[int]bool{}
	for _, m := range cur {
		if m.Scheme == "https" && m.Host == 443 {
			return nil
		}
		if m.Scheme == "http" && m.Host == 80 && !seen[m.Container] {
			seen[m.Container] = true
			add = append(add, PortMap{Scheme: "https", Host: 443, Container: m.Container})
		}
	}
	if len(add) == 0 {
		return nil
	}
	return writeAppPortMaps(st, app, append(cur, add...))
}

// CertsRemoved is the ports plugin's post-certs-remove: app's
// proxy-ssl-port and its https:443 maps go.
func CertsRemoved(st *store.Store, app string) error {
	if err := st.DeleteProperty("proxy", app, "proxy-ssl-port"); err != nil {
		return err
	}
	cur, err := AppPortMaps(st, app)
	if err != nil {
		return err
	}
	var keep []PortMap
	for _, m := range cur {
		if !(m.Scheme == "https" && m.Host == 443) {
			keep = append(keep, m)
		}
	}
	if len(keep) == len(cur) {
		return nil
	}
	return writeAppPortMaps(st, app, keep)
}
