"""Node identity on the control plane, with real Envoy over mutual TLS: a node gets only what its client
certificate names, a client without a certificate from the site's client CA gets nothing, and node ids that
come and go (or leave the source) leave no state behind."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import urllib.error
from pathlib import Path

import grpc
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from l7_peers import (
    ca_and_server_cert,
    http_get,
    identity_credentials,
    node_identity,
    renew_identity,
    wait_for,
)

from edgewright.xds.identity import CA_CERT, ensure_client_ca
from edgewright.xds.model import parse_source
from edgewright.xds.resources import LISTENER, ads_bootstrap
from edgewright.xds.server import (
    AggregatedDiscovery,
    ServerTls,
    SnapshotCache,
    start_server,
    verifier_standing,
)

pytest_plugins = ["l7_fixtures"]

PORTS = {"edge-a": 18281, "edge-b": 18282}


def _source(nodes=("edge-a", "edge-b")) -> dict:
    return {
        "clusters": {"web": {"endpoints": ["127.0.0.1:18201"]}},
        "nodes": {
            name: {
                "listeners": [
                    {
                        "name": "web",
                        "address": "127.0.0.1",
                        "port": PORTS[name],
                        "protocol": "http",
                        "routes": [{"prefix": "/", "cluster": "web"}],
                    }
                ]
            }
            for name in nodes
        },
    }


class Site:
    """A control plane over mutual TLS with the site's client CA, and what a node needs to reach it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server_ca, cert, key = ca_and_server_cert(workdir, "site", "127.0.0.1")
        self.client_ca_dir = workdir / "client-ca"
        ensure_client_ca(self.client_ca_dir)
        self.cache = SnapshotCache(parse_source(_source()))
        # No standing check unless a test sets one (discovery.standing).
        self.discovery = AggregatedDiscovery(self.cache)
        # Connections are closed after 2 s (900 by default), so a renewed certificate is taken up quickly.
        self.server, self.port = start_server(
            self.cache,
            "127.0.0.1:0",
            tls=ServerTls(cert, key, self.client_ca_dir / CA_CERT),
            discovery=self.discovery,
            max_connection_age_s=2,
        )

    def identity(self, node: str, lifetime_s: float = 3600) -> Path:
        return node_identity(self.client_ca_dir, node, self.workdir, lifetime_s)

    def bootstrap(self, node_id: str, admin_port: int, identity: Path | None) -> dict:
        return ads_bootstrap(
            node_id,
            ("127.0.0.1", self.port),
            admin_port,
            tls_ca=str(self.server_ca),
            client_identity_dir=str(identity) if identity else None,
        )

    def channel(self, identity: Path | None) -> grpc.Channel:
        return grpc.secure_channel(f"127.0.0.1:{self.port}", identity_credentials(self.server_ca, identity))


@pytest.fixture
def site(tmp_path, backends):
    backends("http", 18201, "web")
    site = Site(tmp_path)
    yield site
    site.server.stop(grace=0)


def _ask(channel: grpc.Channel, node_ids: list[str]) -> list[discovery_pb2.DiscoveryResponse]:
    """One ADS stream asking for listeners as each of NODE_IDS in turn; the responses, or the RpcError."""
    stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
    requests = [discovery_pb2.DiscoveryRequest(node=base_pb2.Node(id=n), type_url=LISTENER) for n in node_ids]
    return list(stub.StreamAggregatedResources(iter(requests), timeout=10))


def test_a_stream_is_ended_when_its_client_certificate_expires(site):
    # TLS checks a certificate at the handshake only; the server ends a stream that outlives it.
    brief = site.identity("edge-a", lifetime_s=3)
    stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(site.channel(brief))
    requests: queue.Queue = queue.Queue()
    responses = stub.StreamAggregatedResources(iter(requests.get, None), timeout=30)
    requests.put(discovery_pb2.DiscoveryRequest(node=base_pb2.Node(id="edge-a"), type_url=LISTENER))
    assert len(next(responses).resources) == 1  # served while the certificate is valid
    with pytest.raises(grpc.RpcError) as ended:
        next(responses)
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "the client certificate of edge-a expired at" in ended.value.details()
    requests.put(None)


