# shellcheck shell=bash
# promtool on the controller: every Prometheus configuration and rule file is checked with it before it is
# applied, and the alert rules are unit-tested with `promtool test rules`. It comes out of Debian's prometheus
# package, unpacked under the cache (not installed: the controller runs no Prometheus service of its own).
# Sourced by scripts/setup; does work only when promtool is missing.
metrics_prometheus_dir="$EDGEWRIGHT_HOME/prometheus"
if [ ! -x "$metrics_prometheus_dir/bin/promtool" ]; then
  say "unpacking promtool from Debian's prometheus package into $metrics_prometheus_dir"
  metrics_tmp="$(mktemp -d)"
  if [ -z "${EDGEWRIGHT_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export EDGEWRIGHT_APT_UPDATED=1
  fi
  (cd "$metrics_tmp" && apt-get download -qq -o APT::Sandbox::User=root prometheus >/dev/null)
  dpkg-deb -x "$metrics_tmp"/prometheus_*.deb "$metrics_tmp/root"
  mkdir -p "$metrics_prometheus_dir/bin"
  install -m 0755 "$metrics_tmp/root/usr/bin/promtool" "$metrics_prometheus_dir/bin/promtool.tmp"
  mv "$metrics_prometheus_dir/bin/promtool.tmp" "$metrics_prometheus_dir/bin/promtool"
  rm -rf "$metrics_tmp"
fi
# The tests find promtool here (or on PATH).
export EDGEWRIGHT_PROMTOOL="$metrics_prometheus_dir/bin/promtool"
unset metrics_prometheus_dir metrics_tmp
