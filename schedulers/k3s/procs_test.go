package k3s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// Unit tests of the pure parts of logs, run and enter; the streams
// themselves are tested against a real cluster in procs_cluster_test.go.

func TestParseDyno(t *testing.T) {
	tests := []struct {
		in   string
		want dyno
		err  string
	}{
		{"", dyno{}, ""},
		{"web", dyno{proc: "web"}, ""},
		{"web.2", dyno{proc: "web", index: 2}, ""},
		{"worker.10", dyno{proc: "worker", index: 10}, ""},
		{"web.0", dyno{}, "Process index 0 out of range for app app"},
		{"web.x", dyno{}, "Invalid process web.x for app app: expected PROCESS or PROCESS.N"},
		{".2", dyno{}, "Invalid process .2 for app app: expected PROCESS or PROCESS.N"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDyno("app", tt.in)
			if msg := errText(err); msg != tt.err {
				t.Fatalf("error %q, want %q", msg, tt.err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	if !output.IsUserError(err) {
		return "not a user error: " + err.Error()
	}
	return err.Error()
}

func TestDynoPick(t *testing.T) {
	pods := []corev1.Pod{named("a"), named("b"), named("c")}
	tests := []struct {
		index int
		want  []string
		err   string
	}{
		{0, []string{"a", "b", "c"}, ""},
		{1, []string{"a"}, ""},
		{3, []string{"c"}, ""},
		{4, nil, "Process index 4 out of range for app app"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.index), func(t *testing.T) {
			got, err := dyno{proc: "web", index: tt.index}.pick("app", pods)
			if msg := errText(err); msg != tt.err {
				t.Fatalf("error %q, want %q", msg, tt.err)
			}
			var names []string
			for _, p := range got {
				names = append(names, p.Name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("got %v, want %v", names, tt.want)
			}
		})
	}
}

func named(name string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func TestMainContainer(t *testing.T) {
	two := corev1.PodSpec{Containers: []corev1.Container{{Name: "sidecar"}, {Name: "app-web"}}}
	tests := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"annotation", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationDefaultCtr: "app-web"}}, Spec: two}, "app-web"},
		{"first", corev1.Pod{Spec: two}, "sidecar"},
		{"none", corev1.Pod{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mainContainer(&tt.pod); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	stream := errors.New("error dialing backend: EOF")
	tests := []struct {
		name    string
		err     error
		status  int
		wantErr error
	}{
		{"success", nil, 0, nil},
		{"non-zero exit", utilexec.CodeExitError{Err: errors.New("command terminated with exit code 3"), Code: 3}, 3, nil},
		{"wrapped exit", fmt.Errorf("exec: %w", utilexec.CodeExitError{Err: errors.New("x"), Code: 127}), 127, nil},
		{"stream error", stream, 1, stream},
		// kwok's local exec: an internal error carrying the text, not the code
		{"internal error", errors.New("Internal error occurred: exit status 3"), 1, errors.New("Internal error occurred: exit status 3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, err := exitStatus(tt.err)
			if status != tt.status || fmt.Sprint(err) != fmt.Sprint(tt.wantErr) {
				t.Errorf("got (%d, %v), want (%d, %v)", status, err, tt.status, tt.wantErr)
			}
		})
	}
}

func TestAppendLogLine(t *testing.T) {
	tests := []struct {
		prefix, chunk, want string
	}{
		{"", "hello\n", "hello\n"},
		{"", "partial", "partial\n"},
		{"\x1b[31mapp[p]: \x1b[0m", "line\n", "\x1b[31mapp[p]: \x1b[0mline\n"},
	}
	for _, tt := range tests {
		if got := string(appendLogLine(nil, tt.prefix, []byte(tt.chunk))); got != tt.want {
			t.Errorf("appendLogLine(%q, %q) = %q, want %q", tt.prefix, tt.chunk, got, tt.want)
		}
	}
}

func TestPodTypes(t *testing.T) {
	pod := func(proc string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelName: proc}}}
	}
	got := podTypes([]corev1.Pod{pod("worker"), pod("web"), pod("worker")})
	if want := []string{"web", "worker"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRunCommand(t *testing.T) {
	procfile := map[string]string{"web": "./server --port $PORT", "worker": "./work", "release": "./migrate --db $DB --port $PORT"}
	src := &runSource{args: []string{"./server", "--port", "5000"}}
	tests := []struct {
		name    string
		o       schedulers.RunOptions
		src     *runSource
		want    []string
		message string
	}{
		{"shell", schedulers.RunOptions{}, &runSource{}, []string{"/bin/bash"}, ""},
		{"app shell", schedulers.RunOptions{Shell: "/bin/sh"}, &runSource{}, []string{"/bin/sh"}, ""},
		{"words", schedulers.RunOptions{Command: []string{"echo", "hi"}, Process: procfile}, &runSource{}, []string{"echo", "hi"}, ""},
		{"procfile key", schedulers.RunOptions{Command: []string{"web", "--debug"}, Process: procfile}, src,
			[]string{"./server", "--port", "5000", "--debug"}, "-----> Found 'web' in Procfile, running that command\n"},
		{"quiet", schedulers.RunOptions{Command: []string{"web"}, Process: procfile, Quiet: true}, src,
			[]string{"./server", "--port", "5000"}, ""},
		{"key not deployed", schedulers.RunOptions{Command: []string{"release", "-v"}, Process: procfile, Config: map[string]string{"DB": "pg"}},
			&runSource{}, []string{"./migrate", "--db", "pg", "--port", "5000", "-v"}, "-----> Found 'release' in Procfile, running that command\n"},
		{"no procfile", schedulers.RunOptions{Command: []string{"web"}}, src, []string{"web"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			o := tt.o
			o.Stdout = &out
			got, err := runCommand(&o, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("command %q, want %q", got, tt.want)
			}
			if out.String() != tt.message {
				t.Errorf("output %q, want %q", out.String(), tt.message)
			}
		})
	}
}

func TestRunJob(t *testing.T) {
	o := &schedulers.RunOptions{App: "shop", Env: []string{"A=1", "B=x=y"}, TTY: true}
	src := &runSource{
		image: "registry.test/shop@sha256:abc", builder: "herokuish", version: "1700000000",
		pullSecrets: []corev1.LocalObjectReference{{Name: "pull-secret-shop"}}, workingDir: "/app",
	}
	job := runJob(o, src, []string{"rake", "db:migrate"}, "0123456789", 60)

	if job.Name != "shop-run-0123456789" {
		t.Errorf("name %q", job.Name)
	}
	wantLabels := map[string]string{LabelInstance: "shop-run", LabelName: "run", LabelPartOf: "shop"}
	if !reflect.DeepEqual(job.Labels, wantLabels) || !reflect.DeepEqual(job.Spec.Template.Labels, wantLabels) {
		t.Errorf("labels %v / %v, want %v", job.Labels, job.Spec.Template.Labels, wantLabels)
	}
	wantAnn := map[string]string{
		Managed: "true", AnnotationVersion: "1700000000", AnnotationBuilderType: "herokuish",
		AnnotationJobSuffix: "0123456789", AnnotationDefaultCtr: "shop-run",
	}
	if !reflect.DeepEqual(job.Annotations, wantAnn) || !reflect.DeepEqual(job.Spec.Template.Annotations, wantAnn) {
		t.Errorf("annotations %v / %v, want %v", job.Annotations, job.Spec.Template.Annotations, wantAnn)
	}
	spec := job.Spec
	if *spec.BackoffLimit != 0 || *spec.ActiveDeadlineSeconds != 60 || *spec.TTLSecondsAfterFinished != runTTLAfterFinished {
		t.Errorf("backoffLimit %d, activeDeadlineSeconds %d, ttlSecondsAfterFinished %d",
			*spec.BackoffLimit, *spec.ActiveDeadlineSeconds, *spec.TTLSecondsAfterFinished)
	}
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || pod.ServiceAccountName != "shop" ||
		!reflect.DeepEqual(pod.ImagePullSecrets, src.pullSecrets) || len(pod.Containers) != 1 {
		t.Fatalf("pod spec %+v", pod)
	}
	c := pod.Containers[0]
	wantEnv := []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "x=y"}}
	switch {
	case c.Name != "shop-run" || c.Image != src.image || c.WorkingDir != "/app":
		t.Errorf("container %s image %s dir %s", c.Name, c.Image, c.WorkingDir)
	case !reflect.DeepEqual(c.Command, []string{"/exec"}) || !reflect.DeepEqual(c.Args, []string{"rake", "db:migrate"}):
		t.Errorf("command %q args %q", c.Command, c.Args)
	case !reflect.DeepEqual(c.Env, wantEnv):
		t.Errorf("env %v, want %v", c.Env, wantEnv)
	case len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "config-shop" || !*c.EnvFrom[0].SecretRef.Optional:
		t.Errorf("envFrom %+v", c.EnvFrom)
	case !c.Stdin || !c.StdinOnce || !c.TTY:
		t.Errorf("stdin %v stdinOnce %v tty %v", c.Stdin, c.StdinOnce, c.TTY)
	}
}

