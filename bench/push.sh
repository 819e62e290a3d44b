#!/usr/bin/env bash
# Push benchmark: dokku-sshd against OpenSSH + stock git-receive-pack, side by
# side, on loopback. See bench/README-push.md.
#
#   bench/push.sh [REPO_PATH]              run the benchmark (no REPO_PATH: a
#                                          ~100k-object repository is generated)
#   bench/push.sh --make-repo DIR [N]      generate the test repository (bare)
#
# Environment: PUSH_RUNS (3), PUSH_COMMITS (5000), PUSH_SAMPLE_MS (10),
# PUSH_TIMEOUT (600 s per push), PUSH_FSCK (0), PUSH_SSH_OPTS (extra ssh
# client options), PUSH_REV (build this commit, not the working tree),
# PUSH_BIN (use this binary), PUSH_OUT (dir for raw results), PUSH_KEEP.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

RUNS=${PUSH_RUNS:-3}
COMMITS=${PUSH_COMMITS:-5000}
SAMPLE_MS=${PUSH_SAMPLE_MS:-10}
PUSH_TIMEOUT=${PUSH_TIMEOUT:-600}
FSCK=${PUSH_FSCK:-0}
OUT=${PUSH_OUT:-}
KEEP=${PUSH_KEEP:-0}

WORK=""
DOKKU_PID=""
SSHD_PID=""

# shellcheck source=bench/lib.sh
. "$SCRIPT_DIR/lib.sh"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$DOKKU_PID" 5
  stop_pid "$SSHD_PID" 5
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then
      echo "push.sh: work dir kept: $WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

# ---------------------------------------------------------------------------
# Test repository generator: N_COMMITS commits over ~5000 small text files in
# 200 directories (mod00..mod19/pkg0..pkg9), six files changed per commit, a
# file added every 20 commits. Deterministic (own LCG, fixed dates), written
# by git fast-import, then repacked with deltas like a gc'd repository.
# 5000 commits give ~102k objects in ~5 s on 2 cores.
make_repo() {
  local dir=$1 n=${2:-$COMMITS}
  if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ]; then
    die "N_COMMITS must be a positive integer"
  fi
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    die "$dir exists and is not empty"
  fi
  git init --quiet --bare "$dir"
  git -C "$dir" symbolic-ref HEAD refs/heads/main
  log "generating $n commits into $dir"
  awk -v ncommits="$n" '
function rnd(n) { x = (x * 16807) % 2147483647; return x % n }
function word() { return W[rnd(nw) + 1] }
function mkline(tag,   s, k, i) {
  k = 3 + rnd(6); s = substr("                ", 1, 4 * rnd(4)) word()
  for (i = 1; i < k; i++) s = s " " word()
  if (tag != "") s = s " " tag
  return s
}
function path(f) { return sprintf("mod%02d/pkg%d/file%04d.txt", D[f], S[f], f) }
function blob(f,   s, l) {
  s = ""
  for (l = 0; l < N[f]; l++) s = s C[f, l] "\n"
  print "M 100644 inline " path(f)
  print "data " length(s)
  printf "%s\n", s
}
function commit(c, msg) {
  print "commit refs/heads/main"
  print "committer Push Bench <push-bench@example.invalid> " (1700000000 + c * 600) " +0000"
  print "data " length(msg)
  print msg
}
BEGIN {
  x = 424242
  nw = split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi " \
    "rho sigma tau upsilon phi chi psi omega return func var const if else for range switch case " \
    "default struct map string int error nil true false go defer select chan config server client " \
    "request response handler router deploy build release app repo push commit branch tag", W, " ")
  nfiles = 5000
  for (f = 0; f < nfiles; f++) {
    D[f] = int(f / 250); S[f] = int((f % 250) / 25); N[f] = 16 + rnd(17)
    for (l = 0; l < N[f]; l++) C[f, l] = mkline("")
  }
  commit(1, "initial import")
  for (f = 0; f < nfiles; f++) blob(f)
  print ""
  for (c = 2; c <= ncommits; c++) {
    commit(c, "change " c ": " mkline(""))
    for (k = 0; k < 6; k++) {
      f = rnd(nfiles); l = rnd(N[f])
      C[f, l] = mkline("c" c)
      if (rnd(4) == 0 && N[f] < 60) { C[f, N[f]] = mkline("n" c); N[f]++ }
      blob(f)
    }
    if (c % 20 == 0) {
      f = nfiles++; D[f] = rnd(20); S[f] = rnd(10); N[f] = 8 + rnd(9)
      for (l = 0; l < N[f]; l++) C[f, l] = mkline("a" c)
      blob(f)
    }
    print ""
  }
}' | LC_ALL=C git -C "$dir" fast-import --quiet
  git -C "$dir" repack -a -d -f -q
  local objects
  objects=$(git -C "$dir" count-objects -v | awk '/^in-pack:/ {print $2}')
  log "$dir: $n commits, $objects objects, HEAD $(git -C "$dir" rev-parse HEAD)"
}

