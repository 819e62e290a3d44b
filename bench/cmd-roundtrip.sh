#!/usr/bin/env bash
# Command benchmark: dokku-sshd side by side with OpenSSH sshd running
# sshcommand's forced command and with bench/bareserver (the least an
# x/crypto server does), in one run, on 127.0.0.1 only.
#
#   bench/cmd-roundtrip.sh                       # as root; about 2-3 minutes
#   SEQ=50 TOTAL=100 IDLE=100 bench/cmd-roundtrip.sh   # a quick run
#
# Measures, for both servers, with the OpenSSH client:
#   a. `version` round trip: SEQ sequential runs, median/p90/p99 wall ms;
#   b. commands/s with CONCURRENCY clients, TOTAL commands per level;
#   c. server CPU per command during (b): the server's whole process tree
#      (its own transient cgroup, cross-checked against /proc);
#   d. memory per idle session with IDLE sessions held open (bench/idleclient);
#   e. server CPU per sequential command, CPU_ROUNDS interleaved rounds of
#      CPU_N commands per server, by cgroup and by /proc, medians.
# See bench/README.md for what each figure means.
#
# Knobs (environment):
#   SEQ=200            sequential round trips
#   TOTAL=400          commands per concurrency level
#   CONCURRENCY=16,64  concurrent clients, one level after another
#   IDLE=100,1000      idle sessions held open, ascending
#   PHASE_TIMEOUT=300  seconds allowed for each phase of each server
#   SSH_TIMEOUT=30     seconds allowed for one ssh command
#   SETTLE=2           seconds to wait before reading memory
#   OPENSSH_EXTRA=     extra sshd_config lines (e.g. "KexAlgorithms curve25519-sha256")
#   CPU_ROUNDS=5       interleaved rounds of the CPU phase (e)
#   CPU_N=150          sequential commands per server per round
#   PHASES=cpu,seq,conc,idle  which phases run (PHASES=cpu: the CPU comparison alone)
#   BASELINE=          a git revision: its dokku-sshd joins the CPU phase as a
#                      fourth server, "baseline" (before/after in one run)
#   PROFILE=0          1: Go CPU profiles of dokku-sshd and bareserver over the
#                      whole run, and their breakdown (use with PHASES=cpu)
#   KEEP=0             1: keep the work directory (logs, configs) and print its path
set -euo pipefail

SEQ=${SEQ:-200}
TOTAL=${TOTAL:-400}
CONCURRENCY=${CONCURRENCY:-16,64}
IDLE=${IDLE:-100,1000}
PHASE_TIMEOUT=${PHASE_TIMEOUT:-300}
SSH_TIMEOUT=${SSH_TIMEOUT:-30}
SETTLE=${SETTLE:-2}
OPENSSH_EXTRA=${OPENSSH_EXTRA:-}
KEEP=${KEEP:-0}
CPU_ROUNDS=${CPU_ROUNDS:-5}
CPU_N=${CPU_N:-150}
PHASES=${PHASES:-cpu,seq,conc,idle}
PROFILE=${PROFILE:-0}
BASELINE=${BASELINE:-}
FORCED_VERSION="dokku version 0.38.27"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'cmd-roundtrip: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: it starts a private OpenSSH sshd (and installs it if missing)"
for v in SEQ TOTAL PHASE_TIMEOUT SSH_TIMEOUT SETTLE CPU_ROUNDS CPU_N; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[[ $CONCURRENCY =~ ^[0-9]+(,[0-9]+)*$ ]] || die "CONCURRENCY must look like 16,64"
[[ $IDLE =~ ^[0-9]+(,[0-9]+)*$ ]] || die "IDLE must look like 100,1000"
[[ $PHASES =~ ^(cpu|seq|conc|idle)(,(cpu|seq|conc|idle))*$ ]] || die "PHASES must be a list of cpu, seq, conc, idle"
command -v python3 >/dev/null || die "python3 is needed"
command -v go >/dev/null || die "go is needed"

work=$(mktemp -d /tmp/cmd-roundtrip.XXXXXX)
results=$work/results
: >"$results"
server_pids=()   # the three servers
cgroups=()       # their transient cgroups
idle_pid=""      # bench/idleclient while it runs
helper_pid=""    # a long measurement while it runs

