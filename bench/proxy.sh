#!/usr/bin/env bash
# Zero-downtime benchmark of HTTP routing: a Dockerfile app on docker-local
# behind the server's nginx (loopback port), redeployed PX_REDEPLOYS times
# by git push (a new commit each, the body changes) and then scaled to
# web=2, while bench/proxyload GETs it one request after the other. Prints
# requests, failed requests, latency percentiles, the bodies seen and the
# nginx reload times.
#
#   bench/proxy.sh            run it (as root, Docker daemon and nginx installed)
#
# Environment: PX_REDEPLOYS (3), PX_BIN (use this dokku-sshd binary),
# PX_KEEP (1 keeps the work dir; containers and images are removed anyway).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
REDEPLOYS=${PX_REDEPLOYS:-3}
KEEP=${PX_KEEP:-0}
WORK=""
SERVER_PID=""
LOAD_PID=""
PREFIX=""
PD_TOOL=""

# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$LOAD_PID"
  stop_pid "$SERVER_PID" 30
  if [ -n "$PREFIX" ] && [ -n "$PD_TOOL" ] && [ -x "$PD_TOOL" ]; then
    timeout 180 "$PD_TOOL" cleanup -prefix "$PREFIX" || rc=1
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then echo "proxy.sh: work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}

main() {
  case ${1:-} in
    -h | --help) usage 12; return 0 ;;
    "") ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  [[ $REDEPLOYS =~ ^[0-9]+$ ]] && [ "$REDEPLOYS" -le 50 ] || die "PX_REDEPLOYS must be 0..50"
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx is needed (apt-get install -y nginx)"
  for t in git go ssh ssh-keygen; do command -v "$t" >/dev/null || die "$t is needed"; done

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/proxy-bench.XXXXXX")
  chmod 0755 "$WORK"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  PREFIX="pxb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  local app=$PREFIX-app
  PD_TOOL=$WORK/pushdocker
  log "building pushdocker, proxyload and dokku-sshd"
  (cd "$SRC_ROOT" && go build -o "$PD_TOOL" ./bench/pushdocker && go build -o "$WORK/proxyload" ./bench/proxyload)
  if [ -n "${PX_BIN:-}" ]; then cp "$PX_BIN" "$WORK/dokku-sshd"; else (cd "$SRC_ROOT" && go build -o "$WORK/dokku-sshd" ./cmd/dokku-sshd); fi
  "$PD_TOOL" base || die "the Docker daemon is not reachable, or the base image could not be imported"

  export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 LC_ALL=C
  ssh-keygen -q -t ed25519 -N '' -C proxy-bench -f "$WORK/key"
  local ssh_args
  ssh_args=(ssh -F /dev/null -i "$WORK/key" -o IdentitiesOnly=yes -o "UserKnownHostsFile=$WORK/known_hosts"
    -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR)
  GIT_SSH_COMMAND=$(printf '%q ' "${ssh_args[@]}")
  export GIT_SSH_COMMAND

  local data=$WORK/data port http_port
  "$WORK/dokku-sshd" --data-dir "$data" ssh-keys:add bench "$WORK/key.pub" >/dev/null
  port=$(free_port "")
  http_port=$(free_port "$port")
  env -u DOKKU_SSHD_NO_PROXY "$WORK/dokku-sshd" serve --listen "127.0.0.1:$port" --data-dir "$data" \
    --proxy-listen 127.0.0.1 >"$WORK/dokku-sshd.log" 2>&1 &
  SERVER_PID=$!
  wait_listen "$SERVER_PID" "$port" "$WORK/dokku-sshd.log"
  local dokku=("${ssh_args[@]}" -p "$port" dokku@127.0.0.1)
  "${dokku[@]}" apps:create "$app" >/dev/null
  "${dokku[@]}" domains:set "$app" "$app.bench" >/dev/null
  # Quick checks: the default uptime check 1 s, old containers stopped 2 s
  # after the switch (their SIGTERM comes at once, as in Dokku).
  "${dokku[@]}" checks:set --global default-wait 1 >/dev/null
  "${dokku[@]}" checks:set "$app" wait-to-retire 2 >/dev/null
  mkdir -p "$data/lib/config/ports/$app"
  printf 'http:%s:5000' "$http_port" >"$data/lib/config/ports/$app/map"

  local repo=$WORK/repo
  git init -q -b main "$repo"
  printf 'FROM %s\nCOPY index.html /www/index.html\nCMD ["sh", "-c", "exec httpd -f -p $PORT -h /www"]\n' \
    dokku-sshd-test/busybox:latest >"$repo/Dockerfile"
  echo "proxy bench v1" >"$repo/index.html"
  git -C "$repo" add -A
  git -C "$repo" -c user.name=bench -c user.email=bench@localhost commit -q -m app
  local remote="ssh://dokku@127.0.0.1:$port/$app"
  log "first deploy of $app"
  git -C "$repo" push -q "$remote" main 2>"$WORK/push.log" || die "push failed (see $WORK/push.log)"

  # Bounded by count and time as well, should this script be killed.
  "$WORK/proxyload" -url "http://127.0.0.1:$http_port/" -host "$app.bench" -want-prefix "proxy bench v" \
    -max 1000000 -max-duration 30m >"$WORK/load.md" &
  LOAD_PID=$!
  sleep 1
  local i t0 t1
  for ((i = 1; i <= REDEPLOYS; i++)); do
    echo "proxy bench v$((i + 1))" >"$repo/index.html"
    git -C "$repo" -c user.name=bench -c user.email=bench@localhost commit -q -am "v$((i + 1))"
    t0=$(date +%s%N)
    git -C "$repo" push -q "$remote" main 2>"$WORK/push-$i.log" || die "push $i failed (see $WORK/push-$i.log)"
    t1=$(date +%s%N)
    log "redeploy $i (git push): $(((t1 - t0) / 1000000)) ms"
  done
  t0=$(date +%s%N)
  "${dokku[@]}" ps:scale "$app" web=2 >"$WORK/scale.log" 2>&1 || die "ps:scale failed (see $WORK/scale.log)"
  t1=$(date +%s%N)
  log "ps:scale web=2: $(((t1 - t0) / 1000000)) ms"
  sleep 5 # the retired containers stop after wait-to-retire, under load
  kill -INT "$LOAD_PID"
  wait "$LOAD_PID" || true
  LOAD_PID=""
  echo "proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'); $REDEPLOYS redeploys (git push) and ps:scale web=2 under a sequential GET loop through nginx"
  echo "nginx: $( (nginx -v || /usr/sbin/nginx -v) 2>&1)"
  cat "$WORK/load.md"
  echo "nginx reloads (ms, the first deploy's first): $(sed -n 's/.*msg="nginx reloaded".*duration_ms=\([0-9]*\).*/\1/p' "$WORK/dokku-sshd.log" | tr '\n' ' ')"
}

main "$@"
