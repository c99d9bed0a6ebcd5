"""Remote write credentials never appear in a run's output: not under --diff, not in a refusal."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import ROOT

SECRET = "remote-write-s3cret"


def run(tmp_path, remote_write: list[dict]) -> subprocess.CompletedProcess:
    extra = tmp_path / "extra.json"
    site_ca = tmp_path / "site-ca.crt"
    site_ca.write_text("a CA certificate\n")
    extra.write_text(
        json.dumps(
            {
                "prometheus_listen_address": "127.0.0.1:9090",
                "prometheus_remote_write_ca_file": str(site_ca),
                "prometheus_remote_write_ca_path": str(tmp_path / "remote-write-ca.crt"),
                "prometheus_config_file": str(tmp_path / "prometheus.yml"),
                "prometheus_rules_dir": str(tmp_path / "rules"),
                "prometheus_scrape_inventory": False,
                "prometheus_remote_write": remote_write,
            }
        )
    )
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "tests/integration/playbooks/prometheus_config.yml",
         "--check", "--diff", "-e", f"@{extra}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
             "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_the_configuration_s_credentials_are_not_shown_under_diff(tmp_path):
    credentials = {"basic_auth": {"username": "cloudlet", "password": SECRET}}
    proc = run(tmp_path, [{"url": "https://central.example:9090/api/v1/write", **credentials}])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The rules are shown (so --diff took effect), the configuration and its password are not.
    assert "edgewright.rules.yml" in proc.stdout and "EdgeNodeQuarantined" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
    assert not (tmp_path / "prometheus.yml").exists(), "check mode writes nothing"


def test_a_refused_remote_write_entry_does_not_print_its_credentials(tmp_path):
    proc = run(tmp_path, [{"url": "ftp://central.example/", "bearer_token": SECRET}])
    assert proc.returncode != 0
    assert 'needs url: http(s)://..., got "ftp://central.example/"' in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
