#!/usr/bin/env bash
# Push-to-running benchmark of a small Dockerfile app: `git push` to
# dokku-sshd (dockerfile builder, docker-local scheduler) against the same
# Docker Engine API operations called directly (bench/pushdocker). See
# bench/README-push-docker.md.
#
#   bench/push-docker.sh            run it (as root, Docker daemon running)
#
# Environment: PD_ROUNDS (3), PD_REDEPLOYS (4), PD_REGIMES (skip,min),
# PD_POLL_MS (5), PD_SETTLE_MS (500), PD_TIMEOUT (300 s per push),
# PD_BIN (use this dokku-sshd binary), PD_OUT (dir for raw results),
# PD_KEEP (1 keeps the work dir; containers and images are removed anyway).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

ROUNDS=${PD_ROUNDS:-3}
REDEPLOYS=${PD_REDEPLOYS:-4}
REGIMES=${PD_REGIMES:-skip,min}
POLL_MS=${PD_POLL_MS:-5}
SETTLE_MS=${PD_SETTLE_MS:-500}
PUSH_TIMEOUT=${PD_TIMEOUT:-300}
OUT=${PD_OUT:-}
KEEP=${PD_KEEP:-0}

WORK=""
SERVER_PID=""
BENCH_PID=""
PREFIX=""
PD_TOOL=""
DATA=""

# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

# cleanup: the server, then every container and image of the apps this run
# named (PREFIX*), then the work directory. Runs on exit, ^C and TERM.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$BENCH_PID"
  stop_pid "$SERVER_PID"
  if [ -n "$PREFIX" ] && [ -n "$PD_TOOL" ] && [ -x "$PD_TOOL" ]; then
    if ! timeout 180 "$PD_TOOL" cleanup -prefix "$PREFIX"; then
      echo "push-docker.sh: cleanup of containers/images named $PREFIX* failed" >&2
      [ "$rc" -ne 0 ] || rc=1
    fi
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then
      echo "push-docker.sh: work dir kept: $WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

# set_property PLUGIN APP|--global KEY VALUE: a property file, as the
# plugins' :set commands write it.
set_property() {
  local dir="$DATA/lib/config/$1/$2"
  mkdir -p "$dir"
  printf '%s' "$4" >"$dir/$3"
}