# ---------------------------------------------------------------------------
# Helpers for the benchmark.

median() {
  sort -n "$1" | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# make_incremental_commit GIT_DIR: one new commit on HEAD changing one
# existing file (the first regular file in a subdirectory, so that the push
# carries a blob, the trees on its path and a commit), fixed dates.
make_incremental_commit() {
  local g=$1 base entry p path="" mode=100644 first="" first_mode=100644 blob tree
  base=$(git -C "$g" rev-parse --verify 'HEAD^{commit}')
  while IFS= read -r -d '' entry; do
    case $entry in
      100644\ blob\ * | 100755\ blob\ *) ;;
      *) continue ;;
    esac
    p=${entry#*$'\t'}
    if [ -z "$first" ]; then
      first=$p first_mode=${entry%% *}
    fi
    if [[ $p == */* ]]; then
      path=$p mode=${entry%% *}
      break
    fi
  done < <(git -C "$g" ls-tree -r -z "$base" | head -z -n 5000)
  if [ -z "$path" ] && [ -n "$first" ]; then
    path=$first mode=$first_mode
  fi
  if [ -z "$path" ]; then
    path=push-bench.txt
    blob=$(echo "push-bench incremental change" | git -C "$g" hash-object -w --stdin)
  else
    blob=$({
      git -C "$g" cat-file blob "$base:$path"
      echo "push-bench incremental change"
    } | git -C "$g" hash-object -w --stdin)
  fi
  local idx="$WORK/incremental.index"
  rm -f "$idx"
  GIT_INDEX_FILE=$idx git -C "$g" read-tree "$base"
  GIT_INDEX_FILE=$idx git -C "$g" update-index --add --cacheinfo "$mode,$blob,$path"
  tree=$(GIT_INDEX_FILE=$idx git -C "$g" write-tree)
  rm -f "$idx"
  GIT_AUTHOR_NAME="Push Bench" GIT_AUTHOR_EMAIL=push-bench@example.invalid \
    GIT_COMMITTER_NAME="Push Bench" GIT_COMMITTER_EMAIL=push-bench@example.invalid \
    GIT_AUTHOR_DATE="1800000000 +0000" GIT_COMMITTER_DATE="1800000000 +0000" \
    git -C "$g" commit-tree "$tree" -p "$base" -m "push bench: one incremental commit ($path)"
}

# kex_of USER PORT COMMAND: the key exchange and cipher the client negotiates.
kex_of() {
  local out
  out=$("${SSH_ARGS[@]}" -v -p "$2" "$1@127.0.0.1" "$3" 2>&1 >/dev/null </dev/null || true)
  printf '%s, %s' "$(sed -n 's/^debug1: kex: algorithm: //p' <<<"$out" | head -n1)" \
    "$(sed -n 's/^debug1: kex: server->client cipher: \([^ ]*\).*/\1/p' <<<"$out" | head -n1)"
}

# ---------------------------------------------------------------------------
# Servers.

start_dokku_sshd() {
  local bin=$WORK/dokku-sshd data=$WORK/dokku-data
  DOKKU_PORT=$(free_port)
  "$bin" --data-dir "$data" ssh-keys:add bench "$WORK/key.pub" >/dev/null
  "$bin" serve --listen "127.0.0.1:$DOKKU_PORT" --data-dir "$data" >"$WORK/dokku-sshd.log" 2>&1 &
  DOKKU_PID=$!
  wait_listen "$DOKKU_PID" "$DOKKU_PORT" "$WORK/dokku-sshd.log"
  DOKKU_URL="ssh://dokku@127.0.0.1:$DOKKU_PORT/bench"
  log "dokku-sshd pid $DOKKU_PID on 127.0.0.1:$DOKKU_PORT"
}

# fresh_dokku_target: app `bench`, destroyed and created again, null builder
# and scheduler (the push deploys nothing).
fresh_dokku_target() {
  local bin=$WORK/dokku-sshd data=$WORK/dokku-data
  if "$bin" --data-dir "$data" apps:exists bench >/dev/null 2>&1; then
    "$bin" --data-dir "$data" --force apps:destroy bench >/dev/null
  fi
  "$bin" --data-dir "$data" apps:create bench >/dev/null
  "$bin" --data-dir "$data" builder:set bench selected null >/dev/null
  "$bin" --data-dir "$data" scheduler:set bench selected null >/dev/null
}

start_openssh() {
  local d=$WORK/openssh
  mkdir -p "$d"
  if [ ! -x /usr/sbin/sshd ]; then
    log "installing openssh-server"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openssh-server >/dev/null
  fi
  [ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd missing"
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p /run/sshd
    chmod 0755 /run/sshd
  fi
  SSH_USER=$(id -un)
  ssh-keygen -q -t ed25519 -N '' -f "$d/ssh_host_ed25519_key"
  cp "$WORK/key.pub" "$d/authorized_keys"
  SSHD_PORT=$(free_port "$DOKKU_PORT")
  # SetEnv SHLVL=1: Debian's bash sources ~/.bashrc for `ssh host command`
  # when it is a top-level shell; the shell sshd starts to run
  # git-receive-pack then sees SHLVL=2 and skips it, so a heavy .bashrc
  # (pyenv, nvm...) of the login user is not measured as OpenSSH's cost.
  cat >"$d/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitUserRC no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
UseDNS no
MaxStartups 100
SetEnv SHLVL=1
EOF
  /usr/sbin/sshd -t -f "$d/sshd_config" || die "sshd -t rejected $d/sshd_config"
  /usr/sbin/sshd -D -e -f "$d/sshd_config" >"$WORK/sshd.log" 2>&1 &
  SSHD_PID=$!
  wait_listen "$SSHD_PID" "$SSHD_PORT" "$WORK/sshd.log"
  SSHD_URL="ssh://$SSH_USER@127.0.0.1:$SSHD_PORT$d/bare.git"
  log "OpenSSH sshd pid $SSHD_PID on 127.0.0.1:$SSHD_PORT ($(/usr/sbin/sshd -V 2>&1 | head -n1 || true))"
}

fresh_openssh_target() {
  local bare=$WORK/openssh/bare.git
  rm -rf "$bare"
  git init --quiet --bare "$bare"
  if [ "$FSCK" = 1 ]; then
    git -C "$bare" config receive.fsckObjects true
  fi
}

# ---------------------------------------------------------------------------
# One measured push: SERVER(dokku|openssh) KIND(initial|incremental) RUN REF

measure_push() {
  local server=$1 kind=$2 run=$3 ref=$4 root url res k v
  case $server in
    dokku) root=$DOKKU_PID url=$DOKKU_URL ;;
    openssh) root=$SSHD_PID url=$SSHD_URL ;;
  esac
  res="$WORK/results/$server.$kind.$run"
  if ! "$WORK/push-meter" -root "$root" -interval "${SAMPLE_MS}ms" -pss \
    -out "$res.txt" -detail "$res.procs" -- \
    timeout "$PUSH_TIMEOUT" git -C "$WORK/client.git" push "$url" "$ref:refs/heads/main" \
    >"$res.log" 2>&1; then
    echo "---- $server $kind push output:" >&2
    cat "$res.log" >&2 || true
    echo "---- last lines of the server log:" >&2
    if [ "$server" = dokku ]; then tail -n 20 "$WORK/dokku-sshd.log" >&2; else tail -n 20 "$WORK/sshd.log" >&2; fi
    die "$server $kind push (run $run) failed"
  fi
  while IFS='=' read -r k v; do
    case $k in
      wall_ms | cpu_ms | self_cpu_ms | child_cpu_ms | peak_rss_kb | peak_pss_kb | root_hwm_kb | max_hwm_kb | samples | settle_ms)
        echo "$v" >>"$WORK/results/$server.$kind.$k"
        ;;
      max_hwm_cmd) echo "$v" >>"$WORK/results/$server.$kind.max_hwm_cmd" ;;
    esac
  done <"$res.txt"
  printf '%s,%s,%s,%s\n' "$run" "$server" "$kind" "$(paste -sd, "$res.txt")" >>"$WORK/results/raw.csv"
  log "run $run $server $kind: $(grep -E '^(wall_ms|cpu_ms|peak_rss_kb)=' "$res.txt" | paste -sd' ')"
}

