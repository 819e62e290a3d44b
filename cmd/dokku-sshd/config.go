package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is every setting of the binary. Each has a flag and an environment
// variable of the same name (--data-dir / DOKKU_SSHD_DATA_DIR); flags win.
type config struct {
	Listen              string
	DataDir             string
	RootDir             string
	LibDir              string
	AuthorizedKeys      string
	User                string
	AdminKeys           string
	TrustedUserCAKeys   string
	DokkuBin            string
	HandshakeTimeout    time.Duration
	IdleTimeout         time.Duration
	KeepaliveInterval   time.Duration
	KeepaliveCountMax   int
	MaxConnections      int
	MaxConnectionsPerIP int
	MaxSessions         int
	ShutdownGrace       time.Duration
	MaxPackSize         int64
	ProgressInterval    time.Duration
	LogFormat           string
	LogLevel            string
	LegacyAlgorithms    bool
	MaxUnauthenticated  int
	AuthLogBurst        int
	CPUProfile          string // benchmarking only (bench/cmd-roundtrip.sh)
	MetricsListen       string
}

func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/dokku-sshd"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "dokku-sshd")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "dokku-sshd")
	}
	return "dokku-sshd-data"
}

// envName maps a flag name to its environment variable.
func envName(flagName string) string {
	return "DOKKU_SSHD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagSet declares every setting on fs, with defaults taken from the
// environment when set there.
func (c *config) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	str := func(p *string, n, def, usage string) {
		if v, ok := os.LookupEnv(envName(n)); ok {
			def = v
		}
		fs.StringVar(p, n, def, usage+" (env "+envName(n)+")")
	}
	dur := func(p *time.Duration, n string, def time.Duration, usage string) {
		if v, ok := os.LookupEnv(envName(n)); ok {
			if d, err := time.ParseDuration(v); err == nil {
				def = d
			}
		}
		fs.DurationVar(p, n, def, usage+" (env "+envName(n)+")")
	}
	num := func(p *int, n string, def int, usage string) {
		if v, ok := os.LookupEnv(envName(n)); ok {
			if i, err := strconv.Atoi(v); err == nil {
				def = i
			}
		}
		fs.IntVar(p, n, def, usage+" (env "+envName(n)+")")
	}
	num64 := func(p *int64, n string, def int64, usage string) {
		if v, ok := os.LookupEnv(envName(n)); ok {
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				def = i
			}
		}
		fs.Int64Var(p, n, def, usage+" (env "+envName(n)+")")
	}
	str(&c.Listen, "listen", ":2222", "address to listen on (ignored under systemd socket activation)")
	str(&c.DataDir, "data-dir", defaultDataDir(), "data directory: host keys, and by default apps, config and authorized_keys")
	str(&c.RootDir, "root-dir", "", "app repositories (DOKKU_ROOT, e.g. /home/dokku); default DATA_DIR/home")
	str(&c.LibDir, "lib-dir", "", "properties and plugin data (DOKKU_LIB_ROOT, e.g. /var/lib/dokku); default DATA_DIR/lib")
	str(&c.AuthorizedKeys, "authorized-keys", "", "sshcommand-format authorized_keys; default ROOT_DIR/.ssh/authorized_keys")
	str(&c.User, "user", "dokku", "the only SSH login user accepted")
	str(&c.AdminKeys, "admin-keys", "", "comma-separated key names (NAME in authorized_keys, or certificate key ids) allowed to run root-only commands such as ssh-keys:add")
	str(&c.TrustedUserCAKeys, "trusted-user-ca-keys", "", "file of CA public keys whose user certificates are accepted (principal must include the login user)")
	str(&c.DokkuBin, "dokku-bin", "", "path of an installed dokku that unknown commands are handed to")
	dur(&c.HandshakeTimeout, "handshake-timeout", 30*time.Second, "time allowed for the SSH handshake and authentication")
	dur(&c.IdleTimeout, "idle-timeout", 10*time.Minute, "close connections that have no session open for this long")
	dur(&c.KeepaliveInterval, "keepalive-interval", 15*time.Second, "interval of SSH keepalive probes")
	num(&c.KeepaliveCountMax, "keepalive-count-max", 3, "unanswered keepalive probes before the connection is dropped")
	num(&c.MaxConnections, "max-connections", 1024, "maximum concurrent connections (checked before authentication)")
	num(&c.MaxConnectionsPerIP, "max-connections-per-ip", 64, "maximum concurrent connections from one address (checked before authentication)")
	num(&c.MaxSessions, "max-sessions", 10, "maximum sessions per connection")
	num(&c.AuthLogBurst, "auth-log-burst", 6, "failed authentication attempts per source address logged one by one every 10s; the rest are counted in one line (-1: log every attempt)")
	num(&c.MaxUnauthenticated, "max-unauthenticated", 256, "maximum connections not yet authenticated, within max-connections; when full, the oldest from the address holding the most is closed to make room")
	dur(&c.ShutdownGrace, "shutdown-grace", 30*time.Second, "on SIGTERM, how long running sessions may finish")
	dur(&c.ProgressInterval, "progress-interval", 20*time.Second, "longest silence of a push's deploy before a progress line is sent")
	num64(&c.MaxPackSize, "max-pack-size", 0, "largest pack one push may send, in bytes (0: no limit)")
	str(&c.LogFormat, "log-format", "text", "log format: text or json")
	str(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	legacy, _ := strconv.ParseBool(os.Getenv(envName("legacy-algorithms")))
	fs.BoolVar(&c.LegacyAlgorithms, "legacy-algorithms", legacy, "also accept the SHA-1 key exchange diffie-hellman-group14-sha1 and ssh-rsa (SHA-1) signatures, for clients such as JSch 0.1.x with RSA keys (env "+envName("legacy-algorithms")+")")
	str(&c.CPUProfile, "cpu-profile", "", "for benchmarking: write a Go CPU profile of the server to this file, from start to shutdown")
	str(&c.MetricsListen, "metrics-listen", "", "address of the Prometheus /metrics endpoint, e.g. 127.0.0.1:9122 (off when empty)")
	return fs
}

// splitLocalArgs separates leading settings flags from a local command line
// (`dokku-sshd --data-dir D apps:list`): flag.Parse cannot be used because
// Dokku's own flags (--quiet, --app X) must pass through untouched.
func (c *config) splitLocalArgs(args []string) ([]string, error) {
	fs := c.flagSet("dokku-sshd")
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { known[f.Name] = true })
	var settings []string
	i := 0
	for i < len(args) {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "--") || !known[name] {
			break
		}
		settings = append(settings, args[i])
		if bf, ok := fs.Lookup(name).Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			hasValue = true // --flag alone is true; a value needs --flag=value
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag --%s needs a value", name)
			}
			settings = append(settings, args[i+1])
			i++
		}
		i++
	}
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(settings); err != nil {
		return nil, err
	}
	return args[i:], nil
}

func (c *config) adminNames() []string {
	var out []string
	for _, n := range strings.Split(c.AdminKeys, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
