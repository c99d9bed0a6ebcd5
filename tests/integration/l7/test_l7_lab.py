"""The cloudlet data path on lab nodes: real Envoy, real traffic, real VRRP.

Lab `l7` (10.231.20.0/24): l7-1 and l7-2 are a root load balancer pair sharing VIP 10.231.20.100, l7-3 and
l7-4 run backend apps (web: tcp 8080 + udp 5353 on l7-3; api: tcp 8080 on l7-4, remapped on the LB), and
l7-4 is also an edge node whose Envoy sidecar takes its listeners from the xDS server on the lab gateway.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import ansible_playbook, envoy_artefact
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from l7_peers import ca_and_server_cert, wait_for
from waiting import changed_count, failed_count

from edgewright.lab import podman
from edgewright.lab.nodes import Lab, LabSpec, state_dir
from edgewright.lab.tpm import trusted_manufacturer
from edgewright.xds.identity import CA_CERT, ensure_client_ca, node_of_certificate
from edgewright.xds.server import ServerTls, SnapshotCache, SourceWatcher, start_server

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[3]
SPEC = LabSpec(name="l7", nodes=4, subnet="10.231.20.0/24")
LB1, LB2, WEB, API = (SPEC.node_address(i) for i in range(1, 5))
VIP = "10.231.20.100"
GATEWAY = SPEC.gateway
XDS_PORT = 18010
APPS = [
    {"name": "web", "ports": "tcp:8080,udp:5353", "backends": [WEB]},
    {"name": "api", "ports": "tcp:8080", "backends": [API]},
]


class LabRun:
    def __init__(self, workdir: Path, inventory: Path) -> None:
        self.workdir = workdir
        self.inventory = inventory
        binary, sha256 = envoy_artefact()
        self.group_vars = {
            "envoy_artefact_url": binary,
            "envoy_artefact_sha256": sha256,
            "envoy_concurrency": 1,  # two shared cores on the test machine
            "envoy_drain_time_s": 30,
        }

    def playbook(
        self,
        playbook: str,
        topology: dict,
        *,
        limit: str | None = None,
        check: bool = True,
        extra: dict | None = None,
    ) -> subprocess.CompletedProcess:
        """Run PLAYBOOK on the lab with TOPOLOGY as extra inventory; fail the test if CHECK and it fails."""
        topo = self.workdir / "topology.yml"
        topo.write_text(yaml.safe_dump({"all": {"vars": self.group_vars, **topology}}))
        return ansible_playbook(
            playbook, [self.inventory, topo], self.workdir, limit=limit, extra=extra, check=check, timeout=600
        )


def node(name: str, *cmd: str, check: bool = True) -> str:
    proc = podman.run(["exec", name, *cmd], check=check)
    return proc.stdout.decode()


def http_get(host: str, port: int, timeout: float = 2.0) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def udp_ask(host: str, port: int, payload: bytes, timeout: float = 1.0) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, (host, port))
        return sock.recvfrom(2048)[0]


def lb_topology(apps: list[dict], **lb_vars) -> dict:
    return {
        "children": {
            "loadbalancers": {
                "hosts": {"l7-1": {"keepalived_priority": 150}, "l7-2": {"keepalived_priority": 100}},
                "vars": {"loadbalancer_apps": apps, **lb_vars},
            },
            "lb_vrrp_pairs": {
                "hosts": {
                    "l7-1": {"keepalived_unicast_peers": [LB2]},
                    "l7-2": {"keepalived_unicast_peers": [LB1]},
                },
                "vars": {"keepalived_vip": f"{VIP}/24", "keepalived_auth_pass": "l7lab"},
            },
        }
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> LabRun:
    workdir = tmp_path_factory.mktemp("l7-lab")
    inventory = workdir / "hosts.yml"
    lab = Lab(SPEC, log=lambda line: None)
    lab.up(inventory)
    backend = Path(__file__).with_name("lab_backend.py")
    for name, unit, args in (
        ("l7-3", "lab-backend", ["web", "8080", "5353"]),
        ("l7-4", "lab-backend", ["api", "8080"]),
        ("l7-4", "lab-backend-solo", ["solo", "9090", "9053"]),
    ):
        podman.run(["cp", str(backend), f"{name}:/usr/local/bin/lab_backend.py"])
        node(name, "systemctl", "stop", unit, check=False)
        node(name, "systemctl", "reset-failed", unit, check=False)
        node(name, "systemd-run", "--unit", unit, "python3", "/usr/local/bin/lab_backend.py", *args)
    wait_for(
        lambda: (
            http_get(WEB, 8080) == "web" and http_get(API, 8080) == "api" and http_get(API, 9090) == "solo"
        ),
        "the backend apps",
    )
    yield LabRun(workdir, inventory)
    if not os.environ.get("EDGEWRIGHT_KEEP_LAB"):
        lab.down(inventory)


def lds(name: str) -> str:
    return node(name, "cat", "/etc/envoy/lds.json")


def test_root_lb_pair_carries_tcp_and_udp_on_remapped_ports(lab):
    first = lab.playbook("playbooks/loadbalancers.yml", lb_topology(APPS))
    assert failed_count(first.stdout) == 0
    again = lab.playbook("playbooks/loadbalancers.yml", lb_topology(APPS))
    assert changed_count(again.stdout) == 0, again.stdout[-4000:]

    port_map = json.loads(node("l7-1", "cat", "/etc/edgewright/portmap.json"))
    public = {(m["app"], m["protocol"], m["internal"]): m["public"] for m in port_map["mappings"]}
    # web keeps its own ports; api's tcp:8080 is taken on the shared LB and moves to the first free port.
    assert public == {("web", "tcp", 8080): 8080, ("web", "udp", 5353): 5353, ("api", "tcp", 8080): 10000}
    for lb in (LB1, LB2):
        assert http_get(lb, 8080) == "web"
        assert http_get(lb, 10000) == "api"
        assert udp_ask(lb, 5353, b"ping") == b"web:ping"
    # The admin interface is on loopback only: not reachable from the network.
    with pytest.raises(OSError):
        socket.create_connection((LB1, 9901), timeout=1).close()
    assert "127.0.0.1:9901" in node("l7-1", "ss", "-ltn")


def test_config_change_keeps_established_connections_and_earlier_ports(lab):
    held = http.client.HTTPConnection(LB1, 10000, timeout=3)
    held.request("GET", "/")
    assert held.getresponse().read() == b"api"
    sock = held.sock

    more = [*APPS, {"name": "extra", "ports": ["tcp:8080", "udp:5353"], "backends": [WEB]}]
    lab.playbook("playbooks/loadbalancers.yml", lb_topology(more), limit="loadbalancers")
    # The new app's ports are remapped; api keeps 10000 although it would now sort after extra.
    assert wait_for(lambda: http_get(LB1, 10001) == "web", "the new app's remapped TCP port")
    assert wait_for(lambda: udp_ask(LB1, 10000, b"x") == b"web:x", "the new app's remapped UDP port")
    # The connection opened before the change is the same socket and still carries requests.
    held.request("GET", "/")
    assert held.getresponse().read() == b"api"
    assert held.sock is sock
    held.close()

    # Removing the app frees its ports; the others keep theirs.
    lab.playbook("playbooks/loadbalancers.yml", lb_topology(APPS), limit="loadbalancers")
    assert http_get(LB1, 10000) == "api"
    wait_for(lambda: '"extra' not in lds("l7-1"), "the removed app's listeners to go")


def test_config_envoy_refuses_is_rejected_and_the_running_one_keeps_serving(lab):
    before = lds("l7-1")
    # The source format accepts any positive timeout; this one rounds to 0 ns, which Envoy refuses.
    bad = {
        "envoy_local_config": {
            "clusters": {"slow": {"endpoints": [f"{WEB}:8080"], "connect_timeout_s": 1e-10}},
            "listeners": [{"name": "slow", "port": 9999, "cluster": "slow"}],
        }
    }
    proc = lab.playbook("tests/integration/l7/playbooks/envoy.yml", {}, limit="l7-1", check=False, extra=bad)
    assert proc.returncode != 0
    assert "failed to validate" in proc.stdout
    assert "ConnectTimeout: value must be greater than 0s" in proc.stdout
    assert lds("l7-1") == before
    assert http_get(LB1, 8080) == "web" and http_get(LB1, 10000) == "api"


@pytest.mark.parametrize(
    ("apps", "lb_vars", "message"),
    [
        ([APPS[0], {**APPS[1], "name": "web"}], {}, "app 'web' is listed twice"),
        ([{**APPS[0], "ports": "tcp:0"}], {}, "is outside 1-65535"),
        ([{**APPS[0], "ports": "tcp:65536"}], {}, "is outside 1-65535"),
        ([{**APPS[0], "ports": "sctp:5000"}], {}, "protocol 'sctp'"),
        (
            [{**APPS[0], "ports": "tcp:8000-8010"}],
            {"loadbalancer_kind": "dedicated"},
            "port range tcp:8000-8010 cannot be carried by a dedicated load balancer",
        ),
        (
            APPS,
            {"loadbalancer_kind": "dedicated"},
            "a dedicated load balancer carries exactly one app, got 2",
        ),
        (
            [{**APPS[0], "backends": [f"{WEB}:8080"]}],
            {},
            "must be an IP address or host name, without a port",
        ),
    ],
    ids=[
        "duplicate-app",
        "port-0",
        "port-65536",
        "unknown-protocol",
        "dedicated-range",
        "dedicated-two-apps",
        "backend-with-port",
    ],
)
def test_bad_lb_input_fails_naming_the_problem_and_changes_nothing(lab, apps, lb_vars, message):
    before = (lds("l7-1"), node("l7-1", "cat", "/etc/edgewright/portmap.json"))
    proc = lab.playbook(
        "playbooks/loadbalancers.yml", lb_topology(apps, **lb_vars), limit="l7-1", check=False
    )
    assert proc.returncode != 0
    assert message in proc.stdout
    assert changed_count(proc.stdout) == 0
    assert (lds("l7-1"), node("l7-1", "cat", "/etc/edgewright/portmap.json")) == before


def test_dedicated_lb_carries_one_app_on_its_own_ports(lab):
    solo = [{"name": "solo", "ports": "tcp:9090,udp:9053", "backends": [API]}]
    topology = {
        "children": {
            "loadbalancers": {
                "hosts": {"l7-3": {"loadbalancer_kind": "dedicated", "loadbalancer_apps": solo}}
            }
        }
    }
    lab.playbook("playbooks/loadbalancers.yml", topology, limit="l7-3")
    port_map = json.loads(node("l7-3", "cat", "/etc/edgewright/portmap.json"))
    assert {(m["protocol"], m["internal"], m["public"]) for m in port_map["mappings"]} == {
        ("tcp", 9090, 9090),
        ("udp", 9053, 9053),
    }
    assert wait_for(lambda: http_get(WEB, 9090) == "solo", "the dedicated LB's TCP port")
    assert wait_for(lambda: udp_ask(WEB, 9053, b"d") == b"solo:d", "the dedicated LB's UDP port")


def _sidecar_source(front: str) -> dict:
    return {
        "clusters": {"web": {"endpoints": [f"{WEB}:8080"]}, "api": {"endpoints": [f"{API}:8080"]}},
        "nodes": {
            "l7-4": {
                "listeners": [
                    {
                        "name": "front",
                        "port": 15080,
                        "protocol": "http",
                        "routes": [{"prefix": "/", "cluster": front}],
                    },
                    {"name": "dns", "port": 15353, "protocol": "udp", "cluster": "web-dns"},
                ]
            }
        },
    }


def test_sidecar_takes_listeners_from_xds_and_switches_routing_live(lab, tmp_path):
    source = _sidecar_source("web")
    source["clusters"]["web-dns"] = {"endpoints": [f"{WEB}:5353"]}
    source_file = tmp_path / "source.yaml"
    source_file.write_text(yaml.safe_dump(source))
    cache = SnapshotCache()
    watcher = SourceWatcher(source_file, cache)
    assert watcher.poll()
    # The control plane serves mutual TLS: the node trusts only the site's CA and checks the server's
    # address; the server takes only clients with a certificate from the site's xDS client CA.
    ca, cert, key = ca_and_server_cert(tmp_path, "site", GATEWAY)
    client_ca = tmp_path / "xds-client-ca"
    ensure_client_ca(client_ca)
    server, _ = start_server(cache, f"{GATEWAY}:{XDS_PORT}", tls=ServerTls(cert, key, client_ca / CA_CERT))
    # The test's own verifier trusts the lab's TPM manufacturer, as the lab's verifier does.
    trusted_manufacturer(state_dir(SPEC.name) / "tpm-manufacturer", tmp_path / "verifier")
    try:
        node_vars = {
            "edgewright_verifier_dir": str(tmp_path / "verifier"),
            "attest_learn_policy": True,
            "attest_policy_reference_node": "l7-4",
            "envoy_xds_client_ca_dir": str(client_ca),
        }
        sidecar = {
            "children": {"loadbalancers": {"hosts": {"l7-1": {}, "l7-2": {}}}},
            "hosts": {
                "l7-4": {
                    **node_vars,
                    "envoy_config_source": "xds",
                    "envoy_xds_host": GATEWAY,
                    "envoy_xds_port": XDS_PORT,
                    "envoy_xds_tls_ca": "/etc/edgewright/xds-server-ca.pem",
                    "envoy_xds_tls_ca_source": str(ca),
                    "envoy_transparent_proxy": True,
                    "envoy_transparent_ports": [8080],
                    "cluster_services_list": [
                        {
                            "name": "web.default.svc.cluster.local",
                            "port": 80,
                            "protocol": "http",
                            "endpoints": [f"{WEB}:8080"],
                        }
                    ],
                }
            },
        }
        # Bad input, and a node the verifier does not hold attested, are refused naming the problem, and
        # nothing changes on the node (it has no client identity yet).
        settings = sidecar["hosts"]["l7-4"]
        for bad, message in (
            ({"envoy_xds_tls_ca": ""}, "set envoy_xds_tls_ca"),
            (
                {"envoy_xds_insecure_plaintext": True},
                "envoy_xds_insecure_plaintext: true without envoy_xds_tls_ca",
            ),
            ({"envoy_node_id": "l7-3"}, "envoy_node_id must be it"),
            ({"envoy_xds_client_cert_renew_hours": 24}, "envoy_xds_client_cert_renew_hours (24) must be"),
            ({}, "node l7-4 is not attested"),
        ):
            sidecar["hosts"]["l7-4"] = {**settings, **bad}
            refused = lab.playbook("playbooks/sidecars.yml", sidecar, limit="l7-4", check=False)
            assert refused.returncode != 0
            assert message in " ".join(refused.stdout.split()), refused.stdout[-4000:]
            assert node("l7-4", "ls", "/etc/envoy/xds-client", check=False) == ""
        sidecar["hosts"]["l7-4"] = settings

        lab.playbook("playbooks/attest.yml", {"hosts": {"l7-4": node_vars}}, limit="l7-4")
        lab.playbook("playbooks/sidecars.yml", sidecar, limit="l7-4")
        again = lab.playbook("playbooks/sidecars.yml", sidecar, limit="l7-4")
        assert changed_count(again.stdout) == 0, again.stdout[-4000:]

        assert wait_for(lambda: http_get(API, 15080) == "web", "the sidecar's listener from xDS")
        # The node's key was made on the node, and its certificate from the client CA names it.
        assert node("l7-4", "stat", "-c", "%a %U:%G", "/etc/envoy/xds-client/key.pem").split() == [
            "640",
            "root:envoy",
        ]
        node_cert = x509.load_pem_x509_certificate(
            node("l7-4", "cat", "/etc/envoy/xds-client/cert.pem").encode()
        )
        assert node_of_certificate(node_cert) == "l7-4"
        node_public_key = node("l7-4", "openssl", "pkey", "-pubout", "-in", "/etc/envoy/xds-client/key.pem")
        assert node_cert.public_key() == serialization.load_pem_public_key(node_public_key.encode())
        assert wait_for(lambda: udp_ask(API, 15353, b"q") == b"web:q", "the sidecar's UDP listener from xDS")
        pid = node("l7-4", "systemctl", "show", "--property", "MainPID", "envoy")

        source["nodes"]["l7-4"]["listeners"][0]["routes"][0]["cluster"] = "api"
        source_file.write_text(yaml.safe_dump(source))
        os.utime(source_file, ns=(time.time_ns(), time.time_ns() + 1))
        assert watcher.poll()
        assert wait_for(lambda: http_get(API, 15080) == "api", "routing to switch live to api")
        assert node("l7-4", "systemctl", "show", "--property", "MainPID", "envoy") == pid

        # An app on the node reaches a cluster service by its name, through the local Envoy.
        assert node("l7-4", "curl", "-s", "--max-time", "3", "http://web.default.svc.cluster.local/") == "web"
        # Transparent mode: the node's outbound TCP to port 8080 went through Envoy's transparent listener.
        assert node("l7-4", "curl", "-s", "--max-time", "3", f"http://{WEB}:8080/") == "web"
        stats = node(
            "l7-4", "curl", "-s", "http://127.0.0.1:9901/stats?filter=^tcp.transparent.downstream_cx_total"
        )
        assert int(stats.split(":")[1]) >= 1
        assert json.loads(node("l7-4", "cat", "/var/lib/edgewright/lifecycle.json"))["stage"] == "serving"

        # A run that finds the certificate due (here: a renewal window longer than its lifetime left)
        # renews it over the same key, and Envoy loads it without a restart.
        sidecar["hosts"]["l7-4"].update(envoy_xds_client_cert_hours=48, envoy_xds_client_cert_renew_hours=47)
        lab.playbook("playbooks/sidecars.yml", sidecar, limit="l7-4")
        renewed = x509.load_pem_x509_certificate(
            node("l7-4", "cat", "/etc/envoy/xds-client/cert.pem").encode()
        )
        assert renewed.serial_number != node_cert.serial_number
        assert renewed.not_valid_after_utc > node_cert.not_valid_after_utc
        assert renewed.public_key() == node_cert.public_key()
        assert wait_for(
            lambda: f"{renewed.serial_number:x}" in node("l7-4", "curl", "-s", "http://127.0.0.1:9901/certs"),
            "Envoy to load the renewed certificate",
        )
        assert node("l7-4", "systemctl", "show", "--property", "MainPID", "envoy") == pid
        assert http_get(API, 15080) == "api"
    finally:
        server.stop(grace=0)


def _vip_holder() -> str | None:
    for name in ("l7-1", "l7-2"):
        if f"inet {VIP}/" in node(name, "ip", "-4", "addr", "show", "eth0", check=False):
            return name
    return None


def _time_until_vip_serves_from(holder: str, action) -> float:
    start = time.monotonic()
    action()
    wait_for(
        lambda: _vip_holder() == holder and http_get(VIP, 10000, timeout=0.5) == "api",
        f"the VIP to move to {holder} and serve",
        timeout=30,
        interval=0.05,
    )
    return time.monotonic() - start


def test_vip_fails_over_when_envoy_or_the_master_stops(lab):
    wait_for(lambda: _vip_holder() == "l7-1", "l7-1 (higher priority) to hold the VIP", timeout=20)
    assert http_get(VIP, 8080) == "web"

    # The master's Envoy stops: its health check fails and the backup takes the VIP.
    envoy_down = _time_until_vip_serves_from("l7-2", lambda: node("l7-1", "systemctl", "stop", "envoy"))
    print(f"\nVIP failover after Envoy stopped on the master: {envoy_down:.2f} s")
    back = _time_until_vip_serves_from("l7-1", lambda: node("l7-1", "systemctl", "start", "envoy"))
    print(f"VIP back on the master after its Envoy returned: {back:.2f} s")

    # The master node dies outright.
    killed = _time_until_vip_serves_from("l7-2", lambda: podman.run(["kill", "l7-1"]))
    print(f"VIP failover after the master node was killed: {killed:.2f} s")
    assert udp_ask(VIP, 5353, b"after") == b"web:after"
    podman.run(["start", "l7-1"])
