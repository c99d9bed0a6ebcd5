"""The cloudlet Pulumi program: read the stack config, check it, plan, then create (stacks/__main__.py).

Everything that can be wrong with the config is found before the first resource is registered: the
cloudlet section, the port maps, the number of public IPs, and the orchestrator's own section.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from edgewright.cloudlet.backends.base import Backend
from edgewright.cloudlet.components import Cloudlet, CloudletArgs
from edgewright.cloudlet.config import Access, CloudletConfigError, Orchestrator, parse_cloudlet
from edgewright.cloudlet.plan import CloudletPlan, plan_cloudlet
from edgewright.loadbalancer.portmap import PortMapError


def _previous_port_map(config: pulumi.Config) -> Any:
    """The root LB's port map of the last run, so assignments stay stable (``portMapFile``)."""
    path = config.get("portMapFile")
    if not path or not Path(path).exists():
        return None
    try:
        document = json.loads(Path(path).read_text())
        # Accept both the bare map and `pulumi stack output --json` (whose cloudlet output carries it).
        if "cloudlet" in document:
            return document["cloudlet"]["rootLb"]["portMap"]
        return document
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CloudletConfigError(
            f"edgewright:portMapFile: {path} is neither a port map nor the stack's outputs ({error})"
        ) from error


def make_backend(plan: CloudletPlan, config: pulumi.Config) -> Backend:
    """The backend for the plan's orchestrator, its config section read and checked."""
    orchestrator = plan.config.orchestrator
    section = config.get_object(orchestrator.value)
    if orchestrator is Orchestrator.OPENSTACK:
        from edgewright.cloudlet.backends.openstack import OpenStackBackend, OpenStackSettings

        return OpenStackBackend(plan, OpenStackSettings.parse(section))
    if orchestrator is Orchestrator.VSPHERE:
        from edgewright.cloudlet.backends.vsphere import VsphereBackend, VsphereSettings

        return VsphereBackend(plan, VsphereSettings.parse(section, config.get_secret("vspherePassword")))
    if orchestrator is Orchestrator.GKE:
        from edgewright.cloudlet.backends.gke import GkeBackend, GkeSettings

        return GkeBackend(plan, GkeSettings.parse(section))
    from edgewright.cloudlet.backends.kind import KindBackend, KindSettings

    return KindBackend(plan, KindSettings.parse(section, plan))


def load_plan(config: pulumi.Config) -> CloudletPlan:
    try:
        cloudlet = parse_cloudlet(
            config.get("orchestrator"), config.get_object("cloudlet"), _previous_port_map(config)
        )
        return plan_cloudlet(cloudlet)
    except PortMapError as error:
        raise CloudletConfigError(f"edgewright:cloudlet.apps: {error}") from error


def run() -> Cloudlet | None:
    """Create the cloudlet of the current stack and export its outputs; None for rendered artefacts."""
    config = pulumi.Config("edgewright")
    plan = load_plan(config)
    if plan.config.access is Access.RESTRICTED:
        from edgewright.cloudlet.backends.openstack import OpenStackSettings
        from edgewright.cloudlet.backends.openstack.heat import render_artefacts, write_artefacts

        settings = OpenStackSettings.parse(config.get_object("openstack"))
        artefacts = render_artefacts(plan, settings)
        write_artefacts(artefacts, Path(settings.artefact_dir) / pulumi.get_stack())
        pulumi.export("artefacts", {name: text for name, text in artefacts.items()})
        return None
    backend = make_backend(plan, config)
    cloudlet = Cloudlet(plan.config.name, CloudletArgs(plan), backend)
    pulumi.export("cloudlet", cloudlet.ansible_outputs())
    return cloudlet


def main() -> None:
    """The stack program (stacks/__main__.py). A config mistake ends it as a ``pulumi.RunError``, which
    Pulumi shows as the message alone: the message names the key, and a traceback would bury it."""
    try:
        run()
    except CloudletConfigError as error:
        raise pulumi.RunError(str(error)) from error
