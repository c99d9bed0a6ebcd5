# shellcheck shell=bash
# vcsim, the vSphere API simulator the vSphere stack's providers are tested against
# (tests/integration/test_vsphere_vcsim.py). Built once from the Go module proxy at a pinned version
# into $EDGEWRIGHT_HOME/bin; rebuilt only when the binary is missing or the pin changes.
# Sourced by scripts/setup (which provides `say` and `ensure_debs`).

VCSIM_VERSION="v0.46.3"
VCSIM_BIN="$EDGEWRIGHT_HOME/bin/vcsim"
VCSIM_STAMP="$EDGEWRIGHT_HOME/bin/.vcsim-version"

if [ ! -x "$VCSIM_BIN" ] || [ "$(cat "$VCSIM_STAMP" 2>/dev/null)" != "$VCSIM_VERSION" ]; then
  # govmomi $VCSIM_VERSION needs Go >= 1.22; Debian bookworm's golang-go is 1.19, so prefer a newer
  # toolchain where the machine has one and let `go` fetch the one go.mod asks for otherwise.
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="$PATH:/usr/local/go/bin"
  fi
  command -v go >/dev/null 2>&1 || ensure_debs golang-go
  say "building vcsim $VCSIM_VERSION into $EDGEWRIGHT_HOME/bin"
  mkdir -p "$EDGEWRIGHT_HOME/bin"
  (cd / && GOTOOLCHAIN=auto GOBIN="$EDGEWRIGHT_HOME/bin" nice -n 10 \
    go install "github.com/vmware/govmomi/vcsim@$VCSIM_VERSION")
  echo "$VCSIM_VERSION" >"$VCSIM_STAMP"
fi
export EDGEWRIGHT_VCSIM="$VCSIM_BIN"