machine() {
  local cpu mem
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
  mem=$(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
  printf '%s CPUs (%s), %s RAM, Linux %s; load %s' "$(nproc)" "${cpu:-?}" "$mem" "$(uname -r)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

main() {
  case ${1:-} in
    -h | --help)
      usage 12
      return 0
      ;;
    "") ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  for v in ROUNDS REDEPLOYS POLL_MS SETTLE_MS PUSH_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "PD_$v must be a non-negative integer"
  done
  if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then die "PD_ROUNDS must be 1..20"; fi
  [ "$REDEPLOYS" -le 50 ] || die "PD_REDEPLOYS must be 0..50"
  [ "$POLL_MS" -ge 1 ] || die "PD_POLL_MS must be at least 1"
  command -v git >/dev/null || die "git is needed"
  command -v go >/dev/null || die "go is needed"
  command -v ssh >/dev/null || die "ssh (openssh-client) is needed"
  command -v ssh-keygen >/dev/null || die "ssh-keygen (openssh-client) is needed"
  [ -r /proc/self/stat ] || die "/proc is needed (Linux)"

  # The base image is built from the host's static BusyBox, as the tests do.
  if [ ! -x /bin/busybox ]; then
    [ "$(id -u)" -eq 0 ] || die "/bin/busybox is missing: apt-get install -y busybox-static (as root)"
    log "installing busybox-static (base image of the app)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
  fi

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/push-docker-bench.XXXXXX")
  chmod 0755 "$WORK"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Every app of this run is named PREFIX-...; cleanup removes PREFIX*.
  PREFIX="pdb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  PD_TOOL=$WORK/pushdocker
  local src_desc
  src_desc=$(git -C "$SRC_ROOT" describe --always --dirty 2>/dev/null || echo '?')
  log "building pushdocker"
  (cd "$SRC_ROOT" && go build -o "$PD_TOOL" ./bench/pushdocker)
  if [ -n "${PD_BIN:-}" ]; then
    cp "$PD_BIN" "$WORK/dokku-sshd"
    src_desc=$PD_BIN
  else
    log "building dokku-sshd ($src_desc)"
    (cd "$SRC_ROOT" && go build -o "$WORK/dokku-sshd" ./cmd/dokku-sshd)
  fi
  "$PD_TOOL" base || die "the Docker daemon is not reachable, or the base image could not be imported"

  # Client git and ssh: no user or system configuration.
  export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 LC_ALL=C
  ssh-keygen -q -t ed25519 -N '' -C push-docker-bench -f "$WORK/key"
  local ssh_args
  ssh_args=(ssh -F /dev/null -i "$WORK/key" -o IdentitiesOnly=yes -o "UserKnownHostsFile=$WORK/known_hosts"
    -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR)
  GIT_SSH_COMMAND=$(printf '%q ' "${ssh_args[@]}")
  export GIT_SSH_COMMAND

  # The server: temp data dir, the key, checks at their quickest.
  DATA=$WORK/data
  "$WORK/dokku-sshd" --data-dir "$DATA" ssh-keys:add bench "$WORK/key.pub" >/dev/null
  set_property checks --global default-wait 0  # the default uptime check: 0 s (Dokku: 10)
  set_property checks --global wait-to-retire 0 # old containers retired at once (Dokku: 60)
  local port
  port=$(free_port "")
  "$WORK/dokku-sshd" serve --listen "127.0.0.1:$port" --data-dir "$DATA" >"$WORK/dokku-sshd.log" 2>&1 &
  SERVER_PID=$!
  wait_listen "$SERVER_PID" "$port" "$WORK/dokku-sshd.log"
  log "dokku-sshd pid $SERVER_PID on 127.0.0.1:$port, data $DATA, apps $PREFIX-*"
  # Warm-up: host key into known_hosts, binaries into the page cache.
  timeout 30 "${ssh_args[@]}" -p "$port" dokku@127.0.0.1 version >/dev/null </dev/null ||
    die "ssh to dokku-sshd failed (see $WORK/dokku-sshd.log)"

  local results=$WORK/results
  mkdir -p "$results"
  {
    echo "push-docker benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'); dokku-sshd $src_desc"
    echo "machine: $(machine)"
    echo "$(git --version); $(ssh -V 2>&1 | cut -d, -f1)"
  } >"$results/table.md"
  cat "$results/table.md"
  # In the background and waited for, so that TERM or ^C reach the trap at
  # once (bash runs traps only between foreground commands).
  "$PD_TOOL" bench -url "ssh://dokku@127.0.0.1:$port/" -data "$DATA" -pid "$SERVER_PID" \
    -work "$WORK/clients" -prefix "$PREFIX" -rounds "$ROUNDS" -redeploys "$REDEPLOYS" \
    -regimes "$REGIMES" -poll "${POLL_MS}ms" -settle "${SETTLE_MS}ms" -timeout "${PUSH_TIMEOUT}s" \
    -log "$WORK/dokku-sshd.log" -out "$results" >"$results/report.md" &
  BENCH_PID=$!
  local rc=0
  wait "$BENCH_PID" || rc=$?
  BENCH_PID=""
  if [ "$rc" -ne 0 ]; then
    echo "---- last lines of the server log:" >&2
    tail -n 20 "$WORK/dokku-sshd.log" >&2 || true
    die "benchmark failed (raw results and transcripts in $results; PD_KEEP=1 keeps them)"
  fi
  tee -a "$results/table.md" <"$results/report.md"
  if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    cp -r "$results/." "$OUT/"
    cp "$WORK/dokku-sshd.log" "$OUT/"
    log "raw results in $OUT"
  fi
}

main "$@"
