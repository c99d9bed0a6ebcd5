"""The local lab: N edge nodes as podman containers running systemd, on a lab network of their own.

Everything the lab creates carries the label `io.edgewright.lab=<name>`, so `down` removes exactly that and
`up` refuses to adopt a container or network of the same name that it did not make.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from edgewright.attest.store import Store
from edgewright.attest.verifier import Verifier
from edgewright.controller.dirs import Directories
from edgewright.errors import EdgewrightError
from edgewright.lab import links, podman, tpm
from edgewright.lab.image import IMAGE, current_digest, ensure_image
from edgewright.lab.kube import (
    CLUSTER_CIDR,
    DEFAULT_PORT_BASE,
    SERVICE_CIDR,
    ControlPlane,
    ControlPlaneSpec,
    Ports,
    binaries_dir,
)

LAB_LABEL = "io.edgewright.lab"
INDEX_LABEL = "io.edgewright.node-index"
KEY_LABEL = "io.edgewright.ssh-key"
KUBELET_LABEL = "io.edgewright.kubelet-ready"
IMAGE_LABEL = "io.edgewright.image-recipe"
TPM_LABEL = "io.edgewright.tpm"
MAX_NODES = 50
DEFAULT_NAME = "edge"
DEFAULT_SUBNET = "10.231.0.0/24"
# Node i gets host address FIRST_HOST + i, so addresses are stable across runs and easy to read.
FIRST_HOST = 10
LIFECYCLE_FILE = "/var/lib/edgewright/lifecycle.json"
# The host keys a node makes at first boot (ssh-hostkeys.service, `ssh-keygen -A`), pinned by the lab.
HOST_KEY_TYPES = {"ed25519": "ssh-ed25519", "ecdsa": "ecdsa-sha2-nistp256", "rsa": "ssh-rsa"}
# The pods of the hello workload (roles/hello_workload), one per node: the WORKLOAD column of the status.
HELLO_SELECTOR = "app.kubernetes.io/name=edgewright-hello"
# The cluster DNS pods (roles/cluster_dns), shown under the table.
CLUSTER_DNS_SELECTOR = "k8s-app=kube-dns"
# The site registry's pull port on its lab host (the role's default).
SITE_REGISTRY_PORT = 5000
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


class LabError(EdgewrightError, ValueError):
    """Bad input to a lab command, or a lab that cannot be made as asked. Nothing was changed."""


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise LabError(
            f"lab name {name!r} is not valid: use 1-20 lowercase letters, digits and '-', starting with a letter"
        )


@dataclass(frozen=True)
class LabSpec:
    name: str = DEFAULT_NAME
    nodes: int = 3
    subnet: str = DEFAULT_SUBNET
    # A Kubernetes control plane on this host for the lab's nodes to join (see edgewright.lab.kube).
    kubernetes: bool = False
    kube_port_base: int = DEFAULT_PORT_BASE

    def validate(self) -> None:
        check_name(self.name)
        if self.kubernetes:
            Ports(self.kube_port_base).validate()
        if not 1 <= self.nodes <= MAX_NODES:
            raise LabError(f"--nodes must be between 1 and {MAX_NODES}, not {self.nodes}")
        try:
            net = ipaddress.ip_network(self.subnet)
        except ValueError as exc:
            raise LabError(f"--subnet {self.subnet!r} is not a network: {exc}") from None
        if net.version != 4 or net.num_addresses < FIRST_HOST + self.nodes + 2:
            raise LabError(f"--subnet {self.subnet} is too small for {self.nodes} nodes")

    @property
    def network(self) -> str:
        return f"{self.name}-net"

    def node_name(self, index: int) -> str:
        return f"{self.name}-{index}"

    def node_address(self, index: int) -> str:
        return str(ipaddress.ip_network(self.subnet)[FIRST_HOST + index])

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.subnet)[1])


@dataclass(frozen=True)
class NodeStatus:
    name: str
    address: str
    container: str
    systemd: str
    tpm: str
    stage: str
    # The node's hello pod as the API reports it: "ready", its phase, or why its container waits.
    workload: str = "-"


def state_dir(name: str) -> Path:
    """Where a lab keeps what must outlive one command (its SSH key), outside the repository."""
    return Directories.from_environment().home / "labs" / name


def known_hosts_file(name: str) -> Path:
    """The lab's own known_hosts: the host keys of the nodes it made, read from each node through podman."""
    return state_dir(name) / "known_hosts"


