"""MOCK tests (pulumi.runtime.Mocks, no cloud): every example stack in stacks/ evaluates, and a bad
config fails with a clear error before any resource is registered."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml

from edgewright.cloudlet import program
from edgewright.cloudlet.config import CloudletConfigError
from tests.pulumi_mocks import CloudletMocks, evaluate

STACKS = Path(__file__).resolve().parents[2] / "stacks"
SECRETS = {"vspherePassword": "pass"}


def stack_settings(stack: str) -> dict:
    """The ``edgewright:*`` settings of stacks/Pulumi.<stack>.yaml, keyed without the namespace."""
    config = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.removeprefix("edgewright:"): value for key, value in config.items()}


def example_stacks() -> list[str]:
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in STACKS.glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", example_stacks())
def test_every_example_stack_evaluates(stack, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the restricted stack writes its artefacts under the working directory
    settings = stack_settings(stack)
    mocks, outputs = evaluate(settings, secrets=SECRETS, stack=stack)
    if settings["cloudlet"].get("access") == "restricted":
        # Nothing is created through the API: the operator runs the artefacts.
        assert outputs is None and mocks.resources == []
        assert (tmp_path / "artefacts" / stack / "cloudlet.yaml").exists()
    else:
        assert mocks.resources
        assert outputs["name"] == settings["cloudlet"]["name"]
        assert outputs["orchestrator"] == settings["orchestrator"]


def test_the_main_program_is_thin_and_calls_the_package():
    main = (STACKS / "__main__.py").read_text()
    assert "from edgewright.cloudlet.program import main" in main
    assert len(main.splitlines()) < 15


BASE = stack_settings("openstack-router")


def variant(**cloudlet_changes) -> dict:
    settings = json.loads(json.dumps(BASE))
    settings["cloudlet"].update(cloudlet_changes)
    return settings


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {**BASE, "orchestrator": "azure"},
            r"edgewright:orchestrator: 'azure' is not one of openstack, vsphere",
        ),
        (
            variant(publicIps=["198.51.100.10"]),
            r"1 app\(s\) want a dedicated LB \(game\) but publicIps has 1 address\(es\)",
        ),
        (
            variant(apps=[{"name": "game", "ports": "udp:7000-7010,udp:7005", "dedicatedLb": True}]),
            r"app 'game': ports udp:7000-7010 and udp:7005 collide",
        ),
        (variant(apps=[{"name": "web", "ports": "tcp:80-70"}]), r"app 'web'.*starts after it ends"),
        (variant(apps=[{"name": "ssh", "ports": "tcp:22", "dedicatedLb": True}]), r"app 'ssh'.*tcp:22.*SSH"),
        (variant(dataPath="bgp"), r"dataPath: 'bgp' is not one of none, router, floating_ip"),
        (variant(clusterSize=0), r"clusterSize must be 1..90"),
        (variant(internalCidr="10.0.0.0/28"), r"internalCidr: 10.0.0.0/28 must be IPv4 and at least a /24"),
        (variant(publicIps=["198.51.100.10", "not-an-ip"]), r"'not-an-ip' is not an IP address"),
        (variant(colour="blue"), r"unknown setting\(s\) colour"),
        (
            {**BASE, "openstack": {"image": "x", "flavor": "y"}},
            r"edgewright:openstack.externalNetwork is required",
        ),
        (
            {**BASE, "orchestrator": "vsphere", "vsphere": {"host": "h"}},
            r"edgewright:vsphere.user is required",
        ),
        ({**BASE, "orchestrator": "gke"}, r"edgewright:gke must be a mapping"),
        (
            {
                **variant(dataPath="floating_ip"),
                "orchestrator": "kind",
                "kind": {"metallbRange": "10.0.0.1-10.0.0.5", "platformImage": "p"},
            },
            r"floating_ip exists on openstack only, not kind",
        ),
        (
            {
                **BASE,
                "orchestrator": "kind",
                "kind": {"metallbRange": "10.0.0.1-10.0.0.1", "platformImage": "p"},
            },
            r"metallbRange holds 1 address\(es\); the cloudlet's 2 LBs need one each",
        ),
        (variant(access="restricted", dataPath="router") | {"orchestrator": "gke"}, r"restricted access"),
    ],
)
def test_bad_config_fails_before_any_resource(settings, message):
    mocks = CloudletMocks()
    with pytest.raises(CloudletConfigError, match=message):
        evaluate(settings, secrets=SECRETS, mocks=mocks)
    assert mocks.resources == []


def test_main_ends_a_config_mistake_as_a_run_error(monkeypatch):
    """Pulumi shows a RunError as its message alone (no traceback burying the key it names)."""

    def misconfigured():
        raise CloudletConfigError("edgewright:orchestrator: 'nimbus' is not one of openstack, vsphere")

    monkeypatch.setattr(program, "run", misconfigured)
    with pytest.raises(pulumi.RunError, match=r"^edgewright:orchestrator: 'nimbus' is not one of"):
        program.main()


def test_a_missing_vsphere_password_is_named():
    mocks = CloudletMocks()
    with pytest.raises(CloudletConfigError, match="edgewright:vspherePassword is not set"):
        evaluate(stack_settings("vsphere-lab"), mocks=mocks)
    assert mocks.resources == []


def test_port_assignments_survive_a_run_through_the_port_map_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = variant(apps=[{"name": "web", "ports": "tcp:80"}, {"name": "api", "ports": "tcp:80"}])
    settings["portMapFile"] = "portmap.json"
    _, first = evaluate(settings)
    assert {m["app"]: m["public"] for m in first["rootLb"]["portMap"]["mappings"]} == {
        "web": 80,
        "api": 10000,
    }
    # The operator keeps the output (`pulumi stack output --json > portmap.json`); web goes away.
    (tmp_path / "portmap.json").write_text(json.dumps({"cloudlet": first}))
    settings["cloudlet"]["apps"] = [{"name": "api", "ports": "tcp:80"}]
    _, second = evaluate(settings)
    assert {m["app"]: m["public"] for m in second["rootLb"]["portMap"]["mappings"]} == {"api": 10000}


def test_an_unreadable_port_map_file_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "portmap.json").write_text('{"cloudlet": {"rootLb": {}}}')
    mocks = CloudletMocks()
    with pytest.raises(CloudletConfigError, match=r"portMapFile: portmap\.json is neither a port map"):
        evaluate({**BASE, "portMapFile": "portmap.json"}, mocks=mocks)
    assert mocks.resources == []
