"""Node-side device probing and readiness (stdlib only).

Gathering reads the node's /proc, /sys and /dev under a root directory (so it can be pointed at a copy);
`readiness` is a pure function from the gathered facts and the requirements to a level and its reasons.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess

# The levels a node climbs, in order; each includes the ones before it.
LEVELS = ("probed", "mesh-ready", "attestable", "kube-ready")
VERSION_PATTERN = re.compile(r"\d+(?:\.\d+)*")
# Where a tool's output says "version", the number after it; else the first dotted number.
LABELLED_VERSION = re.compile(r"version\W{0,3}v?(\d+(?:\.\d+)*)(?!\w)", re.I)
DOTTED_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+)")


def _read(root, path, default=None):
    try:
        with open(os.path.join(root, path.lstrip("/"))) as f:
            return f.read().strip()
    except OSError:
        return default


def _int(text, default=None):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def parse_meminfo(text):
    """MemTotal and MemAvailable of /proc/meminfo, in MiB."""
    values = {}
    for line in (text or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) // 1024
    return {"total_mb": values.get("MemTotal"), "available_mb": values.get("MemAvailable")}


def parse_cpu_model(cpuinfo):
    for line in (cpuinfo or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
            return value.strip()
    return None


def parse_version(text):
    """The first dotted number in a tool's version output, e.g. '5.4' from 'tool="tpm2_quote" version="5.4"'."""
    match = LABELLED_VERSION.search(text or "") or DOTTED_VERSION.search(text or "")
    return match.group(1) if match else None


def version_tuple(version):
    return tuple(int(p) for p in version.split("."))


def version_at_least(version, minimum):
    if not minimum:
        return True
    if not version:
        return False
    a, b = version_tuple(version), version_tuple(str(minimum))
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) >= b + (0,) * (width - len(b))


def gather_cpu(root):
    count = len(re.findall(r"^processor\s*:", _read(root, "/proc/cpuinfo", ""), re.M)) or os.cpu_count()
    return {"count": count, "model": parse_cpu_model(_read(root, "/proc/cpuinfo"))}


def gather_disks(root):
    disks = []
    block = os.path.join(root, "sys/block")
    for name in sorted(os.listdir(block)) if os.path.isdir(block) else []:
        if name.startswith(("loop", "ram", "zram", "dm-", "sr")):
            continue
        sectors = _int(_read(root, f"/sys/block/{name}/size"), 0)
        disks.append(
            {
                "name": name,
                "size_mb": sectors * 512 // (1 << 20),
                "rotational": _read(root, f"/sys/block/{name}/queue/rotational") == "1",
            }
        )
    return disks


def gather_interfaces(root, addresses):
    interfaces = []
    net = os.path.join(root, "sys/class/net")
    for name in sorted(os.listdir(net)) if os.path.isdir(net) else []:
        if name == "lo":
            continue
        base = f"/sys/class/net/{name}"
        wireless = os.path.isdir(os.path.join(root, base.lstrip("/"), "wireless")) or os.path.exists(
            os.path.join(root, base.lstrip("/"), "phy80211")
        )
        speed = _int(_read(root, f"{base}/speed"))
        interfaces.append(
            {
                "name": name,
                "state": _read(root, f"{base}/operstate", "unknown"),
                "mtu": _int(_read(root, f"{base}/mtu")),
                "mac": _read(root, f"{base}/address"),
                "kind": "wireless" if wireless else "wired",
                "speed_mbps": speed if speed and speed > 0 else None,
                "addresses": addresses.get(name, []),
            }
        )
    return interfaces


def parse_ip_json(text):
    """Interface name -> its addresses (CIDR) from `ip -j addr show`."""
    try:
        entries = json.loads(text or "[]")
    except ValueError:
        return {}
    return {
        e["ifname"]: [
            f"{a['local']}/{a['prefixlen']}" for a in e.get("addr_info", []) if a.get("scope") != "host"
        ]
        for e in entries
        if "ifname" in e
    }


def gather_addresses():
    if shutil.which("ip") is None:
        return {}
    proc = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, check=False)
    return parse_ip_json(proc.stdout)


def gather_battery(root, power_supply_dir="/sys/class/power_supply"):
    """The first battery's state, and whether any mains supply is online, from the power supplies (sysfs's
    power_supply class) under POWER_SUPPLY_DIR."""
    supplies = os.path.join(root, power_supply_dir.lstrip("/"))
    names = sorted(os.listdir(supplies)) if os.path.isdir(supplies) else []
    battery = {"present": False, "capacity_percent": None, "charging": None, "on_ac": None}
    for name in names:
        base = f"{power_supply_dir.rstrip('/')}/{name}"
        kind = _read(root, f"{base}/type")
        if kind == "Battery" and not battery["present"]:
            status = _read(root, f"{base}/status", "Unknown")
            battery.update(
                present=True,
                capacity_percent=_int(_read(root, f"{base}/capacity")),
                charging=status in ("Charging", "Full"),
            )
        elif kind in ("Mains", "USB"):
            online = _read(root, f"{base}/online") == "1"
            battery["on_ac"] = bool(battery["on_ac"]) or online
    return battery


def tcti_endpoint(tcti):
    """(host, port) of a swtpm/mssim TCTI string, else None."""
    match = re.match(r"^(?:swtpm|mssim):(?:.*?host=([^,]+))?(?:.*?port=(\d+))?", tcti or "")
    if not match:
        return None
    return match.group(1) or "127.0.0.1", int(match.group(2) or 2321)


