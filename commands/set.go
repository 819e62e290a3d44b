package commands

import (
	"sort"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Property is one settable property of a plugin.
type Property struct {
	Name       string
	App        bool // may be set per app
	Global     bool // may be set with --global
	Validate   func(value string) error
	OnlyGlobal string // message when set on an app although only global (default "Property can only be specified globally")
	// KeepEmpty writes an empty value instead of deleting the property
	// (git's rev-env-var: empty means "do not record the revision").
	KeepEmpty bool
}

// SetSpec describes one plugin's :set (docs/dokku-behaviour.md#set-semantics).
type SetSpec struct {
	Plugin string // property store namespace, e.g. "scheduler"
	Props  []Property
	// Bash switches to the wording of Dokku's bash :set commands ("key"
	// instead of "property") and their app check (exit 20 for every bad app).
	Bash bool
}

// RunSet implements `<plugin>:set <app>|--global <property> [<value>]`.
func (e *Call) RunSet(spec SetSpec, args []string) error {
	word, words := "property", "properties"
	verify := e.VerifyApp
	if spec.Bash {
		word, words = "key", "keys"
		verify = e.VerifyAppBash
	}
	target := ""
	if len(args) > 0 {
		target = args[0]
	}
	global := target == store.Global
	if !global {
		if err := verify(target); err != nil {
			return err
		}
	}
	if len(args) < 2 || args[1] == "" {
		return output.Userf("No %s specified", word)
	}
	name := args[1]
	var prop *Property
	names := make([]string, 0, len(spec.Props))
	for i := range spec.Props {
		names = append(names, spec.Props[i].Name)
		if spec.Props[i].Name == name {
			prop = &spec.Props[i]
		}
	}
	if prop == nil {
		sort.Strings(names)
		return output.Userf("Invalid %s specified, valid %s include: %s", word, words, strings.Join(names, ", "))
	}
	if global && !prop.Global {
		return output.Userf("Property cannot be specified globally")
	}
	if !global && !prop.App {
		msg := prop.OnlyGlobal
		if msg == "" {
			msg = "Property can only be specified globally"
		}
		return output.Userf("%s", msg)
	}
	value := strings.Join(args[2:], " ")
	if value == "" {
		e.Info2("Unsetting %s", name)
		if prop.KeepEmpty {
			return e.Store.SetProperty(spec.Plugin, target, name, "")
		}
		return e.Store.DeleteProperty(spec.Plugin, target, name)
	}
	if prop.Validate != nil {
		if err := prop.Validate(value); err != nil {
			return err
		}
	}
	e.Info2("Setting %s to %s", name, value)
	return e.Store.SetProperty(spec.Plugin, target, name, value)
}
