# shellcheck shell=bash
# vcsim, the vSphere API simulator the vSphere stack's providers are tested against
# (tests/integration/test_vsphere_vcsim.py). Built once from the Go module proxy at a pinned version
# into $EDGEWRIGHT_HOME/bin; rebuilt only when the binary is missing or the pin changes.
# Sourced by scripts/setup (which provides `say` and `ensure_debs`).

VCSIM_VERSION="v0.46.3"
VCSIM_BIN="$EDGEWRIGHT_HOME/bin/vcsim"
VCSIM_STAMP="$EDGEWRIGHT_HOME/bin/.vcsim-version"

if [ ! -x "$VCSIM_BIN" ] || [ "$(cat "$VCSIM_STAMP" 2>/dev/null)" != "$VCSIM_VERSION" ]; then
  # govmomi $VCSIM_VERSION needs Go >= 1.22; Go >= 1.21 fetches that toolchain itself through the module
  # proxy (GOTOOLCHAIN=auto). The build machines carry one in /usr/local/go; Debian
  # bookworm's golang-go (1.19) can do neither.
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="$PATH:/usr/local/go/bin"
  fi
  go_minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
  if [ -z "$go_minor" ] || [ "$go_minor" -lt 21 ]; then
    say "vcsim needs Go >= 1.21 (found: $(go env GOVERSION 2>/dev/null || echo none)); install it, then rerun"
    return 1
  fi
  say "building vcsim $VCSIM_VERSION into $EDGEWRIGHT_HOME/bin"
  mkdir -p "$EDGEWRIGHT_HOME/bin"
  (cd / && GOTOOLCHAIN=auto GOBIN="$EDGEWRIGHT_HOME/bin" nice -n 10 \
    go install "github.com/vmware/govmomi/vcsim@$VCSIM_VERSION")
  echo "$VCSIM_VERSION" >"$VCSIM_STAMP"
fi
export EDGEWRIGHT_VCSIM="$VCSIM_BIN"
