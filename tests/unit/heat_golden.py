"""The restricted-access Heat cases and their golden files (tests/unit/golden/heat/), which only this
program writes: after an intended change, `python -m tests.unit.heat_golden` renders them again and the
diff shows what changed. The tests compare against the files and never write them."""

from __future__ import annotations

from pathlib import Path

from edgewright.cloudlet.backends.openstack import OpenStackSettings
from edgewright.cloudlet.backends.openstack.heat import render_artefacts
from edgewright.cloudlet.config import parse_cloudlet
from edgewright.cloudlet.plan import plan_cloudlet

GOLDEN = Path(__file__).parent / "golden" / "heat"
SETTINGS = OpenStackSettings.parse(
    {"externalNetwork": "provider-ext", "image": "debian-12", "flavor": "m1.large"}
)
APPS = [
    {"name": "web", "ports": "tcp:80,tcp:443"},
    {"name": "api", "ports": "tcp:443,udp:5000-5002"},
    {"name": "iot", "ports": "udp:5683", "dedicatedLb": True},
]
CASES = {
    "none-vip": {"dataPath": "none", "redundancy": "vip"},
    "router-single": {"dataPath": "router", "redundancy": "single"},
    "floating-vip": {"dataPath": "floating_ip", "redundancy": "vip"},
}


def render(case: str) -> dict[str, str]:
    cloudlet = {
        "name": "hamburg-1",
        "access": "restricted",
        "clusterSize": 2,
        "publicIps": ["198.51.100.30", "198.51.100.31"],
        "apps": APPS,
        **CASES[case],
    }
    return render_artefacts(plan_cloudlet(parse_cloudlet("openstack", cloudlet)), SETTINGS)


def write_golden() -> None:
    for case in sorted(CASES):
        for name, text in render(case).items():
            golden = GOLDEN / case / name
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
            print(golden)


if __name__ == "__main__":
    write_golden()
