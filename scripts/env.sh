# shellcheck shell=bash
# Where edgewright's scripts work, decided once for all of them (each sources this file):
#   EDGEWRIGHT_ROOT  this tree
#   EDGEWRIGHT_HOME  the caches that can be rebuilt (the Python environment, built binaries, artefacts, labs):
#                    the operator's own, else ~/.cache/edgewright, the default the edgewright package takes
#                    too (edgewright/controller/dirs.py)
EDGEWRIGHT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EDGEWRIGHT_HOME="${EDGEWRIGHT_HOME:-$HOME/.cache/edgewright}"
