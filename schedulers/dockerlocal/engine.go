package dockerlocal

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// The Docker Engine's part of `dokku report`: Dokku prints `docker
// version` and `docker -D system info`; this server has no docker client,
// so it prints the server side of both, read through the Engine API, in
// the docker CLI's layout.

// WriteEngineVersion writes the "Server:" part of `docker version`.
func (s *Scheduler) WriteEngineVersion(ctx context.Context, w io.Writer) error {
	v, err := s.Client.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return fmt.Errorf("read the Docker Engine's version: %w", err)
	}
	var b strings.Builder
	b.WriteString("Server:")
	if v.Platform.Name != "" {
		b.WriteString(" " + v.Platform.Name)
	}
	b.WriteByte('\n')
	row := func(k, v string) { fmt.Fprintf(&b, "  %-18s%s\n", k+":", v) }
	engine := false
	for _, c := range v.Components {
		fmt.Fprintf(&b, " %s:\n", c.Name)
		if c.Name != "Engine" {
			row("Version", c.Version)
			keys := make([]string, 0, len(c.Details))
			for k := range c.Details {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				row(k, c.Details[k])
			}
			continue
		}
		engine = true
		d := c.Details
		row("Version", c.Version)
		row("API version", d["ApiVersion"]+" (minimum version "+d["MinAPIVersion"]+")")
		row("Go version", d["GoVersion"])
		row("Git commit", d["GitCommit"])
		row("Built", engineDate(d["BuildTime"]))
		row("OS/Arch", d["Os"]+"/"+d["Arch"])
		row("Experimental", d["Experimental"])
	}
	if !engine {
		// An engine too old to list its components.
		b.WriteString(" Engine:\n")
		row("Version", v.Version)
		row("API version", v.APIVersion+" (minimum version "+v.MinAPIVersion+")")
		row("OS/Arch", v.Os+"/"+v.Arch)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// engineDate is the docker CLI's rendering of a build time.
func engineDate(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Format(time.ANSIC)
}

// WriteEngineInfo writes the "Server:" part of `docker system info`: what
// a report needs to tell one host from another (counts, drivers, kernel,
// resources), not the daemon's paths or registry settings.
func (s *Scheduler) WriteEngineInfo(ctx context.Context, w io.Writer) error {
	res, err := s.Client.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("read the Docker Engine's info: %w", err)
	}
	i := res.Info
	var b strings.Builder
	row := func(indent int, k string, v any) {
		fmt.Fprintf(&b, "%s%s: %v\n", strings.Repeat(" ", indent), k, v)
	}
	b.WriteString("Server:\n")
	row(1, "Containers", i.Containers)
	row(2, "Running", i.ContainersRunning)
	row(2, "Paused", i.ContainersPaused)
	row(2, "Stopped", i.ContainersStopped)
	row(1, "Images", i.Images)
	row(1, "Server Version", i.ServerVersion)
	row(1, "Storage Driver", i.Driver)
	for _, kv := range i.DriverStatus {
		row(2, kv[0], kv[1])
	}
	row(1, "Logging Driver", i.LoggingDriver)
	row(1, "Cgroup Driver", i.CgroupDriver)
	if i.CgroupVersion != "" {
		row(1, "Cgroup Version", i.CgroupVersion)
	}
	row(1, "Default Runtime", i.DefaultRuntime)
	row(1, "Kernel Version", i.KernelVersion)
	row(1, "Operating System", i.OperatingSystem)
	row(1, "OSType", i.OSType)
	row(1, "Architecture", i.Architecture)
	row(1, "CPUs", i.NCPU)
	row(1, "Total Memory", binarySize(i.MemTotal))
	row(1, "Name", i.Name)
	row(1, "Debug Mode", i.Debug)
	row(1, "Live Restore Enabled", i.LiveRestoreEnabled)
	for _, warn := range i.Warnings {
		b.WriteString(warn + "\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// binarySize renders n bytes as the docker CLI does (go-units'
// BytesSize): four significant digits and a binary unit, "23.54GiB".
func binarySize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	return fmt.Sprintf("%.4g%s", f, units[u])
}
