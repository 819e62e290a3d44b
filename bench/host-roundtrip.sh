#!/usr/bin/env bash
# Host-mode benchmark: one `dokku apps:list` through dokku-sshd in host mode
# (systemd/dokku-host.conf's settings) against OpenSSH sshd with sshcommand's
# forced command, in the same run, on 127.0.0.1 only.
#
#   bench/host-roundtrip.sh                  # as root; about 3 minutes
#   ROUNDS=3 N=30 bench/host-roundtrip.sh    # a quick run
#
# Both servers read the same sshcommand-format authorized_keys, run as the same
# throwaway user (a stand-in for the dokku user, removed at the end) and run
# the same forced command with that user's login shell: `cat ~/.sshcommand`
# names a small `dokku` stand-in script whose apps:list prints the app
# directories of its home (APPS bare repositories), as Dokku's does.
#
# Measures, ROUNDS interleaved rounds of N sequential commands per server (the
# servers' order rotates from one round to the next, so that the machine's
# background load falls on both alike):
#   a. round trip: wall time of one `ssh ... apps:list` (connect, key exchange,
#      auth, forced command, exit), median and p90 per round;
#   b. server CPU per command: utime+stime+cutime+cstime summed over the
#      server's process tree, read before and after a round once the tree has
#      settled (finished children count through the parent that reaped them:
#      for both servers, the login shell and the stand-in; for sshd, its
#      per-connection processes too).
# The report gives, per server, the median over the rounds and the lowest and
# highest round (the spread). See bench/README.md.
#
# Knobs (environment):
#   ROUNDS=5       interleaved rounds
#   N=60           sequential commands per server per round
#   APPS=10        apps in the stand-in host
#   SSH_TIMEOUT=30 seconds allowed for one ssh command
#   OPENSSH_EXTRA= extra sshd_config lines (e.g. "KexAlgorithms curve25519-sha256":
#                  OpenSSH 9.x otherwise picks sntrup761x25519-sha512, which
#                  dokku-sshd does not offer and which costs both sides more)
#   KEEP=0         1: keep the work directory (logs, configs) and print its path
set -euo pipefail

ROUNDS=${ROUNDS:-5}
N=${N:-60}
APPS=${APPS:-10}
SSH_TIMEOUT=${SSH_TIMEOUT:-30}
KEEP=${KEEP:-0}
OPENSSH_EXTRA=${OPENSSH_EXTRA:-}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
case ${1:-} in -h | --help) usage 36; exit 0 ;; esac

[ "$(id -u)" -eq 0 ] || die "run as root: it adds a throwaway user and starts a private OpenSSH sshd"
for v in ROUNDS N APPS SSH_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive whole number, not '${!v}'"
done
for c in python3 go git ssh ssh-keygen useradd userdel setpriv; do
  command -v "$c" >/dev/null || die "$c is needed"
done
[ -x /usr/sbin/sshd ] || die "OpenSSH's sshd is needed: apt-get install -y openssh-server"

work=$(mktemp -d /tmp/host-roundtrip.XXXXXX)
chmod 0755 "$work" # the bench user reaches its home and the server below it
user="hostbench$$"
user_added=""
d_pid="" o_pid=""
seq_pid="" # the helper timing a round, while it runs

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$seq_pid" 2
  stop_pid "$d_pid"
  stop_pid "$o_pid"
  # userdel refuses while a process of the user is left (it would be one of
  # the servers' children, gone once they are).
  if [ -n "$user_added" ]; then
    for ((i = 0; i < 50; i++)); do userdel "$user" 2>/dev/null && user_added="" && break; sleep 0.2; done
    if [ -n "$user_added" ]; then log "could not remove the user $user"; fi
  fi
  if [ "$KEEP" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the host
log "building dokku-sshd"
(cd "$repo" && go build -o "$work/dokku-sshd" ./cmd/dokku-sshd)
grep -q -- '-dokku-host' <<<"$("$work/dokku-sshd" serve -h 2>&1 || true)" ||
  die "this dokku-sshd has no --dokku-host (host mode)"

home=$work/home lib=$work/lib data=$work/data
mkdir -p "$home/.ssh" "$lib" "$data" "$work/bin"
useradd --system --no-create-home --home-dir "$home" --shell /bin/bash --user-group "$user"
user_added=1
usermod -p '*' "$user" # no password, not locked: sshd without PAM refuses locked accounts
cp /etc/skel/.bashrc /etc/skel/.profile "$home/" 2>/dev/null || true

cat >"$work/bin/dokku" <<'SH'
#!/bin/sh
# Stand-in for /usr/bin/dokku: apps:list prints the app repositories in the
# home (Dokku's DOKKU_ROOT), as Dokku's apps:list does.
case $1 in
apps:list)
  echo "=====> My Apps"
  for d in "$HOME"/*/; do
    [ -d "${d}refs" ] || continue
    d=${d%/}
    echo "${d##*/}"
  done
  ;;
