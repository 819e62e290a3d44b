package schedulers

import (
	"strconv"

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
