package dockeropts

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// Container is what deploy- or run-phase options make of a container: the
// parts of its Config and HostConfig they set, as `docker container
// create` would send them.
type Container struct {
	Config container.Config
	Host   container.HostConfig
	// PublishesPorts: a -p/--publish or -P/--publish-all option is among
	// them (the deploy warns when such a process type runs more than one
	// container, or with zero-downtime checks).
	PublishesPorts bool
}

// runFlags is the docker CLI's `container create` option set, as far as
// docker-options can use it.
type runFlags struct {
	fs *pflag.FlagSet

	env, label, volume, mount, publish, expose, addHost, dns, dnsSearch, dnsOpt         []string
	capAdd, capDrop, device, deviceCgroupRule, tmpfs, logOpt, sysctl, securityOpt, link []string
	groupAdd, volumesFrom, storageOpt                                                   []string

	publishAll, privileged, init, readOnly, oomKillDisable, noHealthcheck bool

	network, restart, logDriver, user, workdir, hostname, domainname, entrypoint, stopSignal string
	cpusetCpus, cpusetMems, pid, ipc, uts, userns, cgroupns, cgroupParent, runtime           string
	healthCmd, volumeDriver                                                                  string

	memory, memoryReservation, shmSize memBytes
	memorySwap                         memSwap
	cpus                               nanoCPUs
	ulimits                            ulimits

	cpuShares, cpuPeriod, cpuQuota, pidsLimit, memorySwappiness int64
	blkioWeight                                                 uint16
	oomScoreAdj, stopTimeout, healthRetries                     int

	healthInterval, healthTimeout, healthStartPeriod, healthStartInterval time.Duration
}

func newRunFlags() *runFlags {
	f := &runFlags{fs: pflag.NewFlagSet("docker-options", pflag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(io.Discard)
	fs.SortFlags = false

	fs.StringArrayVarP(&f.env, "env", "e", nil, "")
	fs.StringArrayVarP(&f.label, "label", "l", nil, "")
	fs.StringArrayVarP(&f.volume, "volume", "v", nil, "")
	fs.StringArrayVar(&f.mount, "mount", nil, "")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "")
	fs.StringArrayVar(&f.expose, "expose", nil, "")
	fs.StringVar(&f.network, "network", "", "")
	fs.StringVar(&f.network, "net", "", "")
	fs.StringArrayVar(&f.addHost, "add-host", nil, "")
	fs.StringArrayVar(&f.dns, "dns", nil, "")
	fs.StringArrayVar(&f.dnsSearch, "dns-search", nil, "")
	fs.StringArrayVar(&f.dnsOpt, "dns-option", nil, "")
	fs.StringArrayVar(&f.dnsOpt, "dns-opt", nil, "")
	fs.StringArrayVar(&f.link, "link", nil, "")
	fs.StringVar(&f.restart, "restart", "", "")

	fs.VarP(&f.memory, "memory", "m", "")
	fs.Var(&f.memorySwap, "memory-swap", "")
	fs.Var(&f.memoryReservation, "memory-reservation", "")
	fs.Int64Var(&f.memorySwappiness, "memory-swappiness", -1, "")
	fs.BoolVar(&f.oomKillDisable, "oom-kill-disable", false, "")
	fs.IntVar(&f.oomScoreAdj, "oom-score-adj", 0, "")
	fs.Var(&f.cpus, "cpus", "")
	fs.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "")
	fs.Int64Var(&f.cpuPeriod, "cpu-period", 0, "")
	fs.Int64Var(&f.cpuQuota, "cpu-quota", 0, "")
	fs.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "")
	fs.StringVar(&f.cpusetMems, "cpuset-mems", "", "")
	fs.Uint16Var(&f.blkioWeight, "blkio-weight", 0, "")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "")
	fs.Var(&f.shmSize, "shm-size", "")
	fs.Var(&f.ulimits, "ulimit", "")

	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "")
	fs.BoolVar(&f.privileged, "privileged", false, "")
	fs.StringArrayVar(&f.device, "device", nil, "")
	fs.StringArrayVar(&f.deviceCgroupRule, "device-cgroup-rule", nil, "")
	fs.StringArrayVar(&f.groupAdd, "group-add", nil, "")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "")
	fs.StringArrayVar(&f.sysctl, "sysctl", nil, "")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "")
	fs.StringArrayVar(&f.volumesFrom, "volumes-from", nil, "")
	fs.StringVar(&f.volumeDriver, "volume-driver", "", "")
	fs.StringArrayVar(&f.storageOpt, "storage-opt", nil, "")
	fs.BoolVar(&f.readOnly, "read-only", false, "")
	fs.StringVar(&f.pid, "pid", "", "")
	fs.StringVar(&f.ipc, "ipc", "", "")
	fs.StringVar(&f.uts, "uts", "", "")
	fs.StringVar(&f.userns, "userns", "", "")
	fs.StringVar(&f.cgroupns, "cgroupns", "", "")
	fs.StringVar(&f.cgroupParent, "cgroup-parent", "", "")
	fs.StringVar(&f.runtime, "runtime", "", "")
	fs.BoolVar(&f.init, "init", false, "")

	fs.StringVar(&f.logDriver, "log-driver", "", "")
	fs.StringArrayVar(&f.logOpt, "log-opt", nil, "")

	fs.StringVarP(&f.user, "user", "u", "", "")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "")
	fs.StringVar(&f.domainname, "domainname", "", "")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "")
	fs.IntVar(&f.stopTimeout, "stop-timeout", 0, "")

	fs.StringVar(&f.healthCmd, "health-cmd", "", "")
	fs.DurationVar(&f.healthInterval, "health-interval", 0, "")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "")
	fs.DurationVar(&f.healthStartPeriod, "health-start-period", 0, "")
	fs.DurationVar(&f.healthStartInterval, "health-start-interval", 0, "")
	fs.IntVar(&f.healthRetries, "health-retries", 0, "")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "")
	return f
}

