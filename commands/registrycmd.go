package commands

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/registry"
	"dokku-sshd/store"
)

// registry:* (Dokku's registry plugin; docs/dokku-behaviour.md#registry).
// The properties live in registry's package; login and logout keep their
// credentials in Docker's config.json format where Dokku's docker login
// writes them.

// maxPasswordStdin bounds what --password-stdin reads.
const maxPasswordStdin = 64 << 10

func registryGroup() *Group {
	report := ReportSpec{
		Command: "registry:report", Type: "registry", FlagPrefix: "registry", Legacy: true,
		App:    func(e *Call, app string) (map[string]string, error) { return registryFields(e.Store, app) },
		Global: func(e *Call) (map[string]string, error) { return registryFields(e.Store, store.Global) },
	}
	set := SetSpec{Plugin: registry.Plugin, Props: []Property{
		{Name: registry.PropImageRepo, App: true},
		{Name: registry.PropImageRepoTemplate, App: true, Global: true},
		// Dokku takes any value and pushes only for "true"; a typo would
		// silently turn pushing off, so only true and false are taken.
		{Name: registry.PropPushOnRelease, App: true, Global: true, Validate: func(v string) error {
			if v != "true" && v != "false" {
				return output.Userf("Invalid push-on-release value specified, valid values include: true, false")
			}
			return nil
		}},
		{Name: registry.PropPushExtraTags, App: true, Global: true},
		{Name: registry.PropServer, App: true, Global: true},
	}}
	return &Group{
		Name:        "registry",
		Description: "Manage registry settings for an app",
		Commands: []*Command{
			{Name: "registry:login", Args: "[--global|--password-stdin] [<app>] <server> <username> [<password>]", Help: "Login to a docker registry",
				Run: runRegistryLogin},
			{Name: "registry:logout", Args: "[--global] [<app>] <server>", Help: "Logout from a docker registry",
				Run: runRegistryLogout},
			{Name: "registry:report", Args: "[<app>] [<flag>]", Help: "Displays a registry report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "registry:set", Args: "<app>|--global <property> (<value>)", Help: "Set or clear a registry property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(set, args) }},
		},
	}
}

// registryFields are registry:report's fields for app or --global, as
// Dokku's registry plugin computes them (the computed server with its
// trailing slash, the computed image-repo with dokku/<app> last).
func registryFields(st *store.Store, app string) (map[string]string, error) {
	get := func(level, key string) (string, error) { return st.Property(registry.Plugin, level, key) }
	out := map[string]string{}
	for _, p := range []string{registry.PropPushOnRelease, registry.PropServer, registry.PropImageRepoTemplate, registry.PropPushExtraTags} {
		g, err := get(store.Global, p)
		if err != nil {
			return nil, err
		}
		out["registry-global-"+p] = g
		c, err := st.ComputedProperty(registry.Plugin, app, p, registry.Defaults[p])
		if err != nil {
			return nil, err
		}
		out["registry-computed-"+p] = strings.TrimSpace(c)
		if app != store.Global {
			v, err := get(app, p)
			if err != nil {
				return nil, err
			}
			out["registry-"+p] = v
		}
	}
	server, err := registry.Server(st, app)
	if err != nil {
		return nil, err
	}
	if server != "" {
		server += "/"
	}
	out["registry-computed-server"] = server
	if app == store.Global {
		return out, nil
	}
	for _, p := range []string{registry.PropImageRepo, registry.PropTagVersion} {
		v, err := get(app, p)
		if err != nil {
			return nil, err
		}
		out["registry-"+p] = strings.TrimSpace(v)
	}
	repo, err := registry.ImageRepo(st, app)
	if err != nil {
		repo = "dokku/" + app // a template that does not run: Dokku's report shows the default
	}
	out["registry-computed-image-repo"] = repo
	return out, nil
}

// registryLoginArgs sorts registry:login's words as Dokku does: with
// --global, SERVER USER [PASSWORD]; without, the same count means a global
// login (deprecated), one more word an app's.
func (e *Call) registryLoginArgs(p *parsedFlags) (app, server, user, password string) {
	stdin, global := p.bools["password-stdin"], p.bools["global"]
	globalCount, appCount := 3, 4
	if stdin {
		globalCount, appCount = 2, 3
	}
	n := len(p.args)
	switch {
	case global:
		server, user = p.arg(0), p.arg(1)
		if !stdin {
			password = p.arg(2)
		}
	case n == globalCount:
		e.Warn("Deprecated: please use --global flag for global registry login")
		server, user = p.arg(0), p.arg(1)
		if !stdin {
			password = p.arg(2)
		}
	case n >= appCount:
		app, server, user = p.arg(0), p.arg(1), p.arg(2)
		if !stdin {
			password = p.arg(3)
		}
	}
	return app, server, user, password
}

// hubAlias is Dokku's name for Docker Hub in login and logout.
func hubAlias(server string) string {
	if server == "hub.docker.com" || server == "docker.com" {
		return "docker.io"
	}
	return server
}

func runRegistryLogin(e *Call, args []string) error {
	p, err := e.parsePflag("registry:login", []flagSpec{
		{name: "password-stdin", usage: "--password-stdin: read password from stdin"},
		{name: "global", usage: "--global: login globally instead of per-app"},
	}, args)
	if err != nil {
		return err
	}
	app, server, user, password := e.registryLoginArgs(p)
	if p.bools["password-stdin"] {
		data, err := io.ReadAll(io.LimitReader(e.Stdin, maxPasswordStdin))
		if err != nil {
			return err
		}
		password = strings.TrimSpace(string(data))
	}
	switch {
	case server == "":
		return output.Userf("Missing server argument")
	case user == "":
		return output.Userf("Missing username argument")
	case password == "":
		return output.Userf("Missing password argument")
	}
	server = hubAlias(server)
	if app != "" {
		if err := e.VerifyApp(app); err != nil {
			return err
		}
	}
	var reg *registry.Registry
	if pl := e.Dispatcher.cfg.Pipeline; pl != nil {
		reg = pl.Registry
	}
	if reg == nil {
		reg = registry.New(e.Store, nil) // says Docker is not available
	}
	if err := reg.Login(e.Ctx, app, server, user, password); err != nil {
		if output.IsUserError(err) || e.Ctx.Err() != nil {
			return err
		}
		// Not through the dispatcher's report, which logs the command
		// line: it holds the password.
		e.Dispatcher.cfg.Logger.Error("registry:login: store the login", "app", app, "server", server, "err", err)
		return output.Userf("Unable to store the registry login%s", output.DetailsInLog)
	}
	if app != "" {
		e.Warn("Login Succeeded for %s", app)
	} else {
		e.Warn("Login Succeeded for global registry")
	}
	return nil
}

func runRegistryLogout(e *Call, args []string) error {
	p, err := e.parsePflag("registry:logout", []flagSpec{
		{name: "global", usage: "--global: logout globally instead of per-app"},
	}, args)
	if err != nil {
		return err
	}
	var app, server string
	if p.bools["global"] || len(p.args) == 1 {
		server = p.arg(0)
	} else {
		app, server = p.arg(0), p.arg(1)
	}
	if server == "" {
		return output.Userf("Missing server argument")
	}
	server = hubAlias(server)
	if app != "" {
		if err := e.VerifyApp(app); err != nil {
			return err
		}
		if _, err := os.Stat(registry.AppConfigPath(e.Store, app)); errors.Is(err, fs.ErrNotExist) {
			return output.Userf("No registry credentials found for app %s", app)
		} else if err != nil {
			return err
		}
	}
	_, err = registry.RemoveLogin(e.Store, app, server)
	return err
}
