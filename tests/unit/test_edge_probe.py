"""edge_probe's pure parts: parsing what a node shows, and readiness levels with their reasons."""

from __future__ import annotations

import copy
from pathlib import Path

import edge_probe as ep
import pytest

READY = {
    "architecture": "x86_64",
    "cpu": {"count": 4, "model": "Cortex-A72"},
    "memory": {"total_mb": 4096, "available_mb": 2048},
    "disks": [],
    "root_free_mb": 10_000,
    "interfaces": [
        {
            "name": "eth0",
            "state": "up",
            "mtu": 1500,
            "mac": None,
            "kind": "wired",
            "speed_mbps": 1000,
            "addresses": ["10.231.30.11/24"],
        }
    ],
    "battery": {"present": False, "capacity_percent": None, "charging": None, "on_ac": None},
    "tpm": {"present": True, "kind": "virtual", "device": "swtpm:host=127.0.0.1,port=2321"},
    "artefacts": [
        {
            "name": "mesh daemon",
            "command": "wg",
            "path": "/usr/bin/wg",
            "version": "1.0.2021",
            "min_version": "1.0",
            "level": "mesh-ready",
        },
        {
            "name": "kubelet",
            "command": "kubelet",
            "path": "/usr/bin/kubelet",
            "version": "1.29.3",
            "min_version": "1.28",
            "level": "kube-ready",
        },
    ],
}
REQUIREMENTS = {
    "min_battery_percent": 20,
    "min_memory_available_mb": 64,
    "min_memory_total_mb": 512,
    "min_cpus": 1,
    "min_disk_free_mb": 1024,
}


def facts(**changes):
    f = copy.deepcopy(READY)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = f
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        target[leaf] = value
    return f


def test_a_complete_node_is_kube_ready():
    assert ep.readiness(READY, REQUIREMENTS) == ("kube-ready", {})


def test_missing_kubelet_stops_at_attestable():
    level, missing = ep.readiness(facts(artefacts__1__path=None), REQUIREMENTS)
    assert level == "attestable"
    assert missing == {"kube-ready": ["kubelet missing (kubelet not found)"]}


def test_low_battery_off_ac_is_not_mesh_ready_and_every_later_level_says_why():
    battery = {"present": True, "capacity_percent": 8, "charging": False, "on_ac": False}
    level, missing = ep.readiness(facts(battery=battery), REQUIREMENTS)
    assert level == "probed"
    reason = "battery at 8% below the 20% minimum, not on AC"
    assert missing == {"mesh-ready": [reason], "attestable": [reason], "kube-ready": [reason]}


def test_low_battery_on_ac_is_fine():
    battery = {"present": True, "capacity_percent": 8, "charging": True, "on_ac": True}
    assert ep.readiness(facts(battery=battery), REQUIREMENTS)[0] == "kube-ready"


def test_no_tpm_stops_at_mesh_ready():
    tpm = {"present": False, "kind": "virtual", "device": "swtpm:host=127.0.0.1,port=2321"}
    level, missing = ep.readiness(facts(tpm=tpm), REQUIREMENTS)
    assert level == "mesh-ready"
    assert missing["attestable"] == ["no TPM (swtpm:host=127.0.0.1,port=2321 does not answer)"]


def test_a_later_level_met_on_its_own_is_not_reached_past_a_failed_one():
    level, missing = ep.readiness(facts(artefacts__0__version="0.9"), REQUIREMENTS)
    assert level == "probed"
    assert missing["mesh-ready"] == ["mesh daemon 0.9 is below the minimum 1.0"]
    assert missing["kube-ready"] == ["mesh daemon 0.9 is below the minimum 1.0"]


def test_kube_ready_resources():
    f = facts(cpu={"count": 1, "model": None}, memory={"total_mb": 256, "available_mb": 100}, root_free_mb=10)
    level, missing = ep.readiness(f, {**REQUIREMENTS, "min_cpus": 2})
    assert level == "attestable"
    assert missing["kube-ready"] == [
        "1 CPUs, below the 2 minimum",
        "256 MiB memory, below the 512 MiB minimum",
        "10 MiB free on /, below the 1024 MiB minimum",
    ]


