"""The mesh role's metrics probe (roles/mesh/files/mesh-metrics): peers read as data, pinged without a
shell, labels escaped for Prometheus's text format, the file replaced whole."""

from __future__ import annotations

import json
import os
import stat
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "roles" / "mesh" / "files" / "mesh-metrics"
_LOADER = SourceFileLoader("mesh_metrics_probe", str(_PATH))
probe = module_from_spec(spec_from_loader("mesh_metrics_probe", _LOADER))
_LOADER.exec_module(probe)


@pytest.fixture
def fake_ping(tmp_path, monkeypatch):
    """A `ping` first on PATH that records its arguments and answers for 200::1 only."""
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ping = bin_dir / "ping"
    ping.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a"; done >> {calls}\necho --- >> {calls}\n'
        'test "$7" = 200::1\n'
    )
    ping.chmod(ping.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return calls


def test_labels_are_escaped_for_the_text_format():
    text = probe.exposition('z"1', False, {'a\\b"}\nevil 1': 1})
    assert 'edgewright_mesh_peer_reachable{zone="z\\"1",peer="a\\\\b\\"}\\nevil 1"} 1' in text
    assert "\nevil 1" not in text
    assert text.endswith('edgewright_mesh_cluster_head{zone="z\\"1"} 0\n')


def test_a_peer_address_is_one_argument_and_never_a_command(fake_ping, tmp_path):
    marker = tmp_path / "x"
    assert probe.reachable("200::1") == 1
    assert probe.reachable(f"$(touch {marker})") == 0
    assert probe.reachable("200::1; touch x") == 0
    assert probe.reachable("202::2") == 0
    assert not marker.exists()
    runs = fake_ping.read_text().split("---\n")[:-1]
    assert [r.split() for r in runs] == [
        ["-n", "-q", "-c", "1", "-W", "2", "200::1"],
        ["-n", "-q", "-c", "1", "-W", "2", "202::2"],
    ]


def test_the_probe_writes_its_file_whole_from_the_peer_list(fake_ping, tmp_path):
    peers = tmp_path / "peers.json"
    peers.write_text(
        json.dumps(
            {
                "zone": "default",
                "head": True,
                "peers": [{"name": "msh-2", "address": "200::1"}, {"name": "msh-3", "address": "202::2"}],
            }
        )
    )
    out = tmp_path / "out"
    out.mkdir()
    assert probe.main(["mesh-metrics", str(peers), str(out)]) == 0
    assert sorted(os.listdir(out)) == ["edgewright_mesh.prom"]
    lines = (out / "edgewright_mesh.prom").read_text().splitlines()
    assert 'edgewright_mesh_peer_reachable{zone="default",peer="msh-2"} 1' in lines
    assert 'edgewright_mesh_peer_reachable{zone="default",peer="msh-3"} 0' in lines
    assert 'edgewright_mesh_cluster_head{zone="default"} 1' in lines
    assert oct((out / "edgewright_mesh.prom").stat().st_mode & 0o777) == "0o644"


def test_wrong_usage_is_named(capsys):
    assert probe.main(["mesh-metrics"]) == 2
    assert "Usage: mesh-metrics PEERS_JSON OUTPUT_DIR" in capsys.readouterr().err