// notForDokku are docker `container create` options that docker-options
// cannot carry: Dokku or this server sets them itself (the name, the
// streams, removal), or they read files on the server (env and label
// files), or they need what the Engine API create call alone cannot give
// (platform, GPUs, per-network settings). Each maps to the reason shown.
var notForDokku = map[string]string{
	"--name":          "the scheduler names the containers",
	"--rm":            "the scheduler removes the containers",
	"-d":              "the scheduler starts and attaches the containers",
	"--detach":        "the scheduler starts and attaches the containers",
	"-i":              "the scheduler attaches the containers",
	"--interactive":   "the scheduler attaches the containers",
	"-t":              "the scheduler allocates a terminal when the client has one",
	"--tty":           "the scheduler allocates a terminal when the client has one",
	"--env-file":      "it reads a file on the server: set the variables with config:set or add them with -e",
	"--label-file":    "it reads a file on the server: add the labels with -l",
	"--cidfile":       "it writes a file on the server",
	"--platform":      "the image's own platform is used",
	"--pull":          "images are never pulled at deploy",
	"--gpus":          "not supported by this server",
	"--network-alias": "not supported by this server",
	"--ip":            "not supported by this server",
	"--ip6":           "not supported by this server",
	"--mac-address":   "not supported by this server",
}

// ParseContainer parses the words of a deploy- or run-phase option list
// (phase Deploy or Run) into what they set on a container, as `docker
// container create` would. An option docker-options cannot carry, an
// unknown one, or a bad value is an error that names it. A --restart
// option is checked but set only in the deploy phase: Dokku passes it on
// for deploys alone (where ps:set restart-policy then overrides it).
func ParseContainer(phase string, words []string) (*Container, error) {
	for _, w := range words {
		name, _, _ := strings.Cut(w, "=")
		if why, ok := notForDokku[name]; ok {
			return nil, fmt.Errorf("docker option %s cannot be used in docker-options: %s", name, why)
		}
	}
	f := newRunFlags()
	if err := f.fs.Parse(words); err != nil {
		return nil, err
	}
	if args := f.fs.Args(); len(args) > 0 {
		return nil, fmt.Errorf("%q is not a docker option (options start with - or --)", args[0])
	}
	c := &Container{}
	if err := f.apply(c, phase); err != nil {
		return nil, err
	}
	return c, nil
}

func (f *runFlags) changed(name string) bool { return f.fs.Changed(name) }