def test_no_network_address_is_not_mesh_ready():
    level, missing = ep.readiness(facts(interfaces__0__addresses=[]), REQUIREMENTS)
    assert (level, missing["mesh-ready"]) == ("probed", ["no network interface is up with an address"])


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ('tool="tpm2_quote" version="5.4" tctis="libtss2-tctildr"', "5.4"),
        ("wireguard-tools v1.0.20210914 - https://git.zx2c4.com/wireguard-tools/", "1.0.20210914"),
        ("Build name: yggdrasil\nBuild version: 0.4.7\n", "0.4.7"),
        ("Kubernetes v1.29.3", "1.29.3"),
        ("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1", "1.6.20"),
        ("envoy  version: 816188b86a0a52095b116b107f576324082c7c02/1.40.0/Clean/RELEASE/BoringSSL", "1.40.0"),
        ("no number", None),
    ],
)
def test_versions_from_tool_output(output, version):
    assert ep.parse_version(output) == version


@pytest.mark.parametrize(
    ("version", "minimum", "ok"),
    [
        ("1.29.3", "1.28", True),
        ("1.28", "1.28.0", True),
        ("1.9", "1.28", False),
        (None, "1.0", False),
        (None, None, True),
    ],
)
def test_version_comparison_is_numeric(version, minimum, ok):
    assert ep.version_at_least(version, minimum) is ok


def test_check_level_names_the_choices():
    with pytest.raises(ValueError, match="unknown readiness level 'cloud-ready': one of probed, mesh-ready"):
        ep.check_level("cloud-ready")
    assert ep.meets("attestable", "mesh-ready") and not ep.meets("mesh-ready", "kube-ready")


def write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_sysfs_battery_wireless_and_disks(tmp_path):
    """Reading a laptop-like /sys: the probe takes a root directory, so a written tree stands in for one."""
    write(tmp_path, "/sys/class/power_supply/BAT0/type", "Battery\n")
    write(tmp_path, "/sys/class/power_supply/BAT0/capacity", "8\n")
    write(tmp_path, "/sys/class/power_supply/BAT0/status", "Discharging\n")
    write(tmp_path, "/sys/class/power_supply/AC/type", "Mains\n")
    write(tmp_path, "/sys/class/power_supply/AC/online", "0\n")
    write(tmp_path, "/sys/class/net/wlan0/operstate", "up\n")
    write(tmp_path, "/sys/class/net/wlan0/mtu", "1500\n")
    write(tmp_path, "/sys/class/net/wlan0/speed", "-1\n")
    (tmp_path / "sys/class/net/wlan0/wireless").mkdir()
    write(tmp_path, "/sys/class/net/eth0/operstate", "down\n")
    write(tmp_path, "/sys/class/net/eth0/speed", "1000\n")
    write(tmp_path, "/sys/block/sda/size", str(2 * 1024 * 1024 * 64))  # 64 GiB in 512-byte sectors
    write(tmp_path, "/sys/block/sda/queue/rotational", "0\n")
    write(tmp_path, "/sys/block/loop0/size", "8\n")
    assert ep.gather_battery(str(tmp_path)) == {
        "present": True,
        "capacity_percent": 8,
        "charging": False,
        "on_ac": False,
    }
    interfaces = {i["name"]: i for i in ep.gather_interfaces(str(tmp_path), {"wlan0": ["192.0.2.7/24"]})}
    assert interfaces["wlan0"]["kind"] == "wireless" and interfaces["wlan0"]["speed_mbps"] is None
    assert interfaces["eth0"] == {
        "name": "eth0",
        "state": "down",
        "mtu": None,
        "mac": None,
        "kind": "wired",
        "speed_mbps": 1000,
        "addresses": [],
    }
    assert ep.gather_disks(str(tmp_path)) == [{"name": "sda", "size_mb": 65536, "rotational": False}]


