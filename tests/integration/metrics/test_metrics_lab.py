"""Metrics and alerts of a lab cloudlet, with real Prometheus (Debian's package) on lab hosts.

Lab `met` (10.231.60.0/24): met-1 is the platform host (the cloudlet's Prometheus), met-2 and met-3 a root
LB pair sharing VIP 10.231.60.100, met-4 an edge node, met-5 the central Prometheus that the cloudlet pushes
to by remote write, over TLS under the site CA with basic auth. The xDS server and the verifier's metrics
run on this machine, on the lab gateway. Short scrape and evaluation intervals keep the test quick.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import ansible_playbook, envoy_artefact
from listeners import misplaced, node_listeners
from waiting import changed_count, failed_count
from waiting import wait_for as wait_briefly

from edgewright.attest.store import Store
from edgewright.attest.verifier import Verifier
from edgewright.lab import podman
from edgewright.lab.kube import make_ca
from edgewright.lab.nodes import Lab, LabSpec, state_dir


def wait_for(check: Callable[[], object], what: str, timeout: float = 60.0, interval: float = 0.5):
    """wait_for with Prometheus's pace: scrapes and rule evaluations take seconds, not milliseconds."""
    return wait_briefly(check, what, timeout, interval)


pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[3]
SPEC = LabSpec(name="met", nodes=5, subnet="10.231.60.0/24")
PLATFORM, LB1, LB2, EDGE, CENTRAL = (SPEC.node_address(i) for i in range(1, 6))
VIP = "10.231.60.100"
GATEWAY = SPEC.gateway
XDS_PORT, XDS_METRICS_PORT, VERIFIER_METRICS_PORT = 19000, 19001, 19002
# The site CA signing the central Prometheus's certificate: kept with the lab, so `lab down` removes it.
SITE_CA_DIR = state_dir(SPEC.name) / "site-ca"
# The cloudlet's credentials at the central Prometheus (test values; a site keeps them in a vault).
WRITER, WRITER_PASSWORD = "cloudlet-met", "met-remote-write-password"
# The app port the LBs carry: the data path, which listens on every interface by design.
APP_PORT = 8080


