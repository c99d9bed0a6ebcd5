"""LIVE: the real Pulumi CLI brings the vSphere stack (stacks/Pulumi.vsphere-lab.yaml) up against vcsim,
runs it again, changes it, repairs drift and destroys it -- engine, language host, dynamic providers,
state and secrets all real, with a local file backend and no network (it passes in a network namespace
holding only loopback).

scripts/setup.d/50-pulumi.sh builds the CLI (and installs the Python language host and the dynamic
provider launcher beside it); without it this module is skipped. vcsim: scripts/setup.d/30-vsphere.sh.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pyVmomi import vim

from edgewright.cloudlet.backends.vsphere.providers import (
    Connection,
    find_datacenter,
    find_folder,
    session,
    wait,
)
from edgewright.controller.dirs import Directories
from tests.ansible_inventory import ansible_inventory, plain
from tests.vcsim import running_vcsim

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "stacks"
STACK_CONFIG = PROJECT / "Pulumi.vsphere-lab.yaml"
LANGUAGE_HOST = ROOT / "tools" / "pulumi" / "pulumi_language_python.py"
STACK = "vsphere-lab"
COMMAND_TIMEOUT_SECONDS = 300


def pulumi_bin_dir() -> Path | None:
    """Where scripts/setup put the CLI with its plugins, or None when it has not."""
    binary = Path(os.environ.get("EDGEWRIGHT_PULUMI", Directories.from_environment().home / "bin" / "pulumi"))
    plugins = ("pulumi-language-python", "pulumi-resource-pulumi-python")
    if binary.is_file() and all((binary.parent / name).is_file() for name in plugins):
        return binary.parent
    return None


BIN = pulumi_bin_dir()
pytestmark = pytest.mark.skipif(
    BIN is None, reason="the Pulumi CLI is not built: run scripts/setup (scripts/setup.d/50-pulumi.sh)"
)

CONFIG = yaml.safe_load(STACK_CONFIG.read_text())["config"]
CLOUDLET = CONFIG["edgewright:cloudlet"]
NAME = CLOUDLET["name"]
FOLDER = f"{CONFIG['edgewright:vsphere']['folder']}/{NAME}"
DATACENTER = CONFIG["edgewright:vsphere"]["datacenter"]


def declared_vms() -> set[str]:
    """The hosts the stack config asks for: cluster nodes, root LB pair, one per dedicated LB, platform."""
    root_lbs = 2 if CLOUDLET.get("redundancy", "vip") == "vip" else 1
    dedicated = [app["name"] for app in CLOUDLET["apps"] if app.get("dedicatedLb")]
    return (
        {f"{NAME}-k8s-{n}" for n in range(1, CLOUDLET["clusterSize"] + 1)}
        | {f"{NAME}-rootlb-{n}" for n in range(1, root_lbs + 1)}
        | {f"{NAME}-{app}-lb" for app in dedicated}
        | {f"{NAME}-platform"}
    )


@dataclass
class Deployment:
    vcsim: Connection
    project: Path  # a copy of stacks/ (program and project file) holding this test's stack config
    env: dict[str, str]

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(BIN / "pulumi"), *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(f"pulumi {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def vms(self) -> dict[str, dict] | None:
        """The cloudlet folder's VMs by name (with what the tests read of them); None without the folder."""
        with session(self.vcsim) as content:
            folder = find_folder(find_datacenter(content, DATACENTER), FOLDER)
            if folder is None:
                return None
            return {
                vm.name: {
                    "power": str(vm.runtime.powerState),
                    "moref": vm._moId,
                    "hostname": vm.guest.hostName,
                    "ip": vm.guest.ipAddress,
                    "cpus": vm.config.hardware.numCPU,
                    "guestinfo": {
                        o.key: o.value for o in vm.config.extraConfig if o.key.startswith("guestinfo.")
                    },
                }
                for vm in folder.childEntity
                if isinstance(vm, vim.VirtualMachine)
            }

    def remove_vm(self, name: str) -> None:
        """Delete a VM behind Pulumi's back."""
        with session(self.vcsim) as content:
            folder = find_folder(find_datacenter(content, DATACENTER), FOLDER)
            vm = next(vm for vm in folder.childEntity if vm.name == name)
            wait(vm.PowerOffVM_Task(), f"power off {name}")
            wait(vm.Destroy_Task(), f"delete {name}")


