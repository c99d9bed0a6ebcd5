import sys
from pathlib import Path

# Tests import the project from the work tree (the package and the node-side module_utils).
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
