package commands

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"dokku-sshd/output"
	"dokku-sshd/proxy"
	"dokku-sshd/store"
)

// proxy:* and nginx:* (Dokku's proxy and nginx-vhosts plugins): docker-local
// apps are routed by a real nginx the server drives (package proxy). The
// nginx properties are those the built-in config uses; Dokku's
// template-only ones (hsts*, nginx-conf-sigil-path, disable-custom-config,
// nginx-service-command) and nginx:start/stop/reload are not here: the
// server runs its nginx itself.

// proxyType is the only proxy this server has.
const proxyType = "nginx"

func proxyGroup() *Group {
	report := ReportSpec{
		Command: "proxy:report", Type: "proxy", FlagPrefix: "proxy",
		App:    proxyReport,
		Global: func(e *Call) (map[string]string, error) { return proxyFields(e, store.Global) },
	}
	set := SetSpec{Plugin: proxy.ProxyPlugin, Props: []Property{
		{Name: "proxy-port", App: true, Global: true, Validate: validPort("proxy-port")},
		{Name: "proxy-ssl-port", App: true, Global: true, Validate: validPort("proxy-ssl-port")},
		{Name: "type", App: true, Global: true, Validate: func(v string) error {
			if v != proxyType {
				return output.Userf("Invalid proxy type %s: this server has the nginx proxy only", v)
			}
			return nil
		}},
	}}
	return &Group{
		Name:        "proxy",
		Description: "Manage the proxy integration for an app",
		Commands: []*Command{
			{Name: "proxy:build-config", Args: "[--parallel count] [--all|<app>]", Help: "(Re)builds config for given app",
				Run: func(e *Call, args []string) error { return proxyEach(e, "build-config", args, proxyBuild) }},
			{Name: "proxy:disable", Args: "[--parallel count] [--all|<app>]", Help: "Disable proxy for app",
				Run: func(e *Call, args []string) error { return proxyEach(e, "disable", args, proxyDisable) }},
			{Name: "proxy:enable", Args: "[--parallel count] [--all|<app>]", Help: "Enable proxy for app",
				Run: func(e *Call, args []string) error { return proxyEach(e, "enable", args, proxyEnable) }},
			{Name: "proxy:report", Args: "[<app>] [<flag>]", Help: "Displays a proxy report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "proxy:set", Args: "<app>|--global <property> [<value>]", Help: "Set or clear a proxy property for an app",
				Run: func(e *Call, args []string) error { return proxySet(e, set, args) }},
		},
	}
}

func validPort(name string) func(string) error {
	return func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 65535 {
			return output.Userf("Invalid %s specified, must be a number from 1 to 65535", name)
		}
		return nil
	}
}

// proxySet is proxy:set: `proxy:set <app> nginx` sets the type, as in
// Dokku; a port map there is refused with Dokku's hint.
func proxySet(e *Call, spec SetSpec, args []string) error {
	if len(args) == 2 && !slices.ContainsFunc(spec.Props, func(p Property) bool { return p.Name == args[1] }) {
		if strings.Contains(args[1], ":") {
			e.Warn("Detected potential port mapping instead of proxy type")
			return output.Userf("Consider using ports:set command or specifying a valid proxy")
		}
		args = []string{args[0], "type", args[1]}
	}
	return e.RunSet(spec, args)
}

// proxyEach runs fn for proxy:<sub>'s app, or every app with --all.
func proxyEach(e *Call, sub string, args []string, fn func(e *Call, app string) error) error {
	p, err := e.parsePflag("proxy:"+sub, psAllFlags(sub), args)
	if err != nil {
		return err
	}
	if p.bools["all"] {
		apps, parallel, err := e.allApps(p.ints["parallel"])
		if err != nil {
			return err
		}
		return e.eachApp(apps, parallel, fn)
	}
	app := p.arg(0)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	return fn(e, app)
}

// router is the server's router, or the message saying routing is off.
func (e *Call) router() (*proxy.Router, error) {
	if r := e.Dispatcher.cfg.Proxy; r != nil {
		return r, nil
	}
	return nil, output.Userf("HTTP routing is off on this server (no nginx, or --no-proxy)")
}

func proxyBuild(e *Call, app string) error {
	r, err := e.router()
	if err != nil {
		return err
	}
	return r.Rebuild(e.Ctx, app, e.Stdout)
}

