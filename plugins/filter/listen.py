"""Filters for listen addresses: a service binds one chosen address, never a hostname, and never every
interface (0.0.0.0, ::) unless a named setting allows it. Said before any change, naming the variable."""

from __future__ import annotations

import ipaddress


def listen_address_problem(
    value: object, variable: str, allow_any: bool = False, any_setting: str = ""
) -> str:
    """Why VALUE cannot be the address VARIABLE binds, or '' when it can.

    An IP address (v4 or v6, no brackets) of one interface; the unspecified address only with ALLOW_ANY,
    the setting ANY_SETTING (named in the message) that allows it.
    """
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        address = ipaddress.ip_address(value)
    except ValueError:
        return f"{variable} must be an IP address (not a hostname or a network), not {value!r}"
    if address.is_unspecified and not allow_any:
        allow = f" unless {any_setting} is true" if any_setting else ""
        return f"{variable} {value} listens on every interface; give the one address it serves on{allow}"
    return ""


def listen_endpoint_problem(
    value: object, variable: str, allow_any: bool = False, any_setting: str = ""
) -> str:
    """Why VALUE cannot be the HOST:PORT (or [V6]:PORT) VARIABLE binds, or '' when it can."""
    text = str(value) if isinstance(value, str) else ""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return f"{variable} must be ADDRESS:PORT with a port within 1-65535, not {value!r}"
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return f"{variable} must write an IPv6 address in brackets ([ADDRESS]:PORT), not {value!r}"
    problem = listen_address_problem(host, variable, allow_any, any_setting)
    return problem.replace(f"{variable} {host} ", f"{variable} {text} ") if problem else ""


def listen_host(endpoint: str) -> str:
    """The address of a HOST:PORT or [V6]:PORT endpoint, as a URL names it (v6 kept in brackets)."""
    return str(endpoint).rpartition(":")[0]


class FilterModule:
    def filters(self):
        return {
            "edgewright_listen_address_problem": listen_address_problem,
            "edgewright_listen_endpoint_problem": listen_endpoint_problem,
            "edgewright_listen_host": listen_host,
        }
