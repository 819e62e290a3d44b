package main

import (
	"flag"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// envOf is a lookupEnv reading only vars, never the test's own environment.
func envOf(vars map[string]string) lookupEnv {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// parseSettings is `serve ARGS` with the environment vars.
func parseSettings(t *testing.T, vars map[string]string, args ...string) (config, error) {
	t.Helper()
	var c config
	fs, envErr := c.flagSet("dokku-sshd serve", envOf(vars))
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	return c, envErr
}

// defaults is every setting when neither a flag nor the environment sets it.
func defaults() config {
	return config{
		Listen:              ":2222",
		DataDir:             defaultDataDir(os.Geteuid(), envOf(nil)),
		User:                "dokku",
		HandshakeTimeout:    30 * time.Second,
		IdleTimeout:         10 * time.Minute,
		KeepaliveInterval:   15 * time.Second,
		KeepaliveCountMax:   3,
		MaxConnections:      1024,
		MaxConnectionsPerIP: 64,
		MaxSessions:         10,
		ShutdownGrace:       30 * time.Second,
		ProgressInterval:    20 * time.Second,
		RetireInterval:      time.Minute,
		LogFormat:           "text",
		LogLevel:            "info",
		MaxUnauthenticated:  256,
		AuthLogBurst:        6,
		NginxInclude:        "/etc/nginx/conf.d/dokku-sshd.conf",
	}
}

func TestSettings(t *testing.T) {
	with := func(f func(*config)) config {
		c := defaults()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want config
	}{
		{name: "defaults", want: defaults()},
		{
			name: "flags",
			args: []string{"--listen", "127.0.0.1:22", "--data-dir=/d", "--root-dir", "/home/dokku", "--lib-dir", "/var/lib/dokku",
				"--authorized-keys", "/k", "--user", "git", "--admin-keys", "a,b", "--trusted-user-ca-keys", "/ca", "--dokku-bin", "/usr/bin/dokku", "--dokku-host",
				"--handshake-timeout", "5s", "--idle-timeout", "1h", "--keepalive-interval", "0", "--keepalive-count-max", "7",
				"--max-connections", "9", "--max-connections-per-ip", "8", "--max-sessions", "2", "--auth-log-burst", "-1",
				"--max-unauthenticated", "4", "--shutdown-grace", "1m", "--progress-interval", "2s", "--retire-interval", "0", "--max-pack-size", "1099511627776",
				"--log-format", "json", "--log-level", "debug", "--legacy-algorithms", "--cpu-profile", "/p", "--metrics-listen", ":9122",
				"--no-proxy", "--nginx-bin", "/n", "--proxy-listen", "127.0.0.1", "--nginx-system", "--nginx-include", "/i", "--nginx-reload-cmd", "systemctl reload nginx"},
			want: config{Listen: "127.0.0.1:22", DataDir: "/d", RootDir: "/home/dokku", LibDir: "/var/lib/dokku", AuthorizedKeys: "/k",
				User: "git", AdminKeys: "a,b", TrustedUserCAKeys: "/ca", DokkuBin: "/usr/bin/dokku", DokkuHost: true,
				HandshakeTimeout: 5 * time.Second, IdleTimeout: time.Hour, KeepaliveInterval: 0, KeepaliveCountMax: 7,
				MaxConnections: 9, MaxConnectionsPerIP: 8, MaxSessions: 2, AuthLogBurst: -1, MaxUnauthenticated: 4,
				ShutdownGrace: time.Minute, ProgressInterval: 2 * time.Second, MaxPackSize: 1 << 40,
				LogFormat: "json", LogLevel: "debug", LegacyAlgorithms: true, CPUProfile: "/p", MetricsListen: ":9122",
				NoProxy: true, NginxBin: "/n", ProxyListen: "127.0.0.1", NginxSystem: true, NginxInclude: "/i", NginxReloadCmd: "systemctl reload nginx"},
		},
		{
			name: "environment",
			env: map[string]string{"DOKKU_SSHD_LISTEN": ":22", "DOKKU_SSHD_DATA_DIR": "/e", "DOKKU_SSHD_IDLE_TIMEOUT": "90s",
				"DOKKU_SSHD_MAX_SESSIONS": "3", "DOKKU_SSHD_MAX_PACK_SIZE": "1024", "DOKKU_SSHD_LEGACY_ALGORITHMS": "1",
				"DOKKU_SSHD_ADMIN_KEYS": "admin", "DOKKU_SSHD_NULL_BUILDER_SLEEP": "3s", "DOKKU_SSHD_DOKKU_HOST": "true"},
			want: with(func(c *config) {
				c.Listen, c.DataDir, c.IdleTimeout, c.MaxSessions, c.MaxPackSize = ":22", "/e", 90*time.Second, 3, 1024
				c.LegacyAlgorithms, c.AdminKeys, c.NullBuilderSleep, c.DokkuHost = true, "admin", 3*time.Second, true
			}),
		},
		{
			name: "flags win over the environment",
			env: map[string]string{"DOKKU_SSHD_LISTEN": ":22", "DOKKU_SSHD_IDLE_TIMEOUT": "90s", "DOKKU_SSHD_MAX_SESSIONS": "3",
				"DOKKU_SSHD_LEGACY_ALGORITHMS": "true", "DOKKU_SSHD_MAX_PACK_SIZE": "1024"},
			args: []string{"--listen", ":2200", "--idle-timeout", "2m", "--max-sessions=4", "--legacy-algorithms=false", "--max-pack-size", "0"},
			want: with(func(c *config) { c.Listen, c.IdleTimeout, c.MaxSessions = ":2200", 2*time.Minute, 4 }),
		},
		{
			// A string set empty is a value; a number, duration or bool set
			// empty is unset (an EnvironmentFile's `NAME=`).
			name: "empty values",
			env: map[string]string{"DOKKU_SSHD_LISTEN": "", "DOKKU_SSHD_USER": "", "DOKKU_SSHD_IDLE_TIMEOUT": "",
				"DOKKU_SSHD_MAX_SESSIONS": "", "DOKKU_SSHD_MAX_PACK_SIZE": "", "DOKKU_SSHD_LEGACY_ALGORITHMS": ""},
			want: with(func(c *config) { c.Listen, c.User = "", "" }),
		},
		{
			name: "negative and zero values are values",
			env:  map[string]string{"DOKKU_SSHD_AUTH_LOG_BURST": "-1", "DOKKU_SSHD_KEEPALIVE_INTERVAL": "0s", "DOKKU_SSHD_MAX_SESSIONS": "0"},
			want: with(func(c *config) { c.AuthLogBurst, c.KeepaliveInterval, c.MaxSessions = -1, 0, 0 }),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSettings(t, tc.env, tc.args...)
			if err != nil {
				t.Fatalf("environment refused: %v", err)
			}
			if got != tc.want {
				t.Errorf("settings\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Every flag has its environment variable, named in its usage, and every
// setting but the test knob NullBuilderSleep has its flag.
func TestSettingsUsageNamesEnvironment(t *testing.T) {
	var c config
	fs, _ := c.flagSet("dokku-sshd serve", envOf(nil))
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if want := "(env " + envName(f.Name) + ")"; !strings.HasSuffix(f.Usage, want) {
			t.Errorf("--%s: usage %q does not end in %q", f.Name, f.Usage, want)
		}
	})
	if want := reflect.TypeFor[config]().NumField() - 1; n != want {
		t.Errorf("%d flags, want %d: one a config field", n, want)
	}
}

func TestSettingsEnvironmentRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string // error lines, in the order the settings are declared
	}{
		{"duration without unit", map[string]string{"DOKKU_SSHD_IDLE_TIMEOUT": "10"}, nil,
			[]string{`environment variable DOKKU_SSHD_IDLE_TIMEOUT="10": not a duration (such as 30s, 10m or 1h30m)`}},
		{"duration word", map[string]string{"DOKKU_SSHD_SHUTDOWN_GRACE": "forever"}, nil,
			[]string{`environment variable DOKKU_SSHD_SHUTDOWN_GRACE="forever": not a duration (such as 30s, 10m or 1h30m)`}},
		{"int word", map[string]string{"DOKKU_SSHD_MAX_SESSIONS": "ten"}, nil,
			[]string{`environment variable DOKKU_SSHD_MAX_SESSIONS="ten": not an integer`}},
		{"int with unit", map[string]string{"DOKKU_SSHD_MAX_CONNECTIONS": "1k"}, nil,
			[]string{`environment variable DOKKU_SSHD_MAX_CONNECTIONS="1k": not an integer`}},
		{"int too large", map[string]string{"DOKKU_SSHD_KEEPALIVE_COUNT_MAX": "99999999999999999999"}, nil,
			[]string{`environment variable DOKKU_SSHD_KEEPALIVE_COUNT_MAX="99999999999999999999": out of range`}},
		{"int64 fraction", map[string]string{"DOKKU_SSHD_MAX_PACK_SIZE": "1.5"}, nil,
			[]string{`environment variable DOKKU_SSHD_MAX_PACK_SIZE="1.5": not an integer`}},
		{"int64 too large", map[string]string{"DOKKU_SSHD_MAX_PACK_SIZE": "9223372036854775808"}, nil,
			[]string{`environment variable DOKKU_SSHD_MAX_PACK_SIZE="9223372036854775808": out of range`}},
		{"bool word", map[string]string{"DOKKU_SSHD_LEGACY_ALGORITHMS": "yes"}, nil,
			[]string{`environment variable DOKKU_SSHD_LEGACY_ALGORITHMS="yes": not a boolean (true or false, 1 or 0)`}},
		{"host mode word", map[string]string{"DOKKU_SSHD_DOKKU_HOST": "on"}, nil,
			[]string{`environment variable DOKKU_SSHD_DOKKU_HOST="on": not a boolean (true or false, 1 or 0)`}},
		{"test knob", map[string]string{"DOKKU_SSHD_NULL_BUILDER_SLEEP": "3"}, nil,
			[]string{`environment variable DOKKU_SSHD_NULL_BUILDER_SLEEP="3": not a duration (such as 30s, 10m or 1h30m)`}},
		{"refused also when a flag sets it", map[string]string{"DOKKU_SSHD_MAX_SESSIONS": "ten"}, []string{"--max-sessions", "3"},
			[]string{`environment variable DOKKU_SSHD_MAX_SESSIONS="ten": not an integer`}},
		{"every one named", map[string]string{"DOKKU_SSHD_HANDSHAKE_TIMEOUT": "1", "DOKKU_SSHD_MAX_SESSIONS": "x",
			"DOKKU_SSHD_LEGACY_ALGORITHMS": "on", "DOKKU_SSHD_LISTEN": ":22"}, nil,
			[]string{
				`environment variable DOKKU_SSHD_HANDSHAKE_TIMEOUT="1": not a duration (such as 30s, 10m or 1h30m)`,
				`environment variable DOKKU_SSHD_MAX_SESSIONS="x": not an integer`,
				`environment variable DOKKU_SSHD_LEGACY_ALGORITHMS="on": not a boolean (true or false, 1 or 0)`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSettings(t, tc.env, tc.args...)
			if err == nil {
				t.Fatal("environment accepted")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tc.want) {
				t.Errorf("error\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDefaultDataDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		euid int
		env  map[string]string
		want string
	}{
		{"root", 0, map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/root"}, "/var/lib/dokku-sshd"},
		{"XDG_DATA_HOME", 1000, map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/home/u"}, "/x/dokku-sshd"},
		{"HOME", 1000, map[string]string{"XDG_DATA_HOME": "", "HOME": "/home/u"}, "/home/u/.local/share/dokku-sshd"},
		{"neither", 1000, nil, "dokku-sshd-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultDataDir(tc.euid, envOf(tc.env)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitLocalArgs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		wantRest []string
		wantErr  string
		check    func(config) bool
	}{
		{name: "command alone", args: []string{"apps:list"}, wantRest: []string{"apps:list"}},
		{name: "settings before the command", args: []string{"--data-dir", "/d", "--lib-dir=/l", "apps:list"},
			wantRest: []string{"apps:list"}, check: func(c config) bool { return c.DataDir == "/d" && c.LibDir == "/l" }},
		{name: "a bool flag takes no value", args: []string{"--legacy-algorithms", "version"},
			wantRest: []string{"version"}, check: func(c config) bool { return c.LegacyAlgorithms }},
		{name: "Dokku's flags pass through", args: []string{"--quiet", "--app", "a", "config:show"},
			wantRest: []string{"--quiet", "--app", "a", "config:show"}},
		{name: "settings stop at the first word", args: []string{"config:set", "--data-dir", "/d"},
			wantRest: []string{"config:set", "--data-dir", "/d"}, check: func(c config) bool { return c.DataDir != "/d" }},
		{name: "environment", env: map[string]string{"DOKKU_SSHD_DATA_DIR": "/e"}, args: []string{"apps:list"},
			wantRest: []string{"apps:list"}, check: func(c config) bool { return c.DataDir == "/e" }},
		{name: "value missing", args: []string{"--data-dir"}, wantErr: "flag --data-dir needs a value"},
		{name: "bad environment", env: map[string]string{"DOKKU_SSHD_IDLE_TIMEOUT": "1"}, args: []string{"apps:list"},
			wantErr: `environment variable DOKKU_SSHD_IDLE_TIMEOUT="1": not a duration (such as 30s, 10m or 1h30m)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c config
			rest, err := c.splitLocalArgs(tc.args, envOf(tc.env))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rest, tc.wantRest) {
				t.Errorf("rest %q, want %q", rest, tc.wantRest)
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("settings %+v", c)
			}
		})
	}
}

func TestAdminNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"admin", []string{"admin"}},
		{" a , b,,c ", []string{"a", "b", "c"}},
	} {
		if got := (&config{AdminKeys: tc.in}).adminNames(); !slices.Equal(got, tc.want) {
			t.Errorf("adminNames(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
