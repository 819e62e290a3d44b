package commands

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerOptions runs docker-options:add/remove/clear/report as Dokku's:
// messages, exit codes, the stored lines and the report.
func TestDockerOptions(t *testing.T) {
	d := configDispatcher(t)
	usage := "Usage of docker-options:add:\n      --process string   process types to scope this option to (deploy phase only)\n"
	runSteps(t, d, user, []cfgStep{
		{name: "no app", argv: []string{"docker-options:add"}, code: 1, stderr: " !     Please specify an app to run the command on\n"},
		{name: "missing app", argv: []string{"docker-options:add", "nope", "deploy", "-v", "/a:/b"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "bad app name", argv: []string{"docker-options:add", "Bad_", "deploy", "-v", "/a:/b"}, code: 1, stderr: appRules},
		{name: "no phase", argv: []string{"docker-options:add", "app1"}, code: 1, stderr: " !     Please specify docker options to add to the phase\n"},
		{name: "no option", argv: []string{"docker-options:add", "app1", "deploy"}, code: 1, stderr: " !     Please specify docker options to add to the phase\n"},
		{name: "bad phase", argv: []string{"docker-options:add", "app1", "deploy,release", "-v", "/a:/b"}, code: 1, stderr: " !     Phase(s) must be one of [build deploy run]\n"},
		{name: "unknown flag", argv: []string{"docker-options:add", "--nope", "app1", "deploy", "-v", "/a:/b"}, code: 2, stderr: usage + "unknown flag: --nope\n"},
		{name: "process scope", argv: []string{"docker-options:add", "--process", "web", "app1", "deploy", "-v", "/a:/b"}, code: 1,
			stderr: " !     --process (options scoped to a process type) is not supported by this server; add the option without it to apply it to every process type\n"},
		{name: "unparsable", argv: []string{"docker-options:add", "app1", "deploy", "--label", "traefik.rule=Host(`a`)"}, code: 1,
			stderr: " !     Unable to parse docker option: 1:26: `(` is not a valid word\n"},
		{name: "unknown docker option", argv: []string{"docker-options:add", "app1", "deploy", "--gpu", "all"}, code: 1,
			stderr: " !     Invalid docker option for the deploy phase: unknown flag: --gpu\n"},
		{name: "bad value", argv: []string{"docker-options:add", "app1", "run", "-m", "lots"}, code: 1,
			stderr: " !     Invalid docker option for the run phase: invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'\n"},
		{name: "build-arg in deploy", argv: []string{"docker-options:add", "app1", "build,deploy", "--build-arg", "A=1"}, code: 1,
			stderr: " !     Invalid docker option for the deploy phase: unknown flag: --build-arg\n"},
		{name: "nothing stored on failure", argv: []string{"docker-options:report", "app1", "--docker-options-build"}, stdout: "\n"},
		{name: "add", argv: []string{"docker-options:add", "app1", "deploy,run", "-v", "/srv/data:/data", "--memory=256m"}},
		{name: "add label", argv: []string{"docker-options:add", "app1", "deploy", "--label", "'traefik.http.routers.app1.rule=Host(`app1.example.com`) && Path(`/\"x\"`)'"}},
		{name: "add build", argv: []string{"docker-options:add", "app1", "build", "--build-arg", "'GREETING=hello world'"}},
		{name: "build ignores run options", argv: []string{"docker-options:add", "app1", "build", "-v", "/x:/y"}},
		{name: "flag deploy", argv: []string{"docker-options:report", "app1", "--docker-options-deploy"},
			stdout: "--label 'traefik.http.routers.app1.rule=Host(`app1.example.com`) && Path(`/\"x\"`)' --memory=256m -v /srv/data:/data\n"},
		{name: "flag run", argv: []string{"docker-options:report", "app1", "--docker-options-run"}, stdout: "--memory=256m -v /srv/data:/data\n"},
		{name: "bad flag", argv: []string{"docker-options:report", "app1", "--docker-options-nope"}, code: 1,
			stderr: " !     Invalid flag passed, valid flags: --docker-options-build, --docker-options-deploy, --docker-options-run\n"},
		{name: "report missing app", argv: []string{"docker-options:report", "nope"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "report bad format", argv: []string{"docker-options:report", "app1", "--format", "yaml"}, code: 1, stderr: " !     Format must be \"stdout\" or \"json\": \"yaml\"\n"},
	})
	// One option per line, sorted, in Dokku's property file.
	data, err := os.ReadFile(filepath.Join(d.cfg.Store.Paths.LibDir, "config", "docker-options", "app1", "_default_.deploy"))
	if err != nil {
		t.Fatal(err)
	}
	want := "--label 'traefik.http.routers.app1.rule=Host(`app1.example.com`) && Path(`/\"x\"`)'\n--memory=256m\n-v /srv/data:/data\n"
	if string(data) != want {
		t.Errorf("stored deploy options = %q; want %q", data, want)
	}

	r := run(d, user, false, "", "docker-options:report", "app1")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("docker-options:report: %+v", r)
	}
	golden(t, "docker-options-report", r.stdout)
	r = run(d, user, false, "", "docker-options:report", "app1", "--format", "json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("docker-options:report --format json: %+v", r)
	}
	golden(t, "docker-options-report-json", r.stdout)
	r = run(d, user, false, "", "docker-options:report", "app2", "--format", "json")
	if want := `{"build":"","build-list":[],"deploy":"","deploy-list":[],"docker-options-build":"","docker-options-deploy":"","docker-options-run":"","run":"","run-list":[]}` + "\n"; r.stdout != want {
		t.Errorf("empty JSON report = %q; want %q", r.stdout, want)
	}
	r = run(d, user, false, "", "docker-options:report", "--global", "--format", "json")
	if r.stdout != "{}\n" || r.code != 0 {
		t.Errorf("global JSON report = %+v", r)
	}
	r = run(d, user, false, "", "docker-options:help")
	golden(t, "docker-options-help", r.stdout)

	runSteps(t, d, user, []cfgStep{
		// remove matches by words: another quoting of the same option.
		{name: "remove by words", argv: []string{"docker-options:remove", "app1", "deploy", "-v", "'/srv/data:/data'"}},
		{name: "remove absent", argv: []string{"docker-options:remove", "app1", "deploy", "-v", "/not:/there"}},
		{name: "remove no option", argv: []string{"docker-options:remove", "app1", "deploy"}, code: 1, stderr: " !     Please specify docker options to remove from the phase\n"},
		{name: "remove bad phase", argv: []string{"docker-options:remove", "app1", "push", "-v", "/a:/b"}, code: 1, stderr: " !     Phase(s) must be one of [build deploy run]\n"},
		{name: "removed from deploy only", argv: []string{"docker-options:report", "app1", "--docker-options-run"}, stdout: "--memory=256m -v /srv/data:/data\n"},
		{name: "clear one phase", argv: []string{"docker-options:clear", "app1", "run"}, stdout: "-----> Clearing docker-options for app1 on phase run\n"},
		{name: "cleared", argv: []string{"docker-options:report", "app1", "--docker-options-run"}, stdout: "\n"},
		{name: "clear bad phase", argv: []string{"docker-options:clear", "app1", "nope"}, code: 1, stderr: " !     Phase(s) must be one of [build deploy run]\n"},
		{name: "clear missing app", argv: []string{"docker-options:clear", "nope"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "clear all", argv: []string{"docker-options:clear", "app1"}, stdout: "-----> Clearing docker-options for app1 on all phases\n"},
		{name: "all cleared", argv: []string{"docker-options:report", "app1", "--docker-options-build"}, stdout: "\n"},
		{name: "clear two phases", argv: []string{"docker-options:clear", "app1", "build,deploy"},
			stdout: "-----> Clearing docker-options for app1 on phase build\n-----> Clearing docker-options for app1 on phase deploy\n"},
	})
}

// TestDockerOptionsOverSSH: an SSH command line, tokenised with xargs
// rules, keeps a label's backticks and quotes byte for byte.
func TestDockerOptionsOverSSH(t *testing.T) {
	d := configDispatcher(t)
	var out, errb bytes.Buffer
	raw := `docker-options:add app1 deploy "--label 'traefik.http.routers.app1.rule=Host(` + "`app1.example.com`" + `)'"`
	if code := d.RunSSH(context.Background(), IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, user, raw); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	r := run(d, user, false, "", "docker-options:report", "app1", "--docker-options-deploy")
	if want := "--label 'traefik.http.routers.app1.rule=Host(`app1.example.com`)'\n"; r.stdout != want {
		t.Errorf("stored %q; want %q", r.stdout, want)
	}
}
