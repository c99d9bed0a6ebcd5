"""MOCKS: run the cloudlet program with ``pulumi.runtime.Mocks`` instead of any cloud API.

OpenStack and Google Cloud cannot run here, so their stacks are checked as Pulumi's unit-test way does:
the real program registers its resources with a mock monitor that records them. Used by the mock tests
(tests/unit/test_cloudlet_*.py) and by benchmarks/stack_evaluation.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT = "edgewright-cloudlet"
KIND_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: kind
  cluster: {server: "https://127.0.0.1:6443"}
"""


@dataclass
class RecordedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str | None = None


@dataclass
class CloudletMocks(pulumi.runtime.Mocks):
    """Records every resource; answers the few look-ups the backends make with fixed, fake values."""

    resources: list[RecordedResource] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append(RecordedResource(args.typ, args.name, dict(args.inputs)))
        outputs = dict(args.inputs)
        if args.typ == "gcp:container/cluster:Cluster":
            outputs.setdefault("endpoint", "203.0.113.200")
            outputs.setdefault("masterAuth", {"clusterCaCertificate": "Q0E="})
        if args.typ == "pulumi-python:dynamic:Resource" and "config" in args.inputs:
            # A kind cluster: the kubeconfig kind would print.
            outputs["kubeconfig"] = KIND_KUBECONFIG
        if args.typ == "gcp:compute/address:Address":
            outputs.setdefault("address", "203.0.113.250")
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        if args.token == "openstack:networking/getNetwork:getNetwork":
            return {
                "id": "external-net-id",
                "name": args.args.get("name"),
                "subnets": ["external-subnet-id"],
            }, []
        return {}, []

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.type == type_]

    def named(self, name: str, type_: str | None = None) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name and type_ in (None, r.type)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


def stack_config(settings: dict[str, Any], secrets: dict[str, str] | None = None) -> dict[str, str]:
    """Stack config as Pulumi hands it to a program: ``edgewright:KEY`` -> string (objects as JSON)."""
    config = {
        f"edgewright:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in settings.items()
    }
    config.update({f"edgewright:{key}": value for key, value in (secrets or {}).items()})
    return config


def evaluate(
    settings: dict[str, Any],
    *,
    secrets: dict[str, str] | None = None,
    stack: str = "test",
    mocks: CloudletMocks | None = None,
) -> tuple[CloudletMocks, Any]:
    """Run the cloudlet program under mocks; return the recorded resources and the resolved outputs.

    Pass ``mocks`` to see what was registered even when the program raises."""
    from edgewright.cloudlet.program import run

    mocks = mocks if mocks is not None else CloudletMocks()
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(
        stack_config(settings, secrets), secret_keys=[f"edgewright:{key}" for key in secrets or {}]
    )
    outputs: dict[str, Any] = {}

    def program() -> None:
        cloudlet = run()
        if cloudlet is not None:
            outputs["cloudlet"] = _sync_await(pulumi.Output.from_input(cloudlet.ansible_outputs()).future())

    _sync_await(run_pulumi_func(program))
    return mocks, outputs.get("cloudlet")
