package commands

import (
	"bytes"
	"context"
	"reflect"
	"runtime"
	"testing"

	"dokku-sshd/deploy"
	"dokku-sshd/output"
)

// psUsage is pflag's usage of Dokku's flags for ps:<sub>, which a bad flag
// prints before the error.
func psUsage(sub string) string {
	return "Usage of ps:" + sub + ":\n" +
		"      --all            --all: " + sub + " all apps\n" +
		"      --parallel int   --parallel: number of apps to " + sub + " in parallel, -1 to match cpu count\n"
}

func TestPsArgs(t *testing.T) {
	d := configDispatcher(t)
	all := []string{"app1", "app2"}
	tests := []struct {
		name     string
		args     []string
		apps     []string
		parallel int
		all      bool
		rest     []string
		stderr   string // with an error
		code     int
	}{
		{name: "app", args: []string{"app1"}, apps: []string{"app1"}, parallel: 1, rest: []string{}},
		{name: "app and process", args: []string{"app1", "web"}, apps: []string{"app1"}, parallel: 1, rest: []string{"web"}},
		{name: "flag after the app", args: []string{"app1", "--parallel", "3"}, apps: []string{"app1"}, parallel: 1, rest: []string{}},
		{name: "--parallel without --all is ignored", args: []string{"--parallel=-5", "app1"}, apps: []string{"app1"}, parallel: 1, rest: []string{}},
		{name: "all", args: []string{"--all"}, apps: all, parallel: 0, all: true, rest: []string{}},
		{name: "all with a count", args: []string{"--all", "--parallel", "2"}, apps: all, parallel: 2, all: true, rest: []string{}},
		{name: "all with --parallel=", args: []string{"--parallel=4", "--all"}, apps: all, parallel: 4, all: true, rest: []string{}},
		{name: "-1: one per CPU", args: []string{"--all", "--parallel", "-1"}, apps: all, parallel: runtime.NumCPU(), all: true, rest: []string{}},
		{name: "all and an app: all", args: []string{"app1", "--all"}, apps: all, parallel: 0, all: true, rest: []string{"app1"}},
		{name: "-- ends flags", args: []string{"app1", "--", "--all"}, apps: []string{"app1"}, parallel: 1, rest: []string{"--all"}},
		{name: "below -1", args: []string{"--all", "--parallel", "-2"}, stderr: " !     Invalid value -2 for --parallel flag\n", code: 1},
		{name: "count not a number", args: []string{"--all", "--parallel", "many"}, code: 2,
			stderr: psUsage("restart") + `invalid argument "many" for "--parallel" flag: strconv.ParseInt: parsing "many": invalid syntax` + "\n"},
		{name: "count missing", args: []string{"app1", "--parallel"}, code: 2, stderr: psUsage("restart") + "flag needs an argument: --parallel\n"},
		{name: "unknown flag", args: []string{"--bogus", "app1"}, code: 2, stderr: psUsage("restart") + "unknown flag: --bogus\n"},
		{name: "unknown shorthand", args: []string{"app1", "-a"}, code: 2, stderr: psUsage("restart") + "unknown shorthand flag: 'a' in -a\n"},

		{name: "no app", args: nil, stderr: " !     Please specify an app to run the command on\n", code: 1},
		{name: "missing app", args: []string{"nosuch"}, stderr: " !     App nosuch does not exist\n", code: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			e := &Call{IO: IO{Stderr: &stderr}, Store: d.cfg.Store, Dispatcher: d}
			got, err := e.psArgs("restart", tt.args)
			if tt.stderr != "" {
				// what the dispatcher prints of a returned error
				report(context.Background(), &stderr, d.cfg.Logger, err)
				if code := output.ExitCode(err); err == nil || code != tt.code || stderr.String() != tt.stderr {
					t.Fatalf("err %v (exit %d), stderr %q; want exit %d, stderr %q", err, code, stderr.String(), tt.code, tt.stderr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &psTargets{apps: tt.apps, parallel: tt.parallel, all: tt.all, rest: tt.rest}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestPflagCommands runs the commands whose flags Dokku parses with pflag:
// flags anywhere, --flag=value, and pflag's usage and error with exit 2 for
// a bad one.
func TestPflagCommands(t *testing.T) {
	d := configDispatcher(t)
	d.cfg.Pipeline = &deploy.Pipeline{Store: d.cfg.Store, Builds: deploy.NewBuilds(d.cfg.Store)}
	appsHelp := run(d, local, false, "", "apps:help").stdout
	if appsHelp == "" {
		t.Fatal("apps:help printed nothing")
	}
	listUsage := "Usage of apps:list:\n      --format string   format: [ stdout | json ] (default \"stdout\")\n"
	scaleUsage := "Usage of ps:scale:\n" +
		"      --format string   format: [ stdout | json ] (default \"stdout\")\n" +
		"      --skip-deploy     --skip-deploy: skip deploy of the app\n"
	cloneUsage := "Usage of apps:clone:\n" +
		"      --ignore-existing   --ignore-existing: exit 0 if new app already exists\n" +
		"      --skip-deploy       --skip-deploy: skip deploy of the new app\n"
	steps := []cfgStep{
		{name: "list json", argv: []string{"apps:list", "--format", "json"}, stdout: `["app1","app2"]` + "\n"},
		{name: "list json with =", argv: []string{"apps:list", "--format=json"}, stdout: `["app1","app2"]` + "\n"},
		{name: "list bad format", argv: []string{"apps:list", "--format=xml"}, stderr: " !     Invalid format specified, supported formats: json, stdout\n", code: 1},
		{name: "list unknown flag", argv: []string{"apps:list", "--bogus"}, stderr: listUsage + "unknown flag: --bogus\n", code: 2},
		{name: "list help", argv: []string{"apps:list", "-h"}, stderr: listUsage},
		{name: "bare apps", argv: []string{"apps"}, stdout: "=====> My Apps\napp1\napp2\n"},
		{name: "bare apps has no flag", argv: []string{"apps", "--format", "json"}, stdout: appsHelp, stderr: "unknown flag: --format\n", code: 2},
		{name: "bare apps help", argv: []string{"apps", "--help"}, stdout: appsHelp},
		{name: "create unknown flag", argv: []string{"apps:create", "app3", "--bogus"}, stderr: "Usage of apps:create:\nunknown flag: --bogus\n", code: 2},
		{name: "not created", argv: []string{"apps:exists", "app3"}, stderr: " !     App app3 does not exist\n", code: 20},
		{name: "lock shorthand", argv: []string{"apps:lock", "-x", "app1"}, stderr: "Usage of apps:lock:\nunknown shorthand flag: 'x' in -x\n", code: 2},
		{name: "clone ignore existing", argv: []string{"apps:clone", "--ignore-existing", "app1", "app2"}, stderr: " !     Name is already taken\n"},
		{name: "clone ignore existing last", argv: []string{"apps:clone", "app1", "app2", "--ignore-existing"}, stderr: " !     Name is already taken\n"},
		{name: "clone existing", argv: []string{"apps:clone", "app1", "app2"}, stderr: " !     Name is already taken\n", code: 1},
		{name: "clone bad flag", argv: []string{"apps:clone", "app1", "app3", "--skip"}, stderr: cloneUsage + "unknown flag: --skip\n", code: 2},
		{name: "clone skip deploy", argv: []string{"apps:clone", "app1", "--skip-deploy", "app3"}, stdout: "-----> Cloning app1 to app3\n-----> Creating app3...\n"},
		{name: "rename skip deploy", argv: []string{"apps:rename", "app3", "app4", "--skip-deploy=true"}, stdout: "-----> Renaming app3 to app4\n-----> Creating app4...\n"},
		{name: "destroy bad bool", argv: []string{"apps:destroy", "app4", "--force=maybe"}, code: 2,
			stderr: "Usage of apps:destroy:\n      --force   --force: force destroy without confirmation\n" +
				`invalid argument "maybe" for "--force" flag: strconv.ParseBool: parsing "maybe": invalid syntax` + "\n"},
		{name: "destroy forced", argv: []string{"apps:destroy", "app4", "--force"}, stdout: "-----> Destroying app4 (including all add-ons)\n"},
		{name: "scale flags after the app", argv: []string{"ps:scale", "app1", "--skip-deploy", "web=2"}, stdout: "-----> Scaling app1 processes: web=2\n"},
		{name: "scale json with =", argv: []string{"ps:scale", "--format=json", "app1"}, stdout: `[{"process_type":"web","quantity":2}]` + "\n"},
		{name: "scale format missing", argv: []string{"ps:scale", "app1", "--format"}, stderr: scaleUsage + "flag needs an argument: --format\n", code: 2},
		{name: "inspect unknown flag", argv: []string{"ps:inspect", "--bogus", "app1"}, stderr: "Usage of ps:inspect:\nunknown flag: --bogus\n", code: 2},
		{name: "stop all, one per CPU", argv: []string{"ps:stop", "--parallel", "-1", "--all"}, stderr: " !     App app1 has not been deployed\n !     App app2 has not been deployed\n"},
		{name: "restore bad count", argv: []string{"ps:restore", "--all", "--parallel", "x"}, code: 2,
			stderr: psUsage("restore") + `invalid argument "x" for "--parallel" flag: strconv.ParseInt: parsing "x": invalid syntax` + "\n"},
		{name: "restore count below -1", argv: []string{"ps:restore", "--parallel=-3"},
			stderr: " !     Restore specified without app, assuming --all\n !     Invalid value -3 for --parallel flag\n", code: 1},
		{name: "restore all", argv: []string{"ps:restore", "--all", "--parallel", "2"},
			stdout: "-----> Clearing potentially invalid proxy configuration\n-----> Clearing potentially invalid proxy configuration\n",
			stderr: " !     App app1 has not been deployed\n !     App app2 has not been deployed\n"},
		{name: "builds list json", argv: []string{"builds:list", "app1", "--format", "json"}, stdout: "[]\n"},
		{name: "builds list bad format", argv: []string{"builds:list", "--format=text", "app1"}, stderr: " !     Invalid format specified, supported formats: json, stdout\n", code: 1},
		{name: "builds list kind", argv: []string{"builds:list", "--kind", "build", "app1"}, code: 2,
			stderr: "Usage of builds:list:\n      --format string   format: [ stdout | json ] (default \"stdout\")\nunknown flag: --kind\n"},
		{name: "builds output flag after the app", argv: []string{"builds:output", "app1", "--latest"}, stderr: "Usage of builds:output:\n      --follow   --follow: while the build runs, print its output as it is written, until it ends\nunknown flag: --latest\n", code: 2},
		{name: "builds output none", argv: []string{"builds:output", "--", "app1"}, stderr: " !     No builds recorded for app1\n", code: 1},
		{name: "builds cancel", argv: []string{"builds:cancel", "app1"}, stderr: " !     App not currently deploying\n"},
	}
	runSteps(t, d, local, steps)
}
