#!/bin/sh
# Create or update the edgewright cloudlet hamburg-1 from cloudlet.yaml, with the operator's own credentials
# (source your openrc first). Nothing here calls out of your network.
set -eu
cd "$(dirname "$0")"
if openstack stack show hamburg-1 >/dev/null 2>&1; then
  openstack stack update --wait -t cloudlet.yaml hamburg-1
else
  openstack stack create --wait -t cloudlet.yaml hamburg-1
fi
openstack stack output show hamburg-1 --all
