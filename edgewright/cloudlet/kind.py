"""Stacks deployed before the KIND backend became one package pickled its Pulumi dynamic provider
under this module name, and load it from here; new code imports
``edgewright.cloudlet.backends.kind.provider``."""

from edgewright.cloudlet.backends.kind.provider import KindClusterProvider

__all__ = ["KindClusterProvider"]