def central_tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(SITE_CA_DIR / "ca.crt"))


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def api(host: str, path: str, **params: str) -> dict:
    """Prometheus's HTTP API on a lab host (the central one over TLS, as the cloudlet's writer)."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    if host == CENTRAL:
        request = urllib.request.Request(
            f"https://{host}:9090/api/v1/{path}{query}", headers=basic_auth(WRITER, WRITER_PASSWORD)
        )
        opened = urllib.request.urlopen(request, timeout=3, context=central_tls())
    else:
        opened = urllib.request.urlopen(f"http://{host}:9090/api/v1/{path}{query}", timeout=3)
    with opened as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    return body["data"]


def firing(host: str, alertname: str) -> list[dict]:
    return [
        a["labels"]
        for a in api(host, "alerts")["alerts"]
        if a["labels"]["alertname"] == alertname and a["state"] == "firing"
    ]


def node(name: str, *cmd: str, check: bool = True) -> str:
    return podman.run(["exec", name, *cmd], check=check).stdout.decode()


def topology() -> dict:
    binary, sha256 = envoy_artefact()
    return {
        "all": {
            "vars": {
                "envoy_artefact_url": binary,
                "envoy_artefact_sha256": sha256,
                "envoy_concurrency": 1,
                "envoy_metrics_port": 9902,
                "edgewright_site_ca_dir": str(SITE_CA_DIR),
                # Quick to scrape and to alert, so the test takes seconds rather than minutes.
                "prometheus_scrape_interval": "1s",
                "prometheus_scrape_timeout": "1s",
                "prometheus_evaluation_interval": "1s",
                "prometheus_alert_for": {
                    "lb_down": "2s",
                    "vip_down": "10s",
                    "host_down": "2s",
                    "control_plane_down": "2s",
                    "node_quarantined": "0s",
                    "attestation_stale": "5m",
                    "mesh_unreachable": "2m",
                    "cluster_head_lost": "1m",
                    "device_twin_down": "2m",
                },
            },
            "children": {
                "platform": {
                    "hosts": {"met-1": {}},
                    "vars": {
                        "prometheus_external_labels": {"cloudlet": "met"},
                        "prometheus_xds_targets": [f"{GATEWAY}:{XDS_METRICS_PORT}"],
                        "prometheus_verifier_targets": [f"{GATEWAY}:{VERIFIER_METRICS_PORT}"],
                        "prometheus_remote_write": [
                            {
                                "url": f"https://{CENTRAL}:9090/api/v1/write",
                                "basic_auth": {"username": WRITER, "password": WRITER_PASSWORD},
                            }
                        ],
                    },
                },
                "metrics_central": {
                    "hosts": {"met-5": {}},
                    "vars": {
                        "prometheus_scrape_inventory": False,
                        "prometheus_remote_write_receiver": True,
                        "prometheus_web_users": {WRITER: WRITER_PASSWORD},
                        "prometheus_external_labels": {"site": "central"},
                    },
                },
                "loadbalancers": {
                    "hosts": {"met-2": {"keepalived_priority": 150}, "met-3": {"keepalived_priority": 100}},
                    "vars": {
                        "loadbalancer_apps": [
                            {"name": "web", "ports": f"tcp:{APP_PORT}", "backends": [EDGE]}
                        ],
                        "loadbalancer_reserved_ports": ["tcp:22", "tcp:9100", "tcp:9902"],
                    },
                },
                "lb_vrrp_pairs": {
                    "hosts": {
                        "met-2": {"keepalived_unicast_peers": [LB2]},
                        "met-3": {"keepalived_unicast_peers": [LB1]},
                    },
                    "vars": {"keepalived_vip": f"{VIP}/24", "keepalived_auth_pass": "metlab"},
                },
            },
        }
    }


class LabRun:
    def __init__(self, workdir: Path, inventory: Path) -> None:
        self.workdir = workdir
        self.inventory = inventory
        self.topology = workdir / "topology.yml"
        self.topology.write_text(yaml.safe_dump(topology()))

    def playbook(
        self, playbook: str, *, limit: str | None = None, extra: dict | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        return ansible_playbook(
            playbook, [self.inventory, self.topology], self.workdir, limit=limit, extra=extra, check=check
        )


@pytest.fixture(scope="module")
def verifier_store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("verifier"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory, verifier_store):
    workdir = tmp_path_factory.mktemp("met-lab")
    inventory = workdir / "hosts.yml"
    lab = Lab(SPEC, log=lambda line: None)
    lab.up(inventory)
    # The control plane's services on the lab gateway, as the platform host's Prometheus finds them.
    source = workdir / "xds-source.yaml"
    source.write_text(yaml.safe_dump({"clusters": {}, "nodes": {}}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    xds_command = [
        "edgewright.cli",
        "xds",
        "serve",
        "--source",
        str(source),
        "--listen",
        f"{GATEWAY}:{XDS_PORT}",
        "--metrics-listen",
        f"{GATEWAY}:{XDS_METRICS_PORT}",
        # No Envoy dials this server: the test scrapes its metrics only, so it serves without TLS, by name.
        "--insecure-plaintext",
    ]
    verifier_command = [
        "edgewright.metrics",
        "verifier",
        "--store",
        str(verifier_store.root),
        "--listen",
        f"{GATEWAY}:{VERIFIER_METRICS_PORT}",
    ]
    services = [
        subprocess.Popen(
            [sys.executable, "-m", *command], env=env, stdout=subprocess.DEVNULL, stderr=log.open("w")
        )
        for command, log in ((xds_command, workdir / "xds.log"), (verifier_command, workdir / "verifier.log"))
    ]
    try:
        yield LabRun(workdir, inventory)
    finally:
        for service in services:
            service.terminate()
            service.wait(10)
        if not os.environ.get("EDGEWRIGHT_KEEP_LAB"):
            lab.down(inventory)


@pytest.fixture(scope="module")
def cloudlet(lab) -> LabRun:
    """The lab with its load balancers and metrics converged (and converged again: nothing changes)."""
    started = time.monotonic()
    lab.playbook("playbooks/loadbalancers.yml")
    first = lab.playbook("playbooks/metrics.yml")
    print(f"\nconverged load balancers and metrics in {time.monotonic() - started:.1f} s")
    again = lab.playbook("playbooks/metrics.yml")
    assert changed_count(again.stdout) == 0, again.stdout[-4000:]
    assert failed_count(first.stdout) == 0
    # The writer's password reaches neither a run's output nor the central host, which keeps its hash.
    assert WRITER_PASSWORD not in first.stdout + first.stderr + again.stdout + again.stderr
    web = yaml.safe_load(node("met-5", "cat", "/etc/prometheus/web.yml"))
    assert web["basic_auth_users"][WRITER].startswith("$2")
    assert WRITER_PASSWORD not in node("met-5", "cat", "/etc/prometheus/web.yml", "/etc/default/prometheus")
    return lab


def test_every_target_of_the_cloudlet_is_up(cloudlet):
    def targets() -> dict[tuple[str, str], str]:
        active = api(PLATFORM, "targets", state="active")["activeTargets"]
        return {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in active}

    expected = {
        ("prometheus", "met-1"),
        *(("node", f"met-{i}") for i in range(1, 6)),
        ("envoy", "met-2"),
        ("envoy", "met-3"),
        ("vip", VIP),
        ("xds", f"{GATEWAY}:{XDS_METRICS_PORT}"),
        ("verifier", f"{GATEWAY}:{VERIFIER_METRICS_PORT}"),
    }
    started = time.monotonic()
    wait_for(lambda: set(targets()) == expected and set(targets().values()) == {"up"}, "every target up")
    print(f"\nall {len(expected)} targets up {time.monotonic() - started:.1f} s after convergence")
    # What each kind of target says, as the alert rules read it.
    assert api(PLATFORM, "query", query='envoy_server_live{job="envoy"}')["result"]
    assert api(PLATFORM, "query", query="edgewright_verifier_store_ok == 1")["result"]
    assert api(PLATFORM, "query", query="edgewright_xds_source_ok == 1")["result"]
    # Only the stats route of Envoy's admin interface is on the network: the rest stays on loopback.
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://{LB1}:9902/quitquitquit", data=b"", timeout=2)
    assert api(PLATFORM, "rules")["groups"], "the alert rules are loaded"


def test_the_cloudlet_pushes_its_series_to_the_central_prometheus(cloudlet):
    result = wait_for(
        lambda: api(CENTRAL, "query", query='up{cloudlet="met", job="node"}')["result"],
        "the cloudlet's series at the central Prometheus",
    )
    assert {r["metric"]["instance"] for r in result} == {f"met-{i}" for i in range(1, 6)}
    # The central Prometheus scrapes nothing of the cloudlet itself: everything arrived by remote write.
    assert {t["labels"]["job"] for t in api(CENTRAL, "targets")["activeTargets"]} == {"prometheus"}


def test_no_control_or_metrics_listener_on_an_address_it_should_not_use(cloudlet):
    """Each service on the address Prometheus reaches it at (an LB's metrics also on its VIP), Envoy's admin on
    loopback; only the LBs' app port, the data path, listens on every interface."""
    # By address and port: ss cannot name the process of every socket (the node exporter's shows none).
    expected = {
        PLATFORM: {(PLATFORM, 9100), (PLATFORM, 9090)},
        LB1: {(LB1, 9100), (LB1, 9902), (VIP, 9902), ("127.0.0.1", 9901)},
        LB2: {(LB2, 9100), (LB2, 9902), (VIP, 9902), ("127.0.0.1", 9901)},
        EDGE: {(EDGE, 9100)},
        CENTRAL: {(CENTRAL, 9100), (CENTRAL, 9090)},
    }
    for index, address in enumerate((PLATFORM, LB1, LB2, EDGE, CENTRAL), start=1):
        listeners = node_listeners(f"met-{index}")
        found = {(entry.address, entry.port) for entry in listeners}
        assert expected[address] <= found, (address, listeners)
        data_path = [entry for entry in listeners if entry.port == APP_PORT and address in (LB1, LB2)]
        assert not misplaced([e for e in listeners if e not in data_path], {address, VIP}), (
            address,
            listeners,
        )


def test_the_central_prometheus_refuses_writers_without_its_credentials(cloudlet):
    url = f"https://{CENTRAL}:9090/api/v1/write"
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
    for credentials in (
        {},
        basic_auth(WRITER, "not-the-password"),
        basic_auth("someone-else", WRITER_PASSWORD),
    ):
        request = urllib.request.Request(url, data=b"fake series", headers={**headers, **credentials})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=3, context=central_tls())
        assert refused.value.code == 401
    # With the credentials the same request reaches the receiver, which finds it is no remote write.
    request = urllib.request.Request(
        url, data=b"fake series", headers={**headers, **basic_auth(WRITER, WRITER_PASSWORD)}
    )
    with pytest.raises(urllib.error.HTTPError) as malformed:
        urllib.request.urlopen(request, timeout=3, context=central_tls())
    assert malformed.value.code == 400
    # Plaintext HTTP gets no API at all.
    with pytest.raises(urllib.error.HTTPError) as plaintext:
        urllib.request.urlopen(f"http://{CENTRAL}:9090/api/v1/query?query=up", timeout=3)
    assert plaintext.value.code == 400


