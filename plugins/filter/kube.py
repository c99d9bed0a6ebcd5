"""Filters for Kubernetes node labels and taints, and for the cluster DNS settings: what the API server
would refuse, or what would break the Corefile, said before any change."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def key_problem(key: object) -> str | None:
    """Why a label or taint key is not valid, or None when it is."""
    if not isinstance(key, str) or not key:
        return f"key {key!r} must be a non-empty string"
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"key {key!r} has a prefix that is not a DNS subdomain"
    if not _NAME.match(name):
        return (
            f"key {key!r}: the name part must be at most 63 characters of letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def value_problem(key: str, value: object) -> str | None:
    if not isinstance(value, str) or not _VALUE.match(value) or len(value) > 63:
        return (
            f"value {value!r} of {key!r} must be a string of at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit (or empty)"
        )
    return None


def label_problems(labels: object) -> list[str]:
    """Every reason the API server would refuse these labels (empty when they are valid)."""
    if not isinstance(labels, dict):
        return [f"labels must be a mapping of key to value, not {type(labels).__name__}"]
    problems = []
    for key, value in labels.items():
        problem = key_problem(key) or value_problem(key, value)
        if problem:
            problems.append(problem)
    return problems


def taint_problems(taints: object) -> list[str]:
    """Every reason these taints ({key, value, effect} mappings) are not valid (empty when they are)."""
    if not isinstance(taints, list):
        return [f"taints must be a list of {{key, value, effect}} mappings, not {type(taints).__name__}"]
    problems = []
    for taint in taints:
        if not isinstance(taint, dict) or "key" not in taint or "effect" not in taint:
            problems.append(f"taint {taint!r} needs at least a key and an effect")
            continue
        problem = key_problem(taint["key"]) or value_problem(taint["key"], str(taint.get("value", "")))
        if problem:
            problems.append(problem)
        if taint["effect"] not in TAINT_EFFECTS:
            problems.append(
                f"taint {taint['key']!r} has effect {taint['effect']!r}, not one of {TAINT_EFFECTS}"
            )
    return problems


def cluster_dns_problems(
    address: object, domain: object, service_cidr: object, upstreams: object
) -> list[str]:
    """What is wrong with the cluster DNS settings: ADDRESS must be an address of SERVICE_CIDR (it becomes
    the Service's cluster IP), DOMAIN a DNS name, UPSTREAMS IP addresses (they are written into the
    Corefile, so nothing else may reach it)."""
    import ipaddress

    problems = []
    try:
        network = ipaddress.ip_network(str(service_cidr))
    except ValueError:
        return [f"the service range {service_cidr!r} is not a CIDR"]
    try:
        if ipaddress.ip_address(str(address)) not in network:
            problems.append(f"cluster_dns_address {address} is not in the service range {network}")
    except ValueError:
        problems.append(f"cluster_dns_address {address!r} is not an IP address")
    if not isinstance(domain, str) or not _DNS_SUBDOMAIN.match(domain):
        problems.append(f"cluster_dns_domain {domain!r} is not a DNS name")
    if not isinstance(upstreams, list):
        return [*problems, f"cluster_dns_upstreams must be a list of IP addresses, not {upstreams!r}"]
    for upstream in upstreams:
        try:
            ipaddress.ip_address(str(upstream))
        except ValueError:
            problems.append(f"cluster_dns_upstreams: {upstream!r} is not an IP address")
    return problems


class FilterModule:
    def filters(self):
        return {
            "kube_label_problems": label_problems,
            "kube_taint_problems": taint_problems,
            "kube_cluster_dns_problems": cluster_dns_problems,
        }