func proxyEnable(e *Call, app string) error {
	disabled, err := proxy.Disabled(e.Store, app)
	if err != nil {
		return err
	}
	if !disabled {
		e.Info1("Proxy is already enabled for app")
		return nil
	}
	e.Info1("Enabling proxy for app")
	if err := e.Store.DeleteProperty(proxy.ProxyPlugin, app, "disabled"); err != nil {
		return err
	}
	if r := e.Dispatcher.cfg.Proxy; r != nil {
		return r.Rebuild(e.Ctx, app, e.Stdout)
	}
	return nil
}

func proxyDisable(e *Call, app string) error {
	disabled, err := proxy.Disabled(e.Store, app)
	if err != nil {
		return err
	}
	if disabled {
		// Dokku's wording.
		e.Info1("Proxy is already disable for app")
		return nil
	}
	e.Info1("Disabling proxy for app")
	if err := e.Store.SetProperty(proxy.ProxyPlugin, app, "disabled", "true"); err != nil {
		return err
	}
	if r := e.Dispatcher.cfg.Proxy; r != nil {
		return r.Unroute(e.Ctx, app)
	}
	return nil
}

func proxyFields(e *Call, app string) (map[string]string, error) {
	return e.propertyFields(proxy.ProxyPlugin, "proxy", app, map[string]string{
		"proxy-port": "80", "proxy-ssl-port": "443", "type": proxyType,
	})
}

func proxyReport(e *Call, app string) (map[string]string, error) {
	out, err := proxyFields(e, app)
	if err != nil {
		return nil, err
	}
	disabled, err := proxy.Disabled(e.Store, app)
	if err != nil {
		return nil, err
	}
	out["proxy-disabled"] = strconv.FormatBool(disabled)
	out["proxy-computed-disabled"] = strconv.FormatBool(disabled)
	out["proxy-enabled"] = strconv.FormatBool(!disabled)
	return out, nil
}

func nginxGroup() *Group {
	report := ReportSpec{
		Command: "nginx:report", Type: "nginx", FlagPrefix: "nginx",
		App:    nginxReport,
		Global: func(e *Call) (map[string]string, error) { return nginxFields(e, store.Global) },
	}
	props := make([]Property, 0, len(proxy.Settings))
	for _, s := range proxy.Settings {
		name := s.Name
		props = append(props, Property{Name: name, App: true, Global: true, Validate: func(v string) error { return proxy.ValidateValue(name, v) }})
	}
	set := SetSpec{Plugin: proxy.Plugin, Bash: true, Props: props}
	logs := func(kind string) func(e *Call, args []string) error {
		return func(e *Call, args []string) error { return nginxLogs(e, kind, args) }
	}
	return &Group{
		Name:        "nginx",
		Description: "Manage the nginx proxy",
		Bash:        true,
		Commands: []*Command{
			{Name: "nginx:access-logs", Args: "<app> [-t]", Help: "Show the nginx access logs for an application (-t follows)", Run: logs("access")},
			{Name: "nginx:error-logs", Args: "<app> [-t]", Help: "Show the nginx error logs for an application (-t follows)", Run: logs("error")},
			{Name: "nginx:report", Args: "[<app>] [<flag>]", Help: "Displays an nginx report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "nginx:set", Args: "<app> <property> (<value>)", Help: "Set or clear an nginx property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(set, args) }},
			{Name: "nginx:show-config", Args: "<app>", Help: "Display app nginx config", Run: nginxShowConfig},
			{Name: "nginx:validate-config", Args: "[<app>] [--clean]", Help: "Validates and optionally cleans up invalid nginx configurations", Run: nginxValidate},
		},
	}
}

// nginxDefaults are the settings' defaults as nginx:report shows them
// computed: the log paths are the app's files in the server's log
// directory.
func nginxDefaults(e *Call, app string) map[string]string {
	m := map[string]string{}
	for _, s := range proxy.Settings {
		m[s.Name] = s.Default
	}
	logDir := "/var/log/nginx"
	if r := e.Dispatcher.cfg.Proxy; r != nil {
		logDir = r.Nginx.LogDir()
	}
	if app != store.Global {
		m["access-log-path"] = filepath.Join(logDir, app+"-access.log")
		m["error-log-path"] = filepath.Join(logDir, app+"-error.log")
	}
	return m
}

