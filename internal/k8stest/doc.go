// Package k8stest gives tests a real Kubernetes control plane and a real
// image registry on 127.0.0.1. It is for tests only; no product code
// imports it.
//
// The programs come from scripts/k8s/ensure-bins.sh, which builds etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok
// and the distribution registry from the Go module proxy into a cache
// directory keyed by their versions and the Go version. DOKKU_SSHD_K8S_BINS
// names another directory. When a program is missing, the test skips
// naming it and the command that builds it (and fails under CI=true).
//
// A package's tests share one cluster, started by the first test that
// calls Shared and stopped after the last one by Main:
//
//	func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }
//
// Start gives a test a private cluster instead, for tests that stop the
// API server (StopAPIServer, StartAPIServer) or otherwise break it.
// Registry starts a registry for one test.
//
// Every component runs in a process group of its own, killed at stop, and
// with a parent-death signal, so that nothing outlives a test binary that
// panics or times out. Ports are chosen free on 127.0.0.1 and the start is
// retried when one was taken meanwhile. DOKKU_SSHD_K8S_KEEP=1 keeps the
// state directory (component logs in Dir/logs) after the stop.
//
// # The fake node
//
// kwok runs one node, NodeName, and moves pods through their states by the
// stages in stages.yaml (no container ever runs):
//   - pods go Running and Ready;
//   - a pod whose image contains UnpullableImage stays Pending: its
//     containers wait with ErrImagePull, then ImagePullBackOff, with a
//     Warning event Failed `Failed to pull image "IMAGE": ...` (as a
//     kubelet words it) and a BackOff event;
//   - a pod with a readinessProbe whose httpGet path is FailingProbePath
//     goes Running but never Ready, with a Warning event Unhealthy
//     "Readiness probe failed: ...";
//   - a pod owned by a Job, once Running, terminates after the duration in
//     its first container's env ExitDelayEnv (KWOK_EXIT_DELAY, a Go
//     duration; default 1s), or at once when ExitPod annotates it. Each
//     container's exit code is its env ExitCodeEnv (KWOK_EXIT_CODE,
//     default 0); the pod ends Succeeded when all are 0, else Failed. kwok
//     stages can delay a change by a duration read from the object, which
//     is how the delay works; the annotation starts the same stage again
//     with no delay;
//   - a pod with a deletionTimestamp is deleted.
//
// Env values only count when they are literal values in the pod spec
// (env, not envFrom).
//
// # Logs, attach and exec
//
// The API server reaches kwok as the node's kubelet, so pods/log,
// pods/attach and pods/exec go through the real API server and client-go's
// streaming code. Every container of every pod has the same log, appended
// to with LogLines; a follower sees new lines as they come. pods/attach
// streams what AttachLines appends after the attach began (kwok starts an
// attach at the end of its file): a test waits for the attach with
// WaitAttach first. pods/exec runs the command on this host, in ExecDir;
// its output and stdin work, the end of stdin does not reach it, and a
// non-zero exit comes back as an error without the code.
package k8stest
