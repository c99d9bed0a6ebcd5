# shellcheck shell=bash
# The Pulumi CLI, so the stacks run for real (`pulumi up` of the vSphere stack against vcsim:
# tests/integration/test_pulumi_vsphere_stack.py). Built once from the Go module proxy at the version pinned
# in tools/pulumi/go.mod into $EDGEWRIGHT_HOME/bin; rebuilt only when the binary is missing or the pin
# changes. Beside it go the Python language host and a launcher for Python dynamic providers
# (Pulumi's own are not served by the proxy), bound to the project's Python environment.
# Sourced by scripts/setup (which provides `say`, EDGEWRIGHT_ROOT and EDGEWRIGHT_VENV).

PULUMI_TOOLS="$EDGEWRIGHT_ROOT/tools/pulumi"
# The pin: pkg/v3's version in tools/pulumi/go.mod (sdk/v3 is pinned beside it, to the same version).
PULUMI_VERSION="$(sed -n 's|^\s*github.com/pulumi/pulumi/pkg/v3 \(v[0-9.]*\).*|\1|p' "$PULUMI_TOOLS/go.mod")"
PULUMI_BIN="$EDGEWRIGHT_HOME/bin/pulumi"
PULUMI_STAMP="$EDGEWRIGHT_HOME/bin/.pulumi-version"

if [ ! -x "$PULUMI_BIN" ] || [ "$(cat "$PULUMI_STAMP" 2>/dev/null)" != "$PULUMI_VERSION" ]; then
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="$PATH:/usr/local/go/bin"
  fi
  # Go >= 1.21 fetches the toolchain go.mod asks for itself (GOTOOLCHAIN=auto), as for vcsim.
  go_minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
  if [ -z "$go_minor" ] || [ "$go_minor" -lt 21 ]; then
    say "the Pulumi CLI needs Go >= 1.21 (found: $(go env GOVERSION 2>/dev/null || echo none)); install it, then rerun"
    return 1
  fi
  say "building the Pulumi CLI $PULUMI_VERSION into $EDGEWRIGHT_HOME/bin (a few minutes)"
  mkdir -p "$EDGEWRIGHT_HOME/bin"
  # -p 1: one package at a time, so the build leaves the machine's other core to everyone else.
  # -s -w: no symbol tables (about a third smaller); the version is what `pulumi version` reports.
  (cd "$PULUMI_TOOLS" && GOTOOLCHAIN=auto nice -n 10 go build -p 1 -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$PULUMI_BIN.new" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$PULUMI_BIN.new" "$PULUMI_BIN"
  echo "$PULUMI_VERSION" >"$PULUMI_STAMP"
fi

# The language host and the dynamic-provider launcher, run by the project's Python (which has pulumi,
# grpc and edgewright); rewritten only when they change.
write_if_changed() {
  local target="$1" wanted
  wanted="$(cat)"
  [ "$(cat "$target" 2>/dev/null)" = "$wanted" ] && return 0
  printf '%s\n' "$wanted" >"$target.new" && chmod 0755 "$target.new" && mv "$target.new" "$target"
}
{
  echo "#!$EDGEWRIGHT_VENV/bin/python"
  tail -n +2 "$PULUMI_TOOLS/pulumi_language_python.py"
} | write_if_changed "$EDGEWRIGHT_HOME/bin/pulumi-language-python"
# The engine starts the provider of Python dynamic resources (pulumi.dynamic: the vSphere VMs) by this name.
printf '#!/bin/sh\nexec %s -u -m pulumi.dynamic "$@"\n' "$EDGEWRIGHT_VENV/bin/python" |
  write_if_changed "$EDGEWRIGHT_HOME/bin/pulumi-resource-pulumi-python"
export EDGEWRIGHT_PULUMI="$PULUMI_BIN"
