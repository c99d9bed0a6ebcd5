"""The alert rules, rendered as the prometheus role renders them, checked and unit-tested by real promtool."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

from edgewright.controller.dirs import Directories

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "prometheus"
TESTS = Path(__file__).with_name("prometheus")


def promtool() -> str:
    cached = (
        Directories.from_environment().home / "prometheus" / "bin" / "promtool"
    )  # where scripts/setup.d/70-metrics.sh puts it
    exe = os.environ.get("EDGEWRIGHT_PROMTOOL") or shutil.which("promtool") or str(cached)
    if not exe or not Path(exe).exists():
        pytest.skip("promtool is missing: run scripts/setup (scripts/setup.d/70-metrics.sh)")
    return exe


def render_rules(overrides: dict | None = None) -> str:
    """The rules file as the role's template task renders it ([[ ]] delimiters), with the role's defaults."""
    settings = {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()), **(overrides or {})}
    env = jinja2.Environment(
        variable_start_string="[[", variable_end_string="]]", undefined=jinja2.StrictUndefined
    )
    template = env.from_string((ROLE / "templates" / "edgewright.rules.yml.j2").read_text())
    return template.render(**settings)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, check=False)


def test_rules_pass_promtool_check(tmp_path):
    rules = tmp_path / "edgewright.rules.yml"
    rules.write_text(render_rules())
    proc = run("check", "rules", str(rules))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 12 rules found" in proc.stdout


def test_alerts_fire_and_stay_quiet_as_the_unit_tests_expect(tmp_path):
    (tmp_path / "edgewright.rules.yml").write_text(render_rules())
    shutil.copy(TESTS / "edgewright.rules.test.yml", tmp_path)
    proc = run("test", "rules", str(tmp_path / "edgewright.rules.test.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_the_unit_tests_can_fail(tmp_path):
    # With a longer grace period the LB is not yet reported down when the tests expect it: promtool says so.
    (tmp_path / "edgewright.rules.yml").write_text(
        render_rules(
            {
                "prometheus_alert_for": {
                    **yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["prometheus_alert_for"],
                    "lb_down": "5m",
                }
            }
        )
    )
    shutil.copy(TESTS / "edgewright.rules.test.yml", tmp_path)
    proc = run("test", "rules", str(tmp_path / "edgewright.rules.test.yml"))
    assert proc.returncode != 0
    assert "LoadBalancerDown" in proc.stdout + proc.stderr


def test_a_broken_rule_is_rejected(tmp_path):
    rules = tmp_path / "broken.rules.yml"
    rules.write_text(render_rules().replace('up{job="vip"} == 0', 'up{job="vip" == 0'))
    proc = run("check", "rules", str(rules))
    assert proc.returncode != 0
    assert "LoadBalancerVipDown" in proc.stdout + proc.stderr or "parse error" in proc.stdout + proc.stderr