*)
  echo " !     $1 is not a dokku command." >&2
  exit 1
  ;;
esac
SH
chmod 0755 "$work/bin/dokku"
echo "$work/bin/dokku" >"$home/.sshcommand"
for ((i = 1; i <= APPS; i++)); do git init -q --bare "$home/app$i"; done

# The key, appended as `sshcommand acl-add` appends it.
ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/key"
fp=$(ssh-keygen -lf "$work/key.pub" | cut -d' ' -f2)
printf 'command="FINGERPRINT=%s NAME=\\"bench\\" `cat %s/.sshcommand` $SSH_ORIGINAL_COMMAND",%s %s\n' \
  "$fp" "$home" no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding "$(cat "$work/key.pub")" \
  >"$home/.ssh/authorized_keys"
chown -R "$user:$user" "$home" "$lib" "$data"
chmod 0700 "$home/.ssh/authorized_keys" # sic: sshcommand's mode

# ---------------------------------------------------------------- servers
# dokku-sshd as systemd starts it with dokku-host.conf: the drop-in's
# Environment= lines, Dokku's paths pointed at this run's.
# DOKKU_SSHD_USER: the login name is the bench user's, as OpenSSH needs it.
env_args=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "DOKKU_SSHD_DATA_DIR=$data" "DOKKU_SSHD_USER=$user")
while IFS= read -r kv; do
  kv=${kv//\/home\/dokku/$home}
  kv=${kv//\/var\/lib\/dokku/$lib}
  kv=${kv//\/usr\/bin\/dokku/$work\/bin\/dokku}
  env_args+=("$kv")
done < <(sed -n 's/^Environment=//p' "$repo/systemd/dokku-host.conf")
d_port=$(free_port)
log "starting dokku-sshd (host mode) on 127.0.0.1:$d_port as $user"
(cd / && exec env -i "${env_args[@]}" setpriv --reuid "$user" --regid "$user" --init-groups \
  "$work/dokku-sshd" serve --listen "127.0.0.1:$d_port") 2>"$work/dokku-sshd.log" &
d_pid=$!
wait_listen "$d_pid" "$d_port" "$work/dokku-sshd.log"

o_port=$(free_port "$d_port")
mkdir -p /run/sshd "$work/sshd"
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd/host_ed25519_key"
cat >"$work/sshd/sshd_config" <<CONF
Port $o_port
ListenAddress 127.0.0.1
HostKey $work/sshd/host_ed25519_key
AuthorizedKeysFile $home/.ssh/authorized_keys
PidFile $work/sshd/sshd.pid
AllowUsers $user
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 100:30:200
$OPENSSH_EXTRA
CONF
/usr/sbin/sshd -t -f "$work/sshd/sshd_config" || die "sshd rejected the generated config"
log "starting OpenSSH sshd on 127.0.0.1:$o_port"
/usr/sbin/sshd -D -e -f "$work/sshd/sshd_config" 2>"$work/sshd.log" &
o_pid=$!
# Not probed with a bare TCP connection: OpenSSH 9.8+ penalizes an address
# whose connection closes before authenticating (PerSourcePenalties).
for ((i = 0; i < 100; i++)); do
  grep -q "Server listening on 127.0.0.1 port $o_port" "$work/sshd.log" && break
  kill -0 "$o_pid" 2>/dev/null || die "sshd exited: $(tail -5 "$work/sshd.log")"
  sleep 0.1
done

# ---------------------------------------------------------------- measure
cat >"$work/helper.py" <<'PYTHON'
"""Measurements for bench/host-roundtrip.sh (written out and run by it).

  seq N TIMEOUT EXPECT -- CMD...  N sequential runs of CMD: one wall ms a line
  alone N TIMEOUT EXPECT -- CMD... seq, then "cpu MS": CMD's own CPU per run
  cpu PID                         CPU ms of PID's live process tree
  settle PID SECONDS              wait (bounded) until PID has no descendants
  report FILE                     the table, from `server round key value` lines
"""
import os
import resource
import statistics
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open("/proc/%s/stat" % pid, "rb") as f:
        b = f.read()
    return b[b.rindex(b")") + 2:].split()  # fields from 3 (state) on


def tree(pid):
    kids = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                kids.setdefault(stat_fields(e)[1].decode(), []).append(e)
            except (OSError, IndexError):
                pass
    out, todo = [], [str(pid)]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cmd_seq(args):
    n, timeout, expect, cmd = int(args[0]), float(args[1]), args[2].encode(), args[4:]
    cwd = os.environ.get("ALONE_CWD")
    for _ in range(n):
        t = time.perf_counter()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, cwd=cwd)
        ms = (time.perf_counter() - t) * 1000
        if p.returncode != 0 or expect not in p.stdout:
            sys.exit("unexpected answer (exit %d): %r %r" % (p.returncode, p.stdout[:200], p.stderr[:300]))
        print("%.3f" % ms)


def cmd_alone(args):
    """seq without a server: CMD's wall ms a line, then its CPU per run
    (the children this process reaped) as "cpu MS"."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd_seq(args)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000
    print("cpu %.4f" % (used / int(args[0])))


def cmd_cpu(args):
    ticks = 0
    for p in tree(args[0]):
        try:
            ticks += sum(int(x) for x in stat_fields(p)[11:15])  # utime stime cutime cstime
        except OSError:
            pass
    print("%.1f" % (ticks * 1000 / TICK))


def cmd_settle(args):
    stop = time.monotonic() + float(args[1])
    while len(tree(args[0])) > 1 and time.monotonic() < stop:
        time.sleep(0.05)


def cmd_report(args):
    rows = {}
    with open(args[0]) as f:
        for line in f:
            server, rnd, key, value = line.split()
            rows.setdefault(server, {}).setdefault(key, []).append(float(value))

    def cell(v):
        return "%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v))

    print("| server | round trip median, ms | round trip p90, ms | server CPU per command, ms |")
    print("|---|---:|---:|---:|")
    for server in ("host-mode", "openssh", "forced-command-alone"):
        r = rows.get(server, {})
        if r:
            print("| %s | %s | %s | %s |" % (server, cell(r["median"]), cell(r["p90"]), cell(r["cpu"])))
    a, b = rows.get("host-mode", {}), rows.get("openssh", {})
    if a and b:
        print("\nhost-mode / openssh, round by round: round trip %s, CPU %s" % (
            " ".join("%.2f" % (x / y) for x, y in zip(a["median"], b["median"])),
            " ".join("%.2f" % (x / y) for x, y in zip(a["cpu"], b["cpu"]))))


if __name__ == "__main__":
    {"seq": cmd_seq, "alone": cmd_alone, "cpu": cmd_cpu, "settle": cmd_settle, "report": cmd_report}[sys.argv[1]](sys.argv[2:])
PYTHON
helper() { python3 "$work/helper.py" "$@"; }

ssh_cmd() { # port: the client command line, one word a line
  printf '%s\n' ssh -F /dev/null -o "UserKnownHostsFile=$work/known_hosts" -o StrictHostKeyChecking=accept-new \
    -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -o ControlMaster=no -o ControlPath=none \
    -o LogLevel=ERROR -o "ConnectTimeout=$SSH_TIMEOUT" -i "$work/key" -p "$1" "$user@127.0.0.1" apps:list
}

names=(host-mode openssh) ports=("$d_port" "$o_port") pids=("$d_pid" "$o_pid")
for i in 0 1; do
  mapfile -t cmd < <(ssh_cmd "${ports[$i]}")
  out=$(timeout "$SSH_TIMEOUT" "${cmd[@]}" 2>&1) || die "${names[$i]}: first command failed: $out"
  [ "$(grep -cx 'app[0-9]*' <<<"$out")" = "$APPS" ] || die "${names[$i]}: unexpected answer: $out"
done

forced="FINGERPRINT=$fp NAME=\"bench\" \`cat $home/.sshcommand\` \$SSH_ORIGINAL_COMMAND"
alone_cmd=(setpriv --reuid "$user" --regid "$user" --init-groups env -i "USER=$user" "LOGNAME=$user" "HOME=$home"
  PATH=/usr/local/bin:/usr/bin:/bin:/usr/games "MAIL=/var/mail/$user" SHELL=/bin/bash
  "SSH_CLIENT=127.0.0.1 40000 22" "SSH_CONNECTION=127.0.0.1 40000 127.0.0.1 22" SSH_ORIGINAL_COMMAND=apps:list
  /bin/bash -c "$forced")

results=$work/results
: >"$results"
log "$ROUNDS rounds of $N sequential apps:list per server, interleaved"
for ((r = 1; r <= ROUNDS; r++)); do
  for k in 0 1; do
    i=$(((k + r) % 2))
    mapfile -t cmd < <(ssh_cmd "${ports[$i]}")
    helper settle "${pids[$i]}" 10
    c0=$(helper cpu "${pids[$i]}")
    # In the background: bash runs a signal's trap only between commands,
    # and `wait` is interrupted at once.
    helper seq "$N" "$SSH_TIMEOUT" "app$APPS" -- "${cmd[@]}" >"$work/ms" &
    seq_pid=$!
    wait "$seq_pid" || die "${names[$i]}: round $r failed"
    seq_pid=""
    helper settle "${pids[$i]}" 10
    c1=$(helper cpu "${pids[$i]}")
    read -r med p90 cpu < <(python3 -c '
import statistics, sys
ms = sorted(float(l) for l in open(sys.argv[1]))
print("%.3f %.3f %.4f" % (statistics.median(ms), ms[max(0, -(-9 * len(ms) // 10) - 1)],
      (float(sys.argv[3]) - float(sys.argv[2])) / len(ms)))' "$work/ms" "$c0" "$c1")
    printf '%s %d median %s\n%s %d p90 %s\n%s %d cpu %s\n' "${names[$i]}" "$r" "$med" "${names[$i]}" "$r" "$p90" \
      "${names[$i]}" "$r" "$cpu" >>"$results"
    printf '    round %d %-9s median %s ms, p90 %s ms, server CPU %s ms/command\n' "$r" "${names[$i]}" "$med" "$p90" "$cpu" >&2
  done
  # The part both servers pay alike: the forced command by itself, started
  # as the user with the environment sshd gives it.
  ALONE_CWD=$home helper alone "$N" "$SSH_TIMEOUT" "app$APPS" -- "${alone_cmd[@]}" >"$work/ms" &
  seq_pid=$!
  wait "$seq_pid" || die "forced command alone: round $r failed"
  seq_pid=""
  read -r med p90 cpu < <(python3 -c '
import statistics, sys
lines = open(sys.argv[1]).read().split("\n")
cpu = [l.split()[1] for l in lines if l.startswith("cpu ")][0]
ms = sorted(float(l) for l in lines if l and not l.startswith("cpu "))
print("%.3f %.3f %s" % (statistics.median(ms), ms[max(0, -(-9 * len(ms) // 10) - 1)], cpu))' "$work/ms")
  printf 'forced-command-alone %d median %s\nforced-command-alone %d p90 %s\nforced-command-alone %d cpu %s\n' \
    "$r" "$med" "$r" "$p90" "$r" "$cpu" >>"$results"
  printf '    round %d %-9s median %s ms, p90 %s ms, CPU %s ms/command\n' "$r" "alone" "$med" "$p90" "$cpu" >&2
done

{
  echo
  echo "servers: $("$work/dokku-sshd" version 2>/dev/null | head -1 || true) (host mode); $(/usr/sbin/sshd -V 2>&1 | head -1 || true)"
  echo "client: $(ssh -V 2>&1); $(nproc) CPUs, loopback; ROUNDS=$ROUNDS N=$N APPS=$APPS"
  echo "each cell: median over the rounds (lowest round - highest round)"
  echo
  helper report "$results"
} | tee "$work/report.txt"
