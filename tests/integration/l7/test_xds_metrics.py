"""The xDS control plane's Prometheus metrics, counted while it serves a real Envoy over ADS."""

from __future__ import annotations

import os
import queue
import time
import urllib.request

import grpc
import pytest
import yaml
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.rpc import status_pb2
from l7_peers import MutualTls, http_get, wait_for
from prometheus_client.parser import text_string_to_metric_families

from edgewright.metrics.exposition import serve_metrics
from edgewright.metrics.xds import InstrumentedDiscovery, InstrumentedWatcher, XdsMetrics
from edgewright.xds.resources import LISTENER, ads_bootstrap
from edgewright.xds.server import SnapshotCache, start_server

pytest_plugins = ["l7_fixtures"]

SOURCE = {
    "clusters": {"web": {"endpoints": ["127.0.0.1:19101"]}},
    "nodes": {
        "edge-1": {
            "listeners": [
                {
                    "name": "web",
                    "address": "127.0.0.1",
                    "port": 19180,
                    "protocol": "http",
                    "routes": [{"prefix": "/", "cluster": "web"}],
                }
            ]
        }
    },
}


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_follow_a_real_envoy_and_source_edits(tmp_path, backends, envoy_factory):
    backends("http", 19101, "web")
    source_file = tmp_path / "source.yaml"
    source_file.write_text(yaml.safe_dump(SOURCE))
    cache = SnapshotCache()
    metrics = XdsMetrics()
    errors: list[str] = []
    watcher = InstrumentedWatcher(source_file, cache, metrics, on_error=errors.append)
    assert watcher.poll()
    metrics_server = serve_metrics(metrics.registry, "127.0.0.1:19190")
    tls = MutualTls(tmp_path)
    server, port = start_server(
        cache, "127.0.0.1:0", tls=tls.server_tls, discovery=InstrumentedDiscovery(cache, metrics)
    )
    try:
        envoy = envoy_factory(
            ads_bootstrap("edge-1", ("127.0.0.1", port), 19901, **tls.node_settings("edge-1")), 19901
        )
        assert wait_for(lambda: http_get("http://127.0.0.1:19180/") == "web", "routing over ADS")
        got = scrape(19190)
        assert got[("edgewright_xds_node_connected", (("node", "edge-1"),))] == 1
        assert got[("edgewright_xds_responses_total", (("node", "edge-1"), ("type", "Cluster")))] >= 1
        assert got[("edgewright_xds_responses_total", (("node", "edge-1"), ("type", "Listener")))] >= 1
        assert got[("edgewright_xds_source_reloads_total", (("result", "ok"),))] == 1
        assert got[("edgewright_xds_source_ok", ())] == 1

        # A broken edit is refused: counted, and the source marked not ok until a good one is taken.
        source_file.write_text("clusters: [not, a, mapping]\n")
        os.utime(source_file, ns=(time.time_ns(), time.time_ns() + 1))
        assert not watcher.poll()
        got = scrape(19190)
        assert got[("edgewright_xds_source_reloads_total", (("result", "error"),))] == 1
        assert got[("edgewright_xds_source_ok", ())] == 0
        assert errors

        envoy.stop()
        wait_for(
            lambda: scrape(19190)[("edgewright_xds_node_connected", (("node", "edge-1"),))] == 0,
            "the node's stream to close",
        )
    finally:
        server.stop(grace=0)
        metrics_server.shutdown()


def test_nacks_and_refusals_are_counted_and_a_departed_nodes_series_go(tmp_path):
    metrics = XdsMetrics()
    cache = SnapshotCache()  # edge-9 is named by no source: the server forgets it when it leaves
    tls = MutualTls(tmp_path)
    server, port = start_server(
        cache, "127.0.0.1:0", tls=tls.server_tls, discovery=InstrumentedDiscovery(cache, metrics)
    )
    credentials = tls.credentials("edge-9")

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    def request(node_id: str, **fields) -> discovery_pb2.DiscoveryRequest:
        return discovery_pb2.DiscoveryRequest(node=base_pb2.Node(id=node_id), type_url=LISTENER, **fields)

    try:
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
            requests: queue.Queue = queue.Queue()
            responses = stub.StreamAggregatedResources(iter(requests.get, None), timeout=10)
            requests.put(request("edge-9"))
            first = next(responses)
            requests.put(
                request(
                    "edge-9",
                    response_nonce=first.nonce,
                    error_detail=status_pb2.Status(code=3, message="port in use"),
                )
            )
            wait_for(
                lambda: value("edgewright_xds_nacks_total", node="edge-9", type="Listener") == 1, "the NACK"
            )
            assert value("edgewright_xds_node_connected", node="edge-9") == 1
            assert value("edgewright_xds_responses_total", node="edge-9", type="Listener") == 1

            # Another node's id over edge-9's certificate: refused and counted; edge-9 leaves.
            requests.put(request("edge-1"))
            with pytest.raises(grpc.RpcError) as refused:
                next(responses)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        wait_for(
            lambda: value("edgewright_xds_node_connected", node="edge-9") is None, "edge-9's series to go"
        )
        assert value("edgewright_xds_refused_streams_total", reason="node_id_mismatch") == 1
        assert value("edgewright_xds_nacks_total", node="edge-9", type="Listener") is None
        assert value("edgewright_xds_responses_total", node="edge-9", type="Listener") is None
        assert cache.held_nodes() == []
    finally:
        server.stop(grace=0)
