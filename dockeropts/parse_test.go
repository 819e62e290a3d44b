package dockeropts

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

func words(t *testing.T, line string) []string {
	t.Helper()
	opts, err := SplitInput(line)
	if err != nil {
		t.Fatal(err)
	}
	var w []string
	for _, o := range opts {
		ow, err := Words(o)
		if err != nil {
			t.Fatal(err)
		}
		w = append(w, ow...)
	}
	return w
}

func TestParseContainer(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	yes := true
	for _, c := range []struct {
		in    string
		check func(c *Container) any
		want  any
	}{
		{"-e A=1 --env B --env=A=2", func(c *Container) any { return c.Config.Env }, []string{"A=2", "B"}},
		{"-l a=b --label 'rule=Host(`x`) \"q\"' -l empty", func(c *Container) any { return c.Config.Labels },
			map[string]string{"a": "b", "rule": "Host(`x`) \"q\"", "empty": ""}},
		{"-v /srv/data:/data:ro --volume /anon", func(c *Container) any { return []any{c.Host.Binds, c.Config.Volumes} },
			[]any{[]string{"/srv/data:/data:ro"}, map[string]struct{}{"/anon": {}}}},
		{"--mount type=bind,source=/a,target=/b,readonly", func(c *Container) any { return c.Host.Mounts },
			[]mount.Mount{{Type: mount.TypeBind, Source: "/a", Target: "/b", ReadOnly: true}}},
		{"-p 127.0.0.1:8080:5000 -p 53/udp", func(c *Container) any { return []any{c.Host.PortBindings, c.PublishesPorts} },
			[]any{network.PortMap{
				network.MustParsePort("5000/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8080"}},
				network.MustParsePort("53/udp"):   {{}},
			}, true}},
		{"-P", func(c *Container) any { return []any{c.Host.PublishAllPorts, c.PublishesPorts} }, []any{true, true}},
		{"--expose 7000-7001", func(c *Container) any { return []any{c.Config.ExposedPorts, c.PublishesPorts} },
			[]any{network.PortSet{network.MustParsePort("7000/tcp"): {}, network.MustParsePort("7001/tcp"): {}}, false}},
		{"--network mynet --add-host db:10.0.0.2 --add-host gw=host-gateway --dns 1.1.1.1", func(c *Container) any {
			return []any{c.Host.NetworkMode, c.Host.ExtraHosts, c.Host.DNS}
		}, []any{container.NetworkMode("mynet"), []string{"db:10.0.0.2", "gw:host-gateway"}, []netip.Addr{netip.MustParseAddr("1.1.1.1")}}},
		{"-m 256m --memory-swap -1 --cpus 1.5 --cpu-shares 512 --shm-size 64m --pids-limit 100", func(c *Container) any {
			r := c.Host.Resources
			return []any{r.Memory, r.MemorySwap, r.NanoCPUs, r.CPUShares, c.Host.ShmSize, r.PidsLimit}
		}, []any{int64(256 << 20), int64(-1), int64(1500000000), int64(512), int64(64 << 20), i64(100)}},
		{"--ulimit nofile=1024:2048 --ulimit nproc=10", func(c *Container) any { return c.Host.Ulimits },
			[]*units.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 10, Hard: 10}}},
		{"--cap-add NET_ADMIN --cap-drop ALL --privileged --device /dev/fuse --init", func(c *Container) any {
			return []any{c.Host.CapAdd, c.Host.CapDrop, c.Host.Privileged, c.Host.Devices, c.Host.Init}
		}, []any{[]string{"NET_ADMIN"}, []string{"ALL"}, true, []container.DeviceMapping{{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"}}, &yes}},
		{"--tmpfs /run:rw,size=64m --sysctl net.core.somaxconn=1024 --security-opt no-new-privileges", func(c *Container) any {
			return []any{c.Host.Tmpfs, c.Host.Sysctls, c.Host.SecurityOpt}
		}, []any{map[string]string{"/run": "rw,size=64m"}, map[string]string{"net.core.somaxconn": "1024"}, []string{"no-new-privileges"}}},
		{"--log-driver json-file --log-opt max-size=10m", func(c *Container) any { return c.Host.LogConfig },
			container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m"}}},
		{"-u 1000:1000 -w /app --hostname web --link db:database --entrypoint /bin/sh", func(c *Container) any {
			return []any{c.Config.User, c.Config.WorkingDir, c.Config.Hostname, c.Host.Links, c.Config.Entrypoint}
		}, []any{"1000:1000", "/app", "web", []string{"db:database"}, []string{"/bin/sh"}}},
		{"--restart always", func(c *Container) any { return c.Host.RestartPolicy }, container.RestartPolicy{Name: "always"}},
		{"--restart=on-failure:5", func(c *Container) any { return c.Host.RestartPolicy }, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 5}},
	} {
		got, err := ParseContainer(Deploy, words(t, c.in))
		if err != nil {
			t.Errorf("ParseContainer(%q): %v", c.in, err)
			continue
		}
		if v := c.check(got); !reflect.DeepEqual(v, c.want) {
			t.Errorf("ParseContainer(%q) = %#v; want %#v", c.in, v, c.want)
		}
	}
	// --restart is Dokku's deploy phase's alone.
	if c, err := ParseContainer(Run, []string{"--restart", "always"}); err != nil || c.Host.RestartPolicy.Name != "" {
		t.Errorf("run phase --restart = %+v, %v; want ignored", c, err)
	}
}

func TestParseContainerBad(t *testing.T) {
	for in, want := range map[string]string{
		"--gpus all":                  "docker option --gpus cannot be used in docker-options: not supported by this server",
		"--env-file /etc/passwd":      "docker option --env-file cannot be used in docker-options: it reads a file on the server",
		"--name x":                    "docker option --name cannot be used",
		"--build-arg A=1":             "unknown flag: --build-arg",
		"-x":                          "unknown shorthand flag: 'x' in -x",
		"-m lots":                     `invalid argument "lots" for "-m, --memory" flag`,
		"--cpus 0.0000000001":         "value is too precise",
		"-p 99999:80":                 `invalid argument "99999:80" for "-p, --publish" flag`,
		"--restart sometimes":         "invalid restart policy 'sometimes'",
		"--ulimit nofile":             "invalid ulimit argument: nofile",
		"--add-host nohost":           `bad format for add-host: "nohost"`,
		"--dns notanip":               "notanip is not an ip address",
		"-v relative":                 "destination must be an absolute path",
		"--mount type=bind,target=/b": "source is required",
		"-e =x":                       "invalid environment variable: =x",
		"-l =x":                       "invalid label '=x': empty name",
		"stray":                       `"stray" is not a docker option`,
		"--label":                     "flag needs an argument: --label",
		"-w relative":                 "needs to be an absolute path",
	} {
		_, err := ParseContainer(Deploy, words(t, in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseContainer(%q) error = %v; want it to contain %q", in, err, want)
		}
	}
}

func TestParseBuild(t *testing.T) {
	b, err := ParseBuild(words(t, "--build-arg A=1 --build-arg FROM_CONFIG --build-arg UNSET -v /ignored:/x --label 'k=`v`' --memory=64m --network host --no-cache --target final --restart always"),
		map[string]string{"FROM_CONFIG": "cfg"})
	if err != nil {
		t.Fatal(err)
	}
	one, cfg := "1", "cfg"
	if !reflect.DeepEqual(b.BuildArgs, map[string]*string{"A": &one, "FROM_CONFIG": &cfg, "UNSET": nil}) {
		t.Errorf("BuildArgs = %v", b.BuildArgs)
	}
	if b.Labels["k"] != "`v`" || b.Memory != 64<<20 || b.NetworkMode != "host" || !b.NoCache || b.Target != "final" {
		t.Errorf("build = %+v", b)
	}
	if _, err := ParseBuild([]string{"--secret", "id=x"}, nil); err == nil || !strings.Contains(err.Error(), "--secret needs BuildKit") {
		t.Errorf("--secret: %v", err)
	}
}

func TestMergeEnv(t *testing.T) {
	got := MergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4", "A=5"})
	if want := []string{"A=5", "B=3", "C=4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MergeEnv = %q; want %q", got, want)
	}
}
