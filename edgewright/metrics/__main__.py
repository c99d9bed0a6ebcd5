"""Serve the attestation verifier's results as Prometheus metrics: the same commands as `edgewright metrics`.

python -m edgewright.metrics verifier --store DIR --listen HOST:PORT
"""

import sys

from edgewright.cli import main

sys.exit(main(["metrics", *sys.argv[1:]]))
