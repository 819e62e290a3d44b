package commands

import (
	"reflect"
	"testing"

	"dokku-sshd/deploy"
	"dokku-sshd/keys"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

func TestParseLogsArgs(t *testing.T) {
	def := schedulers.LogOptions{Num: defaultLogLines}
	with := func(f func(o *schedulers.LogOptions)) schedulers.LogOptions {
		o := def
		f(&o)
		return o
	}
	tests := []struct {
		name string
		args []string
		app  string
		help bool
		o    schedulers.LogOptions
		err  string
		code int
	}{
		{"defaults", []string{"app"}, "app", false, def, "", 0},
		{"no app", nil, "", false, def, "", 0},
		{"long flags", []string{"--tail", "--quiet", "--num", "5", "--ps", "web", "app"}, "app", false,
			schedulers.LogOptions{Follow: true, Quiet: true, Num: 5, ProcessType: "web"}, "", 0},
		{"long flags with =", []string{"app", "--num=0", "--ps=worker", "--tail=false"}, "app", false,
			with(func(o *schedulers.LogOptions) { o.Num, o.ProcessType = 0, "worker" }), "", 0},
		{"short flags after the app", []string{"app", "-t", "-q", "-n", "7", "-p", "web.2"}, "app", false,
			schedulers.LogOptions{Follow: true, Quiet: true, Num: 7, ProcessType: "web.2"}, "", 0},
		{"grouped shorthands", []string{"-tqn3", "app"}, "app", false,
			schedulers.LogOptions{Follow: true, Quiet: true, Num: 3}, "", 0},
		{"value in the word", []string{"-pweb", "-n1", "app"}, "app", false,
			with(func(o *schedulers.LogOptions) { o.Num, o.ProcessType = 1, "web" }), "", 0},
		{"help", []string{"-h"}, "", true, def, "", 0},
		{"--help", []string{"app", "--help"}, "app", true, def, "", 0},
		{"-- ends flags", []string{"--", "-app"}, "-app", false, def, "", 0},
		{"first positional is the app", []string{"app", "other"}, "app", false, def, "", 0},
		{"num not a number", []string{"-n", "abc", "app"}, "", false, def, `Invalid number of lines "abc": -n/--num takes a non-negative integer`, 1},
		{"num negative", []string{"--num=-1", "app"}, "", false, def, `Invalid number of lines "-1": -n/--num takes a non-negative integer`, 1},
		{"num empty", []string{"--num=", "app"}, "", false, def, `Invalid number of lines "": -n/--num takes a non-negative integer`, 1},
		{"num missing", []string{"app", "-n"}, "", false, def, "flag needs an argument: 'n' in -n", 2},
		{"ps missing", []string{"app", "--ps"}, "", false, def, "flag needs an argument: --ps", 2},
		{"unknown long", []string{"--bogus", "app"}, "", false, def, "unknown flag: --bogus", 2},
		// pflag's own texts, as Dokku's logs prints them
		{"unknown short", []string{"-x", "app"}, "", false, def, "unknown shorthand flag: 'x' in -x", 2},
		{"unknown short in a group", []string{"-tqx", "app"}, "", false, def, "unknown shorthand flag: 'x' in -x", 2},
		{"bad bool", []string{"--tail=maybe", "app"}, "", false, def,
			`invalid argument "maybe" for "-t, --tail" flag: strconv.ParseBool: parsing "maybe": invalid syntax`, 2},
		{"bad syntax", []string{"---x", "app"}, "", false, def, "bad flag syntax: ---x", 2},
		{"num missing after a group", []string{"app", "-tn"}, "", false, def, "flag needs an argument: 'n' in -n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseLogsArgs(tt.args)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || output.ExitCode(err) != tt.code {
					t.Fatalf("err = %v (exit %d), want %q (exit %d)", err, output.ExitCode(err), tt.err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.app != tt.app || a.help != tt.help || !reflect.DeepEqual(a.o, tt.o) {
				t.Errorf("got app=%q help=%v %+v, want app=%q help=%v %+v", a.app, a.help, a.o, tt.app, tt.help, tt.o)
			}
		})
	}
}

// TestLogsCommand covers what is decided before a scheduler streams
// anything (the streaming itself is tested against Docker in
// schedulers/dockerlocal and integration).
func TestLogsCommand(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	withNull := New(Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil),
		Pipeline: &deploy.Pipeline{Store: st, Schedulers: schedulers.NewRegistry(null.Scheduler{})}})
	unwired := New(Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil)})
	for _, app := range []string{"app1", "nullapp"} {
		if err := st.CreateApp(app, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetProperty("scheduler", "nullapp", "selected", "null"); err != nil {
		t.Fatal(err)
	}
	help := "Usage: dokku logs[:COMMAND]\n\nManage log integration for an app\n\nAdditional commands:\n" +
		"    logs [-h|--help] [-t|--tail] [-n|--num num] [-q|--quiet] [-p|--ps process] <app>  Display recent log output\n"
	tests := []struct {
		name   string
		d      *Dispatcher
		argv   []string
		stdout string
		stderr string
		code   int
	}{
		{"help", withNull, []string{"logs:help"}, help, "", 0},
		{"-h", withNull, []string{"logs", "-h"}, help, "", 0},
		{"--help with app", withNull, []string{"logs", "app1", "--help"}, help, "", 0},
		{"no app", withNull, []string{"logs"}, "", " !     Please specify an app to run the command on\n", 1},
		{"missing app", withNull, []string{"logs", "nope"}, "", " !     App nope does not exist\n", 20},
		{"missing app with flags", withNull, []string{"logs", "-t", "-n", "3", "nope"}, "", " !     App nope does not exist\n", 20},
		{"bad num before the app check", withNull, []string{"logs", "nope", "-n", "x"}, "", " !     Invalid number of lines \"x\": -n/--num takes a non-negative integer\n", 1},
		{"unknown flag", withNull, []string{"logs", "--follow", "app1"}, "", " !     unknown flag: --follow\n", 2},
		{"flag without its value", withNull, []string{"logs", "app1", "--num"}, "", " !     flag needs an argument: --num\n", 2},
		{"scheduler not available", withNull, []string{"logs", "app1"}, "", " !     The docker-local scheduler is not available on this server (available: null)\n", 1},
		{"deploys not wired", unwired, []string{"logs", "app1"}, "", " !     The docker-local scheduler is not available on this server (available: none)\n", 1},
		{"null scheduler", withNull, []string{"logs", "-t", "nullapp"}, "", " !     App nullapp runs on the null scheduler, which keeps no logs\n", 1},
		{"--app", withNull, []string{"--app", "nullapp", "logs"}, "", " !     App nullapp runs on the null scheduler, which keeps no logs\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(tt.d, user, false, "", tt.argv...)
			if r.stdout != tt.stdout || r.stderr != tt.stderr || r.code != tt.code {
				t.Errorf("%q:\n got stdout=%q stderr=%q code=%d\nwant stdout=%q stderr=%q code=%d",
					tt.argv, r.stdout, r.stderr, r.code, tt.stdout, tt.stderr, tt.code)
			}
		})
	}
}
