package commands

import (
	"bytes"
	"reflect"
	"testing"

	"dokku-sshd/deploy"
	"dokku-sshd/keys"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

// logsUsage is pflag's usage of Dokku's logs flags, which a bad flag
// prints before the error.
const logsUsage = `Usage of logs:
  -h, --help        print help for the command
  -n, --num int     the number of lines to display (default 100)
  -p, --ps string   only display logs from the given process
  -q, --quiet       display raw logs without colors, time and names
  -t, --tail        continually stream logs
`

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
		err  string // pflag's error, printed after logsUsage; exit 2
	}{
		{"defaults", []string{"app"}, "app", false, def, ""},
		{"no app", nil, "", false, def, ""},
		{"long flags", []string{"--tail", "--quiet", "--num", "5", "--ps", "web", "app"}, "app", false,
			schedulers.LogOptions{Follow: true, Quiet: true, Num: 5, ProcessType: "web"}, ""},
		{"long flags with =", []string{"app", "--num=0", "--ps=worker", "--tail=false"}, "app", false,
			with(func(o *schedulers.LogOptions) { o.Num, o.ProcessType = 0, "worker" }), ""},
		{"short flags after the app", []string{"app", "-t", "-q", "-n", "7", "-p", "web.2"}, "app", false,
			schedulers.LogOptions{Follow: true, Quiet: true, Num: 7, ProcessType: "web.2"}, ""},
		{"grouped shorthands", []string{"-tqn3", "app"}, "app", false,
			schedulers.LogOptions{Follow: true, Quiet: true, Num: 3}, ""},
		{"value in the word", []string{"-pweb", "-n1", "app"}, "app", false,
			with(func(o *schedulers.LogOptions) { o.Num, o.ProcessType = 1, "web" }), ""},
		{"negative num: every line", []string{"--num=-1", "app"}, "app", false,
			with(func(o *schedulers.LogOptions) { o.Num = -1 }), ""},
		{"help", []string{"-h"}, "", true, def, ""},
		{"--help", []string{"app", "--help"}, "app", true, def, ""},
		{"-- ends flags", []string{"--", "-app"}, "-app", false, def, ""},
		{"first positional is the app", []string{"app", "other"}, "app", false, def, ""},
		// pflag's own texts, as Dokku's logs prints them
		{"num not a number", []string{"-n", "abc", "app"}, "", false, def,
			`invalid argument "abc" for "-n, --num" flag: strconv.ParseInt: parsing "abc": invalid syntax`},
		{"num empty", []string{"--num=", "app"}, "", false, def,
			`invalid argument "" for "-n, --num" flag: strconv.ParseInt: parsing "": invalid syntax`},
		{"num missing", []string{"app", "-n"}, "", false, def, "flag needs an argument: 'n' in -n"},
		{"ps missing", []string{"app", "--ps"}, "", false, def, "flag needs an argument: --ps"},
		{"unknown long", []string{"--bogus", "app"}, "", false, def, "unknown flag: --bogus"},
		{"unknown short", []string{"-x", "app"}, "", false, def, "unknown shorthand flag: 'x' in -x"},
		{"unknown short in a group", []string{"-tqx", "app"}, "", false, def, "unknown shorthand flag: 'x' in -x"},
		{"bad bool", []string{"--tail=maybe", "app"}, "", false, def,
			`invalid argument "maybe" for "-t, --tail" flag: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"bad syntax", []string{"---x", "app"}, "", false, def, "bad flag syntax: ---x"},
		{"num missing after a group", []string{"app", "-tn"}, "", false, def, "flag needs an argument: 'n' in -n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			e := &Call{IO: IO{Stderr: &stderr}}
			a, err := e.parseLogsArgs(tt.args)
			if tt.err != "" {
				if want := logsUsage + tt.err + "\n"; output.ExitCode(err) != 2 || stderr.String() != want {
					t.Fatalf("exit %d, stderr %q; want exit 2, stderr %q", output.ExitCode(err), stderr.String(), want)
				}
				return
			}
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("err %v, stderr %q", err, stderr.String())
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
		{"bad num before the app check", withNull, []string{"logs", "nope", "-n", "x"}, "",
			logsUsage + `invalid argument "x" for "-n, --num" flag: strconv.ParseInt: parsing "x": invalid syntax` + "\n", 2},
		{"unknown flag", withNull, []string{"logs", "--follow", "app1"}, "", logsUsage + "unknown flag: --follow\n", 2},
		{"flag without its value", withNull, []string{"logs", "app1", "--num"}, "", logsUsage + "flag needs an argument: --num\n", 2},
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