def ssh_options(known_hosts: Path) -> list[str]:
    """SSH options that accept a lab node only with the host key the lab pinned for it."""
    return ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes"]


def known_hosts_line(address: str, public_key: str) -> str:
    """ADDRESS's known_hosts line for PUBLIC_KEY (an OpenSSH .pub line); ValueError if it is not one."""
    fields = public_key.split()
    if len(fields) < 2 or fields[0] not in HOST_KEY_TYPES.values():
        raise ValueError(f"not an OpenSSH public host key: {public_key[:60]!r}")
    try:
        base64.b64decode(fields[1], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not an OpenSSH public host key: {exc}") from None
    return f"{ipaddress.ip_address(address)} {fields[0]} {fields[1]}"


def control_plane_spec(spec: LabSpec) -> ControlPlaneSpec:
    return ControlPlaneSpec(
        lab=spec.name,
        address=spec.gateway,
        state=state_dir(spec.name) / "kubernetes",
        ports=Ports(spec.kube_port_base),
    )


def kubernetes_vars(spec: LabSpec) -> dict:
    """What the roles need to join the lab's control plane: its endpoint, the controller's credentials, and
    the locally built kubelet and kube-proxy as the artefacts the nodes install."""
    plane = control_plane_spec(spec)
    kubelet, kube_proxy = binaries_dir() / "kubelet", binaries_dir() / "kube-proxy"
    return {
        "edgewright_kube_api_server": plane.server,
        "edgewright_kubeconfig": str(plane.admin_kubeconfig),
        "edgewright_kube_ca_file": str(plane.pki / "ca.crt"),
        "kubelet_source": "artefact",
        "kubelet_artefact": {"path": str(kubelet), "sha256": _sha256(kubelet)},
        "kube_proxy_artefact": {"path": str(kube_proxy), "sha256": _sha256(kube_proxy)},
        "edgewright_kube_cluster_cidr": CLUSTER_CIDR,
        "edgewright_kube_service_cidr": SERVICE_CIDR,
        # A lab node's root is podman's overlay, which containerd's overlayfs snapshotter cannot stack on.
        "kubelet_containerd_snapshotter": "native",
        # Nor may anything on this host lower an OOM score (no CAP_SYS_RESOURCE), as a pod sandbox asks.
        "kubelet_containerd_restrict_oom_score_adj": True,
        # The lab's site registry runs on its first node; the site CA and the images' digests stay here.
        "edgewright_site_registry": f"{spec.node_address(1)}:{SITE_REGISTRY_PORT}",
        "edgewright_site_ca_dir": str(state_dir(spec.name) / "site-ca"),
        "edgewright_site_images_file": str(state_dir(spec.name) / "images" / "digests.json"),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def render_inventory(spec: LabSpec, key_file: Path, known_hosts: Path) -> dict:
    """The Ansible inventory of a lab: every node in `edge_nodes`, reached over SSH as root, each accepted
    only with the host key the lab pinned for it in KNOWN_HOSTS."""
    hosts = {
        spec.node_name(i): {"ansible_host": spec.node_address(i), "edgewright_node_index": i}
        for i in range(1, spec.nodes + 1)
    }
    return {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key_file),
                "ansible_ssh_common_args": shlex.join(ssh_options(known_hosts)),
                "edgewright_lab": spec.name,
                "edgewright_lab_subnet": spec.subnet,
                "edgewright_lab_gateway": spec.gateway,
                "edgewright_tpm_mode": "virtual",
                **(kubernetes_vars(spec) if spec.kubernetes else {}),
            },
            "children": {
                "edge_nodes": {"hosts": hosts},
                **({"site_registry": {"hosts": {spec.node_name(1): {}}}} if spec.kubernetes else {}),
            },
        }
    }


