package schedulers

import (
	"fmt"
	"strconv"
	"strings"

	"dokku-sshd/store"
)

// DefaultProxyPort is proxy's proxy-port when neither the app nor --global
// sets one.
const DefaultProxyPort = "80"

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

// PortMaps returns app's port map, one scheme:host-port:container-port
// each: the ports plugin's map, else map-detected (stored by the build),
// else DefaultPortMap.
func PortMaps(st *store.Store, app string) ([]string, error) {
	for _, key := range []string{"map", "map-detected"} {
		v, err := st.Property("ports", app, key)
		if err != nil {
			return nil, err
		}
		if f := strings.Fields(v); len(f) > 0 {
			return f, nil
		}
	}
	m, err := DefaultPortMap(st, app)
	if err != nil {
		return nil, err
	}
	return []string{m}, nil
}

// PortMap is one scheme:host-port:container-port map.
type PortMap struct {
	Scheme          string
	Host, Container int
}

// ParsePortMap reads one scheme:host-port:container-port map.
func ParsePortMap(s string) (PortMap, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] == "" {
		return PortMap{}, fmt.Errorf("invalid port map %q: want scheme:host-port:container-port", s)
	}
	host, err1 := strconv.Atoi(parts[1])
	ctr, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || host < 0 || host > 65535 || ctr < 1 || ctr > 65535 {
		return PortMap{}, fmt.Errorf("invalid port map %q: ports must be numbers from 1 to 65535", s)
	}
	return PortMap{Scheme: parts[0], Host: host, Container: ctr}, nil
}

// String is the map as the ports plugin writes it.
func (p PortMap) String() string { return fmt.Sprintf("%s:%d:%d", p.Scheme, p.Host, p.Container) }
