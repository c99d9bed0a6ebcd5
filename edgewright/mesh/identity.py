"""What a node reports of its mesh identity, checked on the controller before any other node sees it.

A node's public key and mesh address end up in its peers' configs (yggdrasil's JSON, WireGuard's INI-like
file, the metrics probe's peer list) and in their routes. A compromised node could report a key with a
newline and a `PreUp =` line, an address of `$(...)` or `::/0`, or another node's address. So nothing is
taken as text: each backend's key must be in its exact format, and the address must be the one the key
implies (all three backends derive the address from the public key), a single host inside the overlay's
range and no other node's. What passes is re-rendered in canonical form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from edgewright.errors import EdgewrightError

# The node's own mesh code (plugins/module_utils/edgewright_mesh.py): the address a WireGuard node derives
# from its key must be the one the controller expects of it.
from edgewright.mesh import node_mesh

BACKENDS = node_mesh.BACKENDS
# Where each backend's node addresses live: yggdrasil's are 200::/8 (300::/8 is its routed subnets, never
# a node); cjdns's fc00::/8. WireGuard's range is the site's own (mesh_wireguard_network).
BACKEND_NETWORKS = {"yggdrasil": "200::/8", "cjdns": "fc00::/8"}
YGGDRASIL_KEY = re.compile(r"[0-9a-f]{64}")
WIREGUARD_KEY = re.compile(r"[A-Za-z0-9+/]{43}=")
CJDNS_KEY = re.compile(r"[0-9bcdfghjklmnpqrstuvwxyz]{52}\.k")
CJDNS_BASE32 = "0123456789bcdfghjklmnpqrstuvwxyz"
# A DNS name (RFC 1123 labels) or an IP literal: an underlay address is rendered into endpoints.
HOSTNAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


class IdentityError(EdgewrightError, ValueError):
    """A node's reported identity is refused; the message names the node and what is wrong."""


@dataclass(frozen=True)
class Identity:
    """A node's checked mesh identity, in canonical form."""

    public_key: str
    address: str
    underlay: str | None = None

    def as_record(self) -> dict[str, str]:
        record = {"public_key": self.public_key, "address": self.address}
        return record | ({"underlay": self.underlay} if self.underlay is not None else {})


