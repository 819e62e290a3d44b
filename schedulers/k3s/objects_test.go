package k3s

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"dokku-sshd/appjson"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering:\n%s", p, got)
	}
}

// renderAll renders every object of sp as YAML documents, in apply order.
func renderAll(t *testing.T, sp *spec) []byte {
	t.Helper()
	var docs []any
	add := func(o any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.ValueOf(o).IsNil() {
			docs = append(docs, o)
		}
	}
	add(sp.serviceAccount())
	add(sp.configSecret())
	add(sp.pullSecret())
	for _, p := range sp.Procs {
		d, _, err := sp.deployment(p)
		add(d, err)
	}
	for _, p := range sp.Procs {
		add(sp.service(p.Name))
	}
	var b bytes.Buffer
	for i, d := range docs {
		data, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.Bytes()
}

func TestRenderGolden(t *testing.T) {
	ports, primary, err := k3sPortMaps([]string{"http:80:5000", "https:443:5000"})
	if err != nil {
		t.Fatal(err)
	}
	full := &spec{
		App: "shop", Namespace: "apps", Image: "127.0.0.1:5000/dokku/shop@sha256:" + strings.Repeat("a", 64),
		BuilderType: "dockerfile", Config: map[string]string{"DATABASE_URL": "postgres://db", "MODE": "prod"},
		PullSecret: []byte(`{"auths":{}}`), ImagePullSecret: PullSecretName("shop"),
		Ports: ports, PrimaryPort: primary, ShmSize: "64Mi",
		Procs: []procSpec{
			{Name: "web", Replicas: 3, Args: []string{"httpd", "-f", "-p", "5000"}, Version: "1700000000", Checks: []appjson.Healthcheck{
				{Type: "readiness", Path: "/health", Attempts: 3, Timeout: 2, InitialDelay: 1, Wait: 5, HTTPHeaders: []appjson.HTTPHeader{{Name: "Host", Value: "shop.example"}}},
				{Type: "liveness", Listening: true},
				{Type: "startup", Command: []string{"cat", "/tmp/ready"}},
			}},
			{Name: "worker", Replicas: 1, Args: []string{"sh", "-c", "work"}, Version: "1699999999"},
		},
		meta: func(resource, proc string) (map[string]string, map[string]string, error) {
			if resource == "deployment" && proc == "web" {
				return map[string]string{"team": "store", LabelPartOf: "other"}, map[string]string{"note": "custom"}, nil
			}
			return nil, nil, nil
		},
	}
	minimal := &spec{
		App: "tiny", Namespace: "default", Image: "registry.example/tiny@sha256:" + strings.Repeat("b", 64),
		BuilderType: "dockerfile", Config: map[string]string{},
		Procs: []procSpec{{Name: "web", Replicas: 1, Version: "1"}},
	}
	minimal.Ports, minimal.PrimaryPort, _ = k3sPortMaps([]string{"http:80:5000"})
	for name, sp := range map[string]*spec{"full.yaml": full, "minimal.yaml": minimal} {
		t.Run(name, func(t *testing.T) { golden(t, name, renderAll(t, sp)) })
	}
}

func TestK3sPortMaps(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		names   []string
		primary int32
	}{
		{nil, nil, 5000},
		{[]string{"http:80:5000"}, []string{"http-80-5000"}, 5000},
		{[]string{"https:443:3000"}, []string{"http-80-3000", "https-443-3000"}, 3000},
		{[]string{"udp:53:53", "http:8080:8000"}, []string{"http-8080-8000"}, 8000},
		{[]string{"tcp:9000:80"}, []string{"tcp-9000-80"}, 80},
	} {
		ports, primary, err := k3sPortMaps(tc.in)
		if err != nil {
			t.Fatalf("%v: %v", tc.in, err)
		}
		var names []string
		for _, p := range ports {
			names = append(names, p.Name)
		}
		if !reflect.DeepEqual(names, tc.names) || primary != tc.primary {
			t.Errorf("%v: got %v primary %d, want %v primary %d", tc.in, names, primary, tc.names, tc.primary)
		}
	}
	if _, _, err := k3sPortMaps([]string{"http:80"}); err == nil {
		t.Error("a bad port map was accepted")
	}
}

