#!/usr/bin/env bash
# Builds, once, the programs the k3s scheduler's tests run for real: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (from the
# Go module proxy: no release downloads are reachable here), kwok (a fake node,
# so pods reach Running with no container runtime) and the distribution
# registry. They are kept outside the repository, in a directory keyed by every
# version and the Go version, and only complete binaries are moved into it.
# Prints that directory. Cold: about 15 minutes on 2 cores; warm: instant.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
REGISTRY_VERSION=${REGISTRY_VERSION:-v3.1.2}
GOV=$(go env GOVERSION)
ROOT=${DOKKU_SSHD_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dokku-sshd-test}
DIR="$ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-registry-$REGISTRY_VERSION-$GOV"

want=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok registry)
missing=()
for b in "${want[@]}"; do [ -x "$DIR/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "$DIR"; exit 0; fi

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9 # two runs on one machine build once
work=$(mktemp -d "$DIR/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
out="$work/out"
mkdir -p "$out"
log() { echo "==> k8s test binaries: $*" >&2; }

# A throwaway main module per program: it pins the versions and lets
# -mod=mod fill go.sum for just what the build needs.
module_build() { # NAME GOVERSION REQUIRES... -- PACKAGES...
  local name=$1 gover=$2; shift 2
  local d="$work/$name"; mkdir -p "$d"
  {
    echo "module build$name"; echo "go $gover"; echo "require ("
    while [ "$1" != -- ]; do echo "	$1"; shift; done; shift
    echo ")"
  } >"$d/go.mod"
  { echo "//go:build tools"; echo "package tools"; echo "import ("
    for p in "$@"; do echo "	_ \"$p\""; done; echo ")"; } >"$d/tools.go"
  echo "$d"
}

for b in "${missing[@]}"; do
  [ -x "$DIR/$b" ] && continue
  case $b in
  etcd)
    log "building etcd $ETCD_VERSION"
    d=$(module_build etcd 1.24 "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "go.etcd.io/etcd/api/v3 $ETCD_VERSION" \
      "go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION" "go.etcd.io/etcd/client/v3 $ETCD_VERSION" \
      "go.etcd.io/etcd/pkg/v3 $ETCD_VERSION" -- go.etcd.io/etcd/server/v3)
    (cd "$d" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags='-s -w' -o "$out/etcd" go.etcd.io/etcd/server/v3) >&2
    ;;
  kwok)
    log "building kwok $KWOK_VERSION"
    GOBIN="$out" CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
    ;;
  registry)
    log "building registry $REGISTRY_VERSION"
    GOBIN="$out" CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' \
      "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" >&2
    ;;
  *) kube+=("$b") ;;
  esac
done

if [ -n "${kube+x}" ]; then
  log "building ${kube[*]} $K8S_VERSION"
  # k8s.io/kubernetes replaces its staging modules with local paths that its
  # module zip lacks; point each at its published v0.X.Y tag instead.
  staging="v0.${K8S_VERSION#v1.}"
  kmod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  gover=$(awk '$1=="go"{print $2; exit}' "$kmod")
  d="$work/kube"; mkdir -p "$d"
  {
    echo "module buildkube"; echo "go $gover"; echo "require k8s.io/kubernetes $K8S_VERSION"; echo "replace ("
    for m in $(sed -n '/^replace (/,/^)/p' "$kmod" | awk '/=> \.\/staging/{print $1}'); do
      grep -qE "^[[:space:]]+$m v0\.0\.0" "$kmod" && echo "	$m => $m $staging"
    done
    echo ")"
  } >"$d/go.mod"
  pkgs=()
  { echo "//go:build tools"; echo "package tools"; echo "import ("
    for c in "${kube[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done; echo ")"; } >"$d/tools.go"
  for c in "${kube[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  ldf="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  ldf="$ldf -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  ldf="$ldf -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  (cd "$d" && CGO_ENABLED=0 go build -mod=mod -trimpath -tags providerless -ldflags="$ldf" -o "$out/" "${pkgs[@]}") >&2
fi

for f in "$out"/*; do mv -f "$f" "$DIR/"; done
echo "$DIR"
