# shellcheck shell=bash
# CoreDNS, the cluster's DNS, built from the Go module proxy at the pinned version (static: it runs FROM
# scratch in the image `edgewright images build coredns` makes) into $EDGEWRIGHT_HOME/coredns/<version>/bin,
# once, and again only when the pin changes (scripts/go-build.sh). Sourced by scripts/setup; also runnable
# on its own.

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
# shellcheck source=scripts/go-build.sh
. "$EDGEWRIGHT_ROOT/scripts/go-build.sh"

# The pinned version lives with the image catalog, which finds the binary by it.
EDGEWRIGHT_COREDNS_VERSION="${EDGEWRIGHT_COREDNS_VERSION:-$(cat "$EDGEWRIGHT_ROOT/edgewright/images/coredns.version")}"

# CoreDNS's own go.mod has no local replacements: a go.mod of ours only pins it.
coredns_go_mod() {
  printf 'module edgewright.local/coredns-build\n\ngo 1.25\n\nrequire github.com/coredns/coredns %s\n' \
    "$EDGEWRIGHT_COREDNS_VERSION" >go.mod
}

build_coredns() {
  local version="$EDGEWRIGHT_COREDNS_VERSION" home="$EDGEWRIGHT_HOME"
  go_build_cached "CoreDNS $version" "$home/coredns/$version/bin" "$home/coredns/$version/src" coredns_go_mod \
    "-X github.com/coredns/coredns/coremain.GitCommit=$version" coredns=github.com/coredns/coredns
}

build_coredns
