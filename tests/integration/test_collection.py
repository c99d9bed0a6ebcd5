"""The edgewright.edge collection as a site gets it: built from this tree by `edgewright collection build`,
installed by `ansible-galaxy collection install` into a fresh directory, and used by a site's playbook
(tests/integration/collection/site.yml) run from a directory of the site's own, where no ansible.cfg or
path of this project reaches, with the controller as its one edge node. No lab, no podman: the node-side
modules run on this machine's /usr/bin/python3 and write only into the site's directory."""

from __future__ import annotations

import io
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.ansible_inventory import plain

ROOT = Path(__file__).resolve().parents[2]
VERSION = yaml.safe_load((ROOT / "collection" / "galaxy.yml").read_text())["version"]
PLAYBOOK = Path(__file__).parent / "collection" / "site.yml"
NODE = "edge-a"


def stems(directory: Path) -> set[str]:
    return {path.stem for path in directory.glob("*.py") if path.stem != "__init__"}


@dataclass(frozen=True)
class Site:
    """A site's directory (its inventory, playbook and what they write) and the environment its Ansible
    runs in: the collection from COLLECTIONS only, no configuration of this project."""

    home: Path
    collections: Path
    state: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        binary = str(Path(sys.executable).with_name(args[0]))
        proc = subprocess.run(
            [binary, *args[1:]], cwd=self.home, env=self.env, capture_output=True, text=True, timeout=300
        )
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
        return proc

    def playbook(self) -> dict:
        """The site's playbook run once; its per-host statistics (the json callback's)."""
        proc = self.run("ansible-playbook", "-i", "hosts.yml", "site.yml", check=False)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            pytest.fail(f"site.yml printed no result:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
        if proc.returncode != 0:
            failed = [
                {"task": task["task"]["name"], "msg": outcome.get("msg")}
                for play in result["plays"]
                for task in play["tasks"]
                for outcome in task["hosts"].values()
                if outcome.get("failed")
            ]
            pytest.fail(f"site.yml failed: {failed}\n{proc.stderr[-3000:]}")
        return result["stats"][NODE]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    """The collection, built as an operator builds it."""
    out = tmp_path_factory.mktemp("collection-dist")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "edgewright.cli", "collection", "build", "--output", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    print(f"\ncollection build: {time.monotonic() - started:.1f} s")
    built = Path(proc.stdout.strip())
    assert built == out / f"edgewright-edge-{VERSION}.tar.gz" and built.is_file()
    return built


@pytest.fixture(scope="module")
def site(tmp_path_factory, tarball) -> Site:
    """A site with the collection installed into a fresh directory, and its inventory: the controller as
    edge-a, a battery on AC power under a power-supply directory of the site's."""
    base = tmp_path_factory.mktemp("collection-site")
    home, collections, state = base / "site", base / "collections", base / "state"
    home.mkdir()
    for supply, files in {
        "AC": {"type": "Mains", "online": "1"},
        "BAT0": {"type": "Battery", "capacity": "80", "status": "Charging"},
    }.items():
        (base / "power" / supply).mkdir(parents=True)
        for name, value in files.items():
            (base / "power" / supply / name).write_text(value + "\n")
    inventory = {
        "edge_nodes": {
            "hosts": {
                NODE: {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
            },
            "vars": {
                "site_dir": str(home),
                "edgewright_state_dir": str(state),
                "edgewright_power_supply_dir": str(base / "power"),
            },
        }
    }
    (home / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (home / "site.yml").write_text(PLAYBOOK.read_text())
    # The site's own settings, and none of this project's: the collection is the only edgewright content.
    (home / "ansible.cfg").write_text("[defaults]\nstdout_callback = ansible.posix.json\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env |= {
        "ANSIBLE_CONFIG": str(home / "ansible.cfg"),
        "ANSIBLE_HOME": str(base / "ansible-home"),
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_NOCOLOR": "1",
        # The controller-side plugins import this tree's edgewright package (`pip install edgewright`).
        "PYTHONPATH": str(ROOT),
    }
    site = Site(home=home, collections=collections, state=state, env=env)
    started = time.monotonic()
    site.run("ansible-galaxy", "collection", "install", "--offline", str(tarball))
    print(f"\ncollection install: {time.monotonic() - started:.1f} s")
    assert (collections / "ansible_collections" / "edgewright" / "edge" / "MANIFEST.json").is_file()
    return site


def test_the_tarball_holds_every_part_of_the_tree_and_nothing_else(tarball):
    with tarfile.open(tarball) as archive:
        members = {member.name: member for member in archive.getmembers()}
        texts = {
            name: archive.extractfile(member).read() for name, member in members.items() if member.isfile()
        }
    names = set(members)
    expected = {f"plugins/modules/{name}.py" for name in stems(ROOT / "library")}
    for kind in ("action", "filter", "inventory", "module_utils"):
        expected |= {f"plugins/{kind}/{name}.py" for name in stems(ROOT / "plugins" / kind)}
    expected |= {f"roles/{role.name}/meta/main.yml" for role in (ROOT / "roles").iterdir()}
    expected |= {f"playbooks/{path.name}" for path in (ROOT / "playbooks").glob("*.yml")}
    expected |= {"MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "requirements.txt"}
    assert not expected - names, f"the collection lacks {sorted(expected - names)}"
    # No tests, caches, lab inventories, package builds or hidden files of the tree.
    unwanted = re.compile(
        r"(^|/)(tests|molecule|__pycache__|inventories|edgewright|stacks|build|[^/]*\.egg-info|\.[^/]+)(/|$)"
        r"|\.pyc$"
    )
    assert not [name for name in names if unwanted.search(name)]
    # No secrets: no private key, nothing that names the controller's own state or this machine's lab.
    assert not [name for name, text in texts.items() if b"PRIVATE KEY-----" in text]
    assert not [name for name in names if name.endswith((".key", ".kubeconfig", "known_hosts"))]
    assert texts["requirements.txt"].decode() == f"edgewright=={VERSION}\n"
    manifest = json.load(io.BytesIO(texts["MANIFEST.json"]))["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("edgewright", "edge", VERSION)


def test_a_site_playbook_uses_roles_modules_plugins_and_filters_by_their_names(site):
    stats = site.playbook()
    assert stats["failures"] == 0 and stats["unreachable"] == 0

    # device_probe (a role, with edgewright_defaults as its dependency): the node-side edge_probe module and
    # its module_utils read the site's power supplies; the edge_probe_report action plugin kept the report
    # in the site's state directory on the controller.
    report = json.loads((site.state / "devices" / f"{NODE}.json").read_text())
    processors = len(re.findall(r"^processor\s*:", Path("/proc/cpuinfo").read_text(), re.M))
    assert report["facts"]["cpu"]["count"] == processors
    assert report["facts"]["architecture"] == platform.machine()
    assert report["facts"]["battery"] == {"present": True, "charging": True, "on_ac": True}
    # edge_stage (module_utils edgewright_lifecycle), from the role under the play's module_defaults and by
    # its name in a task: both stages recorded in the site's directory.
    lifecycle = json.loads((site.home / "lifecycle.json").read_text())
    assert lifecycle["stage"] == "probed" and set(lifecycle["stages"]) == {"baseline", "probed"}

    results = json.loads((site.home / "results.json").read_text())
    assert results["readiness"] == report["level"]
    # mesh_election (an action plugin): the probed node is the head, the near-empty battery is not
    # eligible; the record is on the controller.
    assert results["heads"] == {"default": [NODE]}
    assert "5%" in results["ineligible"]["edge-battery"]
    overlay = json.loads((site.state / "mesh" / "overlay.json").read_text())
    assert sorted(overlay["nodes"]) == sorted([NODE, "edge-battery"])
    # mesh_endpoints (a filter) over the election's record.
    assert results["endpoints"] == ["192.0.2.12:9001", "192.0.2.11:9001"]
    # The loadbalancer role's plan, through its own filter (edgewright_lb_plan): shop's tcp:80 is taken by
    # web, so it is remapped to the first free port.
    public = {(m["app"], m["protocol"], m["internal"]): m["public"] for m in results["port_map"]["mappings"]}
    assert public == {("web", "tcp", 80): 80, ("shop", "tcp", 80): 10000, ("shop", "udp", 53): 53}

    # A second run changes nothing.
    assert site.playbook()["changed"] == 0


def test_the_lifecycle_playbooks_resolve_every_role_and_module_in_the_collection(site):
    # A syntax check loads every play, its roles and their statically imported tasks, so a role, module
    # or module_defaults entry that does not resolve in the collection fails here.
    playbooks = sorted(path.stem for path in (ROOT / "playbooks").glob("*.yml") if path.stem.isidentifier())
    assert {"site", "scale", "decommission", "revoke"} <= set(playbooks)
    site.run(
        "ansible-playbook",
        "-i",
        "hosts.yml",
        "--syntax-check",
        *(f"edgewright.edge.{name}" for name in playbooks),
    )


def test_ansible_doc_documents_every_module_and_role(site):
    modules = json.loads(site.run("ansible-doc", "-l", "-j", "edgewright.edge").stdout)
    assert set(modules) == {f"edgewright.edge.{name}" for name in stems(ROOT / "library")}
    roles = json.loads(site.run("ansible-doc", "-t", "role", "-l", "-j", "edgewright.edge").stdout)
    assert {name.removeprefix("edgewright.edge.") for name in roles} == {
        path.name for path in (ROOT / "roles").iterdir()
    }


def test_the_inventory_plugin_reads_a_cloudlet_by_its_collection_name(site):
    outputs = {
        "cloudlet": {
            "name": "berlin-1",
            "orchestrator": "openstack",
            "kubernetes": {
                "endpoint": "https://192.0.2.40:6443",
                "nodes": [{"name": "berlin-1-k8s-1", "role": "kube_node", "address": "192.0.2.41"}],
            },
            "rootLb": {
                "name": "berlin-1-rootlb",
                "publicIp": "198.51.100.10",
                "vip": "192.0.2.10",
                "portMap": {"version": 1, "mappings": []},
                "hosts": [{"name": "berlin-1-rootlb-1", "role": "root_lb", "address": "192.0.2.11"}],
            },
            "dedicatedLbs": [],
            "platform": {
                "hosts": [{"name": "berlin-1-platform", "role": "platform", "address": "192.0.2.50"}]
            },
        }
    }
    (site.home / "berlin-1.outputs.json").write_text(json.dumps(outputs))
    (site.home / "berlin-1.edgewright_cloudlet.yml").write_text(
        "plugin: edgewright.edge.edgewright_cloudlet\noutputs_file: berlin-1.outputs.json\n"
    )
    listing = plain(
        json.loads(site.run("ansible-inventory", "-i", "berlin-1.edgewright_cloudlet.yml", "--list").stdout)
    )
    assert listing["root_lb"]["hosts"] == ["berlin-1-rootlb-1"]
    assert listing["kube_nodes"]["hosts"] == ["berlin-1-k8s-1"]
    host = listing["_meta"]["hostvars"]["berlin-1-rootlb-1"]
    assert host["ansible_host"] == "192.0.2.11" and host["edgewright_vip"] == "192.0.2.10"
