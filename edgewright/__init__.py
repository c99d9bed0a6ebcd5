"""edgewright: infrastructure as code for edge clouds."""

__version__ = "0.1.0"
