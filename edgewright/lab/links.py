"""Cutting the direct link between two lab nodes, so that only the mesh overlay joins them.

RAINBOW's fog nodes reach the cluster only through their cluster head. On the lab's flat network every
node reaches every other directly; a cut drops, inside both nodes, everything between their lab addresses
but the mesh daemon's own connection (TCP to or from the kept ports), so what else still flows between
them rides the overlay. The rules live in a chain of their own and go with `--restore` or a node restart.
"""

from __future__ import annotations

import ipaddress

from edgewright.errors import EdgewrightError
from edgewright.lab import podman

CHAIN = "EDGEWRIGHT-LAB-CUT"


class LinkError(EdgewrightError, ValueError):
    """A cut that cannot be made; the message names the node or value."""


def cut_rules(peer: str, keep_ports: list[int]) -> list[list[str]]:
    """iptables argument lists filling CHAIN: traffic with PEER passes only as TCP to or from a kept port."""
    address = ipaddress.ip_address(peer)
    if address.version != 4:
        raise LinkError(f"the lab's node addresses are IPv4, not {peer}")
    for port in keep_ports:
        if not 0 < port < 65536:
            raise LinkError(f"--keep-port {port} is not a TCP port")
    rules = []
    for direction in ("-d", "-s"):
        for port in keep_ports:
            rules += [[direction, peer, "-p", "tcp", "--dport", str(port), "-j", "RETURN"],
                      [direction, peer, "-p", "tcp", "--sport", str(port), "-j", "RETURN"]]  # fmt: skip
        rules.append([direction, peer, "-j", "DROP"])
    return rules


def _iptables(node: str, *args: str, check: bool = True):
    return podman.run(["exec", node, "iptables", *args], check=check)


def cut(node: str, peer_node: str, peer: str, address: str, keep_ports: list[int]) -> None:
    """Cut NODE (at ADDRESS) off from PEER_NODE (at PEER) in both nodes, keeping the given TCP ports."""
    for here, there in ((node, peer), (peer_node, address)):
        rules = cut_rules(there, keep_ports)
        restore(here)
        _iptables(here, "-N", CHAIN)
        for rule in rules:
            _iptables(here, "-A", CHAIN, *rule)
        for hook in ("INPUT", "OUTPUT"):
            _iptables(here, "-I", hook, "1", "-j", CHAIN)


def restore(node: str) -> None:
    """Take a cut's rules out of NODE (nothing when there are none)."""
    for hook in ("INPUT", "OUTPUT"):
        while _iptables(node, "-D", hook, "-j", CHAIN, check=False).returncode == 0:
            pass
    _iptables(node, "-F", CHAIN, check=False)
    _iptables(node, "-X", CHAIN, check=False)