run_server() {
  local server=$1 run=$2
  if [ "$server" = dokku ]; then fresh_dokku_target; else fresh_openssh_target; fi
  measure_push "$server" initial "$run" HEAD
  measure_push "$server" incremental "$run" "$INC_COMMIT"
}

# ---------------------------------------------------------------------------
# Report.

row() { # LABEL KIND METRIC SCALE FORMAT TARGET
  local label=$1 kind=$2 metric=$3 scale=$4 fmt=$5 target=$6 a b
  a=$(median "$WORK/results/dokku.$kind.$metric")
  b=$(median "$WORK/results/openssh.$kind.$metric")
  awk -v l="$label" -v a="$a" -v b="$b" -v s="$scale" -v f="$fmt" -v t="$target" 'BEGIN {
    r = (b > 0) ? sprintf("%.2f", a / b) : "-"
    verdict = ""
    if (t ~ /^ratio<=/) { lim = substr(t, 8) + 0; verdict = (b > 0 && a / b <= lim) ? "PASS" : "MISS"; t = "ratio <= " lim }
    else if (t ~ /^dokku</) { lim = substr(t, 7) + 0; verdict = (a < lim) ? "PASS" : "MISS"; t = "dokku-sshd < " lim " ms" }
    if (verdict != "") t = t " " verdict
    printf "| %s | " f " | " f " | %s | %s |\n", l, a / s, b / s, r, t }'
}