func (f *runFlags) apply(c *Container, phase string) error {
	cfg, hc := &c.Config, &c.Host
	for _, e := range f.env {
		k, _, _ := strings.Cut(e, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("invalid environment variable: %s", e)
		}
		cfg.Env = MergeEnv(cfg.Env, []string{e})
	}
	for _, l := range f.label {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return fmt.Errorf("invalid label '%s': empty name", l)
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	for _, v := range f.volume {
		if err := addVolume(cfg, hc, v); err != nil {
			return err
		}
	}
	for _, m := range f.mount {
		mt, err := parseMount(m)
		if err != nil {
			return fmt.Errorf("invalid argument %q for \"--mount\" flag: %w", m, err)
		}
		hc.Mounts = append(hc.Mounts, mt)
	}
	if err := f.ports(c); err != nil {
		return err
	}
	if f.network != "" {
		hc.NetworkMode = container.NetworkMode(f.network)
	}
	for _, h := range f.addHost {
		v, err := extraHost(h)
		if err != nil {
			return err
		}
		hc.ExtraHosts = append(hc.ExtraHosts, v)
	}
	for _, d := range f.dns {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return fmt.Errorf("%s is not an ip address", d)
		}
		hc.DNS = append(hc.DNS, a)
	}
	hc.DNSSearch, hc.DNSOptions = f.dnsSearch, f.dnsOpt
	for _, l := range f.link {
		if name, _, _ := strings.Cut(l, ":"); name == "" {
			return fmt.Errorf("invalid link: %s", l)
		}
	}
	hc.Links = f.link
	if f.changed("restart") {
		rp, err := restartPolicy(f.restart)
		if err != nil {
			return err
		}
		if phase == Deploy {
			hc.RestartPolicy = rp
		}
	}

	r := &hc.Resources
	r.Memory, r.MemorySwap, r.MemoryReservation = int64(f.memory), int64(f.memorySwap), int64(f.memoryReservation)
	if f.changed("memory-swappiness") {
		if f.memorySwappiness < -1 || f.memorySwappiness > 100 {
			return fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", f.memorySwappiness)
		}
		if f.memorySwappiness >= 0 {
			v := f.memorySwappiness
			r.MemorySwappiness = &v
		}
	}
	if f.changed("oom-kill-disable") {
		v := f.oomKillDisable
		r.OomKillDisable = &v
	}
	hc.OomScoreAdj = f.oomScoreAdj
	if f.changed("cpus") && (f.changed("cpu-period") || f.changed("cpu-quota")) {
		return fmt.Errorf("conflicting options: --cpus and --cpu-period/--cpu-quota")
	}
	r.NanoCPUs, r.CPUShares, r.CPUPeriod, r.CPUQuota = int64(f.cpus), f.cpuShares, f.cpuPeriod, f.cpuQuota
	r.CpusetCpus, r.CpusetMems, r.BlkioWeight = f.cpusetCpus, f.cpusetMems, f.blkioWeight
	if f.changed("pids-limit") {
		v := f.pidsLimit
		r.PidsLimit = &v
	}
	r.Ulimits = f.ulimits
	r.CgroupParent = f.cgroupParent
	hc.ShmSize = int64(f.shmSize)

	hc.CapAdd, hc.CapDrop, hc.Privileged = f.capAdd, f.capDrop, f.privileged
	for _, d := range f.device {
		dm, err := deviceMapping(d)
		if err != nil {
			return err
		}
		r.Devices = append(r.Devices, dm)
	}
	r.DeviceCgroupRules = f.deviceCgroupRule
	hc.GroupAdd, hc.SecurityOpt = f.groupAdd, f.securityOpt
	var err error
	if hc.Sysctls, err = keyValues("--sysctl", f.sysctl); err != nil {
		return err
	}
	if hc.StorageOpt, err = keyValues("--storage-opt", f.storageOpt); err != nil {
		return err
	}
	for _, t := range f.tmpfs {
		dest, opts, _ := strings.Cut(t, ":")
		if !strings.HasPrefix(dest, "/") {
			return fmt.Errorf("invalid tmpfs %s: destination must be an absolute path", t)
		}
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs[dest] = opts
	}
	hc.VolumesFrom, hc.VolumeDriver = f.volumesFrom, f.volumeDriver
	hc.ReadonlyRootfs = f.readOnly
	hc.PidMode, hc.IpcMode, hc.UTSMode = container.PidMode(f.pid), container.IpcMode(f.ipc), container.UTSMode(f.uts)
	hc.UsernsMode, hc.CgroupnsMode = container.UsernsMode(f.userns), container.CgroupnsMode(f.cgroupns)
	hc.Runtime = f.runtime
	if f.changed("init") {
		v := f.init
		hc.Init = &v
	}

	if f.logDriver != "" {
		hc.LogConfig.Type = f.logDriver
	}
	if hc.LogConfig.Config, err = keyValues("--log-opt", f.logOpt); err != nil {
		return err
	}

	cfg.User, cfg.WorkingDir, cfg.Hostname, cfg.Domainname = f.user, f.workdir, f.hostname, f.domainname
	if f.workdir != "" && !strings.HasPrefix(f.workdir, "/") {
		return fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", f.workdir)
	}
	if f.changed("entrypoint") {
		cfg.Entrypoint = []string{f.entrypoint}
	}
	cfg.StopSignal = f.stopSignal
	if f.changed("stop-timeout") {
		v := f.stopTimeout
		cfg.StopTimeout = &v
	}
	return f.health(cfg)
}

