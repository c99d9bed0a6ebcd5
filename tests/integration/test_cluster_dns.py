"""The cluster_dns role against a real API server on loopback, and the real CoreDNS (built by
scripts/setup.d/62-coredns.sh) serving the cluster's names with nothing but the account the role gives it.
No podman: CoreDNS runs here as a process, with the role's Corefile and a token of its ServiceAccount. The
lab test (test_kubernetes.py) runs it in the cluster from the site registry.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import LOOPBACK_PORT_BASE, ROOT

from edgewright.images.catalog import coredns_binary

# The shared loopback control plane's (tests/integration/conftest.py; the API at base+43).
PORT_BASE = LOOPBACK_PORT_BASE
PINNED = "registry.k8s.io/coredns/coredns@sha256:" + "c" * 64

pytestmark = pytest.mark.skipif(
    not coredns_binary().is_file(), reason="CoreDNS is not built (scripts/setup.d/62-coredns.sh)"
)


@pytest.fixture(scope="module")
def plane(loopback_kubeconfig, tmp_path_factory):
    state = Path(loopback_kubeconfig).parent
    digests = tmp_path_factory.mktemp("dns") / "digests.json"
    digests.write_text(json.dumps({"coredns": {"pinned": PINNED}}))
    return {"kubeconfig": loopback_kubeconfig, "state": state, "digests": digests, "pki": state / "pki"}


def converge(plane, tmp_path: Path, **extra) -> subprocess.CompletedProcess:
    """The role's checks and its apply step (no nodes here to wait for) on the loopback cluster."""
    playbook = tmp_path / "cluster_dns.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {"ansible.builtin.include_role": {"name": "cluster_dns", "tasks_from": step}}
                        for step in ("validate", "apply")
                    ],
                }
            ]
        )
    )
    variables = {
        "cluster_dns_kubeconfig": plane["kubeconfig"],
        "cluster_dns_images_file": str(plane["digests"]),
        "cluster_dns_api_server": f"https://127.0.0.1:{PORT_BASE + 43}",
        # The controller's Python, which has the kubernetes client.
        "ansible_python_interpreter": sys.executable,
        **extra,
    }
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook), "-e", json.dumps(variables)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )


def changed(run: subprocess.CompletedProcess) -> int:
    line = next(
        line for line in run.stdout.splitlines() if line.startswith("localhost") and "changed=" in line
    )
    return int(line.split("changed=")[1].split()[0])


def core(plane):
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(config_file=plane["kubeconfig"]))


def query(port: int, name: str) -> tuple[int, list[str]]:
    """Ask the DNS server on 127.0.0.1:PORT for NAME's A records; (response code, addresses)."""
    ident = random.randrange(65536)
    question = (
        b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question, ("127.0.0.1", port))
        data = udp.recv(4096)
    assert struct.unpack(">H", data[:2])[0] == ident
    count, offset, addresses = struct.unpack(">H", data[6:8])[0], 12 + len(question), []
    for _ in range(count):
        if data[offset] & 0xC0 == 0xC0:
            offset += 2
        else:
            while data[offset]:
                offset += data[offset] + 1
            offset += 1
        kind, _, _, length = struct.unpack(">HHIH", data[offset : offset + 10])
        offset += 10
        if kind == 1:
            addresses.append(socket.inet_ntoa(data[offset : offset + 4]))
        offset += length
    return data[3] & 0x0F, addresses