def test_a_renewed_certificate_is_taken_up_without_a_restart(site, envoy_factory, caplog):
    caplog.set_level(logging.INFO, logger="edgewright.xds")
    identity = site.identity("edge-a", lifetime_s=4)
    envoy = envoy_factory(site.bootstrap("edge-a", 18916, identity), 18916)
    assert wait_for(lambda: http_get(f"http://127.0.0.1:{PORTS['edge-a']}/") == "web", "edge-a's listener")
    renewed = renew_identity(site.client_ca_dir, "edge-a", identity, lifetime_s=3600)
    # Envoy reloads the pair (its /certs shows the new serial); once the brief certificate has expired
    # and the server has closed the old connection, the node is connected on the renewed one.
    assert wait_for(lambda: f"{renewed.serial_number:x}" in envoy.admin("certs"), "Envoy to load the renewal")
    until = (
        f"node edge-a connected (client certificate valid until {renewed.not_valid_after_utc.isoformat()})"
    )
    assert wait_for(lambda: any(r.getMessage() == until for r in caplog.records), "a stream on the renewal")
    pid = envoy.proc.pid
    assert wait_for(lambda: _stat(envoy, "control_plane.connected_state") == 1, "Envoy to be connected")
    assert envoy.proc.pid == pid and envoy.proc.poll() is None
    assert http_get(f"http://127.0.0.1:{PORTS['edge-a']}/") == "web"


def _no_configuration(envoy) -> bool:
    """Envoy has taken no listener from the control plane and is not ready."""
    if '"dynamic_listeners"' in envoy.admin("config_dump?resource=dynamic_listeners"):
        return False
    try:
        envoy.admin("ready")
    except urllib.error.HTTPError:  # 503: still waiting for a configuration
        return True
    return False


def test_a_node_gets_its_listeners_and_not_another_nodes(site, envoy_factory):
    envoy_factory(site.bootstrap("edge-a", 18911, site.identity("edge-a")), 18911)
    assert wait_for(lambda: http_get(f"http://127.0.0.1:{PORTS['edge-a']}/") == "web", "edge-a's listener")
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{PORTS['edge-b']}/")


def test_a_node_asking_for_another_node_id_is_refused_and_gets_nothing(site, envoy_factory, caplog):
    edge_a = site.identity("edge-a")
    caplog.set_level(logging.WARNING, logger="edgewright.xds")

    # A gRPC client with edge-a's certificate: its own node first, then edge-b on the same stream.
    with site.channel(edge_a) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            _ask(channel, ["edge-b"])
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "'edge-b' is not the node 'edge-a'" in refused.value.details()
        with pytest.raises(grpc.RpcError) as switched:
            _ask(channel, ["edge-a", "edge-b"])
        assert switched.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert any("refused an ADS stream" in r.message and "edge-b" in r.message for r in caplog.records)

    # Real Envoy announcing edge-b over edge-a's certificate: refused on every retry, nothing configured.
    envoy = envoy_factory(site.bootstrap("edge-b", 18912, edge_a), 18912, ready=False)
    # Envoy logs the stream's status: 7 is PERMISSION_DENIED, with the server's reason.
    refusal = "config stream to xds closed: 7, node.id 'edge-b' is not the node 'edge-a'"
    assert wait_for(lambda: refusal in envoy.log.read_text(), "Envoy to log the refusal")
    assert _no_configuration(envoy)
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{PORTS['edge-b']}/")


def test_a_node_the_verifier_quarantines_is_cut_off_and_gets_no_new_configuration(
    site, envoy_factory, tmp_path
):
    from edgewright.attest.store import Store
    from edgewright.attest.verifier import ATTESTED, Verifier, now_iso

    store = Store(tmp_path / "verifier")
    with store.locked():  # edge-a attested a moment ago; edge-b never attested
        store.save_node({"node": "edge-a", "status": ATTESTED, "last_attested_at": now_iso(time.time)})
    site.discovery.standing = verifier_standing(store.root)
    with site.channel(site.identity("edge-b")) as channel, pytest.raises(grpc.RpcError) as refused:
        _ask(channel, ["edge-b"])
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "node edge-b is not attested" in refused.value.details()

    envoy = envoy_factory(site.bootstrap("edge-a", 18913, site.identity("edge-a")), 18913)
    assert wait_for(lambda: http_get(f"http://127.0.0.1:{PORTS['edge-a']}/") == "web", "edge-a's listener")

    Verifier(store).quarantine("edge-a", "a measured file changed")
    refusal = (
        "config stream to xds closed: 7, node edge-a: node edge-a is quarantined: a measured file changed"
    )
    assert wait_for(lambda: refusal in envoy.log.read_text(), "Envoy to log that its stream was ended")
    # A new snapshot for edge-a (its listener moved) is not served: Envoy keeps what it had, nothing more.
    moved = _source()
    moved["nodes"]["edge-a"]["listeners"][0]["port"] = PORTS["edge-b"]
    site.cache.set_source(parse_source(moved))
    assert wait_for(lambda: envoy.log.read_text().count(refusal) >= 3, "Envoy to retry and be refused again")
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{PORTS['edge-b']}/")
    with site.channel(site.identity("edge-a")) as channel, pytest.raises(grpc.RpcError) as again:
        _ask(channel, ["edge-a"])
    assert again.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_client_without_a_certificate_from_the_client_ca_fails_the_handshake(site, envoy_factory):
    stranger = node_identity(site.workdir / "other-ca", "edge-a", site.workdir)
    for client in (None, stranger):
        with site.channel(client) as channel, pytest.raises(grpc.RpcError) as failed:
            _ask(channel, ["edge-a"])
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE

    without = envoy_factory(site.bootstrap("edge-a", 18913, None), 18913, ready=False)
    other_ca = envoy_factory(site.bootstrap("edge-a", 18914, stranger), 18914, ready=False)
    for envoy in (without, other_ca):
        assert wait_for(
            lambda envoy=envoy: (
                _stat(envoy, "cluster.xds.upstream_cx_connect_fail")
                + _stat(envoy, "cluster.xds.upstream_cx_destroy_remote")
                + _stat(envoy, "cluster.xds.ssl.connection_error")
            ),
            "the handshake to fail",
        )
        assert _no_configuration(envoy)
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{PORTS['edge-a']}/")
    assert site.cache.held_nodes() == []


