"""Label and taint checks: what the API server would refuse is named before anything changes."""

from __future__ import annotations

import pytest

from plugins.filter.kube import FilterModule, cluster_dns_problems, label_problems, taint_problems


def test_valid_labels_pass():
    assert (
        label_problems(
            {
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": "lab-a",
                "edgewright.io/attested": "true",
                "plain": "",
                "x_y.z": "A-1_b.2",
            }
        )
        == []
    )


@pytest.mark.parametrize(
    "labels,problem",
    [
        ({"edgewright.io/": "x"}, "name part"),
        ({"Edgewright.IO/zone": "x"}, "not a DNS subdomain"),
        ({"/zone": "x"}, "not a DNS subdomain"),
        ({"bad key": "x"}, "name part"),
        ({"k" * 64: "x"}, "name part"),
        ({"zone": "has space"}, "value 'has space'"),
        ({"zone": "-lead"}, "value '-lead'"),
        ({"zone": "v" * 64}, "at most 63"),
        ({"zone": 3}, "value 3"),
        ({"": "x"}, "non-empty"),
    ],
)
def test_invalid_labels_are_named(labels, problem):
    problems = label_problems(labels)
    assert len(problems) == 1
    assert problem in problems[0]


def test_labels_must_be_a_mapping():
    assert "mapping" in label_problems(["a=b"])[0]


def test_taints_need_a_known_effect_and_a_valid_key():
    assert (
        taint_problems([{"key": "edgewright.io/battery-powered", "value": "true", "effect": "NoSchedule"}])
        == []
    )
    assert "effect 'Sometimes'" in taint_problems([{"key": "a", "effect": "Sometimes"}])[0]
    assert "needs at least a key and an effect" in taint_problems([{"key": "a"}])[0]
    assert "name part" in taint_problems([{"key": "a b", "effect": "NoExecute"}])[0]


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "kube_label_problems",
        "kube_taint_problems",
        "kube_cluster_dns_problems",
    }


def test_cluster_dns_settings_of_the_lab_pass():
    assert cluster_dns_problems("10.96.0.10", "cluster.local", "10.96.0.0/16", ["10.231.150.1"]) == []


@pytest.mark.parametrize(
    "address,domain,upstreams,problem",
    [
        ("10.97.0.10", "cluster.local", [], "cluster_dns_address 10.97.0.10 is not in the service range"),
        ("dns", "cluster.local", [], "cluster_dns_address 'dns' is not an IP address"),
        (
            "10.96.0.10",
            "cluster.local {\n}",
            [],
            "cluster_dns_domain 'cluster.local {\\n}' is not a DNS name",
        ),
        # Anything but an address would be Corefile text.
        ("10.96.0.10", "cluster.local", ["1.1.1.1 {"], "cluster_dns_upstreams: '1.1.1.1 {' is not an IP"),
        ("10.96.0.10", "cluster.local", "1.1.1.1", "must be a list of IP addresses"),
    ],
)
def test_bad_cluster_dns_settings_are_named(address, domain, upstreams, problem):
    problems = cluster_dns_problems(address, domain, "10.96.0.0/16", upstreams)
    assert any(problem in p for p in problems), problems