func nginxFields(e *Call, app string) (map[string]string, error) {
	return e.propertyFields(proxy.Plugin, "nginx", app, nginxDefaults(e, app))
}

func nginxReport(e *Call, app string) (map[string]string, error) {
	out, err := nginxFields(e, app)
	if err != nil {
		return nil, err
	}
	out["nginx-last-visited-at"] = ""
	if p := out["nginx-computed-access-log-path"]; p != "off" && p != "/dev/null" {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			out["nginx-last-visited-at"] = strconv.FormatInt(st.ModTime().Unix(), 10)
		}
	}
	return out, nil
}

func nginxShowConfig(e *Call, args []string) error {
	app := firstArg(args)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(e.Store.AppDir(app), proxy.ConfFile))
	if errors.Is(err, fs.ErrNotExist) {
		return output.Userf("No nginx.conf exists for %s", app)
	}
	if err != nil {
		return err
	}
	_, err = e.Stdout.Write(b)
	return err
}

// nginxValidate is nginx:validate-config [<app>] [--clean]: each app's
// config (one app's, or every app's) is checked with nginx -t; an invalid
// one is shown, and removed with --clean.
func nginxValidate(e *Call, args []string) error {
	r, err := e.router()
	if err != nil {
		return err
	}
	clean := slices.Contains(args, "--clean")
	var apps []string
	for _, a := range args {
		if a != "--clean" {
			apps = append(apps, a)
		}
	}
	if len(apps) > 1 {
		return output.Userf("Too many arguments")
	}
	if len(apps) == 1 {
		if err := e.VerifyAppBash(apps[0]); err != nil {
			return err
		}
	} else if apps, err = e.Store.Apps(); err != nil {
		return err
	}
	for _, app := range apps {
		conf, err := os.ReadFile(r.ConfPath(app))
		if errors.Is(err, fs.ErrNotExist) {
			if !e.Flags.Quiet {
				e.Warn("No nginx config found for %s", app)
			}
			continue
		}
		if err != nil {
			return err
		}
		if r.Nginx.ValidateApp(e.Ctx, app, r.ConfPath(app)) == nil {
			continue
		}
		e.Warn("Failed to validate nginx config for %s. Contents below...", app)
		_, _ = e.Stdout.Write(conf)
		if clean {
			e.Warn("Removing invalid nginx file")
			if err := r.Unroute(e.Ctx, app); err != nil {
				return err
			}
		}
	}
	return nil
}

// nginxLogs prints the last lines of app's access or error log, and with
// -t follows it until the client goes.
func nginxLogs(e *Call, kind string, args []string) error {
	app := firstArg(args)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	follow := false
	for _, a := range args[1:] {
		if a != "-t" {
			return output.Userf("Invalid flag %s: nginx:%s-logs takes <app> [-t]", a, kind)
		}
		follow = true
	}
	path, err := e.Store.ComputedProperty(proxy.Plugin, app, kind+"-log-path", nginxDefaults(e, app)[kind+"-log-path"])
	if err != nil {
		return err
	}
	if path == "off" || path == "/dev/null" {
		return output.Userf("The nginx %s log of %s is off", kind, app)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !follow {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return output.Userf("Unable to read the nginx %s log of %s", kind, app)
	}
	var offset int64
	if f != nil {
		lines, end, err := lastLines(f, 10)
		f.Close()
		if err != nil {
			return output.Userf("Unable to read the nginx %s log of %s", kind, app)
		}
		for _, l := range lines {
			e.Println(l)
		}
		offset = end
	}
	for follow {
		select {
		case <-e.Ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		if st.Size() < offset { // rotated or truncated
			offset = 0
		}
		if st.Size() == offset {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		n, _ := io.Copy(e.Stdout, io.NewSectionReader(f, offset, st.Size()-offset))
		f.Close()
		offset += n
	}
	return nil
}

// lastLines returns the last n lines of f (as tail does) and f's size.
func lastLines(f *os.File, n int) ([]string, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	const window = 64 << 10
	start := max(st.Size()-window, 0)
	sc := bufio.NewScanner(io.NewSectionReader(f, start, st.Size()-start))
	sc.Buffer(make([]byte, 0, 64<<10), window+1)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if start > 0 && len(lines) > 0 {
		lines = lines[1:] // cut mid-line
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, st.Size(), sc.Err()
}
