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

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port [EXCEPT]: a loopback port nothing listens on (other than EXCEPT).
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if [ "$p" != "${1:-}" ] && ! port_busy "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

# wait_listen PID PORT LOGFILE: until the server accepts on PORT (10 s).
wait_listen() {
  local pid=$1 port=$2 logf=$3 i
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$logf" >&2 || true
      die "server (pid $pid) exited before listening on $port"
    fi
    port_busy "$port" && return 0
    sleep 0.1
  done
  cat "$logf" >&2 || true
  die "server (pid $pid) not listening on $port after 10 s"
}
