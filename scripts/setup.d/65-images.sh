# shellcheck shell=bash
# The site's images (`edgewright images build`) are static programs compiled here and put in images
# FROM scratch with podman: a C compiler and the static C library, nothing pulled (musl for lookup, whose
# resolver must work without NSS modules); CoreDNS comes from 62-coredns.sh. Sourced by scripts/setup.
ensure_debs gcc libc6-dev musl-tools