cleanup() {
  local rc=$? p i
  trap - EXIT INT TERM
  if [ -n "$idle_pid" ]; then kill "$idle_pid" 2>/dev/null || true; fi
  if [ -n "$helper_pid" ]; then # and the ssh clients it runs
    for p in $(python3 "$work/helper.py" tree "$helper_pid" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  fi
  for p in "${server_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # sshd's per-connection processes outlive a killed listener while their
  # client lives: end every process left in the servers' trees/cgroups.
  for ((i = 0; i < 50; i++)); do # up to 15 s; stragglers get SIGKILL after 3 s
    local left=""
    for p in "${server_pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
    for p in "${cgroups[@]}"; do [ -n "$(cat "$p/cgroup.procs" 2>/dev/null)" ] && left=1; done
    [ -z "$left" ] && break
    if [ "$i" -ge 10 ]; then
      for p in "${server_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
      for p in "${cgroups[@]}"; do
        while read -r q; do kill -KILL "$q" 2>/dev/null || true; done < <(cat "$p/cgroup.procs" 2>/dev/null)
      done
    fi
    sleep 0.3
  done
  wait 2>/dev/null || true
  for p in "${cgroups[@]}"; do
    for ((i = 0; i < 20; i++)); do rmdir "$p" 2>/dev/null && break; sleep 0.25; done
    if [ -d "$p" ]; then log "could not remove cgroup $p"; fi
  done
  if [ "$KEEP" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

helper() { python3 "$work/helper.py" "$@"; }
# helper_wait ARGS...: the helper in the background, its output in
# $work/helper.out. Bash runs a signal trap only between commands, so a
# long helper in the foreground would hold up Ctrl-C until it ended; `wait`
# is interrupted at once.
helper_wait() {
  python3 "$work/helper.py" "$@" >"$work/helper.out" &
  helper_pid=$!
  wait "$helper_pid"
  helper_pid=""
}
put() { printf '%s|%s|%s\n' "$1" "$2" "$3" >>"$results"; }   # server key value
note() { printf 'note|%s\n' "$*" >>"$results"; }
# kv KEY < KEY=VALUE lines
kv() { sed -n "s/^$1=//p"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port pid
  local i
  for ((i = 0; i < 150; i++)); do
    kill -0 "$2" 2>/dev/null || return 1
    if (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

wait_log() { # file pattern pid: the server logged PATTERN
  local i
  for ((i = 0; i < 150; i++)); do
    kill -0 "$3" 2>/dev/null || return 1
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# A transient cgroup per server: its CPU usage is that of every process the
# server ever started, reaped or not. cgroup v2 if mounted, else v1 cpuacct;
# none: the /proc method alone.
cg_base="" cg_kind="none"
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
  cg_base=/sys/fs/cgroup cg_kind=v2
elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
  cg_base=/sys/fs/cgroup/unified cg_kind=v2
elif [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
  cg_base=/sys/fs/cgroup/cpuacct cg_kind=v1
fi
new_cgroup() { # name -> path on stdout, or nothing
  [ -n "$cg_base" ] || return 0
  local d="$cg_base/cmd-roundtrip.$$.$1"
  if mkdir "$d" 2>/dev/null; then echo "$d"; fi
}
# cg_check DIR PID: DIR if PID made it into it (else the /proc method is used).
cg_check() {
  if [ -n "$1" ] && grep -qx "$2" "$1/cgroup.procs" 2>/dev/null; then echo "$1"; fi
  return 0
}
# in_cgroup DIR CMD...: exec CMD inside DIR (when DIR is not empty).
in_cgroup() {
  local d=$1; shift
  if [ -n "$d" ]; then
    exec sh -c 'echo $$ >"$1/cgroup.procs" 2>/dev/null || true; shift; exec "$@"' sh "$d" "$@"
  fi
  exec "$@"
}

# ---------------------------------------------------------------- setup
if [ ! -x /usr/sbin/sshd ]; then
  log "installing openssh-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
fi
command -v ssh >/dev/null || die "the OpenSSH client (ssh) is needed: apt-get install -y openssh-client"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

log "building dokku-sshd, bench/bareserver and bench/idleclient"
(cd "$repo" && go build -o "$work/dokku-sshd" ./cmd/dokku-sshd && go build -o "$work/bareserver" ./bench/bareserver &&
  go build -o "$work/idleclient" ./bench/idleclient)
if [ -n "$BASELINE" ]; then
  log "building dokku-sshd at $BASELINE as the baseline"
  mkdir "$work/baseline-src"
  git -C "$repo" archive "$BASELINE" | tar -x -C "$work/baseline-src" || die "cannot check out BASELINE=$BASELINE"
  (cd "$work/baseline-src" && go build -o "$work/dokku-sshd-baseline" ./cmd/dokku-sshd)
fi
# The measuring code, kept in this file so the script stays self-contained.
cat >"$work/helper.py" <<'PYTHON'
"""Measurements for bench/cmd-roundtrip.sh (written out and run by it).

  seq N PHASE_TIMEOUT SSH_TIMEOUT EXPECT -- ssh ARGS...   sequential round trips
  conc C TOTAL PHASE_TIMEOUT SSH_TIMEOUT EXPECT -- ssh ARGS...  concurrent clients
  cpu PID [CGROUP_DIR]      cumulative CPU of the server's process tree, ms
  mem PID                   memory of the server's process tree, KiB
  settle PID SECONDS        wait (bounded) until PID has no descendants left
  tree PID                  PID and its descendants, one a line
  report RESULTS            the side-by-side table
  profile BIN PROF [BIN PROF...]  breakdown of Go CPU profiles by kind of work
Every line printed by seq/conc/cpu/mem is KEY=VALUE.
"""
import concurrent.futures as cf
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def children_cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def run_one(cmd, timeout, expect):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "timeout"
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0 or not re.search(expect, out):
        return False, "exit %d: %s%s" % (p.returncode, out.strip()[:200], p.stderr.decode(errors="replace").strip()[:300])
    return True, ""


def pct(sorted_ms, p):
    """Nearest-rank percentile."""
    if not sorted_ms:
        return float("nan")
    return sorted_ms[max(0, min(len(sorted_ms) - 1, math.ceil(p / 100 * len(sorted_ms)) - 1))]


def cmd_seq(args):
    n, phase_timeout, ssh_timeout, expect = int(args[0]), float(args[1]), float(args[2]), args[3]
    cmd = args[5:]
    stop = time.monotonic() + phase_timeout
    ms, failed, first = [], 0, ""
    cc0 = children_cpu_ms()
    for _ in range(n):
        if time.monotonic() > stop:
            break
        t = time.perf_counter_ns()
        ok, err = run_one(cmd, ssh_timeout, expect)
        dt = (time.perf_counter_ns() - t) / 1e6
        if ok:
            ms.append(dt)
        else:
            failed += 1
            first = first or err
            if failed >= 10 and not ms:
                break
    client_cpu = (children_cpu_ms() - cc0) / max(len(ms) + failed, 1)
    ms.sort()
    if first:
        print("seq: %d failed, first: %s" % (failed, first), file=sys.stderr)
    print("rt_n=%d" % len(ms))
    print("rt_failed=%d" % failed)
    print("client_cpu_ms=%.2f" % client_cpu)
    for name, v in (("median", statistics.median(ms) if ms else float("nan")),
                    ("p90", pct(ms, 90)), ("p99", pct(ms, 99)), ("min", ms[0] if ms else float("nan")),
                    ("max", ms[-1] if ms else float("nan"))):
        print("rt_%s_ms=%.2f" % (name, v))


def cmd_conc(args):
    c, total, phase_timeout, ssh_timeout, expect = int(args[0]), int(args[1]), float(args[2]), float(args[3]), args[4]
    cmd = args[6:]
    stop = time.monotonic() + phase_timeout
    lock = threading.Lock()
    res = {"ok": 0, "failed": 0, "skipped": 0, "first": ""}

    def task(_):
        if time.monotonic() > stop:
            with lock:
                res["skipped"] += 1
            return
        ok, err = run_one(cmd, ssh_timeout, expect)
        with lock:
            if ok:
                res["ok"] += 1
            else:
                res["failed"] += 1
                res["first"] = res["first"] or err

    t, cc0 = time.perf_counter(), children_cpu_ms()
    with cf.ThreadPoolExecutor(max_workers=c) as ex:
        list(ex.map(task, range(total)))
    el = time.perf_counter() - t
    client_cpu = (children_cpu_ms() - cc0) / max(res["ok"] + res["failed"], 1)
    if res["first"]:
        print("conc %d: %d failed, first: %s" % (c, res["failed"], res["first"]), file=sys.stderr)
    print("ok=%d" % res["ok"])
    print("failed=%d" % res["failed"])
    print("skipped=%d" % res["skipped"])
    print("seconds=%.3f" % el)
    print("cps=%.2f" % (res["ok"] / el if el > 0 else 0))
    print("client_cpu_ms=%.2f" % client_cpu)


def stat_fields(pid):
    with open("/proc/%s/stat" % pid, "rb") as f:
        b = f.read()
    return b[b.rindex(b")") + 2:].split()  # fields from 3 (state) on


def children_map():
    kids = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            ppid = stat_fields(e)[1].decode()
        except (OSError, IndexError):
            continue
        kids.setdefault(ppid, []).append(e)
    return kids


def tree(pid):
    kids, out, todo = children_map(), [], [str(pid)]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cmd_cpu(args):
    pid = args[0]
    # /proc method: utime+stime+cutime+cstime of every live process of the
    # tree. A finished process that was waited for is in its parent's
    # cutime/cstime, so the sum covers live and finished descendants.
    ticks = 0
    for p in tree(pid):
        try:
            f = stat_fields(p)
        except OSError:
            continue
        ticks += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
    print("proc_ms=%.1f" % (ticks * 1000 / TICK))
    # The server process alone (not its children): read- and write-like
    # system calls (/proc/PID/io) and its threads' context switches (each a
    # thread going to sleep or being preempted: the scheduler's wake-ups).
    try:
        with open("/proc/%s/io" % pid) as f:
            io = dict(l.split(": ") for l in f.read().splitlines())
        print("io_syscalls=%d" % (int(io["syscr"]) + int(io["syscw"])))
    except (OSError, KeyError, ValueError):
        pass
    sw = 0
    try:
        for t in os.listdir("/proc/%s/task" % pid):
            sw += kib("/proc/%s/task/%s/status" % (pid, t), "voluntary_ctxt_switches:")
            sw += kib("/proc/%s/task/%s/status" % (pid, t), "nonvoluntary_ctxt_switches:")
        print("ctxsw=%d" % sw)
    except OSError:
        pass
    if len(args) > 1 and args[1]:
        d = args[1]
        try:
            if os.path.exists(os.path.join(d, "cpu.stat")):
                with open(os.path.join(d, "cpu.stat")) as f:
                    usec = int(dict(l.split() for l in f)["usage_usec"])
                print("cg_ms=%.1f" % (usec / 1000))
            else:
                with open(os.path.join(d, "cpuacct.usage")) as f:
                    print("cg_ms=%.1f" % (int(f.read()) / 1e6))
        except (OSError, KeyError, ValueError) as e:
            print("cpu: cgroup %s: %s" % (d, e), file=sys.stderr)


def kib(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmd_mem(args):
    pid = args[0]
    procs = tree(pid)
    print("root_rss_kib=%d" % kib("/proc/%s/status" % pid, "VmRSS:"))
    print("root_pss_kib=%d" % kib("/proc/%s/smaps_rollup" % pid, "Pss:"))
    print("tree_pss_kib=%d" % sum(kib("/proc/%s/smaps_rollup" % p, "Pss:") for p in procs))
    print("tree_rss_kib=%d" % sum(kib("/proc/%s/status" % p, "VmRSS:") for p in procs))
    print("procs=%d" % len(procs))


def cmd_settle(args):
    pid, stop = args[0], time.monotonic() + float(args[1])
    while len(tree(pid)) > 1 and time.monotonic() < stop:
        time.sleep(0.1)


def cmd_tree(args):
    print("\n".join(tree(args[0])))


def cmd_report(args):
    vals, notes = {}, []
    with open(args[0]) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("note|"):
                notes.append(line[5:])
                continue
            server, key, v = line.split("|", 2)
            vals[(server, key)] = v
    servers = ("dokku-sshd", "bare", "openssh")

    def num(s, k):
        try:
            return float(vals[(s, k)])
        except (KeyError, ValueError):
            return float("nan")

    def median_rounds(s, method):
        xs = [num(s, k) for (sv, k) in vals if sv == s and k.startswith("cpur_%s_" % method)]
        xs = [x for x in xs if not math.isnan(x)]
        return statistics.median(xs) if xs else float("nan")

    rounds = sorted({int(k.split("_")[2]) for (_, k) in vals if k.startswith("cpur_cg_")})

    def round_ratio(a, b, m):
        """Median over the rounds of a's figure / b's in the same round: the
        load of the machine changes from round to round, less within one."""
        xs = [num(a, "cpur_%s_%d" % (m, r)) / num(b, "cpur_%s_%d" % (m, r)) for r in rounds
              if num(b, "cpur_%s_%d" % (m, r)) > 0]
        xs = [x for x in xs if not math.isnan(x)]
        return statistics.median(xs) if xs else float("nan")
    for s in servers + ("baseline",):  # the CPU phase's medians, as keys like the others
        for m in ("cg", "proc", "iosys", "ctxsw"):
            vals[(s, "cpur_%s_median" % m)] = str(median_rounds(s, m))

    rows = []  # (label, key, fmt)
    if rounds:
        rows.append(("server CPU per command, sequential, interleaved, cgroup (ms, median of %d)" % len(rounds),
                     "cpur_cg_median", "%.3f"))
        rows.append(("server CPU per command, sequential, interleaved, /proc (ms, median of %d)" % len(rounds),
                     "cpur_proc_median", "%.3f"))
        rows.append(("  read/write system calls per command (/proc/PID/io)", "cpur_iosys_median", "%.1f"))
        rows.append(("  thread context switches per command", "cpur_ctxsw_median", "%.1f"))
    for k, label in (("rt_median_ms", "`version` round trip, median (ms)"),
                     ("rt_p90_ms", "`version` round trip, p90 (ms)"),
                     ("rt_p99_ms", "`version` round trip, p99 (ms)")):
        rows.append((label, k, "%.1f"))
    concs = sorted({int(k[4:].split("_")[0]) for (_, k) in vals if k.startswith("cps_")})
    for c in concs:
        rows.append(("commands/s, %d concurrent clients" % c, "cps_%d" % c, "%.1f"))
    for c in concs:
        rows.append(("server CPU per command, %d clients, cgroup (ms)" % c, "cpu_%d" % c, "%.3f"))
        rows.append(("server CPU per command, %d clients, /proc (ms)" % c, "cpuproc_%d" % c, "%.3f"))
    rows.append(("server CPU per command, sequential, cgroup (ms)", "cpu_seq", "%.3f"))
    rows.append(("server CPU per command, sequential, /proc (ms)", "cpu_seq_proc", "%.3f"))
    rows.append(("ssh client CPU per command (ms)", "client_cpu", "%.1f"))
    rows.append(("server memory, idle baseline (KiB)", "mem_base", "%.0f"))
    idles = sorted({int(k[4:].split("_")[0]) for (_, k) in vals if k.startswith("kib_") and k[4:].split("_")[0].isdigit()})
    for k in idles:
        rows.append(("memory per idle session, %d sessions (KiB)" % k, "kib_%d" % k, "%.1f"))
    for k in idles:
        rows.append(("  idle sessions actually held (of %d)" % k, "reached_%d" % k, "%.0f"))
    rows = [r for r in rows if any(not math.isnan(num(s, r[1])) for s in servers)]

    def ratio(a, b, k):
        if k.startswith("reached") or math.isnan(a) or math.isnan(b) or not b:
            return ""
        return "%.3f" % (a / b)

    w = max(len(r[0]) for r in rows) if rows else 10
    print("| %-*s | %10s | %10s | %10s | %8s | %8s |" % (w, "metric", "dokku-sshd", "bare x/cr.", "OpenSSH", "/bare", "/OpenSSH"))
    print("|%s|%s|%s|%s|%s|%s|" % ("-" * (w + 2), "-" * 11 + ":", "-" * 11 + ":", "-" * 11 + ":", "-" * 9 + ":", "-" * 9 + ":"))
    for label, k, fmt in rows:
        a, b, o = num(servers[0], k), num(servers[1], k), num(servers[2], k)
        cells = [fmt % x if not math.isnan(x) else "n/a" for x in (a, b, o)]
        print("| %-*s | %10s | %10s | %10s | %8s | %8s |" % (w, label, cells[0], cells[1], cells[2], ratio(a, b, k), ratio(a, o, k)))
    print("bare x/cr. = bench/bareserver on golang.org/x/crypto/ssh; /bare and /OpenSSH = dokku-sshd's figure")
    print("divided by theirs (lower is better except commands/s)")
    print()

    def verdict(ok):
        return "n/a " if ok is None else ("PASS" if ok else "MISS")

    if rounds:
        print("Per-round ratios (median over %d rounds of dokku-sshd's figure / the other's in the same round):" % len(rounds))
        for other in ("bare", "openssh", "baseline"):
            r_cg, r_proc = round_ratio(servers[0], other, "cg"), round_ratio(servers[0], other, "proc")
            if not math.isnan(r_cg):
                print("  dokku-sshd / %-8s  %.3f (cgroup)  %.3f (/proc)" % (other, r_cg, r_proc))
        print()
    print("Targets:")
    for m, label in (("cg", "cgroup"), ("proc", "/proc")):
        if not rounds:
            break
        a, b, o = (num(s, "cpur_%s_median" % m) for s in servers)
        rr = round_ratio(servers[0], servers[1], m)
        ok = None if math.isnan(a) or math.isnan(b) or b == 0 else a <= 1.1 * b and rr <= 1.1
        print("  [%s] server CPU per command within 1.1x of bare x/crypto, sequential, %s: %.3f ms vs %.3f ms"
              " (%.2fx; per round %.2fx)" % (verdict(ok), label, a, b, a / b if b else float("nan"), rr))
        ok = None if math.isnan(a) or math.isnan(o) or o == 0 else a < o / 20
        print("  [%s] server CPU per command < 1/20 of sshd's, sequential, %s: %.3f ms vs %.3f ms (1/%.0f)" %
              (verdict(ok), label, a, o, o / a if a else float("inf")))
    base = num("baseline", "cpur_cg_median"), num("baseline", "cpur_proc_median")
    if rounds and not math.isnan(base[0]):
        print("  [info] dokku-sshd / baseline (%s), sequential: %.3f (cgroup), %.3f (/proc); baseline %.3f ms, %.3f ms,"
              " %.1f read/write system calls, %.1f context switches per command" %
              (os.environ.get("BASELINE", "?"), num(servers[0], "cpur_cg_median") / base[0],
               num(servers[0], "cpur_proc_median") / base[1], base[0], base[1],
               num("baseline", "cpur_iosys_median"), num("baseline", "cpur_ctxsw_median")))
    med = num(servers[0], "rt_median_ms")
    if not math.isnan(med):
        print("  [%s] version round trip median < 15 ms: %.1f ms" % (verdict(med < 15), med))
    for c in concs:
        a, o = num(servers[0], "cpu_%d" % c), num(servers[2], "cpu_%d" % c)
        ok = None if math.isnan(a) or math.isnan(o) or o == 0 else a < o / 20
        print("  [%s] server CPU per command < 1/20 of sshd's, %d clients: %.3f ms vs %.3f ms (1/%.0f)" %
              (verdict(ok), c, a, o, o / a if a else float("inf")))
    for k in idles:
        a = num(servers[0], "kib_%d" % k)
        reached = num(servers[0], "reached_%d" % k)
        ok = None if math.isnan(a) else (a < 100 and reached == k)
        print("  [%s] < 100 KiB per idle session, %d sessions: %.1f KiB (%d held)" % (verdict(ok), k, a, reached))
    if notes:
        print()
        for n in notes:
            print(n)


# Where a Go CPU profile's samples went, by the kind of work: each sample's
# stack is put in the first category that matches.
SCHED_FRAMES = ("runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.gopark", "runtime.goready",
                "runtime.ready", "runtime.wakep", "runtime.notewakeup", "runtime.notesleep", "runtime.stopm",
                "runtime.startm", "runtime.mcall", "runtime.goexit0", "runtime.newproc", "runtime.stealWork",
                "runtime.runqgrab", "runtime.semasleep", "runtime.semawakeup", "runtime.chansend",
                "runtime.chanrecv", "runtime.selectgo", "runtime.resetspinning", "runtime.execute",
                "runtime.injectglist", "runtime.netpollblock", "runtime.sysmon", "runtime.gosched")
ALLOC_FRAMES = ("runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.growslice",
                "runtime.makemap", "runtime.memclrNoHeapPointers", "runtime.(*mcache)", "runtime.(*mheap)")
STD_PREFIXES = ("runtime.", "internal/", "sync", "bytes.", "strings.", "encoding/", "bufio.", "io.", "context.",
                "reflect.", "time.", "fmt.", "strconv.", "errors.", "net.", "os.", "syscall.", "slices.", "maps.",
                "unicode/", "sort.", "math/bits", "golang.org/x/sys/")


def profile_category(fr):
    leaf, s = fr[0], " ".join(fr)
    if any(x in s for x in ("runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.bgsweep", "runtime.gcAssist",
                            "runtime.markroot", "runtime.scanobject", "runtime.gcStart", "runtime.sweepone")):
        return "GC"
    if "log/slog." in s:
        return "logging (log/slog)"
    if leaf.startswith(("internal/runtime/syscall", "syscall.", "runtime/internal/syscall")):
        if any(f.startswith("runtime.netpoll") for f in fr):
            return "scheduler: netpoll (epoll_wait)"
        calls = " ".join(f for f in fr if f.startswith(("syscall.", "golang.org/x/sys/unix.", "os.", "internal/poll.")))
        for key, name in (("etsockopt", "syscalls: setsockopt (TCP_QUICKACK, ...)"), ("rite", "syscalls: write"),
                          ("ead", "syscalls: read"), ("lose", "syscalls: close"), ("ccept", "syscalls: accept"),
                          ("tat", "syscalls: stat")):
            if key in calls:
                return name
        return "syscalls: other"
    if leaf.startswith(("runtime.futex", "runtime.usleep", "runtime.osyield")):
        return "scheduler: futex wake/sleep, spinning"
    if leaf.startswith(("runtime.netpoll", "runtime.epoll")):
        return "scheduler: netpoll (epoll_wait)"
    if leaf.startswith(("crypto/", "golang.org/x/crypto/chacha20", "golang.org/x/crypto/internal",
                        "golang.org/x/crypto/curve25519", "math/big", "vendor/golang.org/x/crypto")):
        return "crypto (key exchange, signatures, ciphers, MACs)"
    if leaf.startswith("runtime."):
        if any(f.startswith(ALLOC_FRAMES) for f in fr):
            return "allocation"
        if any(f.startswith(SCHED_FRAMES) for f in fr) or leaf.startswith(("runtime.lock", "runtime.unlock")):
            return "scheduler: park/wakeup/switch"
        if any(f.startswith(("runtime.(*unwinder)", "runtime.pcvalue", "runtime.findfunc", "runtime.newstack",
                             "runtime.copystack", "runtime.morestack")) for f in fr):
            return "goroutine stacks (growth, unwinding)"
    for f in fr:
        if f.startswith(STD_PREFIXES):
            continue
        if f.startswith("dokku-sshd/") or f.startswith("main."):
            return "own code (dokku-sshd/..., bareserver main)"
        if f.startswith("charm.land/"):
            return "charm.land/ssh"
        if f.startswith("golang.org/x/crypto/ssh"):
            return "x/crypto/ssh protocol (not crypto)"
        return "other"
    return "runtime: other"


def cmd_profile(args):
    cats = []
    for binary, prof in zip(args[0::2], args[1::2]):
        if not os.path.exists(prof) or os.path.getsize(prof) == 0:
            print("  %s: no profile written" % os.path.basename(prof))
            continue
        out = subprocess.run(["go", "tool", "pprof", "-traces", binary, prof], capture_output=True, text=True).stdout
        c, total = {}, 0.0
        for block in out.split("-----------+-------------------------------------------------------")[1:]:
            lines = [l for l in block.strip("\n").split("\n") if l.strip()]
            m = re.match(r"\s*(\d+(?:\.\d+)?)(s|ms|us)\s+(\S+)", lines[0]) if lines else None
            if not m:
                continue
            v = float(m.group(1)) * {"s": 1000, "ms": 1, "us": 0.001}[m.group(2)]
            frames = [m.group(3)] + [l.split()[0] for l in lines[1:]]
            k = profile_category(frames)
            c[k] = c.get(k, 0) + v
            total += v
        cats.append((os.path.basename(binary), c, total))
    keys = sorted({k for _, c, _ in cats for k in c}, key=lambda k: -max(c.get(k, 0) / t for _, c, t in cats if t))
    w = max([len(k) for k in keys] + [10])
    print("| %-*s | %s |" % (w, "where the samples are", " | ".join("%18s" % n for n, _, _ in cats)))
    print("|%s|%s" % ("-" * (w + 2), "".join("-" * 19 + ":|" for _ in cats)))
    for k in keys:
        print("| %-*s | %s |" % (w, k, " | ".join("%7.0f ms %6.1f%%" % (c.get(k, 0), 100 * c.get(k, 0) / t if t else 0)
                                                      for _, c, t in cats)))
    print("| %-*s | %s |" % (w, "total sampled", " | ".join("%7.0f ms %6s " % (t, "") for _, _, t in cats)))


if __name__ == "__main__":
    cmds = {"seq": cmd_seq, "conc": cmd_conc, "cpu": cmd_cpu, "mem": cmd_mem, "settle": cmd_settle,
            "tree": cmd_tree, "report": cmd_report, "profile": cmd_profile}
    cmds[sys.argv[1]](sys.argv[2:])
PYTHON

ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/key"

# dokku-sshd: temp data dir, the key as `bench`, limits raised for the idle
# sessions (the defaults allow 64 connections per address).
max_idle=${IDLE##*,}
d_port=$(free_port)
d_cg=$(new_cgroup dokku-sshd)
"$work/dokku-sshd" --data-dir "$work/data" ssh-keys:add bench "$work/key.pub" >"$work/ssh-keys-add.log" 2>&1 ||
  die "ssh-keys:add failed: $(cat "$work/ssh-keys-add.log")"
d_flags=()
d_help=$("$work/dokku-sshd" serve --help 2>&1 || true)
for f in max-connections max-connections-per-ip; do
  if grep -q -- "-$f" <<<"$d_help"; then d_flags+=("--$f" "$((max_idle + 200))"); fi
done
if [ "$PROFILE" = 1 ]; then d_flags+=(--cpu-profile "$work/dokku-sshd.prof"); fi
log "starting dokku-sshd on 127.0.0.1:$d_port"
(in_cgroup "$d_cg" "$work/dokku-sshd" serve --listen "127.0.0.1:$d_port" --data-dir "$work/data" "${d_flags[@]}") \
  2>"$work/dokku-sshd.log" &
d_pid=$!
server_pids+=("$d_pid")
if [ -n "$d_cg" ]; then cgroups+=("$d_cg"); fi
wait_port "$d_port" "$d_pid" || die "dokku-sshd did not start: $(tail -5 "$work/dokku-sshd.log")"
d_cg=$(cg_check "$d_cg" "$d_pid")

# bench/bareserver: the same key, its own host key, and the very bytes
# dokku-sshd answers `version` with.
b_port=$(free_port)
b_cg=$(new_cgroup bare)
ssh-keygen -q -t ed25519 -N '' -f "$work/bare_host_key"
b_flags=()
if [ "$PROFILE" = 1 ]; then b_flags+=(-cpu-profile "$work/bare.prof"); fi
log "starting bench/bareserver on 127.0.0.1:$b_port"
(in_cgroup "$b_cg" "$work/bareserver" -listen "127.0.0.1:$b_port" -host-key "$work/bare_host_key" \
  -authorized "$work/key.pub" -user dokku -reply "$("$work/dokku-sshd" --data-dir "$work/data" version)" "${b_flags[@]}") \
  >"$work/bare.log" 2>&1 &
b_pid=$!
server_pids+=("$b_pid")
if [ -n "$b_cg" ]; then cgroups+=("$b_cg"); fi
wait_log "$work/bare.log" "^listening " "$b_pid" || die "bareserver did not start: $(tail -5 "$work/bare.log")"
b_cg=$(cg_check "$b_cg" "$b_pid")

# The baseline dokku-sshd (BASELINE), set up as dokku-sshd is.
if [ -n "$BASELINE" ]; then
  x_port=$(free_port)
  x_cg=$(new_cgroup baseline)
  "$work/dokku-sshd-baseline" --data-dir "$work/data-baseline" ssh-keys:add bench "$work/key.pub" >"$work/ssh-keys-add-baseline.log" 2>&1 ||
    die "baseline ssh-keys:add failed: $(cat "$work/ssh-keys-add-baseline.log")"
  log "starting the baseline dokku-sshd ($BASELINE) on 127.0.0.1:$x_port"
  (in_cgroup "$x_cg" "$work/dokku-sshd-baseline" serve --listen "127.0.0.1:$x_port" --data-dir "$work/data-baseline") \
    2>"$work/dokku-sshd-baseline.log" &
  x_pid=$!
  server_pids+=("$x_pid")
  if [ -n "$x_cg" ]; then cgroups+=("$x_cg"); fi
  wait_port "$x_port" "$x_pid" || die "baseline dokku-sshd did not start: $(tail -5 "$work/dokku-sshd-baseline.log")"
  x_cg=$(cg_check "$x_cg" "$x_pid")
fi

# OpenSSH: private config, own host key, the key authorized for root with
# sshcommand's options and a forced command.
o_port=$(free_port)
o_cg=$(new_cgroup openssh)
mkdir -p /run/sshd "$work/sshd"
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd/host_ed25519_key"
printf 'command="echo '\''%s'\''",no-agent-forwarding,no-port-forwarding,no-X11-forwarding,no-user-rc %s\n' \
  "$FORCED_VERSION" "$(cat "$work/key.pub")" >"$work/sshd/authorized_keys"
cat >"$work/sshd/sshd_config" <<CONF
Port $o_port
ListenAddress 127.0.0.1
HostKey $work/sshd/host_ed25519_key
AuthorizedKeysFile $work/sshd/authorized_keys
PidFile $work/sshd/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 200:30:400
MaxSessions 100
# The forced command runs as root through bash, which sources ~/.bashrc when
# started by sshd unless SHLVL says it is nested. The dokku user's .bashrc
# returns at once for non-interactive shells; root's may not (here: pyenv).
SetEnv SHLVL=1
$OPENSSH_EXTRA
CONF
/usr/sbin/sshd -t -f "$work/sshd/sshd_config" || die "sshd rejected the generated config"
log "starting OpenSSH sshd on 127.0.0.1:$o_port"
(in_cgroup "$o_cg" /usr/sbin/sshd -D -e -f "$work/sshd/sshd_config") 2>"$work/sshd.log" &
o_pid=$!
server_pids+=("$o_pid")
if [ -n "$o_cg" ]; then cgroups+=("$o_cg"); fi
# Not probed with a bare TCP connection: OpenSSH 9.8+ penalizes an address
# whose connection closes before authenticating (PerSourcePenalties).
wait_log "$work/sshd.log" "Server listening on 127.0.0.1 port $o_port" "$o_pid" ||
  die "sshd did not start: $(tail -5 "$work/sshd.log")"
o_cg=$(cg_check "$o_cg" "$o_pid")

# ---------------------------------------------------------------- measure
ssh_cmd() { # port user -> the client command line, one word a line
  printf '%s\n' ssh -F /dev/null -o "UserKnownHostsFile=$work/known_hosts" -o StrictHostKeyChecking=accept-new \
    -o BatchMode=yes -o IdentitiesOnly=yes -o ControlMaster=no -o ControlPath=none -o LogLevel=ERROR \
    -o "ConnectTimeout=$SSH_TIMEOUT" -i "$work/key" -p "$1" "$2@127.0.0.1" version
}

cpu_ms() { # pid cgroup -> "proc_ms cg_ms io_syscalls ctxsw"
  local out
  out=$(helper cpu "$1" "$2")
  printf '%s %s %s %s\n' "$(kv proc_ms <<<"$out")" "$(kv cg_ms <<<"$out")" "$(kv io_syscalls <<<"$out")" "$(kv ctxsw <<<"$out")"
}

# per_cmd AFTER BEFORE N: (AFTER - BEFORE) / N, or nothing when AFTER is empty.
per_cmd() {
  [ -n "$1" ] || return 0
  python3 -c 'import sys; print("%.4f" % ((float(sys.argv[1]) - float(sys.argv[2])) / max(int(sys.argv[3]), 1)))' "$1" "$2" "$3"
}

phase() { [[ ,$PHASES, == *,$1,* ]]; }

check_server() { # name port user expect: the first command, and the key exchange
  local name=$1 port=$2 user=$3 expect=$4
  local -a cmd
  mapfile -t cmd < <(ssh_cmd "$port" "$user")
  local out
  log "$name: first command"
  out=$(timeout "$SSH_TIMEOUT" "${cmd[@]}" 2>&1) || die "$name: first command failed: $out"
  grep -Eq "$expect" <<<"$out" || die "$name: unexpected output: $out"
  printf '    %s\n' "$out" >&2
  local kex
  kex=$(timeout "$SSH_TIMEOUT" "${cmd[@]/LogLevel=ERROR/LogLevel=DEBUG1}" 2>&1 | sed -n 's/^debug1: kex: algorithm: //p' | head -1 || true)
  note "$name: key exchange negotiated with this ssh client: ${kex:-unknown}"
}

# cpu_rounds: CPU_ROUNDS rounds of CPU_N sequential `version` commands per
# server, the servers one after another within a round and in a rotated order
# from one round to the next, so that the machine's background load falls on
# all of them alike. Each server's CPU is read before and after its turn by
# both methods (cgroup and /proc), after its process tree has settled.
cpu_rounds() {
  local r k i name port user pid cg expect n p0 g0 p1 g1 s0 s1 w0 w1 out
  local -a cmd order
  for ((r = 1; r <= CPU_ROUNDS; r++)); do
    order=()
    for ((k = 0; k < ${#srv_names[@]}; k++)); do order+=($(((k + r - 1) % ${#srv_names[@]}))); done
    for i in "${order[@]}"; do
      name=${srv_names[$i]} port=${srv_ports[$i]} user=${srv_users[$i]} pid=${srv_pids[$i]} cg=${srv_cgs[$i]} expect=${srv_expect[$i]}
      mapfile -t cmd < <(ssh_cmd "$port" "$user")
      helper_wait settle "$pid" 10
      read -r p0 g0 s0 w0 < <(cpu_ms "$pid" "$cg")
      helper_wait seq "$CPU_N" "$PHASE_TIMEOUT" "$SSH_TIMEOUT" "$expect" -- "${cmd[@]}"
      out=$(cat "$work/helper.out")
      helper_wait settle "$pid" 10
      read -r p1 g1 s1 w1 < <(cpu_ms "$pid" "$cg")
      n=$(kv rt_n <<<"$out")
      if [ "$name" != openssh ]; then # its per-connection processes are gone
        put "$name" "cpur_iosys_$r" "$(per_cmd "$s1" "$s0" "$n")"
        put "$name" "cpur_ctxsw_$r" "$(per_cmd "$w1" "$w0" "$n")"
      fi
      put "$name" "cpur_proc_$r" "$(per_cmd "$p1" "$p0" "$n")"
      put "$name" "cpur_cg_$r" "$(per_cmd "$g1" "$g0" "$n")"
      put "$name" "cpur_n_$r" "$n"
      printf '    round %d %-10s %s commands: %s ms/command (cgroup), %s (/proc)\n' "$r" "$name" "$n" \
        "$(per_cmd "$g1" "$g0" "$n")" "$(per_cmd "$p1" "$p0" "$n")" >&2
    done
  done
}

measure() { # name port user pid cgroup expect mem_key
  local name=$1 port=$2 user=$3 pid=$4 cg=$5 expect=$6 memkey=$7
  local -a cmd
  mapfile -t cmd < <(ssh_cmd "$port" "$user")
  local out

  if phase seq; then
    log "$name: $SEQ sequential round trips"
    local p0 g0 p1 g1
    read -r p0 g0 _ < <(cpu_ms "$pid" "$cg")
    helper_wait seq "$SEQ" "$PHASE_TIMEOUT" "$SSH_TIMEOUT" "$expect" -- "${cmd[@]}"
    out=$(cat "$work/helper.out")
    helper_wait settle "$pid" 10
    read -r p1 g1 _ < <(cpu_ms "$pid" "$cg")
    local k n
    for k in rt_median_ms rt_p90_ms rt_p99_ms rt_n rt_failed; do put "$name" "$k" "$(kv "$k" <<<"$out")"; done
    put "$name" client_cpu "$(kv client_cpu_ms <<<"$out")"
    n=$(kv rt_n <<<"$out")
    put "$name" cpu_seq "$(python3 -c 'import sys; a=sys.argv; print("%.4f" % ((float(a[2] or a[1]) - float(a[4] or a[3])) / max(int(a[5]), 1)))' \
      "$p1" "$g1" "$p0" "$g0" "$n")"
    put "$name" cpu_seq_proc "$(per_cmd "$p1" "$p0" "$n")"
    printf '    median %s ms, p90 %s ms, p99 %s ms (%s ok, %s failed)\n' "$(kv rt_median_ms <<<"$out")" \
      "$(kv rt_p90_ms <<<"$out")" "$(kv rt_p99_ms <<<"$out")" "$n" "$(kv rt_failed <<<"$out")" >&2
  fi
  if phase conc; then
    for c in ${CONCURRENCY//,/ }; do
      log "$name: $TOTAL commands, $c concurrent clients"
      read -r p0 g0 _ < <(cpu_ms "$pid" "$cg")
      helper_wait conc "$c" "$TOTAL" "$PHASE_TIMEOUT" "$SSH_TIMEOUT" "$expect" -- "${cmd[@]}"
      out=$(cat "$work/helper.out")
      helper_wait settle "$pid" 10
      read -r p1 g1 _ < <(cpu_ms "$pid" "$cg")
      n=$(kv ok <<<"$out")
      put "$name" "cps_$c" "$(kv cps <<<"$out")"
      put "$name" "ok_$c" "$n"
      put "$name" "failed_$c" "$(kv failed <<<"$out")"
      local cpu_cg="" cpu_proc
      cpu_proc=$(python3 -c 'import sys; print("%.4f" % ((float(sys.argv[1]) - float(sys.argv[2])) / max(int(sys.argv[3]), 1)))' "$p1" "$p0" "$n")
      if [ -n "$g1" ]; then
        cpu_cg=$(python3 -c 'import sys; print("%.4f" % ((float(sys.argv[1]) - float(sys.argv[2])) / max(int(sys.argv[3]), 1)))' "$g1" "$g0" "$n")
      fi
      put "$name" "cpu_$c" "${cpu_cg:-$cpu_proc}"
      put "$name" "cpuproc_$c" "$cpu_proc"
      printf '    %s commands/s (%s ok, %s failed, %s not started), server CPU %s ms/command (cgroup), %s (/proc)\n' \
        "$(kv cps <<<"$out")" "$n" "$(kv failed <<<"$out")" "$(kv skipped <<<"$out")" "${cpu_cg:-n/a}" "$cpu_proc" >&2
    done
  fi
  if phase idle; then
    log "$name: idle sessions ${IDLE//,/, }"
    helper_wait settle "$pid" 10
    sleep "$SETTLE"
    local base
    out=$(helper mem "$pid")
    base=$(kv "$memkey" <<<"$out")
    put "$name" mem_base "$base"
    put "$name" mem_base_tree_pss "$(kv tree_pss_kib <<<"$out")"
    local fifo_in=$work/idle-$name.in fifo_out=$work/idle-$name.out
    mkfifo "$fifo_in"
    : >"$fifo_out"
    "$work/idleclient" -addr "127.0.0.1:$port" -user "$user" -key "$work/key" -levels "$IDLE" \
      -level-timeout "${PHASE_TIMEOUT}s" -hold "$((PHASE_TIMEOUT * 3))s" <"$fifo_in" >"$fifo_out" 2>"$work/idle-$name.err" &
    idle_pid=$!
    exec 7>"$fifo_in"   # keeps the client's stdin open; closing it ends the client
    local level line i
    for level in ${IDLE//,/ }; do
      line=""
      for ((i = 0; i < PHASE_TIMEOUT * 10 + 50; i++)); do
        line=$(grep "^ready level=$level " "$fifo_out" || true)
        [ -n "$line" ] && break
        kill -0 "$idle_pid" 2>/dev/null || break
        sleep 0.1
      done
      if [ -z "$line" ]; then
        note "$name: idle client gave up before $level sessions: $(tail -3 "$work/idle-$name.err" | tr '\n' ' ')"
        break
      fi
      local reached
      reached=$(sed -n 's/.* reached=\([0-9]*\).*/\1/p' <<<"$line")
      sleep "$SETTLE"
      out=$(helper mem "$pid")
      local m
      m=$(kv "$memkey" <<<"$out")
      put "$name" "reached_$level" "$reached"
      put "$name" "mem_$level" "$m"
      put "$name" "procs_$level" "$(kv procs <<<"$out")"
      put "$name" "kib_$level" "$(python3 -c 'import sys; print("%.2f" % ((int(sys.argv[1]) - int(sys.argv[2])) / max(int(sys.argv[3]), 1)))' "$m" "$base" "$reached")"
      if [ "$name" = dokku-sshd ]; then
        put "$name" "kibpss_$level" "$(python3 -c 'import sys; print("%.2f" % ((int(sys.argv[1]) - int(sys.argv[2])) / max(int(sys.argv[3]), 1)))' \
          "$(kv tree_pss_kib <<<"$out")" "$(grep "^$name|mem_base_tree_pss|" "$results" | cut -d'|' -f3)" "$reached")"
      fi
      printf '    %s sessions held (of %s): %s KiB, baseline %s KiB, %s processes\n' "$reached" "$level" "$m" "$base" "$(kv procs <<<"$out")" >&2
      if [ "$reached" -lt "$level" ]; then note "$name: only $reached of $level idle sessions could be opened: $(tail -1 "$work/idle-$name.err")"; fi
      echo next >&7
    done
    exec 7>&-
    local w
    for ((w = 0; w < 100; w++)); do kill -0 "$idle_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$idle_pid" 2>/dev/null || true
    wait "$idle_pid" 2>/dev/null || true
    idle_pid=""
    helper_wait settle "$pid" 30
  fi
}

srv_names=(dokku-sshd bare openssh)
srv_ports=("$d_port" "$b_port" "$o_port")
srv_users=(dokku dokku "$(id -un)")
srv_pids=("$d_pid" "$b_pid" "$o_pid")
srv_cgs=("$d_cg" "$b_cg" "$o_cg")
srv_expect=('^dokku-sshd version [0-9]' '^dokku-sshd version [0-9]' "^$FORCED_VERSION\$")
srv_memkey=(root_rss_kib root_rss_kib tree_pss_kib)
for ((i = 0; i < ${#srv_names[@]}; i++)); do
  check_server "${srv_names[$i]}" "${srv_ports[$i]}" "${srv_users[$i]}" "${srv_expect[$i]}"
done
if [ -n "$BASELINE" ]; then # the CPU phase only
  srv_names+=(baseline) srv_ports+=("$x_port") srv_users+=(dokku) srv_pids+=("$x_pid") srv_cgs+=("$x_cg")
  srv_expect+=('^dokku-sshd version [0-9]')
  check_server baseline "$x_port" dokku '^dokku-sshd version [0-9]'
fi
if phase cpu; then
  log "CPU per command: $CPU_ROUNDS rounds of $CPU_N sequential commands per server, interleaved"
  cpu_rounds
fi
for ((i = 0; i < ${#srv_memkey[@]}; i++)); do
  measure "${srv_names[$i]}" "${srv_ports[$i]}" "${srv_users[$i]}" "${srv_pids[$i]}" "${srv_cgs[$i]}" "${srv_expect[$i]}" "${srv_memkey[$i]}"
done

if [ "$PROFILE" = 1 ]; then
  # Both write their profile when they stop: dokku-sshd at the end of its
  # graceful shutdown, bareserver on SIGTERM.
  log "stopping dokku-sshd and bareserver for their CPU profiles"
  kill -TERM "$d_pid" "$b_pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$d_pid" 2>/dev/null || kill -0 "$b_pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 0.5
fi

# ---------------------------------------------------------------- report
case $cg_kind in
  v2) cpu_method="cgroup v2 cpu.stat usage_usec of a transient cgroup per server (every process it started)" ;;
  v1) cpu_method="cgroup v1 cpuacct.usage of a transient cgroup per server (every process it started)" ;;
  *) cpu_method="/proc: utime+stime+cutime+cstime summed over the server's live process tree (reaped children counted through their parents)" ;;
esac
[ -n "$d_cg" ] && [ -n "$o_cg" ] || cpu_method="/proc: utime+stime+cutime+cstime summed over the server's live process tree (reaped children counted through their parents)"
{
  echo
  echo "servers: $("$work/dokku-sshd" version 2>/dev/null | head -1 || true); $(/usr/sbin/sshd -V 2>&1 | head -1 || true)"
  echo "client: $(ssh -V 2>&1); $(nproc) CPUs, loopback"
  echo "SEQ=$SEQ TOTAL=$TOTAL CONCURRENCY=$CONCURRENCY IDLE=$IDLE"
  echo
  BASELINE="$BASELINE" helper report "$results"
  if [ "$PROFILE" = 1 ]; then
    echo
    echo "CPU profiles (Go pprof, 100 Hz samples over the whole run, by the kind of work; a system"
    echo "call's kernel time is in its row; the samples add up to less than the cgroup's figure):"
    (cd "$repo" && helper profile "$work/dokku-sshd" "$work/dokku-sshd.prof" "$work/bareserver" "$work/bare.prof")
  fi
  cat <<EOF

How to read this:
- Incumbent = OpenSSH sshd with sshcommand's authorized_keys options and a forced command
  \`echo '$FORCED_VERSION'\` run by root's bash. A forced command that runs the real bash
  \`dokku\` is not available here; the real path adds bash, sshcommand and the dokku scripts
  (\`dokku version\` alone costs tens to hundreds of ms), so sshd's figures are a floor.
- Round trip: wall time of one \`ssh ... version\` process (connect, key exchange, auth,
  command, exit), sequential, timed in python3 with perf_counter.
- commands/s: the ssh clients run on the same $(nproc) CPUs, so the client's own CPU
  (key exchange, process start) bounds it for both servers.
- bare x/cr. = bench/bareserver: golang.org/x/crypto/ssh with nothing else (one key, TCP_QUICKACK
  re-armed after each read, \`version\` answered in process); the floor for a Go server.
- Server CPU per command, "cgroup": $cpu_method;
  "/proc": utime+stime+cutime+cstime summed over the server's live process tree (finished
  children count through their parent once it has waited for them). Both are read before and
  after a phase, once the server's process tree has settled, and divided by the commands that
  succeeded. Sequential and concurrent figures differ: under load one scheduler wake-up of a
  Go server serves several connections.
- Memory per idle session: (memory with K idle sessions - idle baseline) / K, where an idle
  session is a connection with one session channel and no request (bench/idleclient).
  dokku-sshd: VmRSS of its one process (PSS: kibpss_K in the raw results);
  OpenSSH: PSS summed over the listener and every per-connection process. The login is
  root's, for which OpenSSH forks no unprivileged post-auth child: a non-root dokku user
  costs one more process per connection, so this figure too is a floor for sshd.
EOF
  echo
  echo "Raw results (server|key|value):"
  grep -v '^note|' "$results" | sed 's/^/  /'
} | tee "$work/report.txt"
