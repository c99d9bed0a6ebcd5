# shellcheck shell=bash
# go_build_cached: build Go programs from the Go module proxy once, and again only when their pinned version
# changes. Sourced by the drop-ins of scripts/setup.d that build from source (Kubernetes, CoreDNS).
#
#   go_build_cached WHAT OUT WORK PREPARE LDFLAGS BINARY=PACKAGE...
#
# builds each PACKAGE whose BINARY is missing in OUT, statically (CGO_ENABLED=0: it runs on any node and
# FROM scratch), in the module directory WORK after the function PREPARE has written its go.mod there. A
# binary added to the list later is built alone. WHAT names the build in the messages.

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
go_build_cached() (
  set -euo pipefail
  local what="$1" out="$2" work="$3" prepare="$4" ldflags="$5"
  shift 5
  local missing=() entry
  for entry in "$@"; do [ -x "$out/${entry%%=*}" ] || missing+=("$entry"); done
  [ ${#missing[@]} -eq 0 ] && return 0

  # Reused across builds and versions: a warm module and build cache turn a rebuild into minutes.
  # -mod=mod: go build fetches exactly the modules the binaries need and records them in go.sum.
  export GOMODCACHE="$EDGEWRIGHT_HOME/go/mod" GOCACHE="$EDGEWRIGHT_HOME/go/build" GOFLAGS="-mod=mod -buildvcs=false"
  export GOTOOLCHAIN=local CGO_ENABLED=0
  mkdir -p "$work" "$out"
  printf '==> building %s (%s) into %s\n' "$what" "${missing[*]%%=*}" "$out" >&2
  command -v go >/dev/null || { echo "building $what needs Go 1.25 or later on the PATH" >&2; return 1; }
  local started=$SECONDS
  cd "$work"
  "$prepare"
  for entry in "${missing[@]}"; do
    nice -n 10 go build -trimpath -ldflags "-s -w $ldflags" -o "$out/${entry%%=*}.tmp" "${entry#*=}"
    mv "$out/${entry%%=*}.tmp" "$out/${entry%%=*}"
  done
  printf '==> built %s in %d s\n' "$what" "$((SECONDS - started))" >&2
)
