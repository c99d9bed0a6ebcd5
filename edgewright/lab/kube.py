"""The lab's Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler on
this host.

etcd is Debian's; the Kubernetes binaries are built from the Go module proxy at the pinned version by
scripts/setup.d/60-kubernetes.sh. Everything speaks TLS under a CA generated per lab. The API listens on the
lab network's gateway address, so lab nodes reach it directly; the processes run detached and are found
again by their pid files, so `lab up` is idempotent and `lab down` stops exactly what it started.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edgewright.controller.dirs import Directories
from edgewright.errors import EdgewrightError
from edgewright.pki import self_signed_ca

# The API port and the others are offsets from a base the operator picks, so several labs can run side
# by side: base 16400 gives etcd 16479/16480, the API 16443, the controller manager 16457 and the scheduler
# 16459.
DEFAULT_PORT_BASE = 16400
SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_CIDR = "10.244.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
# Node client certificates live a day: with no revocation in Kubernetes, a short life is what ends a
# decommissioned node's credential (the kubelet renews its own before expiry).
NODE_CERT_LIFETIME = "24h"
CERT_DAYS = 365
# A node that stops answering: NotReady after NODE_MONITOR_GRACE without a lease renewal, its pods evicted
# EVICTION_TOLERATION_S later and placed elsewhere. About 75 s in all rather than Kubernetes' 5 min 40 s:
# an edge link that drops for less than 40 s (a flapping radio link, a restarting router) moves nothing,
# while a device twin on a node that is really gone serves again within minutes.
NODE_MONITOR_GRACE = "40s"
EVICTION_TOLERATION_S = 30


# The processes of the control plane, in start order.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# What `lab up --kubernetes` needs built (the kubelet goes to the nodes).
CONTROL_PLANE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")


class ControlPlaneError(EdgewrightError, RuntimeError):
    """The control plane cannot be set up or did not start; the message says which part and why."""


def kubernetes_version() -> str:
    return (resources.files("edgewright.lab") / "kubernetes.version").read_text().strip()


def edgewright_home() -> Path:
    return Directories.from_environment().home


def binaries_dir(version: str | None = None) -> Path:
    """Where scripts/setup.d/60-kubernetes.sh leaves the built binaries of a version."""
    return edgewright_home() / "kubernetes" / (version or kubernetes_version()) / "bin"


@dataclass(frozen=True)
class Ports:
    base: int = DEFAULT_PORT_BASE

    def validate(self) -> None:
        if not 1024 <= self.base <= 65535 - 100:
            raise ControlPlaneError(
                f"the Kubernetes port base must be between 1024 and 65435, not {self.base}"
            )

    @property
    def api(self) -> int:
        return self.base + 43

    @property
    def etcd_client(self) -> int:
        return self.base + 79

    @property
    def etcd_peer(self) -> int:
        return self.base + 80

    @property
    def controller_manager(self) -> int:
        return self.base + 57

    @property
    def scheduler(self) -> int:
        return self.base + 59


# ---- certificates -------------------------------------------------------------------------------------
def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> tuple[bytes, bytes]:
    """A self-signed CA certificate and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed_ca(key, common_name, CERT_DAYS, now=_now())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def issue_cert(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    common_name: str,
    *,
    organizations: tuple[str, ...] = (),
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
) -> tuple[bytes, bytes]:
    """A leaf certificate signed by the CA, with a fresh key; returns (cert PEM, key PEM)."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organizations))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    alt_names = [x509.DNSName(n) for n in dns_names] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses
    ]
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def api_service_address(service_cidr: str = SERVICE_CIDR) -> str:
    """The `kubernetes` Service's cluster IP: the first address of the service range."""
    return str(ipaddress.ip_network(service_cidr)[1])


def render_kubeconfig(server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, user: str) -> dict:
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "lab", "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)},
            }
        ],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": user}}],
        "current-context": "lab",
    }


# ---- the control plane ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlPlaneSpec:
    lab: str
    address: str
    state: Path
    ports: Ports = Ports()
    version: str = ""

    @property
    def server(self) -> str:
        return f"https://{self.address}:{self.ports.api}"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.state / "admin.kubeconfig"