def overlay_network(backend: str, wireguard_network: str | None = None) -> ipaddress.IPv6Network:
    """The range every node address of BACKEND must lie in."""
    if backend not in BACKENDS:
        raise IdentityError(f"unknown mesh backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend != "wireguard":
        return ipaddress.IPv6Network(BACKEND_NETWORKS[backend])
    if not wireguard_network:
        raise IdentityError("the WireGuard overlay needs its network (mesh_wireguard_network)")
    try:
        network = ipaddress.IPv6Network(wireguard_network, strict=True)
    except ValueError as exc:
        raise IdentityError(
            f"the WireGuard network {wireguard_network!r} is not an IPv6 network: {exc}"
        ) from exc
    if network.prefixlen > 112:
        raise IdentityError(f"the WireGuard network {wireguard_network} is smaller than a /112")
    return network


def yggdrasil_address(public_key: bytes) -> ipaddress.IPv6Address:
    """Yggdrasil's address for an ed25519 public key (its address.AddrForKey): 0x02, the count of leading
    ones of the inverted key, then the bits after the first zero."""
    inverted = int.from_bytes(bytes(b ^ 0xFF for b in public_key), "big")
    bits = format(inverted, f"0{8 * len(public_key)}b")
    ones = len(bits) - len(bits.lstrip("1"))
    rest = bits[ones + 1 :]
    tail = int(rest[: 14 * 8].ljust(14 * 8, "0"), 2).to_bytes(14, "big")
    return ipaddress.IPv6Address(bytes([0x02, ones]) + tail)


def cjdns_key_bytes(public_key: str) -> bytes:
    """The 32 bytes of a cjdns `.k` key (cjdns's own base32: little-endian, 5 bits a character)."""
    out, value, bits = bytearray(), 0, 0
    for ch in public_key.removesuffix(".k"):
        value |= CJDNS_BASE32.index(ch) << bits
        bits += 5
        if bits >= 8:
            out.append(value & 0xFF)
            value >>= 8
            bits -= 8
    if value:
        raise ValueError("trailing bits are not zero")
    return bytes(out)


def cjdns_address(public_key: bytes) -> ipaddress.IPv6Address:
    """cjdns's address for a public key: the first 16 bytes of SHA-512(SHA-512(key))."""
    return ipaddress.IPv6Address(hashlib.sha512(hashlib.sha512(public_key).digest()).digest()[:16])


def wireguard_address(network: ipaddress.IPv6Network, public_key: str) -> ipaddress.IPv6Address:
    """The address a WireGuard node derives from its key in NETWORK, by the node's own code."""
    return ipaddress.IPv6Address(node_mesh.wireguard_address(str(network), public_key))


def check_key(backend: str, public_key: object) -> tuple[str, ipaddress.IPv6Address | None]:
    """The key in canonical form and, where the backend fixes it, the address it implies."""
    if not isinstance(public_key, str):
        raise ValueError(f"public_key must be a string, not {type(public_key).__name__}")
    if backend == "yggdrasil":
        if not YGGDRASIL_KEY.fullmatch(public_key.lower()):
            raise ValueError(f"public_key {public_key!r} is not a yggdrasil key (64 hex digits, ed25519)")
        key = public_key.lower()
        return key, yggdrasil_address(bytes.fromhex(key))
    if backend == "wireguard":
        try:
            raw = base64.b64decode(public_key, validate=True) if WIREGUARD_KEY.fullmatch(public_key) else b""
        except binascii.Error:
            raw = b""
        if len(raw) != 32 or base64.b64encode(raw).decode() != public_key:
            raise ValueError(f"public_key {public_key!r} is not a WireGuard key (32 bytes in base64)")
        return public_key, None
    if not CJDNS_KEY.fullmatch(public_key.lower()):
        raise ValueError(f"public_key {public_key!r} is not a cjdns key (52 base32 characters and .k)")
    key = public_key.lower()
    try:
        raw = cjdns_key_bytes(key)
    except ValueError as exc:
        raise ValueError(f"public_key {public_key!r} is not a cjdns key ({exc})") from exc
    return key, cjdns_address(raw)


def check_address(address: object, network: ipaddress.IPv6Network) -> ipaddress.IPv6Address:
    """ADDRESS as one IPv6 host inside NETWORK (no prefix, no zone, not the network's own address)."""
    if not isinstance(address, str):
        raise ValueError(f"address must be a string, not {type(address).__name__}")
    try:
        host = ipaddress.IPv6Address(address)
    except ValueError as exc:
        raise ValueError(f"address {address!r} is not a single IPv6 address") from exc
    if host.scope_id or host not in network or host == network.network_address:
        raise ValueError(f"address {address!r} is not a host inside the overlay's {network}")
    return host


def check_underlay(underlay: object) -> str:
    """The address peers dial a node at: an IP address or a DNS name, nothing else."""
    if not isinstance(underlay, str):
        raise ValueError(f"underlay must be a string, not {type(underlay).__name__}")
    try:
        return str(ipaddress.ip_address(underlay))
    except ValueError:
        pass
    if not HOSTNAME.fullmatch(underlay):
        raise ValueError(f"underlay {underlay!r} is neither an IP address nor a DNS name")
    return underlay.lower()


def check_identity(
    name: str, reported: Mapping[str, object], backend: str, network: ipaddress.IPv6Network
) -> Identity:
    """NAME's reported public key, address and underlay, checked; IdentityError naming NAME otherwise."""
    try:
        if reported.get("public_key") is None or reported.get("address") is None:
            raise ValueError("reports no public_key or no address")
        key, implied = check_key(backend, reported.get("public_key"))
        address = check_address(reported.get("address"), network)
        if backend == "wireguard":
            implied = wireguard_address(network, key)
        if address != implied:
            raise ValueError(f"address {address} is not the one its public key gives ({implied})")
        underlay = reported.get("underlay")
        return Identity(key, str(address), None if underlay is None else check_underlay(underlay))
    except ValueError as exc:
        raise IdentityError(f"{name}: {exc}") from None


def check_reported(
    name: str, reported: Mapping[str, object], backend: str, network: ipaddress.IPv6Network
) -> dict[str, str]:
    """The record entry for what NAME reports: its checked identity, or only its checked underlay while it
    reports no key and no address yet (a dry run holds the election before the nodes' keys are read)."""
    present = {
        k: v for k, v in reported.items() if k in ("public_key", "address", "underlay") and v is not None
    }
    if present.keys() & {"public_key", "address"}:
        return check_identity(name, present, backend, network).as_record()
    if "underlay" not in present:
        return {}
    try:
        return {"underlay": check_underlay(present["underlay"])}
    except ValueError as exc:
        raise IdentityError(f"{name}: {exc}") from None


def check_name(kind: str, name: object) -> str:
    """A node or zone name, which peers' configs and metric labels carry: letters, digits, '.', '_', '-'."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise IdentityError(
            f"{kind} {name!r} is not a plain name (letters, digits, '.', '_', '-'; at most 63)"
        )
    return name


def check_unique(nodes: Mapping[str, Mapping[str, object]]) -> None:
    """Refuse two nodes with one key or one address (a node claiming another's routes or peerings)."""
    problems = []
    for field in ("public_key", "address"):
        owners: dict[str, list[str]] = {}
        for name, entry in sorted(nodes.items()):
            value = entry.get(field)
            if value is not None:
                owners.setdefault(str(value), []).append(name)
        problems += [
            f"{', '.join(names)} report the same {field.replace('_', ' ')} {value}"
            for value, names in owners.items()
            if len(names) > 1
        ]
    if problems:
        raise IdentityError("; ".join(problems))
