package commands

import (
	"dokku-sshd/urls"
)

// `urls <app>` and `url <app>` are Dokku's 00_dokku-standard commands over
// the domains-urls trigger (docs/dokku-behaviour.md#urls); the URLs are the
// urls package's, the same a deploy prints. Dokku writes them in bash: a
// bad app is "App <app> does not exist" (20).
func urlsGroup() *Group {
	return &Group{
		Name: "urls", Description: "Show all URLs for an application", Bash: true, Bare: urlsList,
		Commands: []*Command{{Name: "urls", Args: "<app>", Help: "Show all URLs for an application", Run: urlsList}},
	}
}

func urlGroup() *Group {
	return &Group{
		Name: "url", Description: "Show the first URL for an application (compatibility)", Bash: true, Bare: urlFirst,
		Commands: []*Command{{Name: "url", Args: "<app>", Help: "Show the first URL for an application (compatibility)", Run: urlFirst}},
	}
}

func (e *Call) urlsApp(cmd string, args []string) (string, error) {
	p, err := e.parsePflag(cmd, nil, args)
	if err != nil {
		return "", err
	}
	app := p.arg(0)
	return app, e.VerifyAppBash(app)
}

func urlsList(e *Call, args []string) error {
	app, err := e.urlsApp("urls", args)
	if err != nil {
		return err
	}
	list, err := urls.List(e.Store, app)
	if err != nil {
		return err
	}
	for _, u := range list {
		e.Println(u)
	}
	return nil
}

func urlFirst(e *Call, args []string) error {
	app, err := e.urlsApp("url", args)
	if err != nil {
		return err
	}
	u, err := urls.First(e.Store, app)
	if err != nil || u == "" {
		return err
	}
	e.Println(u)
	return nil
}
