"""Node-side mesh overlay helpers (stdlib only): keys made on the node, settings merged into the
daemon's own config without the private key ever leaving it, link measurements.

Yggdrasil and cjdns keep their private key inside their JSON config, so edgewright never renders those
files from a template (that would carry the key through the controller): the daemon generates the file
on the node and `merge_settings` changes only the settings edgewright owns.

The controller imports this same file as edgewright.mesh.node_mesh (a link to it), so it checks a
WireGuard node's address by the very derivation the node made it with.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import subprocess

BACKENDS = ("yggdrasil", "wireguard", "cjdns")
# The fields that hold a node's secret in each backend's config; never returned, never logged.
SECRET_FIELDS = ("PrivateKey", "privateKey")

PING_LOSS = re.compile(r"(\d+(?:\.\d+)?)% packet loss")
PING_RTT = re.compile(r"= [\d.]+/([\d.]+)/[\d.]+/[\d.]+ ms")


def parse_ping(text):
    """(average round trip in ms or None, loss in percent) from iputils ping's summary."""
    loss = PING_LOSS.search(text or "")
    rtt = PING_RTT.search(text or "")
    return (float(rtt.group(1)) if rtt else None, float(loss.group(1)) if loss else 100.0)


def merge_settings(config, settings):
    """CONFIG with SETTINGS' top-level keys set; (new config, changed). Secret fields cannot be set."""
    forbidden = sorted(k for k in settings if k in SECRET_FIELDS)
    if forbidden:
        raise ValueError(f"settings may not set {', '.join(forbidden)}: keys are made on the node")
    merged = dict(config)
    merged.update(settings)
    return merged, merged != config


def public_view(config):
    """CONFIG without its secret fields (safe to return to the controller)."""
    return {k: v for k, v in config.items() if k not in SECRET_FIELDS}


def wireguard_address(network, public_key):
    """The node's address in NETWORK, derived from its public key (stable, no allocator to keep)."""
    net = ipaddress.ip_network(network, strict=True)
    host_bits = net.max_prefixlen - net.prefixlen
    if host_bits < 16:
        raise ValueError(
            f"{network} is too small to derive addresses from keys: use a /112 or larger for IPv6"
        )
    digest = int.from_bytes(hashlib.sha256(public_key.encode()).digest(), "big")
    offset = digest % ((1 << host_bits) - 2) + 1
    return str(net.network_address + offset)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def run(argv, stdin=None):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def strip_json_comments(text):
    """cjdroute --genconf writes JSON with // and /* */ comments; drop them outside strings."""
    out, i, in_string = [], 0, False
    while i < len(text):
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                break
            continue
        elif text.startswith("/*", i):
            i = text.find("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)
