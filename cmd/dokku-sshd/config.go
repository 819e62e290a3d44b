package main

import (
	"errors"
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
// A variable that does not parse is refused, not dropped: a typo would
// otherwise leave a limit at its default unnoticed.
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
	DokkuHost           bool
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
	RetireInterval      time.Duration
	LogFormat           string
	LogLevel            string
	LegacyAlgorithms    bool
	MaxUnauthenticated  int
	AuthLogBurst        int
	CPUProfile          string // benchmarking only (bench/cmd-roundtrip.sh)
	MetricsListen       string
	NullBuilderSleep    time.Duration // environment only: DOKKU_SSHD_NULL_BUILDER_SLEEP
	NoProxy             bool
	NginxBin            string
	ProxyListen         string
	NginxSystem         bool
	NginxInclude        string
	NginxReloadCmd      string
}

// lookupEnv reads one environment variable: os.LookupEnv, or a table in
// tests.
type lookupEnv func(name string) (string, bool)

func defaultDataDir(euid int, env lookupEnv) string {
	if euid == 0 {
		return "/var/lib/dokku-sshd"
	}
	if d, _ := env("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "dokku-sshd")
	}
	if h, _ := env("HOME"); h != "" { // as os.UserHomeDir
		return filepath.Join(h, ".local", "share", "dokku-sshd")
	}
	return "dokku-sshd-data"
}

