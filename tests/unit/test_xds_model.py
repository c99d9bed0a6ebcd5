"""The control plane's source: what it accepts and the clear errors for what users get wrong."""

from __future__ import annotations

import pytest

from edgewright.xds.model import SourceError, parse_source

CLUSTERS = {"web": {"endpoints": ["10.0.0.1:8080", "[fd00::1]:8080"]}, "dns": {"endpoints": ["dns.local:53"]}}


def _source(*listeners, clusters=CLUSTERS):
    return {"clusters": clusters, "nodes": {"edge-1": {"listeners": list(listeners)}}}


def test_node_config_holds_only_the_clusters_its_listeners_use():
    source = parse_source(
        _source(
            {"name": "web", "port": 80, "protocol": "http", "routes": [{"prefix": "/", "cluster": "web"}]}
        )
    )
    config = source.node_config("edge-1")
    assert [c.name for c in config.clusters] == ["web"]
    assert config.clusters[0].endpoints[1].host == "fd00::1"
    assert source.node_config("unknown").listeners == ()


@pytest.mark.parametrize(
    ("listener", "clusters", "message"),
    [
        (
            {"name": "a", "port": 0, "cluster": "web"},
            CLUSTERS,
            "port must be an integer from 1 to 65535, got 0",
        ),
        ({"name": "a", "port": 65536, "cluster": "web"}, CLUSTERS, "got 65536"),
        ({"name": "a", "port": "80", "cluster": "web"}, CLUSTERS, "got '80'"),
        (
            {"name": "a", "port": 80, "protocol": "sctp", "cluster": "web"},
            CLUSTERS,
            "unknown protocol 'sctp'",
        ),
        ({"name": "a", "port": 80, "cluster": "nope"}, CLUSTERS, "unknown cluster 'nope'"),
        ({"name": "a", "port": 80, "protocol": "http", "cluster": "web"}, CLUSTERS, "needs routes"),
        ({"name": "a", "port": 80, "protocol": "udp"}, CLUSTERS, "needs cluster"),
        ({"name": "a", "port": 80, "address": "eth0", "cluster": "web"}, CLUSTERS, "address must be an IP"),
        ({"name": "a b", "port": 80, "cluster": "web"}, CLUSTERS, "name must be"),
        ({"name": "a", "port": 80, "cluster": "web", "tls": True}, CLUSTERS, "unknown setting(s) tls"),
        (
            {"name": "a", "port": 80, "cluster": "web"},
            {"web": {"endpoints": []}},
            "endpoints must be a non-empty",
        ),
        (
            {"name": "a", "port": 80, "cluster": "web"},
            {"web": {"endpoints": ["10.0.0.1"]}},
            "must be 'host:port'",
        ),
        ({"name": "a", "port": 80, "cluster": "web"}, {"web": {"endpoints": ["10.0.0.1:0"]}}, "got 0"),
    ],
)
def test_bad_source_is_rejected_naming_the_problem(listener, clusters, message):
    with pytest.raises(SourceError) as err:
        parse_source(_source(listener, clusters=clusters))
    assert message in str(err.value)


def test_duplicate_listener_names_and_sockets_are_rejected():
    with pytest.raises(SourceError, match="duplicate listener name 'a'"):
        parse_source(
            _source({"name": "a", "port": 80, "cluster": "web"}, {"name": "a", "port": 81, "cluster": "web"})
        )
    with pytest.raises(SourceError, match=r"both bind tcp 0\.0\.0\.0:80"):
        parse_source(
            _source(
                {"name": "a", "port": 80, "cluster": "web"},
                {"name": "b", "port": 80, "protocol": "http", "routes": [{"cluster": "web"}]},
            )
        )
    # The same port over UDP is a different socket.
    parse_source(
        _source(
            {"name": "a", "port": 53, "cluster": "dns"},
            {"name": "b", "port": 53, "protocol": "udp", "cluster": "dns"},
        )
    )
