#!/usr/bin/env bash
# TUI benchmark: the dashboard's first frame and its memory per session
# (issue 12: first frame within 100 ms of the session opening on loopback;
# bounded memory per session, measured with 50 open sessions), on 127.0.0.1.
#
#   bench/tui.sh                       # about 2-8 minutes (the GC waits, below)
#   N=50 LEVELS=10,50 GC_WAIT=0 bench/tui.sh   # a quick run
#
# dokku-sshd built from this checkout, a fresh data directory with APPS apps
# on the null scheduler, a fresh ed25519 key; bench/tuiclient opens the
# dashboards (pty-req xterm-256color 80x24, then shell: `ssh -t dokku@host`).
#   a. memory, first: for each level K of LEVELS, K dashboards held open; server
#      VmRSS, Go heap in use, goroutines and OS threads before, held and after
#      they close; per session = (held - before) / K;
#   b. first frame, then: N sessions one after another, each timed from the session
#      channel's open to the read that brings the first frame (the alternate
#      screen, then "apps"), and to the loaded list (the last app's name).
# See bench/README.md for what each figure means.
#
# Knobs (environment):
#   N=200            first-frame sessions, one after another
#   LEVELS=10,50     dashboards held open, one level after another
#   APPS=3           apps created (tuiapp-1 ...)
#   HELD_SETTLE=2    seconds between the last dashboard's first frame and the reading
#   SETTLE=12        seconds after the dashboards close before the reading (the
#                    apps screen's 10 s reload timer holds a closed program until it fires)
#   GC_WAIT=130      then wait up to this long for a garbage collection, so that the
#                    heap after close is what is live (Go forces one every 2 minutes
#                    on an idle server); 0: do not wait
#   END=drop         how the dashboards end: drop (the client closes the
#                    connection) or quit (types q and waits for the session's end)
#   KEEP=0           1: keep the work directory (server log, client output, the
#                    first session's bytes) and print its path
set -euo pipefail