def test_power_supplies_under_another_directory(tmp_path):
    """A node whose power supplies are elsewhere than /sys/class/power_supply (the lab's fake battery)."""
    write(tmp_path, "/run/supplies/BAT1/type", "Battery\n")
    write(tmp_path, "/run/supplies/BAT1/capacity", "55\n")
    write(tmp_path, "/run/supplies/BAT1/status", "Charging\n")
    write(tmp_path, "/sys/class/power_supply/BAT0/type", "Battery\n")
    write(tmp_path, "/sys/class/power_supply/BAT0/capacity", "3\n")
    battery = ep.gather_battery(str(tmp_path), "/run/supplies")
    assert battery == {"present": True, "capacity_percent": 55, "charging": True, "on_ac": None}
    assert ep.gather_battery(str(tmp_path / "nowhere"))["present"] is False


def test_what_a_later_step_provides_does_not_hold_the_node_back():
    """Before the roles install them, a missing artefact or virtual TPM counts only in the honest level."""
    bare = facts(artefacts__1__path=None, artefacts__1__version=None, tpm__present=False)
    assert ep.readiness(bare, REQUIREMENTS)[0] == "mesh-ready"
    assert ep.readiness(bare, REQUIREMENTS, provided=["kubelet", ep.PROVIDED_TPM]) == ("kube-ready", {})
    # Not what nobody provides: the TPM stays a reason.
    level, missing = ep.readiness(bare, REQUIREMENTS, provided=["kubelet"])
    assert level == "mesh-ready" and missing["attestable"] == [
        "no TPM (swtpm:host=127.0.0.1,port=2321 does not answer)"
    ]


def test_an_installed_artefact_below_its_minimum_holds_the_node_back_though_provided():
    old = facts(artefacts__0__version="0.9")
    level, missing = ep.readiness(old, REQUIREMENTS, provided=["mesh daemon"])
    assert level == "probed" and missing["mesh-ready"] == ["mesh daemon 0.9 is below the minimum 1.0"]


def test_hardware_the_run_cannot_fix_holds_the_node_back_though_everything_is_provided():
    low = facts(battery={"present": True, "capacity_percent": 5, "charging": False, "on_ac": False})
    everything = ["mesh daemon", "kubelet", ep.PROVIDED_TPM]
    level, missing = ep.readiness(low, REQUIREMENTS, provided=everything)
    assert level == "probed" and missing["mesh-ready"] == ["battery at 5% below the 20% minimum, not on AC"]


def test_meminfo_cpuinfo_and_ip_json():
    assert ep.parse_meminfo("MemTotal:  2048000 kB\nMemFree: 1 kB\nMemAvailable: 1024000 kB\n") == {
        "total_mb": 2000,
        "available_mb": 1000,
    }
    assert ep.parse_cpu_model("processor\t: 0\nmodel name\t: AMD EPYC\n") == "AMD EPYC"
    ip = (
        '[{"ifname":"lo","addr_info":[{"local":"127.0.0.1","prefixlen":8,"scope":"host"}]},'
        '{"ifname":"eth0","addr_info":[{"local":"10.231.30.11","prefixlen":24,"scope":"global"}]}]'
    )
    assert ep.parse_ip_json(ip) == {"lo": [], "eth0": ["10.231.30.11/24"]}


def test_no_tpm_device_and_no_virtual_tpm(tmp_path):
    assert ep.gather_tpm(str(tmp_path), None) == {"present": False, "kind": "none", "device": None}
    write(tmp_path, "/dev/tpmrm0", "")
    assert ep.gather_tpm(str(tmp_path), None)["kind"] == "hardware"


def test_record_leaves_out_momentary_values():
    battery = {"present": True, "capacity_percent": 55, "charging": True, "on_ac": True}
    rec = ep.record(facts(battery=battery), "kube-ready", {})
    assert "available_mb" not in rec["facts"]["memory"] and "capacity_percent" not in rec["facts"]["battery"]
    assert "root_free_mb" not in rec["facts"] and rec["level"] == "kube-ready"
