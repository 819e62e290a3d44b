# Helpers shared by the bench scripts (sourced, not run).
# shellcheck shell=bash

# usage prints the script's header comment from line 2 to line $1.
usage() {
  sed -n "2,${1}p" "$0" | sed 's/^# \{0,1\}//'
}

die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

log() {
  printf '==> %s\n' "$*" >&2
}

# stop_pid PID [SECONDS]: TERM, then KILL after SECONDS (default 10).
stop_pid() {
  local pid=$1 tenths=$((${2:-10} * 10)) i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < tenths; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
