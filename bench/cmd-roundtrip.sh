#!/usr/bin/env bash
# Command round trip, throughput, server CPU per command and memory per idle
# session: dokku-sshd side by side with OpenSSH sshd running a forced command
# (what sshcommand sets up), in one run, on 127.0.0.1 only.
#
#   bench/cmd-roundtrip.sh            # defaults below
#   SEQ=500 TOTAL=1000 IDLE=100,1000 bench/cmd-roundtrip.sh
#
# Needs root for the private sshd (it installs openssh-server when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

SEQ=${SEQ:-200}            # sequential round trips
TOTAL=${TOTAL:-400}        # commands per concurrency level
CONCURRENCY=${CONCURRENCY:-16,64}
IDLE=${IDLE:-100,1000}     # idle sessions held open
DEADLINE=${DEADLINE:-5m}   # per server, every phase included

work=$(mktemp -d /tmp/dokku-sshd-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

if [ ! -x /usr/sbin/sshd ]; then
  echo "==> installing openssh-server" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
fi
ulimit -n 65536 2>/dev/null || true

echo "==> building" >&2
go build -o "$work/dokku-sshd" ./cmd/dokku-sshd
go build -o "$work/roundtrip" ./bench/roundtrip
ssh-keygen -q -t ed25519 -N '' -f "$work/key"

# dokku-sshd with the limits raised for 1000 idle sessions.
port1=$(free_port)
"$work/dokku-sshd" --data-dir "$work/data" ssh-keys:add bench "$work/key.pub" >/dev/null
"$work/dokku-sshd" serve --listen "127.0.0.1:$port1" --data-dir "$work/data" \
  --max-connections 5000 --max-connections-per-ip 5000 --log-level warn 2>"$work/dokku-sshd.log" &
pids+=($!)
server_pid=$!

# OpenSSH with sshcommand's forced command and options.
port2=$(free_port)
mkdir -p /run/sshd "$work/sshd"
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd/host_key"
printf 'command="echo '\''dokku version 0.38.27'\''",no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding %s\n' "$(cat "$work/key.pub")" >"$work/sshd/authorized_keys"
cat >"$work/sshd/config" <<CONF
Port $port2
ListenAddress 127.0.0.1
HostKey $work/sshd/host_key
AuthorizedKeysFile $work/sshd/authorized_keys
PidFile $work/sshd/pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 2000:30:4000
MaxSessions 10
SetEnv SHLVL=1
CONF
/usr/sbin/sshd -D -e -f "$work/sshd/config" 2>"$work/sshd.log" &
pids+=($!)
sshd_pid=$!
sleep 1

common=(-key "$work/key" -known-hosts "$work/known_hosts" -seq "$SEQ" -total "$TOTAL" -concurrency "$CONCURRENCY" -idle "$IDLE" -deadline "$DEADLINE")
echo "==> dokku-sshd" >&2
"$work/roundtrip" "${common[@]}" -label dokku-sshd -port "$port1" -user dokku -pids "$server_pid" | tee "$work/a.txt"
echo "==> OpenSSH sshd + forced command" >&2
"$work/roundtrip" "${common[@]}" -label openssh -port "$port2" -user "$(id -un)" -pids "$sshd_pid" | tee "$work/b.txt"

python3 - "$work/a.txt" "$work/b.txt" <<'PY'
import sys, re
def parse(path):
    d = {}
    for line in open(path):
        kv = dict(re.findall(r'(\w+)=([\d.]+)', line))
        if 'median' in kv: d['version round trip, median (ms)'] = float(kv['median']); d['version round trip, p90 (ms)'] = float(kv['p90'])
        if 'concurrency' in kv:
            c = kv['concurrency']
            d[f'commands/s, {c} clients'] = float(kv['cmds_per_s'])
            d[f'server CPU per command, {c} clients (ms)'] = float(kv['server_cpu_ms_per_cmd'])
        if 'idle_sessions' in kv:
            d[f'memory per idle session, {kv["idle_sessions"]} sessions (KiB; reached {kv["reached"]})'] = float(kv['kib_per_session'])
    return d
a, b = parse(sys.argv[1]), parse(sys.argv[2])
print()
print(f"| metric | dokku-sshd | OpenSSH sshd | ratio |")
print(f"|---|---:|---:|---:|")
for k in a:
    r = a[k] / b[k] if b.get(k) else float('nan')
    print(f"| {k} | {a[k]:.2f} | {b.get(k, float('nan')):.2f} | {r:.3f} |")
print()
print("Targets: version round trip median < 15 ms; server CPU per command < 1/20 of sshd's (ratio < 0.05); < 100 KiB per idle session.")
print("Memory is PSS summed over the server's processes (sshd: the listener and every per-connection process).")
PY