def gather_tpm(root, tcti):
    for device in ("/dev/tpmrm0", "/dev/tpm0"):
        if os.path.exists(os.path.join(root, device.lstrip("/"))):
            return {"present": True, "kind": "hardware", "device": device}
    endpoint = tcti_endpoint(tcti)
    if endpoint:
        with socket.socket() as s:
            s.settimeout(1.0)
            if s.connect_ex(endpoint) == 0:
                return {"present": True, "kind": "virtual", "device": tcti}
        return {"present": False, "kind": "virtual", "device": tcti}
    return {"present": False, "kind": "none", "device": None}


def gather_artefact(spec):
    """Whether a required binary is there and its version."""
    found = (
        shutil.which(spec["command"])
        if not os.path.isabs(spec["command"])
        else (spec["command"] if os.access(spec["command"], os.X_OK) else None)
    )
    version = None
    if found:
        args = spec.get("version_args") or ["--version"]
        try:
            proc = subprocess.run([found, *args], capture_output=True, text=True, timeout=10, check=False)
            version = parse_version(proc.stdout + proc.stderr)
        except (OSError, subprocess.TimeoutExpired):
            version = None
    return {
        "name": spec["name"],
        "command": spec["command"],
        "path": found,
        "version": version,
        "min_version": spec.get("min_version"),
        "level": spec["level"],
    }


def gather(artefacts, tpm_tcti=None, root="/", power_supply_dir="/sys/class/power_supply"):
    """Everything probed about the node."""
    return {
        "architecture": platform.machine(),
        "cpu": gather_cpu(root),
        "memory": parse_meminfo(_read(root, "/proc/meminfo")),
        "disks": gather_disks(root),
        "root_free_mb": _root_free_mb(root),
        "interfaces": gather_interfaces(root, gather_addresses() if root == "/" else {}),
        "battery": gather_battery(root, power_supply_dir),
        "tpm": gather_tpm(root, tpm_tcti),
        "artefacts": [gather_artefact(a) for a in artefacts],
    }


def _root_free_mb(root):
    st = os.statvfs(root)
    return st.f_bavail * st.f_frsize // (1 << 20)


# In `provided`, the name that stands for a virtual TPM the run itself starts (the tpm role's swtpm).
PROVIDED_TPM = "TPM"


def level_reasons(facts, requirements, provided=()):
    """Per level, why the node does not meet that level's own conditions (empty list: it does). What
    PROVIDED names (artefacts by name, PROVIDED_TPM) a later step installs: its absence is no reason, an
    installed artefact below its minimum version still is."""
    reasons = {level: [] for level in LEVELS}
    for artefact in facts["artefacts"]:
        level = artefact["level"]
        if artefact["path"] is None and artefact["name"] in provided:
            continue
        if artefact["path"] is None:
            reasons[level].append(f"{artefact['name']} missing ({artefact['command']} not found)")
        elif not version_at_least(artefact["version"], artefact.get("min_version")):
            reasons[level].append(
                f"{artefact['name']} {artefact['version'] or 'of unknown version'} "
                f"is below the minimum {artefact['min_version']}"
            )
    mesh = reasons["mesh-ready"]
    if not any(i["state"] in ("up", "unknown") and i["addresses"] for i in facts["interfaces"]):
        mesh.append("no network interface is up with an address")
    battery, min_battery = facts["battery"], requirements.get("min_battery_percent", 0)
    if (
        battery["present"]
        and not battery["on_ac"]
        and battery["capacity_percent"] is not None
        and battery["capacity_percent"] < min_battery
    ):
        mesh.append(f"battery at {battery['capacity_percent']}% below the {min_battery}% minimum, not on AC")
    available, min_available = facts["memory"]["available_mb"], requirements.get("min_memory_available_mb", 0)
    if available is not None and available < min_available:
        mesh.append(f"{available} MiB memory available, below the {min_available} MiB minimum")
    if not facts["tpm"]["present"] and PROVIDED_TPM not in provided:
        where = f" ({facts['tpm']['device']} does not answer)" if facts["tpm"]["device"] else ""
        reasons["attestable"].append(f"no TPM{where}")
    kube = reasons["kube-ready"]
    if facts["cpu"]["count"] < requirements.get("min_cpus", 1):
        kube.append(f"{facts['cpu']['count']} CPUs, below the {requirements['min_cpus']} minimum")
    total, min_total = facts["memory"]["total_mb"], requirements.get("min_memory_total_mb", 0)
    if total is not None and total < min_total:
        kube.append(f"{total} MiB memory, below the {min_total} MiB minimum")
    min_disk = requirements.get("min_disk_free_mb", 0)
    if facts["root_free_mb"] < min_disk:
        kube.append(f"{facts['root_free_mb']} MiB free on /, below the {min_disk} MiB minimum")
    return reasons


def readiness(facts, requirements, provided=()):
    """(level reached, {level not reached: [reasons]}): a level is reached when it and every level before
    it meet their conditions; each level not reached lists its own reasons and those it inherits. With
    PROVIDED (see level_reasons), the level the node reaches once a later step installs those."""
    own = level_reasons(facts, requirements, provided)
    reached, missing, inherited = LEVELS[0], {}, []
    for level in LEVELS[1:]:
        inherited = inherited + own[level]
        if inherited:
            missing[level] = list(inherited)
        elif not missing:
            reached = level
    return reached, missing


def check_level(level):
    if level not in LEVELS:
        raise ValueError(f"unknown readiness level {level!r}: one of {', '.join(LEVELS)}")
    return level


def meets(reached, required):
    return LEVELS.index(reached) >= LEVELS.index(check_level(required))


def record(facts, level, missing):
    """The part of a report that changes only when the node does (not free memory or battery charge)."""
    stable = json.loads(json.dumps(facts))
    stable["memory"].pop("available_mb", None)
    stable.pop("root_free_mb", None)
    stable["battery"].pop("capacity_percent", None)
    return {"level": level, "missing": missing, "facts": stable}
