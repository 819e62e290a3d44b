package commands

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"dokku-sshd/output"
)

func failMsg(err error) string {
	var ee *output.Error
	if errors.As(err, &ee) {
		return ee.Msg
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// checkParsed compares a parser's result and error message with the
// expected ones (the result only when no error is expected).
func checkParsed[T any](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if msg := failMsg(err); msg != wantErr {
		t.Fatalf("error %q, want %q", msg, wantErr)
	}
	if wantErr == "" && !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseRunArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want runArgs
		err  string
	}{
		{"app only", []string{"app"}, runArgs{app: "app", cmd: []string{}}, ""},
		{"command", []string{"app", "sh", "-c", "exit 3"}, runArgs{app: "app", cmd: []string{"sh", "-c", "exit 3"}}, ""},
		{"env literal", []string{"-e", "X=$(id)", "--env", "Y=a b", "--env=Z=1", "app", "env"},
			runArgs{env: []string{"X=$(id)", "Y=a b", "Z=1"}, app: "app", cmd: []string{"env"}}, ""},
		{"flags after the app belong to the command", []string{"app", "ls", "-e", "x", "--no-tty"},
			runArgs{app: "app", cmd: []string{"ls", "-e", "x", "--no-tty"}}, ""},
		{"tty flags", []string{"--no-tty", "app", "true"}, runArgs{noTTY: true, app: "app", cmd: []string{"true"}}, ""},
		{"force tty", []string{"--force-tty", "app"}, runArgs{forceTTY: true, app: "app", cmd: []string{}}, ""},
		{"both tty flags", []string{"--force-tty", "--no-tty", "app"}, runArgs{}, "Cannot specify both --force-tty and --no-tty"},
		{"ttl", []string{"--ttl-seconds", "60", "app", "true"}, runArgs{ttl: 60, app: "app", cmd: []string{"true"}}, ""},
		{"ttl equals", []string{"--ttl-seconds=5", "app"}, runArgs{ttl: 5, app: "app", cmd: []string{}}, ""},
		{"ttl word", []string{"--ttl-seconds", "abc", "app"}, runArgs{}, "--ttl-seconds must be a positive integer"},
		{"ttl zero", []string{"--ttl-seconds", "0", "app"}, runArgs{}, "--ttl-seconds must be a positive integer"},
		{"ttl negative", []string{"--ttl-seconds=-3", "app"}, runArgs{}, "--ttl-seconds must be a positive integer"},
		{"ttl plus sign", []string{"--ttl-seconds", "+3", "app"}, runArgs{}, "--ttl-seconds must be a positive integer"},
		{"ttl missing value", []string{"--ttl-seconds"}, runArgs{}, "--ttl-seconds requires an argument"},
		{"env missing value", []string{"-e"}, runArgs{}, "-e requires an argument"},
		{"env without =", []string{"-e", "FOO", "app"}, runArgs{}, `Invalid -e value "FOO": expected KEY=VALUE`},
		{"env without key", []string{"--env==x", "app"}, runArgs{}, `Invalid -e value "=x": expected KEY=VALUE`},
		{"nothing", nil, runArgs{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRunArgs(tt.args)
			checkParsed(t, got, err, tt.want, tt.err)
		})
	}
}

func TestParseRunStopArgs(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		app, cont string
		err       string
	}{
		{"app", []string{"app"}, "app", "", ""},
		{"container", []string{"--container", "app.run.123"}, "app", "app.run.123", ""},
		{"container equals", []string{"--container=my.app.run.9"}, "my.app", "my.app.run.9", ""},
		{"nothing", nil, "", "", "No container or app specified"},
		{"container without name", []string{"--container"}, "", "", "No container or app specified"},
		{"bad name", []string{"--container", "app.run"}, "", "", "Invalid container name specified: app.run"},
		{"not a run container", []string{"--container", "app.web.1"}, "", "", "Specified container must be a run container"},
		{"k3s pod", []string{"--container", "my-app-run-0123456789-x7k2q"}, "my-app", "my-app-run-0123456789-x7k2q", ""},
		{"k3s job", []string{"--container=my.app-run-abcdef0123"}, "my.app", "my.app-run-abcdef0123", ""},
		{"k3s web pod", []string{"--container", "app-web-5d9c7b-x7k2q"}, "", "", "Invalid container name specified: app-web-5d9c7b-x7k2q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, cont, err := parseRunStopArgs(tt.args)
			if msg := failMsg(err); msg != tt.err {
				t.Fatalf("error %q, want %q", msg, tt.err)
			}
			if app != tt.app || cont != tt.cont {
				t.Errorf("got (%q, %q), want (%q, %q)", app, cont, tt.app, tt.cont)
			}
		})
	}
}

func TestParseEnterArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want enterArgs
		err  string
	}{
		{"app only", []string{"app"}, enterArgs{app: "app", cmd: []string{}}, ""},
		{"type", []string{"app", "web"}, enterArgs{app: "app", target: "web", cmd: []string{}}, ""},
		{"dyno and command", []string{"app", "web.2", "ls", "-l"}, enterArgs{app: "app", target: "web.2", cmd: []string{"ls", "-l"}}, ""},
		{"type, --, command", []string{"app", "web", "--", "sh", "-c", "x"}, enterArgs{app: "app", target: "web", cmd: []string{"sh", "-c", "x"}}, ""},
		{"no type, --, command", []string{"app", "--", "ls"}, enterArgs{app: "app", cmd: []string{"ls"}}, ""},
		{"container id", []string{"app", "--container-id", "abc", "--", "ls"}, enterArgs{app: "app", id: "abc", cmd: []string{"ls"}}, ""},
		{"container id equals", []string{"app", "--container-id=abc", "ls"}, enterArgs{app: "app", id: "abc", cmd: []string{"ls"}}, ""},
		{"container id missing", []string{"app", "--container-id"}, enterArgs{}, "--container-id requires an argument"},
		{"nothing", nil, enterArgs{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEnterArgs(tt.args)
			checkParsed(t, got, err, tt.want, tt.err)
		})
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{500 * time.Millisecond, "Less than a second"},
		{time.Second, "1 second"},
		{45 * time.Second, "45 seconds"},
		{90 * time.Second, "About a minute"},
		{5 * time.Minute, "5 minutes"},
		{70 * time.Minute, "About an hour"},
		{5 * time.Hour, "5 hours"},
		{72 * time.Hour, "3 days"},
		{21 * 24 * time.Hour, "3 weeks"},
		{90 * 24 * time.Hour, "3 months"},
		{3 * 365 * 24 * time.Hour, "3 years"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := ellipsis("sh -c 'sleep 300; echo done'", 20); got != "sh -c 'sleep 300; e…" {
		t.Errorf("ellipsis: %q", got)
	}
}