def _stat(envoy, name: str) -> int:
    text = envoy.admin(f"stats?filter=^{name.replace('.', '[.]')}$")
    return int(text.split(":")[1]) if ":" in text else 0


def _rss_kib() -> int:
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _fake_ids(channel: grpc.Channel, ids: list[str], outcomes: queue.Queue) -> None:
    for node_id in ids:
        try:
            _ask(channel, [node_id])
            outcomes.put("served")
        except grpc.RpcError as err:
            outcomes.put(err.code().name)


def _announce(channel: grpc.Channel, count: int, prefix: str, threads: int = 4) -> dict[str, int]:
    """COUNT streams, each announcing a new node id, over THREADS concurrent workers; outcome counts."""
    outcomes: queue.Queue = queue.Queue()
    ids = [f"{prefix}-{i}" for i in range(count)]
    workers = [
        threading.Thread(target=_fake_ids, args=(channel, ids[i::threads], outcomes)) for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    counts: dict[str, int] = {}
    while not outcomes.empty():
        outcome = outcomes.get()
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def test_ten_thousand_fake_node_ids_leave_no_state(site, caplog):
    # pytest keeps every captured log record in memory, which would count 10,000 refusals against the server.
    caplog.set_level(logging.ERROR, logger="edgewright.xds")
    edge_a = site.identity("edge-a")
    with site.channel(edge_a) as channel:
        _announce(channel, 200, "warmup")
        before = (_rss_kib(), site.cache.held_nodes())
        refused = _announce(channel, 10_000, "fake")
        after = (_rss_kib(), site.cache.held_nodes())
    print(
        f"\nmTLS, 10000 fake node ids over edge-a's certificate: {refused}; RSS {before[0]} -> {after[0]} KiB "
        f"({after[0] - before[0]:+d}); nodes held {len(before[1])} -> {len(after[1])}"
    )
    assert refused == {"PERMISSION_DENIED": 10_000}
    assert after[1] == before[1]

    # Where the lab must run plaintext, any client claims any id; each is served, then forgotten.
    cache = SnapshotCache(parse_source(_source()))
    server, port = start_server(cache, "127.0.0.1:0", insecure_plaintext=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            _announce(channel, 200, "warmup")
            before = (_rss_kib(), cache.held_nodes())
            served = _announce(channel, 10_000, "fake")
            after = (_rss_kib(), cache.held_nodes())
    finally:
        server.stop(grace=0)
    print(
        f"plaintext, 10000 fake node ids served: {served}; RSS {before[0]} -> {after[0]} KiB "
        f"({after[0] - before[0]:+d}); nodes held {len(before[1])} -> {len(after[1])}"
    )
    assert served == {"served": 10_000}
    assert after[1] == before[1] == []


def test_a_node_removed_from_the_source_loses_its_listeners_and_then_its_state(site, envoy_factory):
    envoy = envoy_factory(site.bootstrap("edge-a", 18915, site.identity("edge-a")), 18915)
    assert wait_for(lambda: http_get(f"http://127.0.0.1:{PORTS['edge-a']}/") == "web", "edge-a's listener")
    site.cache.get("edge-b")  # edge-b's snapshot is held while the source names it
    assert site.cache.held_nodes() == ["edge-a", "edge-b"]

    site.cache.set_source(parse_source(_source(nodes=())))
    # edge-b is not connected: dropped at once. edge-a is: it gets an empty snapshot, its listener goes.
    assert site.cache.held_nodes() == ["edge-a"]
    assert wait_for(
        lambda: '"dynamic_listeners"' not in envoy.admin("config_dump?resource=dynamic_listeners"),
        "edge-a's listener to be withdrawn",
    )
    envoy.stop()
    assert wait_for(lambda: site.cache.held_nodes() == [], "edge-a's state to be dropped")
