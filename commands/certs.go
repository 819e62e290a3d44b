package commands

import (
	"fmt"
	"os"

	"dokku-sshd/certs"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// certs:* is Dokku's certs plugin (docs/dokku-behaviour.md#certs): an app's
// imported TLS certificate, kept where Dokku keeps it (certs.Files). Dokku
// writes the commands in bash (a bad app is "App <app> does not exist",
// 20) and the report in Go.
func certsGroup() *Group {
	report := ReportSpec{
		Command: "certs:report", Type: "ssl", FlagPrefix: "ssl",
		App:    func(e *Call, app string) (map[string]string, error) { return certs.Report(e.Store, app) },
		Global: func(e *Call) (map[string]string, error) { return map[string]string{}, nil },
	}
	return &Group{
		Name:        "certs",
		Description: "Manage SSL (TLS) certs",
		Bash:        true,
		Commands: []*Command{
			{Name: "certs:add", Args: "<app> CRT KEY", Help: "Add an ssl endpoint to an app. Can also import from a tarball on stdin", Run: certsAdd("certs:add")},
			{Name: "certs:generate", Args: "<app> DOMAIN", Help: "Generate a key and certificate signing request (and self-signed certificate)", Run: certsGenerate},
			{Name: "certs:remove", Args: "<app>", Help: "Remove an SSL Endpoint from an app", Run: certsRemove},
			{Name: "certs:report", Args: "[<app>] [<flag>]", Help: "Displays an ssl report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "certs:show", Args: "<app> <crt|key>", Help: "Show the server.crt or server.key on stdout", Run: certsShow},
			{Name: "certs:update", Args: "<app> CRT KEY", Help: "Update an SSL Endpoint on an app. Can also import from a tarball on stdin", Run: certsAdd("certs:update")},
		},
	}
}

// certsAdd is certs:add and certs:update: the certificate and key come from
// a tar on stdin (server.crt and server.key, Dokku's `certs:add <app> <
// cert-key.tar`), or, for a local caller only, from two paths on this
// host (over SSH Dokku's client-side paths cannot be read here). The key
// must match the certificate.
func certsAdd(cmd string) func(e *Call, args []string) error {
	return func(e *Call, args []string) error {
		p, err := e.parsePflag(cmd, nil, args)
		if err != nil {
			return err
		}
		app := p.arg(0)
		if err := e.VerifyAppBash(app); err != nil {
			return err
		}
		var crt, key []byte
		switch {
		case p.arg(1) != "" && p.arg(2) != "":
			if !e.Identity.Local {
				return output.Userf("CRT and KEY paths can only be read on the server; send a tar archive with server.crt and server.key on stdin: dokku %s %s < cert-key.tar", cmd, app)
			}
			if crt, err = os.ReadFile(p.arg(1)); err != nil {
				return output.Userf("CRT file specified not found, please check file paths")
			}
			if key, err = os.ReadFile(p.arg(2)); err != nil {
				return output.Userf("KEY file specified not found, please check file paths")
			}
		case e.TTY || e.Stdin == nil:
			return output.Userf("Tar archive containing server.crt and server.key expected on stdin")
		default:
			if crt, key, err = certs.FromTar(e.Stdin); err != nil {
				return err
			}
		}
		if _, err := certs.Check(crt, key); err != nil {
			return err
		}
		if err := e.schedulerCerts(app, crt, key); err != nil {
			return err
		}
		if err := certs.Install(e.Store, app, crt, key); err != nil {
			return err
		}
		if err := schedulers.CertsUpdated(e.Store, app); err != nil {
			return err
		}
		return e.proxyRebuild(app)
	}
}

// schedulerCerts gives app's new certificate (crt and key; nil when it is
// removed) to its scheduler when the scheduler serves it itself (k3s's
// Secret tls-APP). It runs before the files change, so a scheduler that
// fails (its cluster unreachable) leaves them as they were.
func (e *Call) schedulerCerts(app string, crt, key []byte) error {
	u, ok := e.scheduler(app).(schedulers.CertsUpdater)
	if !ok {
		return nil
	}
	var err error
	if crt == nil {
		err = u.CertsRemoved(e.Ctx, app, e.Stdout)
	} else {
		err = u.CertsUpdated(e.Ctx, app, crt, key, e.Stdout)
	}
	if err == nil || output.IsUserError(err) {
		return err
	}
	return fmt.Errorf("pass the certificate of %s to its scheduler: %w", app, err)
}

func certsRemove(e *Call, args []string) error {
	p, err := e.parsePflag("certs:remove", nil, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	defined, err := certs.Defined(e.Store, app)
	if err != nil {
		return err
	}
	if !defined {
		return output.Userf("An app-specific SSL endpoint is not defined")
	}
	e.Info1("Removing SSL endpoint from %s", app)
	if err := e.schedulerCerts(app, nil, nil); err != nil {
		return err
	}
	if _, err := certs.Remove(e.Store, app); err != nil {
		return err
	}
	if err := schedulers.CertsRemoved(e.Store, app); err != nil {
		return err
	}
	return e.proxyRebuild(app)
}

func certsShow(e *Call, args []string) error {
	p, err := e.parsePflag("certs:show", nil, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	which := p.arg(1)
	if which != "crt" && which != "key" {
		return output.Userf("specify either 'key' or 'crt'")
	}
	ok, err := certs.Exists(e.Store, app)
	if err != nil {
		return err
	}
	if !ok {
		return output.Userf("%s doesn't have an SSL endpoint defined", app)
	}
	crt, key, err := certs.Read(e.Store, app)
	if err != nil {
		return err
	}
	if which == "key" {
		crt = key
	}
	_, err = e.Stdout.Write(crt)
	return err
}

// certsGenerate is certs:generate: a self-signed certificate for DOMAIN (or
// the app's name), its key and signing request, unless the app has a key
// or a certificate already; the domain is added to the app. Dokku asks
// openssl's questions for the subject; here the subject is the domain.
func certsGenerate(e *Call, args []string) error {
	p, err := e.parsePflag("certs:generate", nil, args)
	if err != nil {
		return err
	}
	app, domain := p.arg(0), p.arg(1)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	crtPath, keyPath := certs.Files(e.Store, app)
	_, errC := os.Stat(crtPath)
	_, errK := os.Stat(keyPath)
	if errC == nil || errK == nil {
		e.Info1("%s has an SSL endpoint already defined", app)
		return nil
	}
	cn := domain
	if cn == "" {
		cn = app
	}
	crt, key, csr, err := certs.Generate(cn, Now())
	if err != nil {
		return err
	}
	e.Info1("Installing certificate and key...")
	if err := e.schedulerCerts(app, crt, key); err != nil {
		return err
	}
	if err := certs.Install(e.Store, app, crt, key); err != nil {
		return err
	}
	if err := certs.WriteCSR(e.Store, app, csr); err != nil {
		return err
	}
	if err := schedulers.CertsUpdated(e.Store, app); err != nil {
		return err
	}
	if domain != "" {
		if err := domainsAdd(e, []string{app, domain}); err != nil {
			return err
		}
	}
	if err := e.proxyRebuild(app); err != nil {
		return err
	}
	e.Info1("The following is a certificate signing request that can be used")
	e.Info1("to generate an 'officially' signed SSL certificate for %s at %s", app, domain)
	e.Info1("by a CA of your choosing.")
	e.Print(string(csr))
	return nil
}

// certsCloneSetup is the certs plugin's post-app-clone-setup: a clone does
// not get its source's certificate (nor the https maps that came with it).
func certsCloneSetup(e *Call, app string) error {
	if _, err := certs.Remove(e.Store, app); err != nil {
		return err
	}
	return schedulers.CertsRemoved(e.Store, app)
}
