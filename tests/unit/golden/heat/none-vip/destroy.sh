#!/bin/sh
# Delete the edgewright cloudlet hamburg-1 and everything its template made.
set -eu
openstack stack delete --yes --wait hamburg-1
