# shellcheck shell=bash
# Kubernetes for the lab: etcd from Debian, and kube-apiserver, kube-controller-manager, kube-scheduler,
# the kubelet and kube-proxy built from the Go module proxy at a pinned version (Debian has none of them).
# Builds each binary once into $EDGEWRIGHT_HOME/kubernetes/<version>/bin and again only when the pinned
# version changes; a binary added to the list later is built alone. Sourced by scripts/setup; also
# runnable on its own.

# The pinned version lives with the lab code, which finds the binaries by it.
EDGEWRIGHT_KUBERNETES_VERSION="${EDGEWRIGHT_KUBERNETES_VERSION:-$(cat "${EDGEWRIGHT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/edgewright/lab/kubernetes.version")}"

build_kubernetes() (
  set -euo pipefail
  local version="$EDGEWRIGHT_KUBERNETES_VERSION"
  local home="${EDGEWRIGHT_HOME:-$HOME/.cache/edgewright}"
  local out="$home/kubernetes/$version/bin"
  local binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
  local missing=() b
  for b in "${binaries[@]}"; do [ -x "$out/$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return 0

  # Reused across builds and versions: a warm module and build cache turn a rebuild into minutes.
  # -mod=mod: go build fetches exactly the modules the binaries need and records them in go.sum.
  export GOMODCACHE="$home/go/mod" GOCACHE="$home/go/build" GOFLAGS="-mod=mod -buildvcs=false"
  export GOTOOLCHAIN=local CGO_ENABLED=0
  local work="$home/kubernetes/$version/src"
  mkdir -p "$work" "$out"
  printf '==> building Kubernetes %s (%s) into %s\n' "$version" "${missing[*]}" "$out" >&2
  command -v go >/dev/null || { echo "building Kubernetes needs Go 1.24 or later on the PATH" >&2; return 1; }
  local started=$SECONDS
  cd "$work"
  # k8s.io/kubernetes replaces its staging modules with local paths, so it cannot be built directly: a
  # go.mod of our own requires it and points each staging module at its published v0.Y.Z release.
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  local staging="v0.${version#v1.}"
  {
    printf 'module edgewright.local/kubernetes-build\n\ngo 1.24\n\nrequire k8s.io/kubernetes %s\n\n' "$version"
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
  } >go.mod
  for b in "${missing[@]}"; do
    nice -n 10 go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version" \
      -o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b"
    mv "$out/$b.tmp" "$out/$b"
  done
  printf '==> built Kubernetes %s in %d s\n' "$version" "$((SECONDS - started))" >&2
)

ensure_debs etcd-server
build_kubernetes