func TestRunJobStdin(t *testing.T) {
	tests := []struct {
		name           string
		detach, tty    bool
		stdin, wantTTY bool
	}{
		{"attached", false, false, true, false},
		{"attached tty", false, true, true, true},
		{"detached", true, false, false, false},
		{"detached forced tty", true, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &schedulers.RunOptions{App: "a", Detach: tt.detach, TTY: tt.tty}
			c := runJob(o, &runSource{builder: "dockerfile"}, []string{"true"}, "aaaaaaaaaa", 5).Spec.Template.Spec.Containers[0]
			if c.Stdin != tt.stdin || c.StdinOnce != tt.stdin || c.TTY != tt.wantTTY || c.Command != nil {
				t.Errorf("stdin %v stdinOnce %v tty %v command %q", c.Stdin, c.StdinOnce, c.TTY, c.Command)
			}
		})
	}
}

func TestNewSuffix(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := newSuffix()
		if len(s) != 10 || strings.Trim(s, "0123456789abcdef") != "" {
			t.Fatalf("suffix %q is not 10 lowercase hex digits", s)
		}
		seen[s] = true
	}
	if len(seen) < 99 {
		t.Errorf("only %d different suffixes in 100", len(seen))
	}
}

func TestEntrypoint(t *testing.T) {
	for builder, want := range map[string][]string{
		"herokuish": {"/exec"}, "pack": {"launcher"}, "dockerfile": nil, "": nil,
	} {
		if got := entrypoint(builder); !reflect.DeepEqual(got, want) {
			t.Errorf("entrypoint(%q) = %q, want %q", builder, got, want)
		}
	}
}

