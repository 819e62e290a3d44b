#!/usr/bin/env bash
# Pre-authentication flood: dokku-sshd with its default limits faces CONNS
# idle TCP connections from SOURCES loopback addresses (127.0.0.10 and up,
# reopened whenever the server closes one), while LEGIT `ssh dokku@127.0.0.1
# version` commands run one after another from 127.0.0.1, spread over
# DURATION seconds (longer than the 30 s handshake timeout, so the flood's
# first connections time out and are replaced meanwhile). On loopback only;
# bounded in count and time (MAX_DURATION); stops by itself.
#
#   bench/flood.sh                          # about 45 s
#   CONNS=200 LEGIT=10 DURATION=5 bench/flood.sh   # a quick run
#   SERVER_FLAGS="--max-unauthenticated 64" bench/flood.sh
#
# Targets (checked at the end, PASS/MISS; exit status 1 on a MISS):
#   at least LEGIT-1 commands succeed, median under 100 ms;
#   server RSS during the flood under 64 MiB.
#
# Knobs (environment): CONNS=2000 SOURCES=32 LEGIT=50 DURATION=40 MAX_DURATION=180
# REDIAL=1 (0: a connection the server closes is not opened again)
# SERVER_FLAGS= (extra `serve` flags) KEEP=0 (1: keep the work directory).
set -euo pipefail

CONNS=${CONNS:-2000}
SOURCES=${SOURCES:-32}
LEGIT=${LEGIT:-50}
DURATION=${DURATION:-40}
MAX_DURATION=${MAX_DURATION:-180}
SERVER_FLAGS=${SERVER_FLAGS:-}
REDIAL=${REDIAL:-1}
KEEP=${KEEP:-0}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

case ${1:-} in -h | --help) usage 20; exit 0 ;; esac
[[ $REDIAL =~ ^[01]$ ]] || die "REDIAL must be 0 or 1, not '$REDIAL'"
for v in CONNS SOURCES LEGIT DURATION MAX_DURATION; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive whole number, not '${!v}'"
done
[ "$SOURCES" -le 200 ] || die "SOURCES must be at most 200 (127.0.0.10 to 127.0.0.209)"
command -v go >/dev/null || die "go is needed"
command -v ssh >/dev/null || die "the OpenSSH client (ssh) is needed: apt-get install -y openssh-client"

WORK=$(mktemp -d /tmp/flood.XXXXXX)
SERVER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$SERVER_PID" 5
  if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Descriptors as in systemd/dokku-sshd.service (LimitNOFILE=65536): the
# server sizes its tarpit from the limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

log "building dokku-sshd and bench/flood"
(cd "$SRC_ROOT" && go build -o "$WORK/dokku-sshd" ./cmd/dokku-sshd && go build -o "$WORK/flood" ./bench/flood)
ssh-keygen -q -t ed25519 -N '' -C bench -f "$WORK/key"
"$WORK/dokku-sshd" --data-dir "$WORK/data" ssh-keys:add bench "$WORK/key.pub" >"$WORK/keys.log" 2>&1 ||
  die "ssh-keys:add failed: $(cat "$WORK/keys.log")"

port=$(free_port)
log "starting dokku-sshd on 127.0.0.1:$port (default limits${SERVER_FLAGS:+, $SERVER_FLAGS})"
# shellcheck disable=SC2086 # SERVER_FLAGS is a list of words
"$WORK/dokku-sshd" serve --listen "127.0.0.1:$port" --data-dir "$WORK/data" $SERVER_FLAGS 2>"$WORK/server.log" &
SERVER_PID=$!
wait_listen "$SERVER_PID" "$port" "$WORK/server.log"
log_start=$(wc -c <"$WORK/server.log")

log "flood: $CONNS idle connections from $SOURCES addresses; $LEGIT version commands from 127.0.0.1"
"$WORK/flood" -addr "127.0.0.1:$port" -pid "$SERVER_PID" -conns "$CONNS" -sources "$SOURCES" \
  -legit "$LEGIT" -duration "${DURATION}s" -redial="$([ "$REDIAL" = 1 ] && echo true || echo false)" -expect "dokku-sshd version" -max-duration "${MAX_DURATION}s" -- \
  ssh -F /dev/null -o UserKnownHostsFile="$WORK/known_hosts" -o StrictHostKeyChecking=accept-new \
  -o BatchMode=yes -o IdentitiesOnly=yes -o ControlMaster=no -o ConnectTimeout=20 -o LogLevel=ERROR \
  -i "$WORK/key" -p "$port" dokku@127.0.0.1 version >"$WORK/results"
kill -0 "$SERVER_PID" 2>/dev/null || die "dokku-sshd died during the flood: $(tail -5 "$WORK/server.log")"
log_bytes=$(($(wc -c <"$WORK/server.log") - log_start))
log_lines=$(tail -c "+$((log_start + 1))" "$WORK/server.log" | wc -l)

get() { sed -n "s/^$1=//p" "$WORK/results" | head -1; }
ok=$(get legit_ok) median=$(get legit_median_ms) rss=$(get server_rss_max_kib)
echo
echo "dokku-sshd under a pre-auth flood ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
printf '  flood: %s idle connections from %s addresses, up in %s s; held %s when the commands began, %s at the end\n' \
  "$(get flood_conns)" "$(get flood_sources)" "$(get flood_ramp_s)" "$(get flood_held_at_start)" "$(get flood_held_at_end)"
printf '  flood: %s connections opened in %s s (%s reopened/s), %s closed by the server, %s dial errors\n' \
  "$(get flood_opened)" "$(get flood_seconds)" "$(get flood_reopen_per_s)" "$(get flood_closed_by_server)" "$(get flood_dial_errors)"
printf '  version commands: %s of %s succeeded; median %s ms, p90 %s ms, max %s ms\n' \
  "$ok" "$(get legit_total)" "${median:-n/a}" "$(get legit_p90_ms)" "$(get legit_max_ms)"
sed -n 's/^legit_failure=/  failed: /p' "$WORK/results"
printf '  server RSS: %s KiB before the flood, %s KiB at most during it (%s samples)\n' \
  "$(get server_rss_start_kib)" "$rss" "$(get server_rss_samples)"
printf '  CPU during the run: server %s s, flood client %s s (of %s s, %s cores)\n' \
  "$(get server_cpu_s)" "$(get flood_cpu_s)" "$(get flood_seconds)" "$(nproc)"
printf '  server log during the run: %s lines, %s bytes\n' "$log_lines" "$log_bytes"
if grep -q '^stopped=' "$WORK/results"; then echo "  stopped early: $(get stopped)"; fi

miss=0
# check OK TEXT: one target line; OK is 1 when met.
check() {
  local v=PASS
  if [ "$1" != 1 ]; then v=MISS miss=1; fi
  echo "  [$v] $2"
}
echo
echo "Targets:"
check "$([ "${ok:-0}" -ge $((LEGIT - 1)) ] && echo 1)" "at least $((LEGIT - 1)) of $LEGIT commands succeed: ${ok:-0}"
check "$(awk -v m="${median:-1e9}" 'BEGIN { print (m < 100) }')" "median under 100 ms: ${median:-n/a} ms"
check "$([ "${rss:-999999}" -lt $((64 * 1024)) ] && echo 1)" "server RSS under 64 MiB: $((${rss:-0} / 1024)) MiB"
exit "$miss"
