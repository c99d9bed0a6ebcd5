"""Stacks deployed before the vSphere backend became one package pickled its Pulumi dynamic
providers under this module name, and load them from here; new code imports
``edgewright.cloudlet.backends.vsphere.providers``."""

from edgewright.cloudlet.backends.vsphere.providers import FolderProvider, VirtualMachineProvider

__all__ = ["FolderProvider", "VirtualMachineProvider"]
