"""Cluster services on an edge node: loopback addresses, name records and the listeners behind them."""

from __future__ import annotations

import pytest

from edgewright.xds.cluster_services import plan
from edgewright.xds.model import SourceError, parse_source

DB = {"name": "db.default.svc.cluster.local", "port": 5432, "endpoints": ["10.96.0.10:5432"]}
WEB = {"name": "web.shop.svc.cluster.local", "port": 80, "protocol": "http", "endpoints": ["10.96.0.11:8080"]}


def test_each_service_gets_its_own_loopback_address_name_record_and_listener():
    result = plan([DB, WEB])
    assert result["hosts"] == [
        {"address": "127.77.0.1", "name": "db.default.svc.cluster.local"},
        {"address": "127.77.0.2", "name": "web.shop.svc.cluster.local"},
    ]
    config = result["envoy_local_config"]
    assert [(lst["address"], lst["port"], lst["protocol"]) for lst in config["listeners"]] == [
        ("127.77.0.1", 5432, "tcp"),
        ("127.77.0.2", 80, "http"),
    ]
    parse_source({"clusters": config["clusters"], "nodes": {"n": {"listeners": config["listeners"]}}})


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ([DB, DB], "is listed twice"),
        ([{**DB, "name": "DB_Server"}], "lowercase DNS name"),
        ([{**DB, "port": 0}], "port must be an integer from 1 to 65535"),
        ([{**DB, "protocol": "grpc"}], "unknown protocol 'grpc'"),
        ([{**DB, "endpoints": []}], "endpoints must be a non-empty list"),
        ([{**DB, "address": "10.0.0.1"}], "must be a loopback address"),
        ([{**DB, "address": "127.77.0.2"}, WEB], "address 127.77.0.2 is already used"),
        ([{**DB, "ttl": 5}], "unknown setting(s) ttl"),
    ],
)
def test_bad_services_are_rejected_naming_the_problem(services, message):
    with pytest.raises(SourceError) as err:
        plan(services)
    assert message in str(err.value)


SHOP = {"service": "shop/web", "port": 80, "protocol": "http"}


def test_a_kubernetes_service_is_named_as_in_the_cluster_and_follows_its_endpoints_over_eds():
    result = plan([DB, SHOP])
    assert result["hosts"][1:] == [
        {"address": "127.77.0.2", "name": "web.shop.svc.cluster.local"},
        {"address": "127.77.0.2", "name": "web"},
    ]
    config = result["envoy_local_config"]
    assert config["clusters"]["svc.shop.web.80"] == {"service": "shop/web", "port": 80}
    assert config["listeners"][1]["routes"] == [{"prefix": "/", "cluster": "svc.shop.web.80"}]
    # The control plane's source grants the node that Service under the same cluster name.
    granted = parse_source({"nodes": {"edge-1": {"services": ["shop/web:80"]}}})
    (followed,) = granted.node_config("edge-1").followed
    assert followed.name == "svc.shop.web.80"


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ([{**SHOP, "service": "web"}], "service must be 'NAMESPACE/NAME'"),
        ([{**SHOP, "endpoints": ["10.0.0.1:80"]}], "not both"),
        ([{"port": 80, "endpoints": ["10.0.0.1:80"]}], "name it"),
        ([SHOP, {**SHOP, "port": 8080}], "'web.shop.svc.cluster.local' is listed twice"),
    ],
)
def test_bad_kubernetes_services_are_rejected_naming_the_problem(services, message):
    with pytest.raises(SourceError) as err:
        plan(services)
    assert message in str(err.value)
