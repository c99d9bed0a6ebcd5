"""The L7 filters as Ansible calls them: results for good input, AnsibleFilterError naming bad input."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "edgewright_l7.py"
_SPEC = importlib.util.spec_from_file_location("edgewright_l7_filter", _PATH)
filters = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(filters)


def test_lb_plan_returns_the_port_map_and_envoy_config_and_reads_a_previous_map():
    apps = [
        {"name": "a", "ports": "tcp:80", "backends": ["10.0.0.1"]},
        {"name": "b", "ports": "tcp:80", "backends": ["10.0.0.2"]},
    ]
    first = filters.lb_plan(apps)
    assert {m["app"]: m["public"] for m in first["port_map"]["mappings"]} == {"a": 80, "b": 10000}
    again = filters.lb_plan(list(reversed(apps)), previous=first["port_map"])
    assert again["port_map"] == first["port_map"]
    resources = filters.envoy_resources(first["envoy_local_config"])
    assert sorted(lst["name"] for lst in resources["listeners"]) == ["a-tcp-80", "b-tcp-10000"]


def test_filters_turn_bad_input_into_ansible_errors():
    with pytest.raises(AnsibleFilterError, match="loadbalancer_apps: app 'a' is listed twice"):
        filters.lb_plan([{"name": "a", "ports": "tcp:1", "backends": ["h"]}] * 2)
    with pytest.raises(AnsibleFilterError, match="envoy_local_config: unknown setting"):
        filters.envoy_resources({"routes": []})
    with pytest.raises(AnsibleFilterError, match="unknown cluster 'x'"):
        filters.envoy_resources({"listeners": [{"name": "l", "port": 1, "cluster": "x"}]})
    assert filters.bad_networks(["10.0.0.0/8", "fd00::/8", "nope", "10.0.0.300"]) == ["nope", "10.0.0.300"]


def test_the_ads_bootstrap_presents_the_nodes_certificate_over_mutual_tls():
    bootstrap = filters.envoy_ads_bootstrap(
        "edge-1",
        "10.0.0.1",
        18000,
        9901,
        tls_ca="/etc/ca.pem",
        client_identity_dir="/etc/envoy/xds-client",
    )
    cluster = bootstrap["static_resources"]["clusters"][0]
    tls = cluster["transport_socket"]["typed_config"]["common_tls_context"]
    assert tls["validation_context"]["trusted_ca"] == {"filename": "/etc/ca.pem"}
    (secret_config,) = tls["tls_certificate_sds_secret_configs"]
    assert secret_config["sds_config"]["path_config_source"] == {
        "path": "/etc/envoy/xds-client/sds.json",
        "watched_directory": {"path": "/etc/envoy/xds-client"},
    }
    (secret,) = filters.xds_client_secret("/etc/envoy/xds-client")["resources"]
    assert secret["name"] == secret_config["name"]
    assert secret["tls_certificate"]["certificate_chain"] == {"filename": "/etc/envoy/xds-client/cert.pem"}
    assert secret["tls_certificate"]["private_key"] == {"filename": "/etc/envoy/xds-client/key.pem"}
    plaintext = filters.envoy_ads_bootstrap("edge-1", "10.0.0.1", 18000, 9901)
    assert "transport_socket" not in plaintext["static_resources"]["clusters"][0]
    with pytest.raises(AnsibleFilterError, match="a client identity goes only with tls_ca"):
        filters.envoy_ads_bootstrap(
            "edge-1", "10.0.0.1", 18000, 9901, client_identity_dir="/etc/envoy/xds-client"
        )


def test_the_sample_inventory_reaches_the_control_plane_over_mutual_tls():
    import yaml

    sample = yaml.safe_load((_PATH.parents[2] / "inventories/sample/group_vars/edge_nodes.yml").read_text())
    assert sample["envoy_config_source"] == "xds"
    assert sample["envoy_xds_tls_ca"]
    assert not sample.get("envoy_xds_insecure_plaintext", False)


def test_a_service_backed_cluster_takes_its_endpoints_over_eds_only_on_a_node_with_ads():
    local = filters.cluster_services_plan([{"service": "shop/web", "port": 80, "protocol": "http"}])
    resources = filters.envoy_resources(local["envoy_local_config"], ads=True)
    (cluster,) = resources["clusters"]
    assert cluster["name"] == "svc.shop.web.80"
    assert cluster["type"] == "EDS" and "ads" in cluster["eds_cluster_config"]["eds_config"]
    assert "load_assignment" not in cluster
    with pytest.raises(
        AnsibleFilterError, match=r"svc\.shop\.web\.80 take their endpoints from a Kubernetes"
    ):
        filters.envoy_resources(local["envoy_local_config"])