// health is the docker CLI's --health-* and --no-healthcheck.
func (f *runFlags) health(cfg *container.Config) error {
	set := f.healthCmd != "" || f.changed("health-interval") || f.changed("health-timeout") ||
		f.changed("health-start-period") || f.changed("health-start-interval") || f.changed("health-retries")
	if f.noHealthcheck {
		if set {
			return fmt.Errorf("--no-healthcheck conflicts with --health-* options")
		}
		cfg.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
		return nil
	}
	if !set {
		return nil
	}
	for name, d := range map[string]time.Duration{"--health-interval": f.healthInterval, "--health-timeout": f.healthTimeout,
		"--health-start-period": f.healthStartPeriod, "--health-start-interval": f.healthStartInterval} {
		if d < 0 {
			return fmt.Errorf("%s cannot be negative", name)
		}
	}
	if f.healthRetries < 0 {
		return fmt.Errorf("--health-retries cannot be negative")
	}
	hc := &container.HealthConfig{Interval: f.healthInterval, Timeout: f.healthTimeout,
		StartPeriod: f.healthStartPeriod, StartInterval: f.healthStartInterval, Retries: f.healthRetries}
	if f.healthCmd != "" {
		hc.Test = []string{"CMD-SHELL", f.healthCmd}
	}
	cfg.Healthcheck = hc
	return nil
}

// ports is -p/--publish, -P/--publish-all and --expose.
func (f *runFlags) ports(c *Container) error {
	cfg, hc := &c.Config, &c.Host
	expose := func(p network.Port) {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		cfg.ExposedPorts[p] = struct{}{}
	}
	for _, spec := range f.publish {
		maps, err := nat.ParsePortSpec(spec)
		if err != nil {
			return fmt.Errorf("invalid argument %q for \"-p, --publish\" flag: %w", spec, err)
		}
		for _, m := range maps {
			p, err := network.ParsePort(string(m.Port))
			if err != nil {
				return fmt.Errorf("invalid argument %q for \"-p, --publish\" flag: %w", spec, err)
			}
			b := network.PortBinding{HostPort: m.Binding.HostPort}
			if m.Binding.HostIP != "" {
				if b.HostIP, err = netip.ParseAddr(m.Binding.HostIP); err != nil {
					return fmt.Errorf("invalid argument %q for \"-p, --publish\" flag: invalid IP address %s", spec, m.Binding.HostIP)
				}
			}
			expose(p)
			if hc.PortBindings == nil {
				hc.PortBindings = network.PortMap{}
			}
			hc.PortBindings[p] = append(hc.PortBindings[p], b)
		}
	}
	for _, e := range f.expose {
		proto, ports := nat.SplitProtoPort(e)
		start, end, err := nat.ParsePortRange(ports)
		if err != nil {
			return fmt.Errorf("invalid range format for --expose: %s, error: %w", e, err)
		}
		for i := start; i <= end; i++ {
			p, err := network.ParsePort(strconv.FormatUint(i, 10) + "/" + proto)
			if err != nil {
				return fmt.Errorf("invalid argument %q for \"--expose\" flag: %w", e, err)
			}
			expose(p)
		}
	}
	hc.PublishAllPorts = f.publishAll
	c.PublishesPorts = len(f.publish) > 0 || f.publishAll
	return nil
}

// addVolume is -v/--volume: SOURCE:DEST[:MODE] is a bind (or a named
// volume), a lone DEST an anonymous volume.
func addVolume(cfg *container.Config, hc *container.HostConfig, v string) error {
	parts := strings.Split(v, ":")
	switch {
	case v == "" || len(parts) > 3 || slicesHasEmpty(parts):
		return fmt.Errorf("invalid volume specification: '%s'", v)
	case len(parts) == 1:
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("invalid volume specification: '%s': destination must be an absolute path", v)
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	default:
		if !strings.HasPrefix(parts[1], "/") {
			return fmt.Errorf("invalid volume specification: '%s': destination must be an absolute path", v)
		}
		hc.Binds = append(hc.Binds, v)
	}
	return nil
}

func slicesHasEmpty(s []string) bool {
	for _, x := range s {
		if x == "" {
			return true
		}
	}
	return false
}

