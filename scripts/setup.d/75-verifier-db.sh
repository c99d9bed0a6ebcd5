# shellcheck shell=bash
# The verifier's scale-out database: PostgreSQL 15 from Debian, whose initdb/pg_ctl the tests use to run a
# throwaway server of their own (a private socket directory, no TCP listener). The package would make and
# start a "main" cluster listening on localhost; nothing needs one, so a createcluster.d drop-in (read by
# postgresql-common) says not to, before the package is installed. Sourced by scripts/setup.
if ! dpkg-query -W -f='${Status}' postgresql-15 2>/dev/null | grep -q "install ok installed"; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/edgewright.conf >/dev/null
fi
ensure_debs postgresql-15
