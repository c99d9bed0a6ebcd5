"""The control plane's snapshot cache holds state only for the nodes its source names and those connected
now: node ids that come and go, and nodes the source drops, leave nothing behind."""

from __future__ import annotations

import queue

from edgewright.xds.model import parse_source
from edgewright.xds.server import SnapshotCache


def _source(*nodes: str):
    return parse_source(
        {
            "clusters": {"web": {"endpoints": ["10.0.0.5:8080"]}},
            "nodes": {n: {"listeners": [{"name": "web", "port": 8080, "cluster": "web"}]} for n in nodes},
        }
    )


def test_ten_thousand_passing_node_ids_leave_no_entry():
    cache = SnapshotCache(_source("edge-1"))
    cache.get("edge-1")
    for i in range(10_000):
        stream: queue.Queue = queue.Queue()
        cache.watch(f"fake-{i}", stream)
        assert cache.get(f"fake-{i}").resources["type.googleapis.com/envoy.config.listener.v3.Listener"] == {}
        assert cache.unwatch(f"fake-{i}", stream) is True
    assert cache.held_nodes() == ["edge-1"]


def test_a_named_node_keeps_its_snapshot_when_it_disconnects_and_loses_it_when_the_source_drops_it():
    cache = SnapshotCache(_source("edge-1", "edge-2"))
    stream: queue.Queue = queue.Queue()
    cache.watch("edge-1", stream)
    cache.get("edge-1")
    cache.get("edge-2")
    assert cache.unwatch("edge-1", stream) is False
    assert cache.held_nodes() == ["edge-1", "edge-2"]
    cache.set_source(_source("edge-1"))
    assert cache.held_nodes() == ["edge-1"]
    assert not cache.knows("edge-2")


def test_a_connected_node_the_source_drops_gets_an_empty_snapshot_then_is_forgotten_when_it_leaves():
    cache = SnapshotCache(_source("edge-1"))
    first, second = queue.Queue(), queue.Queue()
    cache.watch("edge-1", first)
    cache.watch("edge-1", second)
    version = cache.get("edge-1").version
    assert cache.set_source(_source()) == ["edge-1"]
    assert first.get_nowait() is not None and second.get_nowait() is not None  # both streams woken
    assert cache.get("edge-1").version != version
    assert cache.get("edge-1").of_type("type.googleapis.com/envoy.config.listener.v3.Listener") == []
    assert cache.unwatch("edge-1", first) is False  # its other stream is still open
    assert cache.held_nodes() == ["edge-1"]
    assert cache.unwatch("edge-1", second) is True
    assert cache.held_nodes() == []
