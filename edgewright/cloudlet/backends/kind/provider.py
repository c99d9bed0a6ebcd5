"""KIND (Kubernetes in Docker), the test orchestrator: the cluster config and a dynamic provider that
creates the cluster from it with the ``kind`` CLI.

The generated config maps every public LB port from the host (on the LB's public address) into the
control-plane node, where the Envoy LBs bind them as host ports.
"""

from __future__ import annotations

import subprocess
import tempfile
from typing import Any

import pulumi
import yaml
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from edgewright.cloudlet.plan import CloudletPlan
from edgewright.errors import EdgewrightError


def kind_config(plan: CloudletPlan, node_image: str) -> dict[str, Any]:
    """The kind cluster config: one control-plane node carrying the LB port mappings, then workers."""
    mappings = [
        {
            "containerPort": public,
            "hostPort": public,
            "listenAddress": lb.public_ip,
            "protocol": mapping.protocol.value.upper(),
        }
        for lb in plan.load_balancers
        for mapping in lb.port_map.mappings
        for public, _ in mapping.pairs()
    ]
    control_plane = {"role": "control-plane", "image": node_image, "extraPortMappings": mappings}
    workers = [{"role": "worker", "image": node_image} for _ in plan.cluster.nodes[1:]]
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": plan.cluster.name,
        "nodes": [control_plane, *workers],
    }


class KindError(EdgewrightError, RuntimeError):
    """The kind CLI failed; the message carries its output."""


def _kind(binary: str, *args: str, stdin: str | None = None) -> str:
    try:
        done = subprocess.run([binary, *args], input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise KindError(f"the kind CLI {binary!r} is not installed") from error
    if done.returncode != 0:
        raise KindError(f"kind {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


class KindClusterProvider(ResourceProvider):
    """Create (``kind create cluster --config``), read (``kind get clusters``) and delete a kind cluster."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as config_file:
            config_file.write(props["config"])
            config_file.flush()
            _kind(props["binary"], "create", "cluster", "--name", props["name"], "--config", config_file.name)
        kubeconfig = _kind(props["binary"], "get", "kubeconfig", "--name", props["name"])
        return CreateResult(id_=props["name"], outs={**props, "kubeconfig": kubeconfig})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        clusters = _kind(props["binary"], "get", "clusters").split()
        if id_ not in clusters:
            return ReadResult(None, {})
        return ReadResult(
            id_, {**props, "kubeconfig": _kind(props["binary"], "get", "kubeconfig", "--name", id_)}
        )

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # kind cannot change a cluster in place: a new config is a new cluster.
        replaces = [key for key in ("name", "config") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=True)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        _kind(props["binary"], "delete", "cluster", "--name", id_)


class KindCluster(Resource):
    kubeconfig: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: dict[str, Any],
        binary: str = "kind",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            KindClusterProvider(),
            name,
            {
                "name": config["name"],
                "config": yaml.safe_dump(config, sort_keys=False),
                "binary": binary,
                "kubeconfig": None,
            },
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"])
            ),
        )