class Lab:
    """One named lab on this host. `up` and `down` are idempotent; `status` changes nothing."""

    def __init__(self, spec: LabSpec, log: Callable[[str], None] = print) -> None:
        self.spec = spec
        self.log = log

    # ---- up -------------------------------------------------------------------------------------------
    def up(self, inventory: Path) -> list[NodeStatus]:
        self.spec.validate()
        podman.ensure_usable()
        self._refuse_foreign_names()
        self._raise_inotify_limit()
        ensure_image(log=self.log)
        key = self._ensure_ssh_key()
        self._ensure_network()
        existing = self._containers()
        shape = self._node_shape(key)
        for index in range(1, self.spec.nodes + 1):
            self._ensure_node(index, existing.get(self.spec.node_name(index)), key, shape)
        for name, item in existing.items():
            if int(item["Labels"].get(INDEX_LABEL, 0)) > self.spec.nodes:
                self.log(f"removing {name}: the lab now has {self.spec.nodes} nodes")
                podman.run(["rm", "--force", "--time", "5", name])
        self._pin_host_keys()
        for index in range(1, self.spec.nodes + 1):
            self._wait_until_booted(index)
        if self.spec.kubernetes:
            ControlPlane(control_plane_spec(self.spec), log=self.log).up()
        self._write_inventory(inventory, key)
        return self.status()

    def _refuse_foreign_names(self) -> None:
        """Fail before any change if a name the lab needs belongs to something else."""
        wanted = [("network", self.spec.network)]
        wanted += [("container", self.spec.node_name(i)) for i in range(1, self.spec.nodes + 1)]
        for kind, name in wanted:
            if podman.exists(kind, name) and podman.labels(kind, name).get(LAB_LABEL) != self.spec.name:
                raise LabError(
                    f"the {kind} name {name!r} is already taken by something outside lab {self.spec.name!r}"
                )
        if podman.exists("network", self.spec.network):
            subnets = [
                s["subnet"] for s in podman.as_json(["network", "inspect", self.spec.network])[0]["subnets"]
            ]
            if self.spec.subnet not in subnets:
                raise LabError(
                    f"lab {self.spec.name!r} already runs on {', '.join(subnets)}; "
                    f"take it down before moving it to {self.spec.subnet}"
                )

    def _raise_inotify_limit(self) -> None:
        # Every systemd container holds several inotify instances; the common default of 128 boots ~25.
        knob = Path("/proc/sys/fs/inotify/max_user_instances")
        if knob.exists() and int(knob.read_text()) < 1024 and self.spec.nodes > 10:
            self.log("raising fs.inotify.max_user_instances to 1024 so that many systemd nodes can boot")
            knob.write_text("1024\n")

    def _ensure_ssh_key(self) -> Path:
        key = state_dir(self.spec.name) / "id_ed25519"
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"edgewright-lab-{self.spec.name}",
                    "-f",
                    str(key),
                ],
                check=True,
            )
        return key

    def _ensure_network(self) -> None:
        if podman.exists("network", self.spec.network):
            return
        podman.run(
            [
                "network",
                "create",
                "--label",
                f"{LAB_LABEL}={self.spec.name}",
                "--subnet",
                self.spec.subnet,
                "--gateway",
                self.spec.gateway,
                self.spec.network,
            ]
        )

    def _containers(self) -> dict[str, dict]:
        items = podman.as_json(
            ["ps", "--all", "--format", "json", "--filter", f"label={LAB_LABEL}={self.spec.name}"]
        )
        return {item["Names"][0]: item for item in items}

    def _node_shape(self, key: Path) -> dict[str, tuple[str, str]]:
        """The labels that say how a node was made, each with the reason a node made otherwise is remade."""
        return {
            # The lab's key was lost (another EDGEWRIGHT_HOME, a wiped cache): a node that trusts only the
            # old key would be unreachable.
            KEY_LABEL: (
                hashlib.sha256(key.with_suffix(".pub").read_bytes()).hexdigest()[:16],
                "it trusts another SSH key than this lab's",
            ),
            KUBELET_LABEL: (
                self._kubelet_ready,
                f"{'with' if self.spec.kubernetes else 'without'} what a kubelet needs",
            ),
            IMAGE_LABEL: (current_digest() or "", "from the current node image"),
            # Nodes made before the lab manufactured their TPMs have no EK certificate, which the verifier
            # now requires.
            TPM_LABEL: ("manufactured", "its TPM has no EK certificate from the lab's manufacturer"),
        }

    def _ensure_node(
        self, index: int, existing: dict | None, key: Path, shape: dict[str, tuple[str, str]]
    ) -> None:
        name = self.spec.node_name(index)
        if existing is not None:
            stale = [why for label, (value, why) in shape.items() if existing["Labels"].get(label) != value]
            if stale:
                self.log(f"re-creating {name}: {stale[0]}")
                podman.run(["rm", "--force", "--time", "5", name])
                existing = None
        if existing is not None:
            if existing["State"] != "running":
                self.log(f"starting {name}")
                podman.run(["start", name])
            return
        self._forget_enrollment(name)
        self.log(f"creating {name} at {self.spec.node_address(index)}")
        ca_bundle = "/etc/ssl/certs/ca-certificates.crt"
        args = [
            "create",
            "--name",
            name,
            "--hostname",
            name,
            "--label",
            f"{LAB_LABEL}={self.spec.name}",
            "--label",
            f"{INDEX_LABEL}={index}",
            *(arg for label, (value, _) in shape.items() for arg in ("--label", f"{label}={value}")),
            "--network",
            self.spec.network,
            "--ip",
            self.spec.node_address(index),
            "--systemd=always",
            # What a mesh daemon (TUN) and VRRP (raw sockets, broadcast, addresses) need on a node.
            "--device",
            "/dev/net/tun",
            "--cap-add",
            "NET_ADMIN",
            "--cap-add",
            "NET_RAW",
            "--cap-add",
            "NET_BROADCAST",
            "--volume",
            f"{key}.pub:/root/.ssh/authorized_keys:ro",
        ]
        if Path(ca_bundle).exists():
            args += ["--volume", f"{ca_bundle}:{ca_bundle}:ro"]
        if self.spec.kubernetes:
            # A kubelet creates the pods' cgroups and watches /dev/kmsg: on a cgroup v1 host that needs a
            # privileged container (writable cgroup hierarchies) with a private cgroup namespace, so each
            # node's kubelet sees only its own subtree and the nodes do not share one /kubepods.
            args += ["--privileged", "--cgroupns=private"]
            # Privileged, udev runs in the node and would give eth0 a MAC derived from the machine id, which
            # the image bakes in: every node would get the same MAC. Masking the default link policy keeps
            # podman's own MAC for each node.
            args += ["--volume", "/dev/null:/etc/systemd/network/99-default.link:ro"]
        podman.run([*args, IMAGE])
        # The node's virtual TPM comes from the lab's manufacturer, as a hardware TPM comes from its vendor:
        # its state, with an EK certificate in its NV index, is in place before swtpm first starts.
        manufacturer = tpm.trusted_manufacturer(
            state_dir(self.spec.name) / "tpm-manufacturer", state_dir(self.spec.name) / "verifier"
        )
        tpm.install(name, manufacturer, running=False)
        podman.run(["start", name])

    @property
    def _kubelet_ready(self) -> str:
        return "yes" if self.spec.kubernetes else "no"

    def _forget_enrollment(self, name: str) -> None:
        """A node made anew is a new machine with a new TPM: the lab's verifier forgets the old one's keys,
        as an operator decommissioning a node would, so the new node enrolls instead of being quarantined."""
        verifier_dir = state_dir(self.spec.name) / "verifier"
        if verifier_dir.is_dir() and Verifier(Store(verifier_dir)).deregister(name):
            self.log(f"{name}: the lab's verifier forgot the keys of the node it replaces")

    def _pin_host_keys(self, timeout: float = 90.0) -> None:
        """Write the lab's known_hosts from each node's host keys, read through podman (the runtime that made
        the node, not the network), once each node's sshd listens: its keys exist by then."""
        lines = []
        for index in range(1, self.spec.nodes + 1):
            deadline = time.monotonic() + timeout
            while not _ssh_listening(self.spec.node_address(index)):
                if time.monotonic() > deadline:
                    raise LabError(f"{self.spec.node_name(index)}: no SSH server within {timeout:.0f} s")
                time.sleep(0.5)
            lines += self._host_keys(index)
        known_hosts = known_hosts_file(self.spec.name)
        text = "".join(f"{line}\n" for line in lines)
        if not known_hosts.exists() or known_hosts.read_text() != text:
            known_hosts.write_text(text)
            self.log(f"pinned the nodes' SSH host keys in {known_hosts}")

    def _host_keys(self, index: int) -> list[str]:
        name, address = self.spec.node_name(index), self.spec.node_address(index)
        lines = []
        with tempfile.TemporaryDirectory() as tmp:
            for kind in HOST_KEY_TYPES:
                copy = Path(tmp) / kind
                source = f"{name}:/etc/ssh/ssh_host_{kind}_key.pub"
                if podman.run(["cp", source, str(copy)], check=False).returncode == 0:
                    try:
                        lines.append(known_hosts_line(address, copy.read_text()))
                    except ValueError as exc:
                        raise LabError(f"{name}: its {kind} host key is unusable: {exc}") from None
        if not lines:
            raise LabError(f"{name}: has no SSH host key to pin")
        return lines

    def _wait_until_booted(self, index: int, timeout: float = 90.0) -> None:
        name = self.spec.node_name(index)
        deadline = time.monotonic() + timeout
        state = "unknown"
        while time.monotonic() < deadline:
            if _ssh_listening(self.spec.node_address(index)):
                state = self._on_node(self.spec.node_address(index), "systemctl is-system-running").strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(0.5)
        raise LabError(f"{name} did not finish booting within {timeout:.0f} s (systemd says {state!r})")

    def _on_node(self, address: str, script: str) -> str:
        """What SCRIPT prints on the node, run over SSH as Ansible reaches it. Not `podman exec`: a node
        that runs a kubelet manages its own cgroups, and podman can no longer enter it afterwards."""
        proc = subprocess.run(
            [
                "ssh", "-i", str(state_dir(self.spec.name) / "id_ed25519"),
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
                *ssh_options(known_hosts_file(self.spec.name)),
                f"root@{address}", script,
            ],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return proc.stdout

    def _write_inventory(self, inventory: Path, key: Path) -> None:
        inventory.parent.mkdir(parents=True, exist_ok=True)
        header = f"# Written by `edgewright lab up --name {self.spec.name}`; removed by `lab down`.\n"
        body = yaml.safe_dump(
            render_inventory(self.spec, key, known_hosts_file(self.spec.name)), sort_keys=False
        )
        if not inventory.exists() or inventory.read_text() != header + body:
            inventory.write_text(header + body)
        self.log(f"inventory: {inventory}")

    # ---- status -----------------------------------------------------------------------------------------
    def cut(self, node: str, peer: str, keep_ports: list[int], restore: bool = False) -> str:
        """Cut (or, with RESTORE, give back) the direct link between two of the lab's running nodes, keeping
        TCP to and from KEEP_PORTS (the mesh daemon's); see edgewright.lab.links. Returns what it did."""
        check_name(self.spec.name)
        podman.ensure_usable()
        containers = self._containers()
        for name in (node, peer):
            if containers.get(name, {}).get("State") != "running":
                raise LabError(f"{name} is not a running node of lab {self.spec.name!r}")
        if node == peer:
            raise LabError(f"a node cannot be cut off from itself ({node})")
        if restore:
            links.restore(node)
            links.restore(peer)
            return f"{node} and {peer} are linked directly again"
        address, peer_address = (
            podman.text(
                ["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", n]
            )
            for n in (node, peer)
        )
        try:
            links.cut(node, peer, peer_address, address, keep_ports)
        except links.LinkError as exc:
            raise LabError(str(exc)) from None
        kept = ", ".join(str(p) for p in keep_ports) or "none"
        return f"{node} and {peer} are cut off from each other but for TCP port(s) {kept}"

    def status(self) -> list[NodeStatus]:
        check_name(self.spec.name)
        podman.ensure_usable()
        nodes = []
        workloads = self._workloads()
        for name, item in sorted(
            self._containers().items(), key=lambda kv: int(kv[1]["Labels"][INDEX_LABEL])
        ):
            address = podman.text(
                ["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name]
            )
            systemd, tpm, stage = self._node_state(address) if item["State"] == "running" else ("-",) * 3
            nodes.append(
                NodeStatus(name, address, item["State"], systemd, tpm, stage, workloads.get(name, "-"))
            )
        return nodes

    def _workloads(self) -> dict[str, str]:
        """Each node's hello pod, by node name, when the lab's control plane runs."""
        pods = self._pods(HELLO_SELECTOR, "the workload")
        return {pod.spec.node_name: pod_state(pod) for pod in pods if pod.spec.node_name}

    def cluster_dns(self) -> list[str]:
        """The state of each CoreDNS pod (none when the control plane does not run)."""
        return [pod_state(pod) for pod in self._pods(CLUSTER_DNS_SELECTOR, "cluster DNS")]

    def _pods(self, selector: str, what: str) -> list:
        """The pods with the label SELECTOR in every namespace, or none when the control plane does not
        run or does not answer (the status says so and shows the rest)."""
        plane = ControlPlane(control_plane_spec(self.spec))
        if not plane.running("kube-apiserver") or not plane.spec.admin_kubeconfig.exists():
            return []
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
        from urllib3.exceptions import HTTPError

        try:
            api = client.CoreV1Api(
                config.new_client_from_config(config_file=str(plane.spec.admin_kubeconfig))
            )
            return api.list_pod_for_all_namespaces(label_selector=selector, _request_timeout=5).items
        except (ApiException, ConfigException, HTTPError, OSError) as exc:
            self.log(f"the Kubernetes API did not list {what}: {exc}")
            return []

    def _node_state(self, address: str) -> tuple[str, str, str]:
        """(systemd's state, the virtual TPM's state, the lifecycle stage) of a running node, in one call."""
        out = self._on_node(
            address,
            f"systemctl is-system-running; systemctl is-active swtpm.service; cat {LIFECYCLE_FILE} 2>/dev/null",
        ).split("\n", 2)
        if len(out) < 3:
            return ("unreachable",) * 3
        try:
            stage = json.loads(out[2])["stage"] if out[2].strip() else "bare"
        except (ValueError, KeyError):
            stage = "unreadable"
        return out[0].strip() or "unknown", out[1].strip() or "unknown", stage

    # ---- down -------------------------------------------------------------------------------------------
    def down(self, inventory: Path) -> list[str]:
        """Remove this lab's containers, network, key and inventory; nothing else. Returns what it removed."""
        check_name(self.spec.name)
        podman.ensure_usable()
        removed = [
            f"Kubernetes {component}" for component in ControlPlane(control_plane_spec(self.spec)).down()
        ]
        for name in self._containers():
            podman.run(["rm", "--force", "--time", "5", name])
            removed.append(name)
        network = self.spec.network
        if (
            podman.exists("network", network)
            and podman.labels("network", network).get(LAB_LABEL) == self.spec.name
        ):
            podman.run(["network", "rm", network])
            removed.append(network)
        if state_dir(self.spec.name).exists():
            shutil.rmtree(state_dir(self.spec.name))
            removed.append(str(state_dir(self.spec.name)))
        if inventory.exists() and inventory_lab(inventory) == self.spec.name:
            inventory.unlink()
            removed.append(str(inventory))
        return removed


def inventory_lab(inventory: Path) -> str | None:
    """The name of the lab whose `lab up` wrote INVENTORY, or None for an inventory of another kind."""
    try:
        return yaml.safe_load(inventory.read_text())["all"]["vars"]["edgewright_lab"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def _ssh_listening(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=1):
            return True
    except OSError:
        return False


def pod_state(pod) -> str:
    """One word for a pod: "ready" when all its containers are, else why a container waits, else its phase."""
    statuses = pod.status.container_statuses or []
    if pod.status.phase == "Running" and statuses and all(s.ready for s in statuses):
        return "ready"
    waiting = [
        s.state.waiting.reason for s in statuses if s.state and s.state.waiting and s.state.waiting.reason
    ]
    return waiting[0] if waiting else (pod.status.phase or "unknown")


def cluster_dns_line(states: list[str]) -> str:
    """The status line of the cluster DNS: how many CoreDNS pods are ready, and why the others are not."""
    others = [state for state in states if state != "ready"]
    line = f"cluster DNS: CoreDNS {len(states) - len(others)}/{len(states)} ready"
    return line + (f" ({', '.join(others)})" if others else "")


def as_rows(nodes: list[NodeStatus]) -> list[dict]:
    return [asdict(n) for n in nodes]
