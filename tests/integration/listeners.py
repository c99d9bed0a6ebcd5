"""What listens on a lab node, read with `ss -ltnpH` inside it, and the check every lab test shares:
nothing but the lab's own SSH access binds every interface or an address the node should not serve on."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from dataclasses import dataclass

# The lab reaches its nodes over SSH on every interface of the container; that is the lab's access, not a
# service a role sets up.
LAB_ACCESS = frozenset({"sshd"})


@dataclass(frozen=True)
class Listener:
    address: str  # as ss prints it, without brackets or a %interface suffix; "*" for every interface
    port: int
    process: str

    @property
    def on_every_interface(self) -> bool:
        return self.address == "*" or ipaddress.ip_address(self.address).is_unspecified


def parse_ss(output: str) -> list[Listener]:
    """The TCP listeners of `ss -ltnpH` output."""
    listeners = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] != "LISTEN":
            continue
        local = fields[3]
        address, _, port = local.rpartition(":")
        address = address.strip("[]").split("%")[0]
        match = re.search(r'users:\(\("([^"]+)"', line)
        listeners.append(Listener(address, int(port), match.group(1) if match else "?"))
    return listeners


def node_listeners(node: str) -> list[Listener]:
    proc = subprocess.run(
        ["podman", "exec", node, "ss", "-ltnpH"], capture_output=True, text=True, check=True
    )
    return parse_ss(proc.stdout)


def misplaced(listeners: list[Listener], allowed: set[str]) -> list[Listener]:
    """The listeners (other than the lab's access) bound to every interface or to an address not in ALLOWED
    (loopback always is)."""
    return [
        listener
        for listener in listeners
        if listener.process not in LAB_ACCESS
        and (
            listener.on_every_interface
            or not (ipaddress.ip_address(listener.address).is_loopback or listener.address in allowed)
        )
    ]
