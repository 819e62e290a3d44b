package commands

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/schedulers/k3s"
)

// k3sDispatcher is configDispatcher with the kubeconfig lookup pinned:
// no $KUBECONFIG, so the computed kubeconfig-path is k3s' own path
// whether or not k3s runs where the test runs (its file then exists, and
// is the computed path too). The steps that read a kubeconfig set
// kubeconfig-path first, so k3s' file is never read.
func k3sDispatcher(t *testing.T) *Dispatcher {
	t.Helper()
	t.Setenv("KUBECONFIG", "")
	return configDispatcher(t)
}

// writeKubeconfig writes a kubeconfig with the named contexts and returns
// its path.
func writeKubeconfig(t *testing.T, contexts ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n    token: x\ncontexts:\n")
	for _, c := range contexts {
		b.WriteString("- name: " + c + "\n  context:\n    cluster: c\n    user: u\n")
	}
	if len(contexts) > 0 {
		b.WriteString("current-context: " + contexts[0] + "\n")
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSchedulerK3sReport: the layout of both reports (golden), the token
// masked in the stdout layout only, and the app report's flags.
func TestSchedulerK3sReport(t *testing.T) {
	d := k3sDispatcher(t)
	runSteps(t, d, local, []cfgStep{
		{name: "set token", argv: []string{"scheduler-k3s:set", "--global", "token", "s3cret"}, stdout: "=====> Setting token to s3cret\n"},
		{name: "set namespace", argv: []string{"scheduler-k3s:set", "app1", "namespace", "apps"}, stdout: "=====> Setting namespace to apps\n"},
		{name: "set global timeout", argv: []string{"scheduler-k3s:set", "--global", "deploy-timeout", "10m"}, stdout: "=====> Setting deploy-timeout to 10m\n"},
		{name: "set ingress class", argv: []string{"k3s:set", "--global", "ingress-class", "traefik"}, stdout: "=====> Setting ingress-class to traefik\n"},
	})
	for _, g := range []struct {
		golden string
		argv   []string
	}{
		{"scheduler-k3s-report", []string{"scheduler-k3s:report", "app1"}},
		{"scheduler-k3s-report-global", []string{"scheduler-k3s:report", "--global"}},
		{"scheduler-k3s-report-json", []string{"scheduler-k3s:report", "app1", "--format", "json"}},
	} {
		r := run(d, local, false, "", g.argv...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%q: %+v", g.argv, r)
		}
		golden(t, g.golden, r.stdout)
	}
	if r := run(d, local, false, "", "scheduler-k3s:report", "--global"); strings.Contains(r.stdout, "s3cret") ||
		!strings.Contains(r.stdout, "Scheduler k3s global token:                    *******\n") {
		t.Errorf("the global report must mask the token:\n%s", r.stdout)
	}
	runSteps(t, d, local, []cfgStep{
		{name: "token flag", argv: []string{"scheduler-k3s:report", "--global", "--scheduler-k3s-global-token"}, stdout: "s3cret\n"},
		{name: "computed namespace", argv: []string{"scheduler-k3s:report", "app1", "--scheduler-k3s-computed-namespace"}, stdout: "apps\n"},
		{name: "other app's namespace", argv: []string{"scheduler-k3s:report", "app2", "--scheduler-k3s-computed-namespace"}, stdout: "default\n"},
		{name: "computed timeout", argv: []string{"scheduler-k3s:report", "app2", "--scheduler-k3s-computed-deploy-timeout"}, stdout: "10m\n"},
		{name: "missing app", argv: []string{"scheduler-k3s:report", "nosuch"}, stderr: " !     App nosuch does not exist\n", code: 20},
		{name: "bad app name", argv: []string{"scheduler-k3s:report", "Bad"}, stderr: appRules, code: 1},
		{name: "json and flag", argv: []string{"scheduler-k3s:report", "app1", "--format", "json", "--scheduler-k3s-namespace"},
			stderr: " !     --format flag cannot be specified when specifying an info flag\n", code: 1},
	})
	var js map[string]string
	r := run(d, local, false, "", "scheduler-k3s:report", "--global", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js["global-token"] != "s3cret" || js["scheduler-k3s-global-token"] != "s3cret" {
		t.Errorf("the JSON report shows the token, stripped and legacy keys: %v %s", err, r.stdout)
	}
	// The token is a --global setting: an app's report has no flag for it.
	r = run(d, local, false, "", "scheduler-k3s:report", "app1", "--scheduler-k3s-global-token")
	if r.code != 1 || !strings.HasPrefix(r.stderr, " !     Invalid flag passed, valid flags: --scheduler-k3s-cert-issuer-kind, ") || strings.Contains(r.stderr, "token") {
		t.Errorf("token flag on an app report: %+v", r)
	}
}

// TestSchedulerK3sSet: every property's check, the global-only ones, and
// the parser's errors.
func TestSchedulerK3sSet(t *testing.T) {
	d := k3sDispatcher(t)
	runSteps(t, d, local, k3sValueSteps())
	runSteps(t, d, local, k3sKubeconfigAndParserSteps(t))
	// What was stored is what the scheduler reads.
	for _, c := range []struct{ app, key, want string }{
		{"app1", "deploy-timeout", "5m"}, {"app1", "cert-issuer-kind", "Issuer"}, {"--global", "kube-context", "three"},
		{"--global", "token", "def"}, {"app1", "namespace", ""}, {"app1", "kubeconfig-path", ""},
	} {
		got, err := d.cfg.Store.Property(k3s.Plugin, c.app, c.key)
		if err != nil || got != c.want {
			t.Errorf("stored %s %s = %q, %v; want %q", c.app, c.key, got, err, c.want)
		}
	}
}

// k3sSet is scheduler-k3s:set with args; setOK and setInvalid are what it
// prints when the value is taken or refused.
func k3sSet(args ...string) []string { return append([]string{"scheduler-k3s:set"}, args...) }

func setOK(p, v string) string { return "=====> Setting " + p + " to " + v + "\n" }

func setInvalid(p, v, why string) string {
	return " !     Invalid " + p + " value specified: " + v + " (" + why + ")\n"
}

// k3sValueSteps set each property but the connection's to a good value
// and to bad ones.
func k3sValueSteps() []cfgStep {
	set, ok, invalid := k3sSet, setOK, setInvalid
	const label = "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
	const subdomain = "at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	return []cfgStep{
		{name: "timeout seconds", argv: set("app1", "deploy-timeout", "600"), stdout: ok("deploy-timeout", "600")},
		{name: "timeout duration", argv: set("app1", "deploy-timeout", "5m"), stdout: ok("deploy-timeout", "5m")},
		{name: "timeout bad", argv: set("app1", "deploy-timeout", "soon"), code: 1,
			stderr: " !     Invalid deploy-timeout value specified: soon (a duration such as 300s, or seconds)\n"},
		{name: "timeout zero", argv: set("app1", "deploy-timeout", "0"), code: 1,
			stderr: " !     Invalid deploy-timeout value specified: 0 (a duration such as 300s, or seconds)\n"},
		{name: "rollback", argv: set("app1", "rollback-on-failure", "true"), stdout: ok("rollback-on-failure", "true")},
		{name: "rollback bad", argv: set("app1", "rollback-on-failure", "yes"), code: 1,
			stderr: invalid("rollback-on-failure", "yes", "valid values include: true, false")},
		{name: "namespace", argv: set("--global", "namespace", "dokku-apps"), stdout: ok("namespace", "dokku-apps")},
		{name: "namespace upper", argv: set("app1", "namespace", "Apps"), code: 1, stderr: invalid("namespace", "Apps", label)},
		{name: "namespace dot", argv: set("app1", "namespace", "a.b"), code: 1, stderr: invalid("namespace", "a.b", label)},
		{name: "ingress class", argv: set("--global", "ingress-class", "nginx"), stdout: ok("ingress-class", "nginx")},
		{name: "ingress class bad", argv: set("--global", "ingress-class", "Nginx!"), code: 1, stderr: invalid("ingress-class", "Nginx!", subdomain)},
		{name: "pull secret", argv: set("app1", "image-pull-secrets", "regcred"), stdout: ok("image-pull-secrets", "regcred")},
		{name: "pull secret bad", argv: set("app1", "image-pull-secrets", "a/b"), code: 1, stderr: invalid("image-pull-secrets", "a/b", subdomain)},
		{name: "issuer kind cased", argv: set("app1", "cert-issuer-kind", "issuer"), stdout: ok("cert-issuer-kind", "Issuer")},
		{name: "issuer kind bad", argv: set("app1", "cert-issuer-kind", "Vault"), code: 1,
			stderr: invalid("cert-issuer-kind", "Vault", "valid values include: Issuer, ClusterIssuer")},
		{name: "issuer name off", argv: set("app1", "cert-issuer-name", "false"), stdout: ok("cert-issuer-name", "false")},
		{name: "issuer name bad", argv: set("app1", "cert-issuer-name", "My Issuer"), code: 1,
			stderr: invalid("cert-issuer-name", "My Issuer", subdomain+", or false")},
		{name: "le server", argv: set("app1", "letsencrypt-server", "staging"), stdout: ok("letsencrypt-server", "staging")},
		{name: "le server bad", argv: set("app1", "letsencrypt-server", "https://acme.example"), code: 1,
			stderr: invalid("letsencrypt-server", "https://acme.example", "valid values include: prod, production, stag, staging, false")},
		{name: "le email", argv: set("--global", "letsencrypt-email-prod", "ops@example.com"), stdout: ok("letsencrypt-email-prod", "ops@example.com")},
		{name: "le email bad", argv: set("app1", "letsencrypt-email-stag", "ops"), code: 1,
			stderr: invalid("letsencrypt-email-stag", "ops", "an email address such as admin@example.com")},
		{name: "shm", argv: set("app1", "shm-size", "64Mi"), stdout: ok("shm-size", "64Mi")},
		{name: "shm bad", argv: set("app1", "shm-size", "lots"), code: 1, stderr: invalid("shm-size", "lots", "a positive size such as 64Mi or 1Gi")},
		{name: "iface", argv: set("--global", "network-interface", "ens3"), stdout: ok("network-interface", "ens3")},
		{name: "iface bad", argv: set("--global", "network-interface", "../x/y"), code: 1,
			stderr: invalid("network-interface", "../x/y", "a network interface name such as eth0")},
	}
}

// k3sKubeconfigAndParserSteps set the kubeconfig, context and token (global
// only), unset, and meet the parser's errors.
func k3sKubeconfigAndParserSteps(t *testing.T) []cfgStep {
	set, ok, invalid := k3sSet, setOK, setInvalid
	kc := writeKubeconfig(t, "one", "two")
	notKC := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notKC, []byte("just: [some, yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noCtx := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(noCtx, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []cfgStep{
		{name: "kubeconfig", argv: set("--global", "kubeconfig-path", kc), stdout: ok("kubeconfig-path", kc)},
		{name: "kubeconfig missing", argv: set("--global", "kubeconfig-path", "/nonexistent/k.yaml"), code: 1,
			stderr: invalid("kubeconfig-path", "/nonexistent/k.yaml", "no such file")},
		{name: "kubeconfig not one", argv: set("--global", "kubeconfig-path", notKC), code: 1,
			stderr: invalid("kubeconfig-path", notKC, "not a kubeconfig file")},
		{name: "kubeconfig no context", argv: set("--global", "kubeconfig-path", noCtx), code: 1,
			stderr: invalid("kubeconfig-path", noCtx, "it names no context")},
		{name: "context", argv: set("--global", "kube-context", "two"), stdout: ok("kube-context", "two")},
		{name: "context unknown warns", argv: set("--global", "kube-context", "three"), stdout: ok("kube-context", "three"),
			stderr: " !     No context three in the current kubeconfig (contexts: one, two)\n"},
		{name: "token", argv: set("--global", "token", "abc"), stdout: ok("token", "abc")},
		{name: "global flag last", argv: set("token", "def", "--global"), stdout: ok("token", "def")},
		{name: "unset", argv: set("app1", "namespace"), stdout: "=====> Unsetting namespace\n"},
		{name: "alias", argv: []string{"k3s:set", "app1", "shm-size"}, stdout: "=====> Unsetting shm-size\n"},
		{name: "global-only on an app", argv: set("app1", "kubeconfig-path", kc), code: 1,
			stderr: " !     Property can only be specified globally: scheduler-k3s:set --global kubeconfig-path <value>\n"},
		{name: "token on an app", argv: set("app1", "token", "x"), code: 1,
			stderr: " !     Property can only be specified globally: scheduler-k3s:set --global token <value>\n"},
		{name: "unknown property", argv: set("app1", "kustomize-root-path", "x"), code: 1,
			stderr: " !     Invalid property specified, valid properties include: cert-issuer-kind, cert-issuer-name, deploy-timeout, " +
				"image-pull-secrets, ingress-class, kube-context, kubeconfig-path, letsencrypt-email-prod, letsencrypt-email-stag, " +
				"letsencrypt-server, namespace, network-interface, rollback-on-failure, shm-size, token\n"},
		{name: "no property", argv: set("app1"), code: 1, stderr: " !     No property specified\n"},
		{name: "missing app", argv: set("nosuch", "namespace", "x"), code: 20, stderr: " !     App nosuch does not exist\n"},
		{name: "no app", argv: set(), code: 1, stderr: " !     Please specify an app to run the command on\n"},
		{name: "unknown flag", argv: set("--bogus", "app1", "namespace", "x"), code: 2,
			stderr: "Usage of scheduler-k3s:set:\n      --global   --global: set a global property\nunknown flag: --bogus\n"},
	}
}

// TestSchedulerK3sMetaSet: annotations:set and labels:set store what
// Dokku stores where it stores it, and refuse what a deploy could not
// apply.
func TestSchedulerK3sMetaSet(t *testing.T) {
	d := k3sDispatcher(t)
	ann := func(args ...string) []string { return append([]string{"scheduler-k3s:annotations:set"}, args...) }
	lab := func(args ...string) []string { return append([]string{"scheduler-k3s:labels:set"}, args...) }
	runSteps(t, d, local, []cfgStep{
		{name: "web deployment", argv: ann("app1", "example.com/owner", "team a", "--process-type", "web", "--resource-type", "deployment")},
		{name: "all processes", argv: ann("app1", "example.com/tier", "gold", "--resource-type", "pod")},
		{name: "flags first", argv: ann("--resource-type", "pod", "app1", "example.com/zone", "z1")},
		{name: "global", argv: ann("--global", "example.com/org", "acme", "--resource-type", "service")},
		{name: "label", argv: lab("app1", "team", "a", "--process-type", "worker", "--resource-type", "pod")},
		{name: "global label", argv: lab("--global", "env", "prod", "--resource-type", "deployment")},
		{name: "remove", argv: ann("app1", "example.com/zone", "--resource-type", "pod")},
		{name: "remove absent", argv: ann("app2", "example.com/zone", "--resource-type", "pod")},
		{name: "no resource type", argv: ann("app1", "a", "b"), code: 1, stderr: " !     Missing resource-type\n"},
		{name: "bad resource type", argv: ann("app1", "a", "b", "--resource-type", "pods"), code: 1,
			stderr: " !     Invalid resource-type specified: pods, valid resource types include: " + strings.Join(k3s.AnnotationResources, ", ") + "\n"},
		{name: "no labels on keda", argv: lab("app1", "a", "b", "--resource-type", "keda_secret"), code: 1,
			stderr: " !     Invalid resource-type specified: keda_secret, valid resource types include: " + strings.Join(k3s.LabelResources, ", ") + "\n"},
		{name: "bad process type", argv: ann("app1", "a", "b", "--resource-type", "pod", "--process-type", "../x"), code: 1,
			stderr: " !     Invalid process-type specified: ../x\n"},
		{name: "no key", argv: ann("app1", "--resource-type", "pod"), code: 1, stderr: " !     No key specified\n"},
		{name: "bad key", argv: ann("app1", "a b", "c", "--resource-type", "pod"), code: 1,
			stderr: " !     Invalid key specified: a b (a name of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, optionally after a DNS subdomain and '/', such as example.com/owner)\n"},
		{name: "bad label value", argv: lab("app1", "team", "a b", "--resource-type", "pod"), code: 1,
			stderr: " !     Invalid label value specified: a b (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)\n"},
		{name: "selector label", argv: lab("app1", k3s.LabelPartOf, "other", "--resource-type", "deployment"), code: 1,
			stderr: " !     Invalid key specified: app.kubernetes.io/part-of is set by the scheduler\n"},
		{name: "version annotation", argv: ann("app1", k3s.AnnotationVersion, "1", "--resource-type", "pod"), code: 1,
			stderr: " !     Invalid key specified: app.kubernetes.io/version is set by the scheduler\n"},
		{name: "missing app", argv: ann("nosuch", "a", "b", "--resource-type", "pod"), code: 20, stderr: " !     App nosuch does not exist\n"},
		{name: "unknown flag", argv: lab("app1", "a", "b", "--resource-type", "pod", "--bogus"), code: 2,
			stderr: "Usage of scheduler-k3s:labels:set:\n" +
				"      --global                 --global: set a global property\n" +
				"      --process-type string    --process-type: scope to process-type\n" +
				"      --resource-type string   --resource-type: scope to resource-type\n" +
				"unknown flag: --bogus\n"},
	})
	checkMetaReports(t, d)
	checkMetaFiles(t, d)
}

// checkMetaReports: annotations:report and labels:report read back what
// TestSchedulerK3sMetaSet set.
func checkMetaReports(t *testing.T, d *Dispatcher) {
	t.Helper()
	rep := func(kind string, args ...string) []string {
		return append([]string{"scheduler-k3s:" + kind + ":report"}, args...)
	}
	r := run(d, local, false, "", rep("annotations", "app1")...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("annotations:report: %+v", r)
	}
	golden(t, "scheduler-k3s-annotations-report", r.stdout)
	runSteps(t, d, local, []cfgStep{
		{name: "report json", argv: rep("annotations", "app1", "--format", "json"),
			stdout: `{"global.pod.example.com/tier":"gold","web.deployment.example.com/owner":"team a"}` + "\n"},
		{name: "report filtered", argv: rep("annotations", "app1", "--resource-type", "deployment", "--format", "json"),
			stdout: `{"web.deployment.example.com/owner":"team a"}` + "\n"},
		{name: "report global process type", argv: rep("annotations", "app1", "--process-type", "global", "--format", "json"),
			stdout: `{"global.pod.example.com/tier":"gold"}` + "\n"},
		{name: "report flag", argv: rep("annotations", "app1", "--scheduler-k3s-annotations.web.deployment.example.com/owner"), stdout: "team a\n"},
		{name: "report unknown flag", argv: rep("annotations", "app1", "--scheduler-k3s-annotations.web.pod.x"), code: 1,
			stderr: " !     Invalid flag passed, valid flags: --scheduler-k3s-annotations.global.pod.example.com/tier, --scheduler-k3s-annotations.web.deployment.example.com/owner\n"},
		{name: "report two flags", argv: rep("labels", "app1", "--scheduler-k3s-labels.a", "--scheduler-k3s-labels.b"), code: 1,
			stderr: " !     only a single info flag may be specified\n"},
		{name: "report global", argv: rep("annotations", "--global"),
			stdout: "=====> --global annotations information\n       Annotation (global/service) example.com/org: acme\n"},
		{name: "labels report", argv: rep("labels", "app1", "--format", "json"), stdout: `{"worker.pod.team":"a"}` + "\n"},
		{name: "labels report quiet empty", argv: []string{"--quiet", "scheduler-k3s:labels:report", "app2"}},
		{name: "labels report all apps", argv: rep("labels"),
			stdout: "=====> app1 labels information\n       Label (worker/pod) team:       a\n=====> app2 labels information\n"},
		{name: "report bad format", argv: rep("labels", "app1", "--format", "xml"), code: 1, stderr: " !     Invalid format: xml\n"},
		{name: "report bad resource type", argv: rep("labels", "app1", "--resource-type", "bogus"), code: 1,
			stderr: " !     Invalid resource-type specified: bogus, valid resource types include: " + strings.Join(k3s.LabelResources, ", ") + "\n"},
		{name: "report missing app", argv: rep("labels", "nosuch"), code: 20, stderr: " !     App nosuch does not exist\n"},
	})
}

// checkMetaFiles: what TestSchedulerK3sMetaSet set is in Dokku's files.
func checkMetaFiles(t *testing.T, d *Dispatcher) {
	t.Helper()
	// Dokku's files: config/scheduler-k3s/<app|--global>/[labels.]<proc>.<resource>, a JSON object.
	for _, c := range []struct{ app, file, want string }{
		{"app1", "web.deployment", `{"example.com/owner":"team a"}`},
		{"app1", "--global.pod", `{"example.com/tier":"gold"}`},
		{"--global", "--global.service", `{"example.com/org":"acme"}`},
		{"app1", "labels.worker.pod", `{"team":"a"}`},
		{"--global", "labels.--global.deployment", `{"env":"prod"}`},
	} {
		b, err := os.ReadFile(filepath.Join(d.cfg.Store.Paths.LibDir, "config", k3s.Plugin, c.app, c.file))
		if err != nil || string(b) != c.want {
			t.Errorf("%s/%s = %q, %v; want %q", c.app, c.file, b, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Store.Paths.LibDir, "config", k3s.Plugin, "app2", "--global.pod")); err == nil {
		// (after the reports, which must not create files either)
		t.Errorf("removing an absent key wrote a file")
	}
}

// TestSchedulerK3sHelp: the group's help lists its commands in the order
// declared, as Dokku's Go plugins print it.
func TestSchedulerK3sHelp(t *testing.T) {
	d := k3sDispatcher(t)
	for _, argv := range [][]string{{"scheduler-k3s"}, {"scheduler-k3s:help"}, {"k3s:help"}} {
		r := run(d, user, false, "", argv...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%q: %+v", argv, r)
		}
		golden(t, "scheduler-k3s-help", r.stdout)
	}
}
