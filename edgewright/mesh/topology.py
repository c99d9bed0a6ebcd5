"""Who links to whom in the overlay, from an election: members dial their heads, heads link to each
other and dial the cloudlet gateway. Nodes only dial out; a member never needs an inbound port.

Backends with their own routing (yggdrasil, cjdns) need just the links. WireGuard routes by key, so
`wireguard_routes` also says which addresses each link carries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edgewright.mesh.election import Election

HEAD, MEMBER, GATEWAY = "head", "member", "gateway"


@dataclass(frozen=True)
class Links:
    """One node's place in the overlay."""

    role: str
    # The nodes this node dials (their listen endpoints), in order of preference.
    dial: list[str]
    # The nodes that dial this node (only heads and the gateway have any).
    accept: list[str]
    # A member's heads, primary first; empty for heads and the gateway.
    heads: list[str]

    @property
    def peers(self) -> list[str]:
        return self.dial + [n for n in self.accept if n not in self.dial]


def all_heads(election: Election) -> list[str]:
    return sorted(n for heads in election.heads.values() for n in heads)


def links(election: Election, gateway: str | None) -> dict[str, Links]:
    """Every node's links. Between two heads only the one with the smaller name dials: one link a pair."""
    heads = all_heads(election)
    members_of: dict[str, list[str]] = {h: [] for h in heads}
    for member, assigned in election.assignments.items():
        for h in assigned:
            members_of[h].append(member)
    result: dict[str, Links] = {}
    for h in heads:
        dial = [o for o in heads if o > h] + ([gateway] if gateway else [])
        accept = [o for o in heads if o < h] + sorted(members_of[h])
        result[h] = Links(HEAD, dial, accept, [])
    for member, assigned in election.assignments.items():
        result[member] = Links(MEMBER, list(assigned), [], list(assigned))
    if gateway:
        result[gateway] = Links(GATEWAY, [], heads, [])
    return dict(sorted(result.items()))


def wireguard_routes(
    topology: Mapping[str, Links], node: str, addresses: Mapping[str, str], network: str
) -> dict[str, list[str]]:
    """For NODE, each peer's allowed addresses (WireGuard routes by them; no address under two peers).

    A node reaches a direct peer directly; everything else goes through the owner's primary head. A
    member sends all of NETWORK through its primary head (so new nodes need no change on members) and
    only its second head's own address to that head.
    """
    me = topology[node]
    missing = sorted(n for n in [node, *me.peers] if n not in addresses)
    if missing:
        raise ValueError(f"no mesh address for {', '.join(missing)}")
    routes: dict[str, list[str]] = {p: [host(addresses[p])] for p in me.peers}
    if me.role == MEMBER:
        primary = me.heads[0]
        routes[primary] = [network]
        return routes
    for other, links_of_other in topology.items():
        if other == node or other in routes or links_of_other.role != MEMBER:
            continue
        via = links_of_other.heads[0]
        if via in routes:
            routes[via].append(host(addresses[other]))
    return {p: sorted(set(a)) for p, a in routes.items()}


def host(address: str) -> str:
    """ADDRESS (one address, or a prefix of one host) as a single-host prefix; ValueError for anything
    wider: a peer's AllowedIPs of ::/0 or of another's network would take their traffic."""
    try:
        network = ipaddress.ip_network(address, strict=True)
    except ValueError as exc:
        raise ValueError(f"mesh address {address!r} is not one host: {exc}") from None
    if network.num_addresses != 1:
        raise ValueError(f"mesh address {address!r} is a network, not one host")
    return str(network)


def endpoints(dial: Sequence[str], underlay: Mapping[str, str], port: int) -> list[str]:
    """host:port of each node dialled, IPv6 literals bracketed."""
    out = []
    for n in dial:
        address = underlay[n]
        out.append(f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
    return out
