#!/usr/bin/env bash
# Deploy-to-available of a 3-replica app on the k3s scheduler: a redeploy of
# a new image digest through dokku-sshd (`ssh dokku@HOST git:from-image APP
# IMAGE`, which returns when the rollout is complete) against the same
# objects applied with `kubectl apply --server-side` plus `kubectl rollout
# status`, on the same API server, in the same run, in alternating order.
# See bench/README.md, "k3s deploy".
#
#   bench/k3s-deploy.sh             run it (Docker daemon running, Go, git, ssh)
#
# Environment: KD_ROUNDS (20), KD_REPLICAS (3), KD_SETTLE (2 s before each
# deploy), KD_TIMEOUT (300 s per deploy), KD_BIN (use this dokku-sshd
# binary), KD_OUT (dir for raw results), KD_KEEP (1 keeps the work dir).
# DOKKU_SSHD_K8S_BINS as for the tests (else scripts/k8s/ensure-bins.sh
# builds or finds the binaries).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

ROUNDS=${KD_ROUNDS:-20}
REPLICAS=${KD_REPLICAS:-3}
SETTLE=${KD_SETTLE:-2}
DEPLOY_TIMEOUT=${KD_TIMEOUT:-300}
OUT=${KD_OUT:-}
KEEP=${KD_KEEP:-0}

WORK=""
SERVER_PID=""
CLUSTER_PID=""
WATCH_PID=""
PREFIX=""
REGISTRY=""
BIN=""
DATA=""
PORT=""
KUBECONFIG_FILE=""
KUBECTL=""
TICKS=$(getconf CLK_TCK)

# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

# cleanup: the server, the cluster and registry (removing their environment
# file ends the helper), the images this run tagged, the work directory.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$SERVER_PID"
  stop_pid "$WATCH_PID"
  if [ -n "$WORK" ]; then
    rm -f "$WORK/cluster.env"
  fi
  stop_pid "$CLUSTER_PID" 30
  if [ -n "$PREFIX" ]; then
    docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -F "/$PREFIX:" | xargs -r docker image rm -f >/dev/null 2>&1 || true
    docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -F "dokku/$PREFIX-" | xargs -r docker image rm -f >/dev/null 2>&1 || true
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then
      echo "k3s-deploy.sh: work dir kept: $WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