N=${N:-200}
LEVELS=${LEVELS:-10,50}
APPS=${APPS:-3}
HELD_SETTLE=${HELD_SETTLE:-2}
SETTLE=${SETTLE:-12}
GC_WAIT=${GC_WAIT:-130}
END=${END:-drop}
KEEP=${KEEP:-0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

case ${1:-} in -h | --help) usage 33; exit 0 ;; esac
for v in N APPS HELD_SETTLE SETTLE GC_WAIT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$N" -ge 1 ] && [ "$APPS" -ge 1 ] || die "N and APPS must be at least 1"
[[ $LEVELS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "LEVELS must look like 10,50"
[[ $END =~ ^(drop|quit)$ ]] || die "END must be drop or quit"
command -v go >/dev/null || die "go is needed"
command -v curl >/dev/null || die "curl is needed (the metrics endpoint)"
command -v ssh-keygen >/dev/null || die "ssh-keygen is needed"

work=$(mktemp -d /tmp/tui-bench.XXXXXX)
server_pid=""
hold_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  exec 3>&- 2>/dev/null || true
  stop_pid "$hold_pid" 5
  stop_pid "$server_pid" 10
  if [ "$KEEP" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building dokku-sshd and bench/tuiclient"
(cd "$repo" && go build -o "$work/dokku-sshd" ./cmd/dokku-sshd && go build -o "$work/tuiclient" ./bench/tuiclient)

# ---------------------------------------------------------------- setup
d() { "$work/dokku-sshd" --data-dir "$work/data" "$@" >>"$work/setup.log" 2>&1 || die "$* failed: $(tail -3 "$work/setup.log")"; }
ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/key"
d ssh-keys:add bench "$work/key.pub"
d scheduler:set --global selected null
for ((i = 1; i <= APPS; i++)); do d apps:create "tuiapp-$i"; done
loaded_marker="tuiapp-$APPS"

max_level=${LEVELS##*,}
port=$(free_port)
mport=$(free_port "$port")
flags=(--max-connections "$((max_level + 64))" --max-connections-per-ip "$((max_level + 64))")
log "starting dokku-sshd on 127.0.0.1:$port (metrics on $mport)"
"$work/dokku-sshd" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
  --metrics-listen "127.0.0.1:$mport" "${flags[@]}" 2>"$work/server.log" &
server_pid=$!
wait_listen "$server_pid" "$port" "$work/server.log"
wait_listen "$server_pid" "$mport" "$work/server.log"

client=("$work/tuiclient" -addr "127.0.0.1:$port" -key "$work/key" -end "$END")

# snap LABEL: the server's figures now, as LABEL_rss (KiB), LABEL_heap
# (bytes), LABEL_gor, LABEL_thr, LABEL_gc in $work/snaps.
snap() {
  local m rss
  m=$(curl -fsS "http://127.0.0.1:$mport/metrics") || die "metrics endpoint: no answer"
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
  {
    echo "$1_rss=$rss"
    awk -v l="$1" '
      $1 == "go_memstats_heap_inuse_bytes" {printf "%s_heap=%.0f\n", l, $2}
      $1 == "go_goroutines" {printf "%s_gor=%.0f\n", l, $2}
      $1 == "go_threads" {printf "%s_thr=%.0f\n", l, $2}
      $1 == "go_gc_duration_seconds_count" {printf "%s_gc=%.0f\n", l, $2}' <<<"$m"
  } >>"$work/snaps"
}
get() { sed -n "s/^$1=//p" "$work/snaps" | tail -1; }
metric() { curl -fsS "http://127.0.0.1:$mport/metrics" | awk -v k="$1" '$1 == k {printf "%.0f\n", $2}'; }

# settle_gc: SETTLE seconds, then until the next garbage collection (at most
# GC_WAIT seconds). Prints the seconds waited for it, or "none".
settle_gc() {
  local gc0 i
  sleep "$SETTLE"
  [ "$GC_WAIT" -gt 0 ] || { echo none; return; }
  gc0=$(metric go_gc_duration_seconds_count)
  for ((i = 0; i < GC_WAIT; i++)); do
    if [ "$(metric go_gc_duration_seconds_count)" != "$gc0" ]; then echo "$i"; return; fi
    sleep 1
  done
  echo none
}

sleep 1
snap idle

# ---------------------------------------------------------------- a. memory, from the idle server
IFS=, read -r -a levels <<<"$LEVELS"
for k in "${levels[@]}"; do
  snap "b$k"
  log "holding $k dashboards"
  rm -f "$work/hold.in" && mkfifo "$work/hold.in"
  "${client[@]}" -mode hold -sessions "$k" <"$work/hold.in" >"$work/hold$k.out" 2>"$work/hold$k.err" &
  hold_pid=$!
  exec 3>"$work/hold.in"
  for ((i = 0; i < 1200; i++)); do # 120 s
    grep -q '^ready' "$work/hold$k.out" 2>/dev/null && break
    kill -0 "$hold_pid" 2>/dev/null || die "tuiclient (hold $k) exited: $(tail -3 "$work/hold$k.err")"
    sleep 0.1
  done
  grep -q '^ready' "$work/hold$k.out" || die "tuiclient (hold $k): not ready after 120 s"
  sleep "$HELD_SETTLE"
  snap "h$k"
  exec 3>&- # stdin's end: the client ends its sessions and exits
  for ((i = 0; i < 300; i++)); do kill -0 "$hold_pid" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$hold_pid" 1
  wait "$hold_pid" 2>/dev/null || true
  hold_pid=""
  log "$k dashboards closed: settling ($SETTLE s, then up to $GC_WAIT s for a GC)"
  echo "a${k}_gcwait=$(settle_gc)" >>"$work/snaps"
  snap "a$k"
done

# ---------------------------------------------------------------- b. first frame
log "first frame: $N sessions one after another"
dump=()
if [ "$KEEP" = 1 ]; then dump=(-dump "$work/first-session.txt"); fi
"${client[@]}" -mode frame -n "$N" -loaded-marker "$loaded_marker" "${dump[@]}" >"$work/frame.out" 2>"$work/frame.err" ||
  die "tuiclient (frame): $(tail -3 "$work/frame.err")"
fv() { sed -n "s/^$1=//p" "$work/frame.out"; }
log "first frame: settling ($SETTLE s, then up to $GC_WAIT s for a GC)"
frame_gc=$(settle_gc)
snap frames

# ---------------------------------------------------------------- report
hv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$work/hold$1.out"; }
{
  echo
  echo "server: $("$work/dokku-sshd" version 2>/dev/null | head -1); $(nproc) CPUs, loopback; client: bench/tuiclient"
  echo "N=$N LEVELS=$LEVELS APPS=$APPS END=$END SETTLE=$SETTLE GC_WAIT=$GC_WAIT"
  echo
  echo "First frame, $(fv frame_n) sessions one after another ($(fv frame_failed) failed), ms from the session channel's open:"
  printf '  %-38s %8s %8s %8s %8s %8s\n' "" p50 p90 p99 max min
  for f in frame:"first frame (alt screen + \"apps\")" loaded:"loaded list (\"$loaded_marker\")" \
    shell:"shell request answered" firstbyte:"first byte"; do
    printf '  %-38s %8s %8s %8s %8s %8s\n' "${f#*:}" "$(fv "${f%%:*}_p50_ms")" "$(fv "${f%%:*}_p90_ms")" \
      "$(fv "${f%%:*}_p99_ms")" "$(fv "${f%%:*}_max_ms")" "$(fv "${f%%:*}_min_ms")"
  done
  [ "$(fv loaded_missed)" = 0 ] || echo "  (the loaded list was not seen in $(fv loaded_missed) sessions within 10 s)"
  echo
  echo "Memory, dashboards held open (each its own connection), per session = (held - before) / K:"
  printf '  %6s %7s %10s %10s %11s %11s %9s\n' K reached "first p50" "first max" "RSS KiB" "heap KiB" goroutines
  for k in "${levels[@]}"; do
    r=$(hv "$k" sessions)
    awk -v k="$k" -v r="$r" -v fp="$(hv "$k" frame_p50_ms)" -v fm="$(hv "$k" frame_max_ms)" \
      -v rb="$(get "b${k}_rss")" -v rh="$(get "h${k}_rss")" -v hb="$(get "b${k}_heap")" -v hh="$(get "h${k}_heap")" \
      -v gb="$(get "b${k}_gor")" -v gh="$(get "h${k}_gor")" 'BEGIN {
        d = r < 1 ? 1 : r
        printf "  %6d %7d %10s %10s %11.0f %11.0f %9.1f\n", k, r, fp, fm, (rh - rb) / d, (hh - hb) / 1024 / d, (gh - gb) / d }'
  done
  echo
  echo "Server before / held / after close (after: $SETTLE s, then until a GC, at most $GC_WAIT s):"
  printf '  %-22s %11s %11s %11s %7s %7s\n' "" "RSS KiB" "heap KiB" goroutines threads "GC+"
  row() { # label prefix
    awk -v l="$1" -v r="$(get "$2_rss")" -v h="$(get "$2_heap")" -v g="$(get "$2_gor")" -v t="$(get "$2_thr")" \
      -v c="$(get "$2_gc")" -v c0="$(get idle_gc)" \
      'BEGIN { printf "  %-22s %11d %11.0f %11d %7d %7d\n", l, r, h / 1024, g, t, c - c0 }'
  }
  row "idle, at start" idle
  for k in "${levels[@]}"; do
    row "before $k" "b$k"
    row "$k held" "h$k"
    row "$k closed" "a$k"
  done
  row "after $N first frames" frames
  echo "  (GC+: garbage collections since the start; heap in use includes garbage not yet collected)"
  echo
  echo "After close, back to before? (goroutines: within 2; heap and RSS: within 10% of the held growth)"
  for k in "${levels[@]}"; do
    awk -v k="$k" -v w="$(get "a${k}_gcwait")" \
      -v gb="$(get "b${k}_gor")" -v gh="$(get "h${k}_gor")" -v ga="$(get "a${k}_gor")" \
      -v tb="$(get "b${k}_thr")" -v ta="$(get "a${k}_thr")" \
      -v hb="$(get "b${k}_heap")" -v hh="$(get "h${k}_heap")" -v ha="$(get "a${k}_heap")" \
      -v rb="$(get "b${k}_rss")" -v rh="$(get "h${k}_rss")" -v ra="$(get "a${k}_rss")" 'function ok(b, h, a, tol) { return (a - b <= tol) ? "yes" : "no" }
      BEGIN {
        printf "  %d: goroutines %s (%+d, %+.1f per session), threads %+d, heap %s (%+.0f KiB), RSS %s (%+d KiB); GC %s\n", k,
          ok(gb, gh, ga, 2), ga - gb, (ga - gb) / k, ta - tb, ok(hb, hh, ha, 0.1 * (hh - hb)), (ha - hb) / 1024,
          ok(rb, rh, ra, 0.1 * (rh - rb)), ra - rb, (w == "none" ? "not seen after close" : "seen " w " s after the settle") }'
  done
  awk -v a="$(get "a${levels[-1]}_gor")" -v f="$(get frames_gor)" -v ha="$(get "a${levels[-1]}_heap")" -v hf="$(get frames_heap)" \
    -v n="$N" -v w="$frame_gc" 'BEGIN {
    printf "  %d first-frame sessions, after them: goroutines %+d (%+.2f per session), heap %+.0f KiB (%+.0f per session); GC %s\n",
      n, f - a, (f - a) / n, (hf - ha) / 1024, (hf - ha) / 1024 / n,
      (w == "none" ? "not seen after them" : "seen " w " s after the settle") }'
  echo
  p99=$(fv frame_p99_ms)
  if awk -v p="$p99" 'BEGIN { exit !(p + 0 < 100) }'; then t=PASS; else t=MISS; fi
  echo "Target: first frame p99 under 100 ms: $t ($p99 ms; max $(fv frame_max_ms) ms)"
  warns=$(grep -c -E 'level=(WARN|ERROR)' "$work/server.log" || true)
  echo "Server log: $(wc -l <"$work/server.log") lines, $warns at WARN or ERROR"
  if [ "$warns" -gt 0 ]; then grep -E 'level=(WARN|ERROR)' "$work/server.log" | head -5 | sed 's/^/  /'; fi
} | tee "$work/report.txt"
