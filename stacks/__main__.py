"""The cloudlet stack: everything is in edgewright.cloudlet (read the config, check it, plan, create)."""

import sys
from pathlib import Path

# The repository root, so the program runs from a checkout as well as from an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgewright.cloudlet.program import main

main()