func TestProbesFor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		checks   []appjson.Healthcheck
		want     []string // the probes set: startup, liveness, readiness
		minReady int32
		warnings int
	}{
		{"none", nil, nil, 0, 0},
		{"untyped path is startup", []appjson.Healthcheck{{Path: "/"}}, []string{"startup"}, 0, 0},
		{"uptime", []appjson.Healthcheck{{Type: "startup", Uptime: 7}}, nil, 7, 0},
		{"one of each", []appjson.Healthcheck{{Type: "liveness", Listening: true}, {Type: "readiness", Command: []string{"true"}}},
			[]string{"liveness", "readiness"}, 0, 0},
		{"second readiness warned", []appjson.Healthcheck{{Type: "readiness", Path: "/a"}, {Type: "readiness", Path: "/b"}},
			[]string{"readiness"}, 0, 1},
		{"nothing to probe", []appjson.Healthcheck{{Type: "liveness", Content: "x"}}, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := probesFor(tc.checks, 5000)
			var got []string
			if pr.startup != nil {
				got = append(got, "startup")
			}
			if pr.liveness != nil {
				got = append(got, "liveness")
			}
			if pr.readiness != nil {
				got = append(got, "readiness")
			}
			if !reflect.DeepEqual(got, tc.want) || pr.minReady != tc.minReady || len(pr.warnings) != tc.warnings {
				t.Errorf("got %v minReady %d warnings %v", got, pr.minReady, pr.warnings)
			}
		})
	}
	p := probe(appjson.Healthcheck{Path: "/x", Scheme: "https", Port: 8443}, 5000)
	if p.HTTPGet == nil || *p.HTTPGet.Path != "/x" || string(*p.HTTPGet.Scheme) != "HTTPS" || p.HTTPGet.Port.IntVal != 8443 {
		t.Errorf("path check: %+v", p.HTTPGet)
	}
}

func TestDeploymentStatus(t *testing.T) {
	three := int32(3)
	dep := func(gen, observed int64, st appsv1.DeploymentStatus) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "a-web", Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: &three},
			Status:     func() appsv1.DeploymentStatus { st.ObservedGeneration = observed; return st }(),
		}
	}
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		done bool
		err  bool
		msg  string
	}{
		{"not observed", dep(2, 1, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), false, false, "observed"},
		{"updating", dep(2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1}), false, false, "1 out of 3 new replicas"},
		{"old pending", dep(2, 2, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3}), false, false, "1 old replicas"},
		{"unavailable", dep(2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2}), false, false, "2 of 3 updated"},
		{"done", dep(2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), true, false, "rolled out"},
		{"deadline", dep(2, 2, appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded"}}}), false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, done, err := deploymentStatus(tc.d)
			if done != tc.done || (err != nil) != tc.err || !strings.Contains(msg, tc.msg) {
				t.Errorf("got %q %v %v", msg, done, err)
			}
		})
	}
}

func TestNextVersion(t *testing.T) {
	now := time.Unix(1000, 0)
	withVersion := func(v string) *appsv1.Deployment {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationVersion: v}}}}}
	}
	for _, tc := range []struct {
		prev map[string]*appsv1.Deployment
		want string
	}{
		{nil, "1000"},
		{map[string]*appsv1.Deployment{"web": withVersion("900")}, "1000"},
		{map[string]*appsv1.Deployment{"web": withVersion("1000")}, "1001"},
		{map[string]*appsv1.Deployment{"web": withVersion("1005"), "worker": withVersion("junk")}, "1006"},
	} {
		if got := nextVersion(now, tc.prev); got != tc.want {
			t.Errorf("nextVersion(%v) = %s, want %s", tc.prev, got, tc.want)
		}
	}
}

func TestRunningState(t *testing.T) {
	for _, tc := range []struct {
		expected, available int
		want                string
	}{{0, 0, "false"}, {3, 0, "false"}, {3, 2, "mixed"}, {3, 3, "true"}} {
		if got := runningState(tc.expected, tc.available); got != tc.want {
			t.Errorf("runningState(%d, %d) = %s, want %s", tc.expected, tc.available, got, tc.want)
		}
	}
}