// parseMount is --mount's comma-separated key=value list.
func parseMount(spec string) (mount.Mount, error) {
	r := csv.NewReader(strings.NewReader(spec))
	fields, err := r.Read()
	if err != nil {
		return mount.Mount{}, err
	}
	m := mount.Mount{Type: mount.TypeVolume}
	bind := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	vol := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{}
		}
		return m.VolumeOptions
	}
	tmp := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	for _, field := range fields {
		key, val, hasVal := strings.Cut(field, "=")
		key = strings.ToLower(key)
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			return strconv.ParseBool(val)
		}
		switch key {
		case "type":
			m.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			m.Source = val
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if m.ReadOnly, err = boolVal(); err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
		case "consistency":
			m.Consistency = mount.Consistency(val)
		case "bind-propagation":
			bind().Propagation = mount.Propagation(val)
		case "bind-nonrecursive":
			if bind().NonRecursive, err = boolVal(); err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
		case "volume-nocopy":
			if vol().NoCopy, err = boolVal(); err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
		case "volume-subpath":
			vol().Subpath = val
		case "volume-driver":
			if vol().DriverConfig == nil {
				vol().DriverConfig = &mount.Driver{}
			}
			vol().DriverConfig.Name = val
		case "volume-label":
			k, v, _ := strings.Cut(val, "=")
			if vol().Labels == nil {
				vol().Labels = map[string]string{}
			}
			vol().Labels[k] = v
		case "volume-opt":
			k, v, _ := strings.Cut(val, "=")
			if vol().DriverConfig == nil {
				vol().DriverConfig = &mount.Driver{}
			}
			if vol().DriverConfig.Options == nil {
				vol().DriverConfig.Options = map[string]string{}
			}
			vol().DriverConfig.Options[k] = v
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmp().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmp().Mode = os.FileMode(n)
		default:
			return m, fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	switch m.Type {
	case mount.TypeBind, mount.TypeVolume, mount.TypeTmpfs:
	default:
		return m, fmt.Errorf("unsupported mount type %q", m.Type)
	}
	if m.Target == "" {
		return m, fmt.Errorf("target is required")
	}
	if m.Type == mount.TypeBind && m.Source == "" {
		return m, fmt.Errorf("source is required when specifying bind mount")
	}
	return m, nil
}

// extraHost is --add-host HOST:IP (or HOST=IP); IP may be host-gateway.
func extraHost(v string) (string, error) {
	host, ip, ok := strings.Cut(v, "=")
	if !ok {
		host, ip, ok = strings.Cut(v, ":")
	}
	if !ok || host == "" {
		return "", fmt.Errorf("bad format for add-host: %q", v)
	}
	if ip != "host-gateway" {
		if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
	}
	return host + ":" + strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]"), nil
}

// restartPolicy is --restart NAME[:MAX-RETRIES].
func restartPolicy(v string) (container.RestartPolicy, error) {
	name, max, hasMax := strings.Cut(v, ":")
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	switch p.Name {
	case container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hasMax {
			return p, fmt.Errorf("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
		}
	case container.RestartPolicyOnFailure:
		if hasMax {
			n, err := strconv.Atoi(max)
			if err != nil || n < 0 {
				return p, fmt.Errorf("invalid restart policy format: maximum retry count must be a non-negative integer")
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, fmt.Errorf("invalid restart policy '%s'", v)
	}
	return p, nil
}

// deviceMapping is --device HOST[:CONTAINER][:PERMISSIONS].
func deviceMapping(v string) (container.DeviceMapping, error) {
	parts := strings.Split(v, ":")
	d := container.DeviceMapping{CgroupPermissions: "rwm"}
	switch len(parts) {
	case 3:
		d.CgroupPermissions = parts[2]
		fallthrough
	case 2:
		if len(parts) == 2 && isDevicePerm(parts[1]) {
			d.CgroupPermissions = parts[1]
			d.PathInContainer = parts[0]
		} else {
			d.PathInContainer = parts[1]
		}
		fallthrough
	case 1:
		d.PathOnHost = parts[0]
	default:
		return d, fmt.Errorf("invalid device specification: %s", v)
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !strings.HasPrefix(d.PathOnHost, "/") || !strings.HasPrefix(d.PathInContainer, "/") || !isDevicePerm(d.CgroupPermissions) {
		return d, fmt.Errorf("invalid device specification: %s", v)
	}
	return d, nil
}

func isDevicePerm(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c != 'r' && c != 'w' && c != 'm' {
			return false
		}
	}
	return true
}

// keyValues turns KEY=VALUE options into a map (nil when there are none).
func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid argument %q for %s: expected KEY=VALUE", kv, flag)
		}
		m[k] = v
	}
	return m, nil
}

// MergeEnv returns base with over's variables added in order; a variable
// already present (by name) takes the later value in its place.
func MergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, e := range over {
		k, _, _ := strings.Cut(e, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i] = e
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}