report() {
  local objects size
  objects=$(git -C "$WORK/client.git" count-objects -v | awk '/^in-pack:/ {print $2}')
  size=$(git -C "$WORK/client.git" count-objects -v | awk '/^size-pack:/ {printf "%.1f", $2 / 1024}')
  {
    echo "push benchmark: $RUNS run(s), medians; repository $REPO_DESC: $objects objects, $size MiB packed"
    echo "$(git --version); ssh client $(ssh -V 2>&1 | cut -d, -f1); sshd $(/usr/sbin/sshd -V 2>&1 | head -n1 | cut -d, -f1 || true); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "dokku-sshd $SRC_DESC; OpenSSH target receive.fsckObjects=$([ "$FSCK" = 1 ] && echo true || echo false)"
    echo "ssh client negotiates: dokku-sshd $DOKKU_KEX; OpenSSH $SSHD_KEX${PUSH_SSH_OPTS:+ (PUSH_SSH_OPTS=$PUSH_SSH_OPTS)}"
    echo
    echo "| metric | dokku-sshd | OpenSSH+git | ratio | target |"
    echo "|---|---:|---:|---:|---|"
    row "initial push: wall time (ms)" initial wall_ms 1 "%.0f" "ratio<=1.1"
    row "initial push: server CPU (ms)" initial cpu_ms 1 "%.0f" ""
    row "initial push: peak server RSS (MiB)" initial peak_rss_kb 1024 "%.1f" "ratio<=1.5"
    row "initial push: peak server PSS (MiB)" initial peak_pss_kb 1024 "%.1f" ""
    row "initial push: largest process HWM (MiB)" initial max_hwm_kb 1024 "%.1f" ""
    row "incremental push: wall time (ms)" incremental wall_ms 1 "%.0f" ""
    row "incremental push: server CPU (ms)" incremental cpu_ms 1 "%.0f" "dokku<100"
    row "incremental push: peak server RSS (MiB)" incremental peak_rss_kb 1024 "%.1f" ""
    echo
    echo "server CPU split (median ms, own process / reaped children):" \
      "dokku-sshd initial $(median "$WORK/results/dokku.initial.self_cpu_ms") / $(median "$WORK/results/dokku.initial.child_cpu_ms")," \
      "incremental $(median "$WORK/results/dokku.incremental.self_cpu_ms") / $(median "$WORK/results/dokku.incremental.child_cpu_ms");" \
      "sshd master initial $(median "$WORK/results/openssh.initial.self_cpu_ms") / $(median "$WORK/results/openssh.initial.child_cpu_ms")," \
      "incremental $(median "$WORK/results/openssh.incremental.self_cpu_ms") / $(median "$WORK/results/openssh.incremental.child_cpu_ms")"
    echo "largest process (initial push): dokku-sshd side $(sort <"$WORK/results/dokku.initial.max_hwm_cmd" | uniq -c | sort -rn | awk 'NR==1 {print $2}'), OpenSSH side $(sort <"$WORK/results/openssh.initial.max_hwm_cmd" | uniq -c | sort -rn | awk 'NR==1 {print $2}')"
  } >"$WORK/results/table.md"
  cat "$WORK/results/table.md"
  echo
  echo "processes of the last run (cpu/hwm as last sampled):"
  local f
  for f in dokku.initial dokku.incremental openssh.initial openssh.incremental; do
    echo "-- $f"
    cat "$WORK/results/$f.$RUNS.procs"
  done
  if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    cp -r "$WORK/results/." "$OUT/"
    cp "$WORK/dokku-sshd.log" "$WORK/sshd.log" "$OUT/" 2>/dev/null || true
    echo "raw results in $OUT" >&2
  fi
}

