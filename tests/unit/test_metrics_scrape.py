"""Scrape jobs generated from an inventory."""

from __future__ import annotations

import pytest

from edgewright.metrics.scrape import ScrapeError, hosts_from_inventory, scrape_configs

GROUPS = {
    "edge_nodes": ["lb-a", "lb-b", "edge-1"],
    "loadbalancers": ["lb-a", "lb-b"],
    "lb_vrrp_pairs": ["lb-a", "lb-b"],
    "platform": ["plat"],
}
HOSTVARS = {
    "lb-a": {"ansible_host": "10.0.0.11", "keepalived_vip": "10.0.0.100/24"},
    "lb-b": {"ansible_host": "10.0.0.12", "keepalived_vip": "10.0.0.100/24", "envoy_metrics_port": 9999},
    "edge-1": {"ansible_host": "10.0.0.13", "node_exporter_port": "9200"},
    "plat": {},
}


def jobs_by_name(**kwargs) -> dict[str, dict]:
    return {job["job_name"]: job for job in scrape_configs(hosts_from_inventory(GROUPS, HOSTVARS), **kwargs)}


def test_every_host_once_with_its_role_and_ports():
    jobs = jobs_by_name()
    node = [(c["targets"][0], c["labels"]) for c in jobs["node"]["static_configs"]]
    assert node == [
        ("10.0.0.11:9100", {"instance": "lb-a", "role": "loadbalancer"}),
        ("10.0.0.12:9100", {"instance": "lb-b", "role": "loadbalancer"}),
        ("10.0.0.13:9200", {"instance": "edge-1", "role": "edge_node"}),
        ("plat:9100", {"instance": "plat", "role": "platform"}),
    ]
    envoy = [(c["targets"][0], c["labels"]) for c in jobs["envoy"]["static_configs"]]
    assert envoy == [
        ("10.0.0.11:9902", {"instance": "lb-a", "vip": "10.0.0.100"}),
        ("10.0.0.12:9999", {"instance": "lb-b", "vip": "10.0.0.100"}),
    ]
    assert jobs["envoy"]["metrics_path"] == "/stats/prometheus"


def test_a_decommissioned_host_is_scraped_no_more_though_still_in_the_inventory():
    hosts = hosts_from_inventory(GROUPS, HOSTVARS, excluded=["edge-1", "lb-b"])
    assert [h.name for h in hosts] == ["lb-a", "plat"]
    targets = [t for job in scrape_configs(hosts) for c in job["static_configs"] for t in c["targets"]]
    assert not [t for t in targets if t.startswith(("10.0.0.13:", "10.0.0.12:"))], targets


def test_a_shared_vip_is_one_target_kept_to_liveness_metrics():
    vip = jobs_by_name()["vip"]
    assert vip["static_configs"] == [
        {"targets": ["10.0.0.100:9902"], "labels": {"instance": "10.0.0.100", "vip": "10.0.0.100"}}
    ]
    assert vip["metric_relabel_configs"][0]["action"] == "keep"


def test_control_plane_jobs_only_when_they_have_targets():
    assert "xds" not in jobs_by_name() and "verifier" not in jobs_by_name()
    jobs = jobs_by_name(xds_targets=["10.0.0.1:19001"], verifier_targets=["10.0.0.1:9816"])
    assert jobs["xds"]["static_configs"] == [{"targets": ["10.0.0.1:19001"]}]
    assert jobs["verifier"]["static_configs"] == [{"targets": ["10.0.0.1:9816"]}]


def test_an_empty_inventory_scrapes_nothing():
    assert scrape_configs(hosts_from_inventory({}, {})) == []


@pytest.mark.parametrize(
    ("hostvars", "message"),
    [
        ({"edge-1": {"node_exporter_port": "http"}}, "host edge-1: node_exporter_port must be a port number"),
        ({"lb-a": {"envoy_metrics_port": 70000}}, "host lb-a: envoy_metrics_port 70000 is not a port"),
        ({"lb-a": {"keepalived_vip": "10.0.0.300/24"}}, "host lb-a: keepalived_vip '10.0.0.300/24'"),
    ],
)
def test_bad_host_variables_name_the_host_and_variable(hostvars, message):
    with pytest.raises(ScrapeError, match=message):
        hosts_from_inventory(GROUPS, hostvars)


def test_a_bad_control_plane_target_is_named():
    with pytest.raises(ScrapeError, match="xds target 'controller' is not host:port"):
        jobs_by_name(xds_targets=["controller"])
