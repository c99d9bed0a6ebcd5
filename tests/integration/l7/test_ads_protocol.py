"""The ADS protocol as the server speaks it, driven by a real gRPC client over loopback: responses, ACKs,
NACKs, stale nonces, pushes on a new snapshot, and a stream without a node id."""

from __future__ import annotations

import queue
import threading

import grpc
import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.rpc import status_pb2

from edgewright.xds.model import parse_source
from edgewright.xds.resources import CLUSTER, ENDPOINT
from edgewright.xds.server import SnapshotCache, start_server


def _source(web_endpoint: str):
    return parse_source(
        {
            "clusters": {"web": {"endpoints": [web_endpoint]}, "db": {"endpoints": ["10.0.0.9:5432"]}},
            "nodes": {
                "edge-1": {
                    "listeners": [
                        {"name": "web", "port": 8080, "cluster": "web"},
                        {"name": "db", "port": 5432, "cluster": "db"},
                    ]
                }
            },
        }
    )


class AdsClient:
    """One ADS stream: requests go in through a queue, responses come out through another."""

    def __init__(self, port: int) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.requests: queue.Queue = queue.Queue()
        self.responses: queue.Queue = queue.Queue()
        stream = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self.channel).StreamAggregatedResources(
            iter(self.requests.get, None)
        )
        self.stream = stream
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for response in self.stream:
                self.responses.put(response)
        except grpc.RpcError as err:
            self.responses.put(err)

    def send(
        self,
        type_url: str,
        *,
        version: str = "",
        nonce: str = "",
        names=(),
        node: str = "edge-1",
        error: str | None = None,
    ) -> None:
        request = discovery_pb2.DiscoveryRequest(
            node=base_pb2.Node(id=node),
            type_url=type_url,
            version_info=version,
            response_nonce=nonce,
            resource_names=list(names),
        )
        if error:
            request.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
        self.requests.put(request)

    def receive(self, timeout: float = 5.0):
        item = self.responses.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def nothing_within(self, seconds: float) -> bool:
        try:
            self.responses.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.requests.put(None)
        self.channel.close()


@pytest.fixture
def ads():
    cache = SnapshotCache(_source("10.0.0.5:8080"))
    # Plaintext, by name: these tests drive the protocol and pick each request's node.id themselves (the
    # node identity from client certificates is tested in test_xds_node_identity.py).
    server, port = start_server(cache, "127.0.0.1:0", max_nodes=4, insecure_plaintext=True)
    clients: list[AdsClient] = []

    def connect() -> AdsClient:
        clients.append(AdsClient(port))
        return clients[-1]

    yield cache, connect
    for client in clients:
        client.close()
    server.stop(grace=0)


def test_ack_nack_stale_and_push(ads):
    cache, connect = ads
    client = connect()
    client.send(CLUSTER)
    cds = client.receive()
    assert cds.type_url == CLUSTER
    clusters = [cluster_pb2.Cluster.FromString(r.value).name for r in cds.resources]
    assert sorted(clusters) == ["db", "web"]
    v1 = cds.version_info

    client.send(ENDPOINT, names=["web"])
    eds = client.receive()
    assert [endpoint_pb2.ClusterLoadAssignment.FromString(r.value).cluster_name for r in eds.resources] == [
        "web"
    ]

    # ACKs and a NACK get no answer: the node keeps what it has until the snapshot changes.
    client.send(CLUSTER, version=v1, nonce=cds.nonce)
    client.send(ENDPOINT, version=v1, nonce=eds.nonce, names=["web"])
    client.send(CLUSTER, version=v1, nonce=cds.nonce, error="cluster web: bad")
    # A request answering an older nonce is stale and ignored.
    client.send(ENDPOINT, version="", nonce="0", names=["web", "db"])
    assert client.nothing_within(0.5)

    # A new snapshot is pushed for every type the node follows, clusters before endpoints.
    cache.set_source(_source("10.0.0.6:8080"))
    pushed = [client.receive(), client.receive()]
    assert [r.type_url for r in pushed] == [CLUSTER, ENDPOINT]
    assert all(r.version_info != v1 for r in pushed)
    assignment = endpoint_pb2.ClusterLoadAssignment.FromString(pushed[1].resources[0].value)
    assert assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address == "10.0.0.6"


def test_a_node_the_source_does_not_name_gets_an_empty_configuration(ads):
    _, connect = ads
    client = connect()
    client.send(CLUSTER, node="stranger")
    response = client.receive()
    assert response.version_info and list(response.resources) == []


def test_a_stream_without_a_node_id_is_refused(ads):
    _, connect = ads
    client = connect()
    client.send(CLUSTER, node="")
    with pytest.raises(grpc.RpcError) as err:
        client.receive()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "node.id" in err.value.details()
