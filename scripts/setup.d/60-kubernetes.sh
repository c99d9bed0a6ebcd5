# shellcheck shell=bash
# Kubernetes for the lab: etcd from Debian, and kube-apiserver, kube-controller-manager, kube-scheduler,
# the kubelet and kube-proxy built from the Go module proxy at a pinned version (Debian has none of them).
# Builds each binary once into $EDGEWRIGHT_HOME/kubernetes/<version>/bin and again only when the pinned
# version changes (scripts/go-build.sh); a binary added to the list later is built alone. Sourced by
# scripts/setup; also runnable on its own.

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
# shellcheck source=scripts/go-build.sh
. "$EDGEWRIGHT_ROOT/scripts/go-build.sh"

# The pinned version lives with the lab code, which finds the binaries by it.
EDGEWRIGHT_KUBERNETES_VERSION="${EDGEWRIGHT_KUBERNETES_VERSION:-$(cat "$EDGEWRIGHT_ROOT/edgewright/lab/kubernetes.version")}"

# k8s.io/kubernetes replaces its staging modules with local paths, so it cannot be built directly: a go.mod
# of our own requires it and points each staging module at its published v0.Y.Z release.
kubernetes_go_mod() {
  local version="$EDGEWRIGHT_KUBERNETES_VERSION" gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  local staging="v0.${version#v1.}"
  {
    printf 'module edgewright.local/kubernetes-build\n\ngo 1.24\n\nrequire k8s.io/kubernetes %s\n\n' "$version"
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
  } >go.mod
}

build_kubernetes() {
  local version="$EDGEWRIGHT_KUBERNETES_VERSION"
  local home="$EDGEWRIGHT_HOME" b
  local binaries=()
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    binaries+=("$b=k8s.io/kubernetes/cmd/$b")
  done
  go_build_cached "Kubernetes $version" "$home/kubernetes/$version/bin" "$home/kubernetes/$version/src" \
    kubernetes_go_mod \
    "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version" \
    "${binaries[@]}"
}

ensure_debs etcd-server
build_kubernetes