machine() {
  local cpu mem
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
  mem=$(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
  printf '%s CPUs (%s), %s RAM, Linux %s; load %s' "$(nproc)" "${cpu:-?}" "$mem" "$(uname -r)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# local_cmd ARGS: a command as the host's administrator (not measured).
local_cmd() {
  "$BIN" --data-dir "$DATA" "$@" >>"$WORK/setup.log" 2>&1 || die "dokku-sshd $*: failed (see $WORK/setup.log)"
}

# ssh_cmd ARGS: a command over the real OpenSSH client, as a user runs it.
ssh_cmd() {
  ssh -F /dev/null -o UserKnownHostsFile="$WORK/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o LogLevel=ERROR -o ControlMaster=no -i "$WORK/key" -p "$PORT" dokku@127.0.0.1 -- "$@"
}

kc() {
  HOME="$WORK/kubectl-home" "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" -n "$PREFIX" "$@"
}

# start_cluster: the control plane and the registry of the test harness,
# held by bench/k3scluster's test until cluster.env is removed.
start_cluster() {
  local i
  log "control plane and registry (internal/k8stest)"
  (cd "$SRC_ROOT" && K3SB_ENV="$WORK/cluster.env" exec go test -tags k3sbench -count=1 -timeout 0 \
    -run '^TestServeCluster$' -v ./bench/k3scluster) >"$WORK/cluster.log" 2>&1 &
  CLUSTER_PID=$!
  for ((i = 0; i < 3000; i++)); do
    [ -f "$WORK/cluster.env" ] && break
    kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$WORK/cluster.log" >&2; die "the cluster helper exited"; }
    sleep 0.2
  done
  [ -f "$WORK/cluster.env" ] || die "the cluster did not start within 10 minutes"
  KUBECONFIG_FILE=$(sed -n 's/^KUBECONFIG=//p' "$WORK/cluster.env")
  REGISTRY=$(sed -n 's/^REGISTRY=//p' "$WORK/cluster.env")
  KUBECTL=$(sed -n 's/^KUBECTL=//p' "$WORK/cluster.env")
  [ -x "$KUBECTL" ] || die "no kubectl at $KUBECTL (scripts/k8s/ensure-bins.sh builds it)"
}

start_server() {
  log "dokku-sshd"
  DATA="$WORK/data"
  mkdir -p "$DATA"
  PORT=$(free_port "")
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_listen "$SERVER_PID" "$PORT" "$WORK/server.log"
  ssh-keygen -q -t ed25519 -N '' -C bench -f "$WORK/key"
  local_cmd ssh-keys:add bench "$WORK/key.pub"
  local_cmd registry:set --global server "$REGISTRY"
  local_cmd scheduler-k3s:set --global kubeconfig-path "$KUBECONFIG_FILE"
  local_cmd scheduler-k3s:set --global namespace "$PREFIX"
  local_cmd scheduler-k3s:set --global deploy-timeout "${DEPLOY_TIMEOUT}s"
}

# build_images: ROUNDS+1 images in the registry, each its own digest
# (FROM scratch: kwok runs no container, the cluster only needs the name).
build_images() {
  local i ctx="$WORK/image"
  log "$((ROUNDS + 1)) images in the registry"
  mkdir -p "$ctx"
  printf 'FROM scratch\nCOPY round /round\nCMD ["/round"]\n' >"$ctx/Dockerfile"
  for ((i = 0; i <= ROUNDS; i++)); do
    printf '%s %d\n' "$PREFIX" "$i" >"$ctx/round"
    DOCKER_BUILDKIT=0 docker build -q -t "$REGISTRY/$PREFIX:$i" "$ctx" >/dev/null 2>"$WORK/build.log" || { cat "$WORK/build.log" >&2; die "docker build failed"; }
    docker push -q "$REGISTRY/$PREFIX:$i" >/dev/null
    docker image inspect --format '{{index .RepoDigests 0}}' "$REGISTRY/$PREFIX:$i" >"$WORK/digest.$i"
  done
}

# first_deploys: both apps deployed once by the server with REPLICAS web
# pods; the kubectl app's objects are then dumped as the server made them.
first_deploys() {
  local app
  log "first deploys"
  for app in "$PREFIX-srv" "$PREFIX-kctl"; do
    {
      ssh_cmd apps:create "$app" &&
        ssh_cmd scheduler:set "$app" selected k3s &&
        ssh_cmd ps:scale "$app" "web=$REPLICAS" &&
        ssh_cmd git:from-image "$app" "$REGISTRY/$PREFIX:0"
    } >>"$WORK/setup.log" 2>&1 || die "first deploy of $app failed (see $WORK/setup.log)"
  done
  kc get serviceaccount,secret,service,deployment -l "app.kubernetes.io/part-of=$PREFIX-kctl" -o json >"$WORK/kctl-objects.json"
  # Warm kubectl's discovery cache, as a user's kubectl has it.
  kc get deployment "$PREFIX-kctl-web" >/dev/null
}

# manifest N: the dumped objects as an apply would send them, with image N.
manifest() {
  python3 - "$WORK/kctl-objects.json" "$(cat "$WORK/digest.$1")" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
for o in doc["items"]:
    o.pop("status", None)
    md = o["metadata"]
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        md.pop(k, None)
    md.get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
    if o["kind"] == "Service":
        for k in ("clusterIP", "clusterIPs"):
            o["spec"].pop(k, None)
    if o["kind"] == "Deployment":
        for c in o["spec"]["template"]["spec"]["containers"]:
            c["image"] = sys.argv[2]
json.dump(doc, sys.stdout)
EOF
}

# server_cpu: the server's CPU time so far, with its reaped children (git),
# in clock ticks.
server_cpu() {
  awk '{print $14 + $15 + $16 + $17}' "/proc/$SERVER_PID/stat"
}

# children_cpu_ms: the CPU time of the reaped children in what the caller's
# shell wrote with `times >"$WORK/times"` (run in that shell: a pipeline or
# $(...) would be a new process, with no children).
children_cpu_ms() {
  awk 'NR == 2 {
    split($1, u, /[ms]/); split($2, s, /[ms]/)
    printf "%.0f\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }' "$WORK/times"
}

# time_srv N: ours, one redeploy of image N; prints its start and end
# (seconds since the epoch), the server's CPU time and the ssh client's (ms).
time_srv() {
  local t0 t1 c0 c1
  sleep "$SETTLE"
  c0=$(server_cpu)
  t0=$EPOCHREALTIME
  ssh_cmd git:from-image "$PREFIX-srv" "$REGISTRY/$PREFIX:$1" >>"$WORK/srv.log" 2>&1 || die "server deploy $1 failed (see $WORK/srv.log)"
  t1=$EPOCHREALTIME
  c1=$(server_cpu)
  times >"$WORK/times"
  echo "$t0,$t1,$(((c1 - c0) * 1000 / TICKS)),$(children_cpu_ms)"
}

# time_kctl N: theirs, the same objects with image N by kubectl; prints
# its start and end, 0 (no server) and kubectl's CPU time (ms).
time_kctl() {
  local t0 t1
  sleep "$SETTLE"
  t0=$EPOCHREALTIME
  {
    kc apply --server-side --force-conflicts --field-manager=dokku-sshd -f "$WORK/kctl.$1.json" &&
      kc rollout status "deployment/$PREFIX-kctl-web" --timeout="${DEPLOY_TIMEOUT}s"
  } >>"$WORK/kctl.log" 2>&1 || die "kubectl deploy $1 failed (see $WORK/kctl.log)"
  t1=$EPOCHREALTIME
  times >"$WORK/times"
  echo "$t0,$t1,0,$(children_cpu_ms)"
}

# watch_deployments: every change of the Deployments, stamped with the time
# it reached this host, into deployments.watch: it splits each deploy into
# client and cluster time. The python parent is the one process to stop.
watch_deployments() {
  HOME="$WORK/kubectl-home" python3 -u -c '
import signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
def stop(*_):
    p.kill()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
for line in p.stdout:
    sys.stdout.write("%.6f %s" % (time.time(), line))
' "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" -n "$PREFIX" get deployment -w --output-watch-events \
    -o jsonpath='{.object.metadata.name} {.object.metadata.generation} {.object.status.observedGeneration} {.object.status.replicas} {.object.status.updatedReplicas} {.object.status.availableReplicas}{"\n"}' \
    >"$WORK/deployments.watch" 2>"$WORK/watch.err" &
  WATCH_PID=$!
  sleep 1
}

# check APP N: the Deployment runs image N on REPLICAS available pods.
check() {
  local got want
  want="$REPLICAS $REPLICAS $(cat "$WORK/digest.$2")"
  got=$(kc get deployment "$1-web" -o jsonpath='{.status.availableReplicas} {.status.updatedReplicas} {.spec.template.spec.containers[0].image}')
  [ "$got" = "$want" ] || die "$1 after deploy $2: '$got', want '$want'"
}

# report: the table. The watch splits each deploy into the client's time
# before the cluster sees the Deployment's new generation (ours: ssh, the
# pipeline, the apply; kubectl: its start, config, discovery, the apply),
# the cluster's (until the Deployment is rolled out: the same work on both
# sides) and the client's after (until the command exits).
report() {
  python3 - "$WORK/results.csv" "$WORK/deployments.watch" "$REPLICAS" "$PREFIX" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
replicas, prefix = int(sys.argv[3]), sys.argv[4]
events = {"srv": [], "kctl": []}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) != 7 or not f[1].startswith(prefix + "-"):
        continue
    side = f[1][len(prefix) + 1:-len("-web")]
    if side in events:
        events[side].append((float(f[0]), *[int(x) for x in f[2:]]))

def split(side, t0, t1):
    """client before, cluster, client after (ms); None when not seen."""
    ev = events[side]
    prev = [e for e in ev if e[0] < t0]
    gen0 = prev[-1][1] if prev else 0
    seen = next((e for e in ev if e[0] >= t0 and e[1] > gen0), None)
    if seen is None:
        return None
    done = next((e for e in ev if e[0] >= seen[0] and e[2] == e[1] and
                 e[3] == e[4] == e[5] == replicas), None)
    if done is None or done[0] > t1 + 0.05:
        return None
    # The watch may hear of the end a moment after the client did.
    done_at = min(done[0], t1)
    return ((seen[0] - t0) * 1000, (done_at - seen[0]) * 1000, (t1 - done_at) * 1000)

tot = {"srv": [], "kctl": []}
parts = {"srv": [], "kctl": []}
for r in rows:
    for side in ("srv", "kctl"):
        t0, t1 = float(r[side + "_t0"]), float(r[side + "_t1"])
        tot[side].append((t1 - t0) * 1000)
        parts[side].append(split(side, t0, t1))

def fig(v, fmt="%.0f"):
    v = [x for x in v if x is not None]
    if not v:
        return "-"
    return (fmt + " [" + fmt + " to " + fmt + "]") % (statistics.median(v), min(v), max(v))

def part(side, i):
    return fig([p[i] if p else None for p in parts[side]])

ratio = [s / k for s, k in zip(tot["srv"], tot["kctl"])]
client = [(s[0] + s[2]) - (k[0] + k[2]) for s, k in zip(parts["srv"], parts["kctl"]) if s and k]
print()
print("| ms, median [min to max], %d rounds | dokku-sshd: ssh git:from-image | kubectl apply --server-side + rollout status |" % len(rows))
print("|---|---:|---:|")
print("| the whole command: deploy to %d available | %s | %s |" % (replicas, fig(tot["srv"]), fig(tot["kctl"])))
print("| client, until the cluster sees the new generation | %s | %s |" % (part("srv", 0), part("kctl", 0)))
print("| cluster, from the new generation to rolled out | %s | %s |" % (part("srv", 1), part("kctl", 1)))
print("| client, from rolled out to its exit | %s | %s |" % (part("srv", 2), part("kctl", 2)))
cpu = lambda side, what: fig([float(r[side + "_" + what + "_cpu_ms"]) for r in rows])
print("| CPU time: dokku-sshd server, with its git children | %s | - |" % cpu("srv", "server"))
print("| CPU time: the client (ssh; kubectl's two runs) | %s | %s |" % (cpu("srv", "client"), cpu("kctl", "client")))
print()
print("| per round | median [min to max] |")
print("|---|---:|")
print("| whole command, dokku-sshd / kubectl | %s |" % fig(ratio, "%.2f"))
print("| client time (before + after), dokku-sshd minus kubectl, ms | %s |" % fig(client))
print("| rounds the watch split on both sides | %d of %d |" % (len(client), len(rows)))
m = statistics.median(ratio)
print()
print("target: within 1.1x of kubectl: %s (median per-round ratio of the whole command: %.2f)" % ("PASS" if m <= 1.1 else "MISS", m))
PY
}

main() {
  local i s k first
  case ${1:-} in
    -h | --help)
      usage 15
      return 0
      ;;
  esac
  for tool in go git ssh ssh-keygen docker python3; do
    command -v "$tool" >/dev/null || die "needs $tool on PATH"
  done
  docker info >/dev/null 2>&1 || die "the Docker daemon does not answer"
  trap cleanup EXIT INT TERM
  WORK=$(mktemp -d /tmp/k3s-deploy-bench.XXXXXX)
  PREFIX="kdb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  mkdir -p "$WORK/kubectl-home"
  if [ -z "${DOKKU_SSHD_K8S_BINS:-}" ]; then
    log "k8s binaries (scripts/k8s/ensure-bins.sh)"
    DOKKU_SSHD_K8S_BINS=$("$SRC_ROOT/scripts/k8s/ensure-bins.sh")
  fi
  export DOKKU_SSHD_K8S_BINS
  if [ -n "${KD_BIN:-}" ]; then
    BIN=$KD_BIN
  else
    log "building dokku-sshd"
    (cd "$SRC_ROOT" && go build -o "$WORK/dokku-sshd" ./cmd/dokku-sshd)
    BIN="$WORK/dokku-sshd"
  fi
  start_cluster
  start_server
  build_images
  first_deploys
  for ((i = 1; i <= ROUNDS; i++)); do
    manifest "$i" >"$WORK/kctl.$i.json"
  done
  watch_deployments

  log "$ROUNDS rounds, alternating which goes first"
  echo "round,first,srv_t0,srv_t1,srv_server_cpu_ms,srv_client_cpu_ms,kctl_t0,kctl_t1,kctl_server_cpu_ms,kctl_client_cpu_ms" >"$WORK/results.csv"
  for ((i = 1; i <= ROUNDS; i++)); do
    if ((i % 2)); then
      first=srv
      s=$(time_srv "$i")
      k=$(time_kctl "$i")
    else
      first=kctl
      k=$(time_kctl "$i")
      s=$(time_srv "$i")
    fi
    check "$PREFIX-srv" "$i"
    check "$PREFIX-kctl" "$i"
    echo "$i,$first,$s,$k" >>"$WORK/results.csv"
    printf '  round %d of %d\n' "$i" "$ROUNDS" >&2
  done
  echo "machine: $(machine)"
  echo "k3s-deploy: $REPLICAS replicas, $ROUNDS rounds, $(git -C "$SRC_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  report
  if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    cp "$WORK"/results.csv "$WORK"/deployments.watch "$WORK"/srv.log "$WORK"/kctl.log "$WORK"/server.log "$WORK"/setup.log "$OUT"/ 2>/dev/null || true
  fi
}

main "$@"