def test_the_role_applies_coredns_at_the_cluster_dns_address_and_a_rerun_changes_nothing(plane, tmp_path):
    from kubernetes import client, config

    first = converge(plane, tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    again = converge(plane, tmp_path)
    assert again.returncode == 0 and changed(again) == 0, again.stdout[-3000:]
    service = core(plane).read_namespaced_service("kube-dns", "kube-system")
    assert service.spec.cluster_ip == "10.96.0.10"
    assert sorted((p.port, p.protocol) for p in service.spec.ports) == [(53, "TCP"), (53, "UDP")]
    apps = client.AppsV1Api(config.new_client_from_config(config_file=plane["kubeconfig"]))
    pod = apps.read_namespaced_deployment("coredns", "kube-system").spec.template.spec
    container = pod.containers[0]
    assert container.image == PINNED
    assert {e.name: e.value for e in container.env} == {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(PORT_BASE + 43),
    }
    assert pod.service_account_name == "coredns" and pod.security_context.run_as_user == 65534


@pytest.mark.parametrize(
    "extra,message",
    [
        ({"cluster_dns_address": "10.97.0.10"}, "cluster_dns_address 10.97.0.10 is not in the service range"),
        ({"cluster_dns_domain": "cluster.local {"}, "cluster_dns_domain 'cluster.local {' is not a DNS name"),
        ({"cluster_dns_upstreams": ["1.1.1.1 {"]}, "cluster_dns_upstreams: '1.1.1.1 {' is not an IP address"),
        ({"cluster_dns_api_server": "http://127.0.0.1"}, "the API's https://HOST:PORT"),
        ({"cluster_dns_images_file": "/nonexistent/digests.json"}, "must name the controller's kubeconfig"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(plane, tmp_path, extra, message):
    from kubernetes import client, config

    rbac = client.RbacAuthorizationV1Api(config.new_client_from_config(config_file=plane["kubeconfig"]))
    before = rbac.list_cluster_role(label_selector="app.kubernetes.io/name=coredns").items
    run = converge(plane, tmp_path, **extra)
    assert run.returncode != 0 and message in run.stdout, run.stdout[-3000:]
    after = rbac.list_cluster_role(label_selector="app.kubernetes.io/name=coredns").items
    assert [r.metadata.resource_version for r in after] == [r.metadata.resource_version for r in before]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_coredns_answers_for_the_clusters_services_with_only_the_roles_account(plane, tmp_path):
    from kubernetes import client

    run = converge(plane, tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
    api = core(plane)
    # CoreDNS's own identity: a token of the ServiceAccount the role made, and the RBAC it bound.
    token = api.create_namespaced_service_account_token(
        "coredns",
        "kube-system",
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    kubeconfig = tmp_path / "coredns.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "lab",
                        "cluster": {
                            "server": f"https://127.0.0.1:{PORT_BASE + 43}",
                            "certificate-authority": str(plane["pki"] / "ca.crt"),
                        },
                    }
                ],
                "users": [{"name": "coredns", "user": {"token": token}}],
                "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "coredns"}}],
                "current-context": "lab",
            }
        )
    )
    kubeconfig.chmod(0o600)
    # The role's Corefile, moved to loopback ports and given the kubeconfig instead of the in-cluster one.
    dns, health, ready = free_port(), free_port(), free_port()
    corefile = api.read_namespaced_config_map("coredns", "kube-system").data["Corefile"]
    assert ".:53 {" in corefile and "health :8080" in corefile and "ready :8181" in corefile
    corefile = (
        corefile.replace(".:53 {", f".:{dns} {{\n    bind 127.0.0.1")
        .replace("health :8080", f"health 127.0.0.1:{health}")
        .replace("ready :8181", f"ready 127.0.0.1:{ready}")
        .replace("ttl 30", f"ttl 30\n        kubeconfig {kubeconfig} lab")
    )
    (tmp_path / "Corefile").write_text(corefile)
    log = tmp_path / "coredns.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(coredns_binary()), "-conf", str(tmp_path / "Corefile")], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                # Ready only once the kubernetes plugin listed what it watches: the RBAC is enough.
                with urllib.request.urlopen(f"http://127.0.0.1:{ready}/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("CoreDNS did not become ready: " + log.read_text()[-2000:])
        assert query(dns, "kubernetes.default.svc.cluster.local") == (0, ["10.96.0.1"])
        assert query(dns, "kube-dns.kube-system.svc.cluster.local") == (0, ["10.96.0.10"])
        assert query(dns, "nothing.default.svc.cluster.local")[0] == 3  # NXDOMAIN
        assert "forbidden" not in log.read_text().lower(), log.read_text()[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=10)