// envName maps a flag name to its environment variable.
func envName(flagName string) string {
	return "DOKKU_SSHD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagSet declares every setting on fs, with defaults taken from the
// environment (env) when set there. envErr names each variable whose value
// does not parse: the caller refuses to start with it, after fs.Parse, so
// that -h still shows the settings.
func (c *config) flagSet(name string, env lookupEnv) (fs *flag.FlagSet, envErr error) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	var errs []error
	usageEnv := func(n, usage string) string { return usage + " (env " + envName(n) + ")" }
	str := func(p *string, n, def, usage string) {
		if v, ok := env(envName(n)); ok {
			def = v
		}
		fs.StringVar(p, n, def, usageEnv(n, usage))
	}
	dur := func(p *time.Duration, n string, def time.Duration, usage string) {
		fs.DurationVar(p, n, fromEnv(env, &errs, n, def, parseDuration), usageEnv(n, usage))
	}
	num := func(p *int, n string, def int, usage string) {
		fs.IntVar(p, n, fromEnv(env, &errs, n, def, parseInt), usageEnv(n, usage))
	}
	num64 := func(p *int64, n string, def int64, usage string) {
		fs.Int64Var(p, n, fromEnv(env, &errs, n, def, parseInt64), usageEnv(n, usage))
	}
	dataDir := defaultDataDir(os.Geteuid(), env)
	str(&c.Listen, "listen", ":2222", "address to listen on (ignored under systemd socket activation)")
	str(&c.DataDir, "data-dir", dataDir, "data directory: host keys, and by default apps, config and authorized_keys")
	str(&c.RootDir, "root-dir", "", "app repositories (DOKKU_ROOT, e.g. /home/dokku); default DATA_DIR/home")
	str(&c.LibDir, "lib-dir", "", "properties and plugin data (DOKKU_LIB_ROOT, e.g. /var/lib/dokku); default DATA_DIR/lib")
	str(&c.AuthorizedKeys, "authorized-keys", "", "sshcommand-format authorized_keys; default ROOT_DIR/.ssh/authorized_keys")
	str(&c.User, "user", "dokku", "the only SSH login user accepted")
	str(&c.AdminKeys, "admin-keys", "", "comma-separated key names (NAME in authorized_keys, or certificate key ids) allowed to run root-only commands such as ssh-keys:add")
	str(&c.TrustedUserCAKeys, "trusted-user-ca-keys", "", "file of CA public keys whose user certificates are accepted (principal must include the login user)")
	str(&c.DokkuBin, "dokku-bin", "", "path of an installed dokku that unknown commands are handed to")
	boolean := func(p *bool, n string, usage string) {
		fs.BoolVar(p, n, fromEnv(env, &errs, n, false, parseBool), usageEnv(n, usage))
	}
	boolean(&c.DokkuHost, "dokku-host", "Dokku host mode: commands run through each key's sshcommand forced command (Dokku's own dokku), as OpenSSH runs them, and pushes through the repositories' own hooks")
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
	dur(&c.RetireInterval, "retire-interval", time.Minute, "how often old containers and images whose wait-to-retire has passed, and expired run containers, are removed, as Dokku's ps:retire timer does (0: only by ps:retire)")
	num64(&c.MaxPackSize, "max-pack-size", 0, "largest pack one push may send, in bytes (0: no limit)")
	str(&c.LogFormat, "log-format", "text", "log format: text or json")
	str(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	legacy := fromEnv(env, &errs, "legacy-algorithms", false, parseBool)
	fs.BoolVar(&c.LegacyAlgorithms, "legacy-algorithms", legacy, usageEnv("legacy-algorithms", "also accept the SHA-1 key exchange diffie-hellman-group14-sha1 and ssh-rsa (SHA-1) signatures, for clients such as JSch 0.1.x with RSA keys"))
	str(&c.CPUProfile, "cpu-profile", "", "for benchmarking: write a Go CPU profile of the server to this file, from start to shutdown")
	boolean(&c.NoProxy, "no-proxy", "do not route docker-local apps' HTTP through nginx")
	str(&c.NginxBin, "nginx-bin", "", "nginx binary for HTTP routing of docker-local apps; default nginx on PATH, else /usr/sbin/nginx (routing is off when there is none)")
	str(&c.ProxyListen, "proxy-listen", "", "IPv4 address nginx listens on for apps' ports (nginx bind-address-ipv4 overrides it per app); default every address, IPv4 and IPv6")
	boolean(&c.NginxSystem, "nginx-system", "reload an operator-run nginx instead of running one: its http block must include --nginx-include")
	str(&c.NginxInclude, "nginx-include", "/etc/nginx/conf.d/dokku-sshd.conf", "with --nginx-system: the file the server writes (default servers and an include of ROOT_DIR/*/nginx.conf)")
	str(&c.NginxReloadCmd, "nginx-reload-cmd", "", "with --nginx-system: the command that reloads nginx, split on spaces; default NGINX_BIN -s reload")
	str(&c.MetricsListen, "metrics-listen", "", "address of the Prometheus /metrics endpoint, e.g. 127.0.0.1:9122 (off when empty)")
	// A test knob without a flag: a stand-in for a slow, quiet build.
	c.NullBuilderSleep = fromEnv(env, &errs, "null-builder-sleep", 0, parseDuration)
	return fs, errors.Join(errs...)
}

// fromEnv is the default of setting n: its environment variable parsed by
// parse when set, else def. An empty value counts as unset. A value that
// does not parse is added to errs, with the variable's name.
func fromEnv[T any](env lookupEnv, errs *[]error, n string, def T, parse func(string) (T, error)) T {
	v, ok := env(envName(n))
	if !ok || v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("environment variable %s=%q: %w", envName(n), v, err))
		return def
	}
	return x
}

// The parsers of environment values say what the value should have been;
// the flag package says it for flags.

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("not a duration (such as 30s, 10m or 1h30m)")
	}
	return d, nil
}

func parseInt(v string) (int, error) {
	i, err := strconv.Atoi(v)
	return i, numberProblem(err)
}

func parseInt64(v string) (int64, error) {
	i, err := strconv.ParseInt(v, 10, 64)
	return i, numberProblem(err)
}

func numberProblem(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, strconv.ErrRange):
		return errors.New("out of range")
	}
	return errors.New("not an integer")
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("not a boolean (true or false, 1 or 0)")
	}
	return b, nil
}

// splitLocalArgs separates leading settings flags from a local command line
// (`dokku-sshd --data-dir D apps:list`): flag.Parse cannot be used because
// Dokku's own flags (--quiet, --app X) must pass through untouched.
// Environment values that do not parse are refused after the flags.
func (c *config) splitLocalArgs(args []string, env lookupEnv) ([]string, error) {
	fs, envErr := c.flagSet("dokku-sshd", env)
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
	if envErr != nil {
		return nil, envErr
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