func TestStdioFor(t *testing.T) {
	var in bytes.Buffer
	var out, errOut bytes.Buffer
	raw := &bytes.Buffer{}
	term := &schedulers.Terminal{Raw: raw, Width: 80, Height: 24}
	tests := []struct {
		name        string
		s           schedulers.Stdio
		tty         bool
		wantIn      any
		wantOut     any
		wantErr     bool
		wantTTY     bool
		wantTermSet bool
	}{
		{"no tty", schedulers.Stdio{Stdin: &in, Stdout: &out, Stderr: &errOut}, false, &in, &out, true, false, false},
		{"terminal", schedulers.Stdio{Stdin: &in, Stdout: &out, Stderr: &errOut, Terminal: term}, true, raw, raw, false, true, true},
		{"forced tty, no terminal", schedulers.Stdio{Stdin: &in, Stdout: &out, Stderr: &errOut}, true, &in, &out, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := stdioFor(tt.s, tt.tty)
			if r.stdin != tt.wantIn || r.stdout != tt.wantOut || (r.stderr != nil) != tt.wantErr ||
				r.tty != tt.wantTTY || (r.term != nil) != tt.wantTermSet {
				t.Errorf("got %+v", r)
			}
		})
	}
}

func TestSizeQueue(t *testing.T) {
	resize := make(chan schedulers.WindowSize, 2)
	q := newSizeQueue(context.Background(), &schedulers.Terminal{Width: 80, Height: 24, Resize: resize})
	resize <- schedulers.WindowSize{Width: 0, Height: 0} // not a size: skipped
	resize <- schedulers.WindowSize{Width: 120, Height: 40}
	for _, want := range []remotecommand.TerminalSize{{Width: 80, Height: 24}, {Width: 120, Height: 40}} {
		if got := q.Next(); got == nil || *got != want {
			t.Fatalf("Next() = %v, want %v", got, want)
		}
	}
	q.stop()
	if got := q.Next(); got != nil {
		t.Errorf("Next() after stop = %v, want nil", got)
	}
}

func TestRunMetaApply(t *testing.T) {
	job := runJob(&schedulers.RunOptions{App: "shop"}, &runSource{version: "1"}, []string{"true"}, "0123456789", 60)
	m := &runMeta{
		jobLabels:      map[string]string{"team": "a", LabelPartOf: "other"},
		jobAnnotations: map[string]string{"note": "x", AnnotationJobSuffix: "no"},
		podLabels:      map[string]string{"tier": "batch"},
		podAnnotations: map[string]string{"sidecar.example/inject": "false", AnnotationDefaultCtr: "no"},
	}
	m.apply(job)
	tpl := job.Spec.Template
	switch {
	case job.Labels["team"] != "a" || job.Labels[LabelPartOf] != "shop" || job.Labels["tier"] != "":
		t.Errorf("job labels %v", job.Labels)
	case job.Annotations["note"] != "x" || job.Annotations[AnnotationJobSuffix] != "0123456789":
		t.Errorf("job annotations %v", job.Annotations)
	case tpl.Labels["tier"] != "batch" || tpl.Labels[LabelName] != "run" || tpl.Labels["team"] != "":
		t.Errorf("pod labels %v", tpl.Labels)
	case tpl.Annotations["sidecar.example/inject"] != "false" || tpl.Annotations[AnnotationDefaultCtr] != "shop-run":
		t.Errorf("pod annotations %v", tpl.Annotations)
	}
	(&runMeta{}).apply(job) // nothing set: unchanged
	if job.Labels[LabelPartOf] != "shop" || len(tpl.Annotations) == 0 {
		t.Errorf("labels %v after an empty apply", job.Labels)
	}
}

func TestRunCommandBadProcfile(t *testing.T) {
	o := &schedulers.RunOptions{Command: []string{"broken"}, Process: map[string]string{"broken": "echo 'x"}, Stdio: schedulers.Stdio{Stdout: io.Discard}}
	_, err := runCommand(o, &runSource{})
	if want := "Invalid Procfile command for broken: unterminated single quote"; errText(err) != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
