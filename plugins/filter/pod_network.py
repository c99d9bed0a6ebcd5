"""Filters for the pod network and kube-proxy: what the controller checks before a node's network changes.

Each node's pods get the node's podCIDR (kube-controller-manager allocates it); the pod network carries
traffic to another node's podCIDR in VXLAN to that node's cluster address (its mesh address once meshed).
The Node objects the API returns are data a kubelet wrote in part: every value is checked here.
"""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

WILDCARDS = {ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::")}


def listen_problems(addresses: dict) -> list[str]:
    """Why each HOST:PORT (by its variable's name) is not one address and port: a wildcard or a name
    would listen where it need not."""
    problems = []
    for var, value in addresses.items():
        host, sep, port = str(value).rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            problems.append(f"{var} {value!r} must be ADDRESS:PORT with an IP address")
            continue
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            problems.append(f"{var} {value!r} needs a port from 1 to 65535")
        elif address in WILDCARDS:
            problems.append(f"{var} {value!r} listens on every address: use loopback or the node's address")
    return problems


def cidr_overlaps(pod_cidr: str, node_networks: dict) -> list[str]:
    """Why the pod CIDR cannot be the cluster's pod network: it is not a network, or it overlaps one of the
    node networks (by name: the underlay, the mesh, the Service range), which would make node and pod
    addresses ambiguous. Each problem names both networks."""
    try:
        pods = ipaddress.ip_network(str(pod_cidr))
    except ValueError as exc:
        return [f"the pod CIDR {pod_cidr!r} is not a network: {exc}"]
    problems = []
    for name, cidr in node_networks.items():
        if not cidr:
            continue
        network = ipaddress.ip_network(str(cidr), strict=False)
        if network.version == pods.version and network.overlaps(pods):
            problems.append(f"the pod CIDR {pods} overlaps {name} {network}")
    return problems


def vtep_mac(pod_cidr: str) -> str:
    """The MAC of a node's VXLAN endpoint, derived from its podCIDR so no node has to report one: a locally
    administered unicast address (0a:58, as the CNI plugins use) followed by the network's four bytes."""
    network = ipaddress.ip_network(pod_cidr)
    return "0a:58:" + ":".join(f"{b:02x}" for b in network.network_address.packed[-4:])


def _internal_address(node: dict) -> ipaddress._BaseAddress | None:
    for entry in (node.get("status") or {}).get("addresses") or []:
        if entry.get("type") == "InternalIP":
            try:
                return ipaddress.ip_address(str(entry.get("address")))
            except ValueError:
                return None
    return None


def pod_routes(nodes: list, node_name: str, cluster_cidr: str) -> dict:
    """The node's pod network settings from the API's Node objects: its own podCIDR and VXLAN endpoint,
    and for each other node with a podCIDR its podCIDR, endpoint MAC and cluster address. A Node whose
    podCIDR is not a single network inside the cluster CIDR, or overlaps another's, or whose address is
    not one IP, is refused by name."""
    cluster = ipaddress.ip_network(cluster_cidr)
    own, peers, taken = None, [], {}
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        cidr = (node.get("spec") or {}).get("podCIDR")
        if not cidr:
            if name == node_name:
                raise AnsibleFilterError(
                    f"Node {name} has no podCIDR yet (kube-controller-manager allocates it)"
                )
            continue
        try:
            pods = ipaddress.ip_network(str(cidr))
        except ValueError:
            raise AnsibleFilterError(f"Node {name} has podCIDR {cidr!r}, which is not a network") from None
        if pods.version != cluster.version or not pods.subnet_of(cluster):
            raise AnsibleFilterError(f"Node {name} has podCIDR {pods}, outside the cluster's {cluster}")
        for other, other_pods in taken.items():
            if other_pods.overlaps(pods):
                raise AnsibleFilterError(
                    f"Nodes {other} and {name} have overlapping podCIDRs {other_pods}, {pods}"
                )
        taken[name] = pods
        address = _internal_address(node)
        if address is None:
            raise AnsibleFilterError(f"Node {name} has no InternalIP address that is one IP")
        entry = {"name": name, "cidr": str(pods), "vtep": str(pods.network_address), "mac": vtep_mac(str(pods)),
                 "address": str(address)}  # fmt: skip
        if name == node_name:
            own = entry
        else:
            peers.append(entry)
    if own is None:
        raise AnsibleFilterError(f"Node {node_name} is not in the API")
    return {"own": own, "peers": peers}


def _address(value: str) -> ipaddress._BaseAddress | None:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        return None


def pending_nodes(nodes: list, expected: list) -> list[str]:
    """The Nodes of EXPECTED ({name, address} per node of the play; an empty address: any) that are in the
    API but have no podCIDR yet or do not yet show the address their kubelet was given."""
    by_name = {n["metadata"]["name"]: n for n in nodes}
    pending = []
    for want in expected:
        node = by_name.get(want["name"])
        if node is None:
            continue
        address = _internal_address(node)
        if not (node.get("spec") or {}).get("podCIDR") or (
            want["address"] and str(address) != want["address"]
        ):
            pending.append(want["name"])
    return pending


class FilterModule:
    def filters(self):
        return {
            "kube_listen_problems": listen_problems,
            "pod_cidr_overlaps": cidr_overlaps,
            "pod_network_routes": pod_routes,
            "pod_network_pending": pending_nodes,
        }