def component_commands(spec: ControlPlaneSpec, bin_dir: Path, etcd: str) -> dict[str, list[str]]:
    """The command line of each component, in start order."""
    pki, ports = spec.pki, spec.ports
    etcd_url = f"https://127.0.0.1:{ports.etcd_client}"
    return {
        "etcd": [
            etcd,
            f"--name={spec.lab}-etcd",
            f"--data-dir={spec.state / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
            f"--initial-cluster={spec.lab}-etcd=http://127.0.0.1:{ports.etcd_peer}",
            f"--cert-file={pki / 'etcd-server.crt'}",
            f"--key-file={pki / 'etcd-server.key'}",
            f"--trusted-ca-file={pki / 'ca.crt'}",
            "--client-cert-auth",
        ],
        "kube-apiserver": [
            str(bin_dir / "kube-apiserver"),
            f"--bind-address={spec.address}",
            f"--advertise-address={spec.address}",
            f"--secure-port={ports.api}",
            f"--etcd-servers={etcd_url}",
            f"--etcd-cafile={pki / 'ca.crt'}",
            f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
            f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            # Logs and exec go to the kubelet at the address the controller approved its serving
            # certificate for, and that certificate is checked against the cluster CA.
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # NodeRestriction: a kubelet may change only its own Node and only the labels it is allowed.
            "--enable-admission-plugins=NodeRestriction",
            # TLS bootstrap: short-lived bootstrap tokens authenticate a joining kubelet's first CSR.
            "--enable-bootstrap-token-auth",
            "--allow-privileged=true",
            # Pods leave a node that stopped answering 30 s after it is found NotReady or unreachable
            # (Kubernetes' default is 300 s): see NODE_MONITOR_GRACE below.
            f"--default-not-ready-toleration-seconds={EVICTION_TOLERATION_S}",
            f"--default-unreachable-toleration-seconds={EVICTION_TOLERATION_S}",
            "--profiling=false",
        ],
        "kube-controller-manager": [
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={spec.state / 'controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={spec.state / 'controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={spec.state / 'controller-manager.kubeconfig'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports.controller_manager}",
            # Signs the kubelets' client certificates and deletes expired bootstrap tokens.
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--cluster-signing-duration={NODE_CERT_LIFETIME}",
            "--controllers=*,bootstrapsigner,tokencleaner",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            "--use-service-account-credentials",
            "--allocate-node-cidrs",
            f"--cluster-cidr={CLUSTER_CIDR}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # A node is NotReady once its kubelet has missed its lease renewals (every 10 s) for 40 s.
            f"--node-monitor-grace-period={NODE_MONITOR_GRACE}",
            "--leader-elect=false",
            "--profiling=false",
        ],
        # Places pods on nodes; its own identity (system:kube-scheduler, bound by the API server's default
        # RBAC) and its health port on loopback only.
        "kube-scheduler": [
            str(bin_dir / "kube-scheduler"),
            f"--kubeconfig={spec.state / 'scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={spec.state / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={spec.state / 'scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports.scheduler}",
            "--leader-elect=false",
            "--profiling=false",
        ],
    }


class ControlPlane:
    """One lab's control plane. `up` is idempotent; `down` stops only the processes it started."""

    def __init__(self, spec: ControlPlaneSpec, log: Callable[[str], None] = print) -> None:
        self.spec = spec
        self.log = log

    def up(self, timeout: float = 90.0) -> None:
        self.spec.ports.validate()
        version = self.spec.version or kubernetes_version()
        bin_dir = binaries_dir(version)
        missing = [b for b in CONTROL_PLANE_BINARIES if not (bin_dir / b).is_file()]
        if missing:
            raise ControlPlaneError(
                f"Kubernetes {version} is not built ({', '.join(missing)} missing in {bin_dir}): run scripts/setup"
            )
        etcd = "/usr/bin/etcd"
        if not Path(etcd).is_file():
            raise ControlPlaneError(
                "etcd is not installed (on Debian: apt-get install etcd-server): run scripts/setup"
            )
        self._ensure_pki()
        for name, command in component_commands(self.spec, bin_dir, etcd).items():
            if self.running(name):
                continue
            self.log(f"starting {name} of lab {self.spec.lab}")
            process = self._start(name, command)
            if name == "etcd":
                self._wait(name, process, self._etcd_ready, timeout)
            elif name == "kube-apiserver":
                self._wait(name, process, self._api_ready, timeout)
        self.log(f"Kubernetes API: {self.spec.server}; kubeconfig: {self.spec.admin_kubeconfig}")

    def down(self) -> list[str]:
        stopped = []
        for name in reversed(COMPONENTS):
            pid = self._pid(name)
            if pid is None:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._alive(pid):
                os.kill(pid, signal.SIGKILL)
            self._pid_file(name).unlink(missing_ok=True)
            stopped.append(name)
        return stopped

    def running(self, name: str) -> bool:
        return self._pid(name) is not None

    def status(self) -> dict[str, str]:
        return {name: "running" if self.running(name) else "stopped" for name in COMPONENTS}

    # ---- internals ---------------------------------------------------------------------------------------
    def _pid_file(self, name: str) -> Path:
        return self.spec.state / f"{name}.pid"

    def _pid(self, name: str) -> int | None:
        """The pid of the component if this lab started it and it still runs."""
        try:
            pid = int(self._pid_file(name).read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        # A recycled pid belongs to another program: only our own command line counts.
        return pid if str(self.spec.state).encode() in b" ".join(cmdline) else None

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A stopped child we started in this process lingers as a zombie until reaped.
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        logs = self.spec.state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._pid_file(name).write_text(f"{proc.pid}\n")
        return proc

    def _wait(self, name: str, process: subprocess.Popen, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if ready():
                return
            time.sleep(0.3)
        log = self.spec.state / "logs" / f"{name}.log"
        tail = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
        if process.poll() is not None:
            raise ControlPlaneError(
                f"{name} exited with status {process.returncode}; its log ends:\n" + "\n".join(tail)
            )
        raise ControlPlaneError(
            f"{name} did not become ready within {timeout:.0f} s; its log ends:\n" + "\n".join(tail)
        )

    def _client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.spec.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.spec.pki / "admin.crt"), str(self.spec.pki / "admin.key"))
        return ctx

    def _get(self, url: str) -> str | None:
        try:
            with urllib.request.urlopen(url, context=self._client_context(), timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            return None

    def _etcd_ready(self) -> bool:
        ctx = ssl.create_default_context(cafile=str(self.spec.pki / "ca.crt"))
        ctx.load_cert_chain(
            str(self.spec.pki / "apiserver-etcd-client.crt"), str(self.spec.pki / "apiserver-etcd-client.key")
        )
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{self.spec.ports.etcd_client}/health", context=ctx, timeout=2
            ) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def _api_ready(self) -> bool:
        return self._get(f"{self.spec.server}/readyz") == "ok"

    def _ensure_pki(self) -> None:
        """The lab's CA and every certificate and kubeconfig; kept across `up`s, made only when missing."""
        pki = self.spec.pki
        pki.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.spec.state, 0o700)

        def write(name: str, data: bytes, mode: int = 0o600) -> None:
            path = pki / name
            path.write_bytes(data)
            os.chmod(path, mode)

        if not (pki / "ca.key").exists():
            cert, key = make_ca(f"edgewright-lab-{self.spec.lab}-ca")
            write("ca.crt", cert, 0o644)
            write("ca.key", key)
        ca, ca_key = (pki / "ca.crt").read_bytes(), (pki / "ca.key").read_bytes()
        leaves = {
            "apiserver": dict(
                common_name="kube-apiserver",
                server=True,
                ip_addresses=(self.spec.address, "127.0.0.1", api_service_address()),
                dns_names=(
                    "kubernetes",
                    "kubernetes.default",
                    "kubernetes.default.svc",
                    f"kubernetes.default.svc.{CLUSTER_DOMAIN}",
                ),
            ),
            "apiserver-kubelet-client": dict(
                common_name="kube-apiserver-kubelet-client", organizations=("system:masters",), client=True
            ),
            # etcd dials itself (its gateway) with its own certificate, so it is a client too.
            "etcd-server": dict(common_name="etcd", server=True, client=True, ip_addresses=("127.0.0.1",)),
            "apiserver-etcd-client": dict(common_name="kube-apiserver-etcd-client", client=True),
            # The controller's identity: an administrator of this lab's cluster.
            "admin": dict(
                common_name="edgewright-controller", organizations=("system:masters",), client=True
            ),
            "controller-manager": dict(common_name="system:kube-controller-manager", client=True),
            "scheduler": dict(common_name="system:kube-scheduler", client=True),
        }
        for name, args in leaves.items():
            if not (pki / f"{name}.key").exists():
                cert, key = issue_cert(ca, ca_key, **args)
                write(f"{name}.crt", cert, 0o644)
                write(f"{name}.key", key)
        if not (pki / "sa.key").exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            write("sa.key", _key_pem(key))
            write(
                "sa.pub",
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
                0o644,
            )
        for name, user, server in (
            ("admin", "edgewright-controller", self.spec.server),
            ("controller-manager", "system:kube-controller-manager", self.spec.server),
            ("scheduler", "system:kube-scheduler", self.spec.server),
        ):
            config = render_kubeconfig(
                server, ca, (pki / f"{name}.crt").read_bytes(), (pki / f"{name}.key").read_bytes(), user
            )
            path = self.spec.state / f"{name}.kubeconfig"
            text = yaml.safe_dump(config, sort_keys=False)
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                os.chmod(path, 0o600)