def test_a_writer_trusting_another_ca_fails_tls(cloudlet, tmp_path):
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_bytes(make_ca("not the site CA")[0])
    context = ssl.create_default_context(cafile=str(other_ca))
    with pytest.raises(urllib.error.URLError) as failed:
        urllib.request.urlopen(f"https://{CENTRAL}:9090/api/v1/write", data=b"", timeout=3, context=context)
    assert isinstance(failed.value.reason, ssl.SSLCertVerificationError)


def test_a_bad_scrape_config_is_rejected_and_the_running_one_kept(cloudlet):
    before = node("met-1", "sha256sum", "/etc/prometheus/prometheus.yml")
    running = api(PLATFORM, "status/config")["yaml"]
    duplicate = {"job_name": "node", "static_configs": [{"targets": ["met-4:9100"]}]}
    proc = cloudlet.playbook(
        "playbooks/metrics.yml",
        limit="platform",
        extra={"prometheus_extra_scrape_configs": [duplicate]},
        check=False,
    )
    assert proc.returncode != 0
    assert 'found multiple scrape configs with job name "node"' in proc.stdout
    assert node("met-1", "sha256sum", "/etc/prometheus/prometheus.yml") == before
    assert api(PLATFORM, "status/config")["yaml"] == running
    assert node("met-1", "systemctl", "is-active", "prometheus").strip() == "active"


