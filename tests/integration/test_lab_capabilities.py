"""The proof that this machine can run the lab, against real podman: what it says when a capability is there,
and when it is not (a network without DNS, a missing TUN device, a runtime other than runc)."""

from __future__ import annotations

import pytest
from conftest import edgewright

from edgewright.lab import capabilities, podman

pytestmark = pytest.mark.lab


def leftovers() -> str:
    label = f"label={capabilities.CHECK_LABEL}"
    return podman.text(["ps", "--all", "--filter", label, "--format", "{{.Names}}"]) + podman.text(
        ["network", "ls", "--filter", label, "--format", "{{.Name}}"]
    )


def test_every_capability_is_proven_here_and_nothing_is_left_behind():
    result = edgewright("lab", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok      rootful podman with runc",
        "ok      TUN device",
        "ok      container name resolution",
    ]
    assert "-target resolves to " in lines[2]
    assert leftovers() == ""


def test_a_network_without_dns_is_reported_with_the_package_that_provides_it():
    # What a fresh machine's podman gives without the dnsname plugin: a network with dns_enabled false.
    result = capabilities.container_dns(network_options=("--disable-dns",))
    assert not result.ok
    assert "cannot resolve another by name (dns_enabled: False)" in result.detail
    assert "golang-github-containernetworking-plugin-dnsname" in result.line()
    assert leftovers() == ""


def test_a_missing_tun_device_is_reported(tmp_path):
    result = capabilities.tun_device(device=str(tmp_path / "tun"))
    assert not result.ok
    assert "No such file or directory" in result.detail
    assert "modprobe tun" in result.remedy


def test_a_runtime_other_than_runc_is_reported(tmp_path, monkeypatch):
    conf = tmp_path / "containers.conf"
    conf.write_text('[engine]\nruntime = "crun"\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))
    result = capabilities.rootful_podman()
    if result.ok:
        pytest.fail(f"podman with runtime crun was taken for runc: {result.detail}")
    assert "not runc" in result.detail or "podman info failed" in result.detail
    assert "runc" in result.remedy
