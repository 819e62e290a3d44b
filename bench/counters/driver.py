"""The measuring side of bench/cmd-counts.sh (see its header).

driver.py WORKDIR NAME=BINARY... ; the bare server's name is "bare". N,
ROUNDS, CG_N, PHASES and REPLY_LINE come from the environment.
"""

import bisect
import collections
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

WORK = sys.argv[1]
SPECS = [a.split("=", 1) for a in sys.argv[2:]]
N, ROUNDS, CG_N = int(os.environ["N"]), int(os.environ["ROUNDS"]), int(os.environ["CG_N"])
PHASES = os.environ["PHASES"].split(",")
REPLY = os.environ["REPLY_LINE"]
KEY = f"{WORK}/key"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ssh(port):
    out = subprocess.run(
        ["ssh", "-F", "/dev/null", "-o", f"UserKnownHostsFile={WORK}/known_hosts",
         "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "LogLevel=ERROR",
         "-o", "ConnectTimeout=60", "-i", KEY, "-p", str(port), "dokku@127.0.0.1", "version"],
        capture_output=True, text=True, timeout=120)
    return out.returncode == 0 and out.stdout.startswith("dokku-sshd version")


def commands(port, n):
    ok = sum(ssh(port) for _ in range(n))
    if ok < n:
        print(f"  note: {n - ok} of {n} commands failed", file=sys.stderr)
    return max(ok, 1)