def test_a_quarantined_node_raises_an_alert(cloudlet, verifier_store):
    assert not firing(PLATFORM, "EdgeNodeQuarantined")
    Verifier(verifier_store).quarantine("met-4", "its quote does not match the golden policy")
    started = time.monotonic()
    alerts = wait_for(lambda: firing(PLATFORM, "EdgeNodeQuarantined"), "the quarantine alert")
    print(f"\nquarantine alert firing {time.monotonic() - started:.1f} s after the verifier's verdict")
    assert [a["node"] for a in alerts] == ["met-4"]


def test_an_lb_host_that_stops_raises_an_alert_and_its_vip_stays_up(cloudlet):
    assert not firing(PLATFORM, "LoadBalancerDown")
    podman.run(["stop", "--time", "2", "met-3"])
    try:
        started = time.monotonic()
        alerts = wait_for(lambda: firing(PLATFORM, "LoadBalancerDown"), "the LB down alert")
        print(f"\nLB down alert firing {time.monotonic() - started:.1f} s after the host stopped")
        assert [a["instance"] for a in alerts] == ["met-3"]
        wait_for(lambda: firing(PLATFORM, "EdgeHostDown"), "the host down alert")
        # Its partner holds the VIP: the VIP answers and no VIP alert fires.
        assert api(PLATFORM, "query", query='up{job="vip"}')["result"][0]["value"][1] == "1"
        assert not firing(PLATFORM, "LoadBalancerVipDown")
    finally:
        podman.run(["start", "met-3"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"prometheus_scrape_interval": "often"}, "prometheus_scrape_interval must be a Prometheus duration"),
        ({"prometheus_remote_write": [{"uri": "http://x"}]}, "each prometheus_remote_write entry needs url"),
        ({"prometheus_remote_write_receiver": "perhaps"}, "prometheus_remote_write_receiver"),
        (
            {"prometheus_listen_address": "0.0.0.0:9090"},
            "prometheus_listen_address 0.0.0.0:9090 listens on every interface; give the one address",
        ),
        ({"prometheus_listen_address": "met-1:9090"}, "prometheus_listen_address must be an IP address"),
        (
            {"prometheus_remote_write": [{"url": "http://10.231.60.15:9090/api/v1/write"}]},
            "prometheus_remote_write target http://10.231.60.15:9090/api/v1/write is plaintext http",
        ),
        (
            {"prometheus_remote_write": [{"url": "https://10.231.60.15:9090/api/v1/write"}]},
            'prometheus_remote_write targets ["https://10.231.60.15:9090/api/v1/write"] need basic_auth',
        ),
        (
            {
                "prometheus_remote_write": [
                    {
                        "url": "https://10.231.60.15:9090/api/v1/write",
                        "basic_auth": {"username": "u", "password": "secret-never-shown"},
                        "tls_config": {"insecure_skip_verify": True},
                    }
                ]
            },
            "must not set tls_config.insecure_skip_verify",
        ),
        (
            {"prometheus_web_auth": True, "prometheus_web_users": {"operator": "too-short"}},
            'too short: ["operator"]',
        ),
        (
            {"node_exporter_listen_address": "0.0.0.0"},
            "node_exporter_listen_address 0.0.0.0 listens on every",
        ),
        ({"node_exporter_listen_address": "met-1"}, "node_exporter_listen_address must be an IP address"),
        ({"node_exporter_port": 70000}, "node_exporter_port must be within 1-65535"),
        ({"prometheus_xds_targets": ["controller"]}, "xds target 'controller' is not host:port"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(cloudlet, extra, message):
    before = node("met-1", "sha256sum", "/etc/prometheus/prometheus.yml", "/etc/default/prometheus")
    proc = cloudlet.playbook("playbooks/metrics.yml", limit="met-1", extra=extra, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert "secret-never-shown" not in proc.stdout and "too-short" not in proc.stdout
    assert changed_count(proc.stdout) == 0
    assert node("met-1", "sha256sum", "/etc/prometheus/prometheus.yml", "/etc/default/prometheus") == before
