package commands

import (
	"context"
	"io"
	"testing"

	"dokku-sshd/proxy"
)

// TestPorts runs the ports commands in sequence with Dokku's output,
// messages and exit codes, and checks that each change calls the proxy
// rebuild hook once for the app.
func TestPorts(t *testing.T) {
	d := configDispatcher(t)
	var rebuilt []string
	d.cfg.Proxy = &proxy.Router{Reroute: func(_ context.Context, app string, out io.Writer) error {
		rebuilt = append(rebuilt, app)
		return nil
	}}
	noApp := " !     Please specify an app to run the command on\n"
	runSteps(t, d, user, []cfgStep{
		{name: "list none", argv: []string{"ports:list", "app1"}, stderr: " !     No port mappings configured for app\n", code: 1},
		{name: "report default", argv: []string{"ports:report", "app1", "--ports-map-detected"}, stdout: "http:80:5000\n"},
		{name: "report empty json", argv: []string{"ports:report", "app1", "--ports-map-json"}, stdout: "[]\n"},
		{name: "set", argv: []string{"ports:set", "app1", "http:80:5000", "https:8443:5000 tcp:2222:22"}},
		{name: "list", argv: []string{"ports:list", "app1"}, stdout: "-----> Port mappings for app1\n" +
			"    -----> scheme  host port  container port\n" +
			"    http           80         5000\n" +
			"    https          8443       5000\n" +
			"    tcp            2222       22\n"},
		{name: "list quiet", argv: []string{"--quiet", "ports:list", "app1"}, stdout: "    http   80    5000\n    https  8443  5000\n    tcp    2222  22\n"},
		{name: "add", argv: []string{"ports:add", "app1", "http:8080:5000"}},
		{name: "add reused", argv: []string{"ports:add", "app1", "http:8080:5001"}, code: 1,
			stderr: " !     Error validating all port mappings: The same scheme:host-port is being reused: http:8080\n"},
		{name: "add reused among new", argv: []string{"ports:add", "app1", "udp:53:53", "udp:53:54"}, code: 1,
			stderr: " !     Error validating new port mappings: The same scheme:host-port is being reused: udp:53\n"},
		{name: "set reused", argv: []string{"ports:set", "app1", "udp:53:53", "udp:53:54"}, code: 1,
			stderr: " !     Error validating port mappings: The same scheme:host-port is being reused: udp:53\n"},
		{name: "map", argv: []string{"ports:report", "app1", "--ports-map"}, stdout: "http:8080:5000 http:80:5000 https:8443:5000 tcp:2222:22\n"},
		{name: "remove one", argv: []string{"ports:remove", "app1", "https:8443:5000"}},
		{name: "remove by host port", argv: []string{"ports:remove", "app1", "8080", "2222"}},
		{name: "remove absent", argv: []string{"ports:remove", "app1", "udp:1:1"}},
		{name: "after remove", argv: []string{"ports:report", "app1", "--ports-map"}, stdout: "http:80:5000\n"},
		{name: "json", argv: []string{"ports:report", "app1", "--format", "json"},
			stdout: `{"map":"http:80:5000","map-detected":"http:80:5000","map-detected-json":"[{\"container_port\":5000,\"host_port\":80,\"scheme\":\"http\"}]","map-json":"[{\"container_port\":5000,\"host_port\":80,\"scheme\":\"http\"}]",` +
				`"ports-map":"http:80:5000","ports-map-detected":"http:80:5000","ports-map-detected-json":"[{\"container_port\":5000,\"host_port\":80,\"scheme\":\"http\"}]","ports-map-json":"[{\"container_port\":5000,\"host_port\":80,\"scheme\":\"http\"}]"}` + "\n"},
		{name: "report", argv: []string{"ports:report", "app1"}, stdout: "=====> app1 ports information\n" +
			"       Ports map:                     http:80:5000\n" +
			"       Ports map detected:            http:80:5000\n" +
			"       Ports map detected json:       [{\"container_port\":5000,\"host_port\":80,\"scheme\":\"http\"}]\n" +
			"       Ports map json:                [{\"container_port\":5000,\"host_port\":80,\"scheme\":\"http\"}]\n"},
		{name: "report global", argv: []string{"ports:report", "--global"}, stdout: "=====> --global ports information\n"},
		{name: "clear", argv: []string{"ports:clear", "app1"}},
		{name: "cleared", argv: []string{"ports:list", "app1"}, stderr: " !     No port mappings configured for app\n", code: 1},

		{name: "no map", argv: []string{"ports:add", "app1"}, stderr: " !     No port mapping specified\n", code: 1},
		{name: "no app", argv: []string{"ports:set"}, stderr: noApp, code: 1},
		{name: "missing app", argv: []string{"ports:set", "nope", "http:80:5000"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "invalid app", argv: []string{"ports:list", "Bad_App"}, stderr: appRules, code: 1},
		{name: "clear missing app", argv: []string{"ports:clear", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "two parts", argv: []string{"ports:set", "app1", "http:80"}, stderr: " !     Invalid port map http:80 [len=2]\n", code: 1},
		{name: "bare port on set", argv: []string{"ports:set", "app1", "80"}, stderr: " !     Invalid port map 80 [len=1]\n", code: 1},
		{name: "not a number", argv: []string{"ports:add", "app1", "http:eighty:5000"}, code: 1,
			stderr: " !     Invalid port map http:eighty:5000 [err=strconv.Atoi: parsing \"eighty\": invalid syntax]\n"},
		{name: "host port 0", argv: []string{"ports:add", "app1", "http:0:5000"}, stderr: " !     Invalid port map http:0:5000 [hostPort=0]\n", code: 1},
		{name: "container port too big", argv: []string{"ports:add", "app1", "http:80:65536"}, stderr: " !     Invalid port map http:80:65536 [containerPort=65536]\n", code: 1},
		{name: "remove bad port", argv: []string{"ports:remove", "app1", "99999"}, stderr: " !     Invalid port map 99999 [hostPort=99999]\n", code: 1},
		{name: "unknown flag", argv: []string{"ports:set", "app1", "--nope", "http:80:5000"}, stderr: "Usage of ports:set:\nunknown flag: --nope\n", code: 2},
		{name: "report missing app", argv: []string{"ports:report", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "report bad flag", argv: []string{"ports:report", "app1", "--ports-nope"}, code: 1,
			stderr: " !     Invalid flag passed, valid flags: --ports-map, --ports-map-detected, --ports-map-detected-json, --ports-map-json\n"},
		{name: "nothing stored by failures", argv: []string{"ports:report", "app1", "--ports-map"}, stdout: "\n"},
	})
	want := []string{"app1", "app1", "app1", "app1", "app1", "app1"} // set, add, remove x3, clear
	if len(rebuilt) != len(want) {
		t.Errorf("proxy rebuilds = %q, want %q", rebuilt, want)
	}
	r := run(d, user, false, "", "ports:help")
	if r.code != 0 {
		t.Fatalf("ports:help: %+v", r)
	}
	golden(t, "ports-help", r.stdout)
}
