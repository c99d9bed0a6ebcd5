"""Serve the attestation verifier's results as Prometheus metrics.

python -m edgewright.metrics verifier --store DIR --listen HOST:PORT
"""

import sys

from edgewright.metrics.cli import main

sys.exit(main())