def strings(value) -> Iterator[str]:
    """Every string in a JSON document, keys and values."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def change_summary(preview: subprocess.CompletedProcess) -> dict[str, int]:
    return json.loads(preview.stdout)["changeSummary"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("pulumi")
    project = work / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT / name, project / name)
    shutil.copy(STACK_CONFIG, project / f"Pulumi.{STACK}.yaml")
    (work / "state").mkdir()
    env = {
        **os.environ,
        # The CLI, its plugins, then the project's Python (the program and the providers run in it).
        "PATH": os.pathsep.join([str(BIN), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHONPATH": str(ROOT),
        "PULUMI_HOME": str(work / "home"),
        "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_hex(16),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    with running_vcsim() as vcsim:
        deployment = Deployment(vcsim, project, env)
        deployment.pulumi("stack", "init", STACK)
        deployment.pulumi("config", "set", "--path", "edgewright:vsphere.port", str(vcsim.port))
        deployment.pulumi("config", "set", "--secret", "edgewright:vspherePassword", vcsim.password)
        try:
            yield deployment
        finally:
            deployment.pulumi("destroy", "--yes", check=False)


def test_installed_language_host_is_the_repositorys():
    installed = (BIN / "pulumi-language-python").read_text().splitlines()[1:]
    assert installed == LANGUAGE_HOST.read_text().splitlines()[1:], "stale: rerun scripts/setup"


def test_bad_config_stops_up_before_anything_is_made(deployment):
    shutil.copy(deployment.project / f"Pulumi.{STACK}.yaml", deployment.project / "Pulumi.broken.yaml")
    deployment.pulumi("stack", "init", "broken")
    try:
        deployment.pulumi("config", "set", "edgewright:orchestrator", "nimbus")
        up = deployment.pulumi("up", "--yes", check=False)
        assert up.returncode != 0
        # The mistake named on its own, not at the end of a traceback.
        assert "error: edgewright:orchestrator: 'nimbus' is not one of" in up.stdout, up.stdout
        assert "Traceback" not in up.stdout
        assert deployment.vms() is None
        resources = json.loads(deployment.pulumi("stack", "export").stdout)["deployment"].get("resources")
        assert not resources or [r["type"] for r in resources] == ["pulumi:pulumi:Stack"]
    finally:
        deployment.pulumi("stack", "rm", "--yes", "--force", "broken")
        deployment.pulumi("stack", "select", STACK)


def test_up_creates_every_declared_vm_in_vcsim(deployment):
    deployment.pulumi("up", "--yes", "--skip-preview")
    vms = deployment.vms()
    assert vms is not None, f"no folder {FOLDER} in vcsim"
    assert set(vms) == declared_vms()
    assert len(vms) == CLOUDLET["clusterSize"] + 2 + 1 + 1  # nodes, the VIP pair, one dedicated LB, platform
    assert {vm["power"] for vm in vms.values()} == {"poweredOn"}
    # Cloned, reconfigured and customized as the plan says.
    assert vms[f"{NAME}-k8s-2"]["hostname"] == f"{NAME}-k8s-2" and vms[f"{NAME}-k8s-2"]["ip"] == "10.20.0.161"
    assert vms[f"{NAME}-k8s-1"]["cpus"] == 2
    assert vms[f"{NAME}-video-lb"]["ip"] == CLOUDLET["publicIps"][1]  # its own public address, first NIC
    root = vms[f"{NAME}-rootlb-1"]["guestinfo"]
    assert root["guestinfo.edgewright.public_ip"] == CLOUDLET["publicIps"][0]
    assert root["guestinfo.edgewright.internal_vip"] == "10.20.0.10"


def test_secrets_stay_encrypted_in_the_state(deployment):
    state = json.loads(deployment.pulumi("stack", "export").stdout)
    assert deployment.vcsim.password not in set(strings(state))
    folder = next(r for r in state["deployment"]["resources"] if r["urn"].endswith(f"::{NAME}-folder"))
    assert "ciphertext" in folder["inputs"]["connection"]["password"]


def test_outputs_describe_what_vcsim_holds(deployment):
    outputs = json.loads(deployment.pulumi("stack", "output", "--json").stdout)
    cloudlet = outputs["cloudlet"]
    assert cloudlet["name"] == NAME and cloudlet["orchestrator"] == "vsphere"
    hosts = (
        cloudlet["rootLb"]["hosts"]
        + [host for lb in cloudlet["dedicatedLbs"] for host in lb["hosts"]]
        + cloudlet["kubernetes"]["nodes"]
        + cloudlet["platform"]["hosts"]
    )
    assert {host["name"] for host in hosts} == declared_vms()
    vms = deployment.vms()
    for host in cloudlet["kubernetes"]["nodes"] + cloudlet["platform"]["hosts"]:
        assert vms[host["name"]]["ip"] == host["address"]  # customized into the VM by the provider
    assert cloudlet["rootLb"]["publicIp"] == CLOUDLET["publicIps"][0]


def test_the_inventory_plugin_reads_the_real_stack(deployment, tmp_path):
    inventory = tmp_path / "lab.edgewright_cloudlet.yml"
    inventory.write_text(
        f"plugin: edgewright_cloudlet\nstack: {STACK}\nproject_dir: {deployment.project}\n"
        f"pulumi_binary: {BIN / 'pulumi'}\n"
    )
    done = ansible_inventory(inventory, deployment.env)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert sorted(listing["root_lb"]["hosts"]) == [f"{NAME}-rootlb-1", f"{NAME}-rootlb-2"]
    assert listing["dedicated_lb"]["hosts"] == [f"{NAME}-video-lb"]
    assert sorted(listing["kube_nodes"]["hosts"]) == [f"{NAME}-k8s-{n}" for n in (1, 2)]
    assert listing["platform"]["hosts"] == [f"{NAME}-platform"]
    hostvars = plain(listing["_meta"]["hostvars"])
    vms = deployment.vms()
    assert hostvars[f"{NAME}-k8s-2"]["ansible_host"] == vms[f"{NAME}-k8s-2"]["ip"]
    root = hostvars[f"{NAME}-rootlb-1"]
    assert root["edgewright_vip"] == CLOUDLET["publicIps"][0]
    assert root["edgewright_orchestrator"] == "vsphere"
    assert {"app": "web", "protocol": "tcp", "internal": 443, "public": 443, "count": 1} in root[
        "edgewright_port_map"
    ]["mappings"]
    assert hostvars[f"{NAME}-video-lb"]["edgewright_public_ip"] == CLOUDLET["publicIps"][1]


def test_a_second_run_changes_nothing(deployment):
    before = deployment.vms()
    preview = deployment.pulumi("preview", "--expect-no-changes", "--json")
    assert set(change_summary(preview)) == {"same"}
    deployment.pulumi("up", "--yes", "--expect-no-changes")
    assert deployment.vms() == before


def test_a_changed_setting_reconfigures_the_vms_in_place(deployment):
    before = deployment.vms()
    deployment.pulumi("config", "set", "--path", "edgewright:vsphere.numCpus", "3")
    deployment.pulumi("up", "--yes")
    after = deployment.vms()
    lbs = {name for name in after if name.startswith(f"{NAME}-rootlb-") or name.endswith("-lb")}
    assert {name: vm["cpus"] for name, vm in after.items()} == {
        name: 2 if name in lbs else 3 for name in declared_vms()
    }
    assert {name: vm["moref"] for name, vm in after.items()} == {n: vm["moref"] for n, vm in before.items()}
    assert {vm["power"] for vm in after.values()} == {"poweredOn"}


def test_up_with_refresh_recreates_a_vm_removed_out_of_band(deployment):
    gone = f"{NAME}-k8s-2"
    old_moref = deployment.vms()[gone]["moref"]
    deployment.remove_vm(gone)
    assert gone not in deployment.vms()
    deployment.pulumi("up", "--yes", "--refresh")
    vms = deployment.vms()
    assert set(vms) == declared_vms()
    assert vms[gone]["moref"] != old_moref and vms[gone]["power"] == "poweredOn"
    preview = deployment.pulumi("preview", "--expect-no-changes", "--json")
    assert set(change_summary(preview)) == {"same"}


def test_destroy_removes_every_vm_and_the_cloudlet_folder(deployment):
    deployment.pulumi("destroy", "--yes")
    assert deployment.vms() is None  # the folder (and so every VM in it) is gone
    with session(deployment.vcsim) as content:
        assert find_folder(find_datacenter(content, DATACENTER), FOLDER.rsplit("/", 1)[0]) is not None
    assert json.loads(deployment.pulumi("stack", "output", "--json").stdout) == {}
