#!/usr/bin/env bash
# Counts per `ssh ... version` command, dokku-sshd against bench/bareserver
# (and a BASELINE revision of dokku-sshd). Goroutines, system calls and
# instructions do not vary with the load of a shared machine the way CPU
# time does; context switches and CPU time are read too, for comparison.
#   counts        goroutines created, heap allocations, voluntary and
#                 involuntary context switches and CPU time (getrusage), read
#                 by each server itself (bench/counters/hook.go.txt, added to
#                 these builds only); ROUNDS interleaved rounds of N commands
#   syscalls      system calls by name (strace -f -c attached for N commands)
#   instructions  user-space instructions (valgrind callgrind, CG_N commands
#                 after a warm-up; repeatable to about half a per cent), and
#                 where they go by kind of code
#
#   bench/cmd-counts.sh                       # as root; about 5 minutes
#   N=40 ROUNDS=8 BASELINE=main bench/cmd-counts.sh
#   PHASES=instructions CG_N=30 bench/cmd-counts.sh
#
# Needs go, python3, the OpenSSH client, strace and valgrind (root: strace
# attaches to running servers). Loopback only; everything lives in a
# mktemp -d directory removed on exit (KEEP=1 keeps it).
set -euo pipefail

N=${N:-30}
ROUNDS=${ROUNDS:-5}
CG_N=${CG_N:-20}
PHASES=${PHASES:-counts,syscalls,instructions}
BASELINE=${BASELINE:-}
KEEP=${KEEP:-0}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then usage 21; exit 0; fi
for v in N ROUNDS CG_N; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive whole number"; done
[[ $PHASES =~ ^(counts|syscalls|instructions)(,(counts|syscalls|instructions))*$ ]] ||
  die "PHASES must be a list of counts, syscalls, instructions"
for c in go python3 ssh ssh-keygen; do command -v "$c" >/dev/null || die "$c is needed"; done
if [[ ,$PHASES, == *,syscalls,* ]]; then
  command -v strace >/dev/null || die "strace is needed (PHASES)"
  [ "$(id -u)" -eq 0 ] || die "run as root: strace attaches to the running servers"
fi
if [[ ,$PHASES, == *,instructions,* ]]; then command -v valgrind >/dev/null || die "valgrind is needed (PHASES)"; fi

work=$(mktemp -d /tmp/cmd-counts.XXXXXX)
driver_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$driver_pid" 30 # it stops its servers
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build SRC_DIR OUT: dokku-sshd with the counters hook.
build() {
  local src=$1 out=$2
  printf '{"Replace": {"%s/cmd/dokku-sshd/zz_bench_counters.go": "%s/bench/counters/hook.go.txt"}}\n' \
    "$src" "$repo" >"$work/overlay-$(basename "$out").json"
  (cd "$src" && go build -overlay "$work/overlay-$(basename "$out").json" -o "$out" ./cmd/dokku-sshd)
}
log "building dokku-sshd and bench/bareserver (with the counters hook)"
build "$repo" "$work/dokku-sshd"
printf '{"Replace": {"%s/bench/bareserver/zz_bench_counters.go": "%s/bench/counters/hook.go.txt"}}\n' \
  "$repo" "$repo" >"$work/overlay-bare.json"
(cd "$repo" && go build -overlay "$work/overlay-bare.json" -o "$work/bareserver" ./bench/bareserver)
servers="dokku-sshd=$work/dokku-sshd"
if [ -n "$BASELINE" ]; then
  log "building dokku-sshd at $BASELINE as the baseline"
  mkdir -p "$work/baseline-src"
  (cd "$repo" && git archive "$BASELINE") | tar -x -C "$work/baseline-src"
  build "$work/baseline-src" "$work/dokku-sshd-baseline"
  servers="$servers baseline=$work/dokku-sshd-baseline"
fi
servers="$servers bare=$work/bareserver"

ssh-keygen -q -t ed25519 -N '' -f "$work/key"
ssh-keygen -q -t ed25519 -N '' -f "$work/bare_host_key"
reply=$("$work/dokku-sshd" --data-dir "$work/probe" version)
rm -rf "$work/probe"

# shellcheck disable=SC2086
N=$N ROUNDS=$ROUNDS CG_N=$CG_N PHASES=$PHASES REPLY_LINE=$reply python3 "$repo/bench/counters/driver.py" "$work" $servers &
driver_pid=$!
wait "$driver_pid"
driver_pid=""