class Server:
    def __init__(self, name, binary, wrap=()):
        self.name, self.port = name, free_port()
        self.counters = f"{WORK}/{name}.counters"
        env = dict(os.environ, COUNTERS_FILE=self.counters)
        if name == "bare":
            cmd = [binary, "-listen", f"127.0.0.1:{self.port}", "-host-key", f"{WORK}/bare_host_key",
                   "-authorized", f"{KEY}.pub", "-user", "dokku", "-reply", REPLY]
        else:
            data = f"{WORK}/data-{name}"
            if not os.path.isdir(data):
                subprocess.run([binary, "--data-dir", data, "ssh-keys:add", "bench", f"{KEY}.pub"],
                               check=True, capture_output=True)
            cmd = [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", data]
        if wrap:
            # Go's asynchronous preemption signals trip an assertion in
            # callgrind; without them the instruction count is the same work.
            env["GODEBUG"] = "asyncpreemptoff=1"
        self.log = open(f"{WORK}/{name}.log", "a")
        self.proc = subprocess.Popen(list(wrap) + cmd, env=env, stdout=self.log, stderr=self.log)
        for _ in range(600):
            if self.proc.poll() is not None:
                sys.exit(f"{name} exited: see {WORK}/{name}.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(3):  # warm-up, and the check that it answers
            if not ssh(self.port):
                sys.exit(f"{name}: `version` failed")

    def read_counters(self):
        before = len(open(self.counters).read().splitlines()) if os.path.exists(self.counters) else 0
        self.proc.send_signal(signal.SIGUSR1)
        for _ in range(250):
            time.sleep(0.02)
            if os.path.exists(self.counters):
                lines = open(self.counters).read().splitlines()
                if len(lines) > before:
                    return {k: int(v) for k, v in (f.split("=") for f in lines[-1].split())}
        sys.exit(f"{self.name}: no counters")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def spread(vals, fmt="%.2f"):
    v = sorted(vals)
    return (fmt + " [" + fmt + "-" + fmt + "]") % (statistics.median(v), v[0], v[-1])


def phase_counts(servers):
    print(f"\n# counts: {ROUNDS} rounds of {N} sequential commands per server, interleaved "
          "(median [min-max] over the rounds, per command)")
    rows = {s.name: [] for s in servers}
    for r in range(ROUNDS):
        for s in servers[r % len(servers):] + servers[:r % len(servers)]:
            time.sleep(0.3)
            a = s.read_counters()
            n = commands(s.port, N)
            time.sleep(0.3)
            b = s.read_counters()
            d = {k: (b[k] - a[k]) / n for k in a}
            rows[s.name].append(dict(goroutines=d["goroutines"], allocs=d["allocs"],
                                     alloc_kib=d["alloc_bytes"] / 1024, vcsw=d["nvcsw"],
                                     icsw=d["nivcsw"], cpu_ms=d["cpu_us"] / 1000))
            print(f"  round {r + 1} {s.name}: " + " ".join(f"{k} {v:.2f}" for k, v in rows[s.name][-1].items()),
                  file=sys.stderr)
    keys = ["goroutines", "allocs", "alloc_kib", "vcsw", "icsw", "cpu_ms"]
    print("| per command | " + " | ".join(s.name for s in servers) + " |")
    print("|---|" + "---:|" * len(servers))
    for k in keys:
        print(f"| {k} | " + " | ".join(spread([x[k] for x in rows[s.name]]) for s in servers) + " |")
    for s in servers:
        if s.name == "bare":
            continue
        for k in ("vcsw", "cpu_ms"):
            ratios = [a[k] / b[k] for a, b in zip(rows[s.name], rows["bare"]) if b[k]]
            print(f"{s.name} / bare, {k}, per round: {spread(ratios)}")


def phase_syscalls(servers):
    print(f"\n# syscalls: strace -f -c attached for {N} commands (per command; nanosleep is the Go "
          "runtime's sysmon, and varies with timing)")
    for s in servers:
        out = f"{WORK}/{s.name}.strace"
        tr = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p", str(s.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        n = commands(s.port, N)
        time.sleep(0.5)
        tr.send_signal(signal.SIGINT)
        tr.wait(30)
        calls = {}
        for line in open(out):
            f = line.split()
            if len(f) >= 5 and re.fullmatch(r"[\d.]+", f[0]) and f[-1] != "total":
                calls[f[-1]] = int(f[3]) / n
        rest = {k: v for k, v in calls.items() if k != "nanosleep"}
        top = ", ".join(f"{k} {v:.1f}" for k, v in sorted(rest.items(), key=lambda kv: -kv[1]) if v >= 0.5)
        print(f"{s.name}: {sum(rest.values()):.1f} without nanosleep ({calls.get('nanosleep', 0):.1f}): {top}")


def phase_instructions(specs):
    groups = {}
    print(f"\n# instructions: valgrind --tool=callgrind, {CG_N} commands after a warm-up (user space only)")
    for name, binary in specs:
        out = f"{WORK}/{name}.callgrind"
        s = Server(name, binary, wrap=("valgrind", "--tool=callgrind", "--dump-instr=yes", "--compress-pos=no",
                                       f"--callgrind-out-file={out}"))
        try:
            # dokku-sshd's start-up work (a first container sweep) is done;
            # its next sweep, a minute after the start, must stay out of the
            # window: a few hundred commands under valgrind at most.
            time.sleep(5)
            subprocess.run(["callgrind_control", "-z", str(s.proc.pid)], check=True, capture_output=True)
            n = commands(s.port, CG_N)
            subprocess.run(["callgrind_control", "-d", str(s.proc.pid)], check=True, capture_output=True)
            time.sleep(1)
        finally:
            s.stop()
        dumps = sorted((f for f in os.listdir(WORK) if f.startswith(f"{name}.callgrind.")),
                       key=lambda f: os.path.getmtime(f"{WORK}/{f}"))
        total = next(int(m.group(1)) for line in open(f"{WORK}/{dumps[-1]}")
                     if (m := re.match(r"(?:summary|totals): (\d+)", line)))
        print(f"{name}: {total / n / 1e6:.3f} M instructions per command")
        groups[name] = by_group(f"{WORK}/{dumps[-1]}", binary, n)
    names = [name for name, _ in specs]
    print("\n| instructions per command, by where (thousands) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for g in sorted({g for c in groups.values() for g in c}, key=lambda g: -groups[names[0]][g]):
        print(f"| {g} | " + " | ".join(f"{groups[nm][g] / 1000:.1f}" for nm in names) + " |")


# Where instructions go, by kind of code. callgrind's own attribution to Go
# functions is confused by goroutine stack switches; the cost of each
# instruction address is not, so addresses are mapped to functions here,
# with the binary's symbol table.
GROUPS = [
    ("crypto", ("crypto/", "golang.org/x/crypto/chacha20", "golang.org/x/crypto/internal",
                "golang.org/x/crypto/curve25519", "vendor/golang.org/x/crypto")),
    ("x/crypto/ssh", ("golang.org/x/crypto/ssh",)),
    ("charm.land/ssh", ("charm.land/",)),
    ("dokku-sshd", ("dokku-sshd/",)),
    ("bare server (main)", ("main.",)),
    ("log/slog, time", ("log/slog", "time.")),
    ("fmt, strconv, reflect, strings, encoding", ("fmt.", "strconv.", "reflect.", "strings.", "bytes.", "unicode",
                                                  "encoding/")),
    ("stack unwinding: stack growth, runtime.Callers", (
        "runtime.pcvalue", "runtime.step", "runtime.copystack", "runtime.adjust", "runtime.(*unwinder)",
        "runtime.findfunc", "runtime.(*moduledata).textAddr", "runtime.(*stkframe)", "runtime.funcMaxSPDelta",
        "runtime.newstack", "runtime.readvarint", "runtime.funcspdelta", "runtime.pcdatavalue",
        "runtime.stackalloc", "runtime.stackfree", "runtime.funcdata")),
    ("allocation", ("runtime.mallocgc", "runtime.(*mspan)", "runtime.(*mcache)", "runtime.(*mcentral)",
                    "runtime.newobject", "runtime.growslice", "runtime.makeslice", "runtime.memclr",
                    "runtime.nextFreeFast", "runtime.heapSetType")),
    ("net, poll, syscall, os", ("net.", "internal/poll", "syscall.", "golang.org/x/sys", "os.")),
    ("runtime: scheduler, channels, maps, locks, GC", ("runtime.", "internal/", "sync", "context.", "aeshash",
                                                       "memeqbody", "indexbytebody", "cmpbody", "gogo")),
]


def by_group(dump, binary, n):
    syms = []
    nm = subprocess.run(["go", "tool", "nm", "-n", "-size", binary], capture_output=True, text=True, check=True)
    for line in nm.stdout.splitlines():
        f = line.split(None, 3)
        if len(f) == 4 and f[2] in "Tt":
            syms.append((int(f[0], 16), int(f[1]), f[3]))
    starts = [a for a, _, _ in syms]
    cost = collections.Counter()
    after_call = False
    for line in open(dump):
        if line.startswith("calls="):
            after_call = True  # the next line is the call's inclusive cost
            continue
        if not line.startswith("0x"):
            after_call = False
            continue
        if after_call:
            after_call = False
            continue
        f = line.split()
        addr, ir = int(f[0], 16), int(f[-1])
        i = bisect.bisect_right(starts, addr) - 1
        fn = syms[i][2] if i >= 0 and addr < syms[i][0] + max(syms[i][1], 1) else "(outside the binary)"
        group = next((g for g, prefixes in GROUPS if fn.startswith(prefixes)), "other")
        cost[group] += ir / n
    return cost


def main():
    if "counts" in PHASES or "syscalls" in PHASES:
        servers = [Server(name, binary) for name, binary in SPECS]
        try:
            if "counts" in PHASES:
                phase_counts(servers)
            if "syscalls" in PHASES:
                phase_syscalls(servers)
        finally:
            for s in servers:
                s.stop()
    if "instructions" in PHASES:
        phase_instructions(SPECS)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
main()