# ---------------------------------------------------------------------------

bench() {
  local repo=${1:-}
  if ! [[ $RUNS =~ ^[0-9]+$ ]] || [ "$RUNS" -lt 1 ] || [ "$RUNS" -gt 50 ]; then
    die "PUSH_RUNS must be 1..50"
  fi
  if ! [[ $SAMPLE_MS =~ ^[0-9]+$ ]] || [ "$SAMPLE_MS" -lt 1 ]; then
    die "PUSH_SAMPLE_MS must be a positive integer"
  fi
  command -v git >/dev/null || die "git is needed"
  command -v go >/dev/null || die "go is needed to build dokku-sshd"
  command -v ssh >/dev/null || die "ssh (openssh-client) is needed"
  [ -r /proc/self/status ] || die "/proc is needed (Linux)"

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/push-bench.XXXXXX")
  chmod 0755 "$WORK"
  mkdir -p "$WORK/results"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Client git: no user or system configuration.
  export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 LC_ALL=C
  SSH_ARGS=(ssh -F /dev/null -i "$WORK/key" -o IdentitiesOnly=yes -o "UserKnownHostsFile=$WORK/known_hosts"
    -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR)
  if [ -n "${PUSH_SSH_OPTS:-}" ]; then
    local extra
    read -r -a extra <<<"$PUSH_SSH_OPTS"
    SSH_ARGS+=("${extra[@]}")
  fi
  GIT_SSH_COMMAND=$(printf '%q ' "${SSH_ARGS[@]}")
  export GIT_SSH_COMMAND

  if [ -z "$repo" ]; then
    make_repo "$WORK/generated.git" "$COMMITS"
    repo=$WORK/generated.git
    REPO_DESC="generated ($COMMITS commits)"
  else
    [ -d "$repo" ] || die "$repo: no such directory"
    repo=$(cd "$repo" && pwd)
    git -C "$repo" rev-parse --verify --quiet 'HEAD^{commit}' >/dev/null || die "$repo: HEAD is not a commit"
    REPO_DESC=$repo
  fi

  local src=$SRC_ROOT
  if [ -n "${PUSH_REV:-}" ]; then
    # Build a commit rather than the working tree (which may be mid-edit).
    src=$WORK/src
    mkdir -p "$src"
    git -C "$SRC_ROOT" archive --format=tar "$PUSH_REV" | tar -x -C "$src"
    SRC_DESC=$(git -C "$SRC_ROOT" rev-parse --short "$PUSH_REV")
  else
    SRC_DESC=$(git -C "$SRC_ROOT" describe --always --dirty 2>/dev/null || echo '?')
  fi
  if [ -n "${PUSH_BIN:-}" ]; then
    cp "$PUSH_BIN" "$WORK/dokku-sshd"
    SRC_DESC="$PUSH_BIN"
  else
    log "building dokku-sshd ($SRC_DESC)"
    (cd "$src" && go build -o "$WORK/dokku-sshd" ./cmd/dokku-sshd)
  fi
  # The meter comes from this script's directory, whatever is benchmarked.
  (cd "$SRC_ROOT" && go build -o "$WORK/push-meter" bench/push_meter.go)

  log "cloning $repo"
  git clone --quiet --no-local --bare "$repo" "$WORK/client.git"
  INC_COMMIT=$(make_incremental_commit "$WORK/client.git")

  ssh-keygen -q -t ed25519 -N '' -C push-bench -f "$WORK/key"
  start_dokku_sshd
  start_openssh

  # Warm-up: one connection each (host keys into known_hosts, binaries and
  # the client repository into the page cache).
  fresh_dokku_target
  fresh_openssh_target
  timeout 60 git ls-remote "$DOKKU_URL" >/dev/null || die "git ls-remote to dokku-sshd failed (see $WORK/dokku-sshd.log)"
  timeout 60 git ls-remote "$SSHD_URL" >/dev/null || die "git ls-remote to OpenSSH failed (see $WORK/sshd.log)"
  git -C "$WORK/client.git" rev-list --objects HEAD >/dev/null
  DOKKU_KEX=$(kex_of dokku "$DOKKU_PORT" version)
  SSHD_KEX=$(kex_of "$SSH_USER" "$SSHD_PORT" true)

  local run
  for ((run = 1; run <= RUNS; run++)); do
    # Alternate the order so that neither server always goes first.
    if ((run % 2)); then
      run_server dokku "$run"
      run_server openssh "$run"
    else
      run_server openssh "$run"
      run_server dokku "$run"
    fi
  done
  report
}

main() {
  case ${1:-} in
    -h | --help) usage 13 ;;
    --make-repo)
      [ -n "${2:-}" ] || die "usage: $0 --make-repo DIR [N_COMMITS]"
      make_repo "$2" "${3:-$COMMITS}"
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) bench "${1:-}" ;;
  esac
}

main "$@"
