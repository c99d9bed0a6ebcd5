"""What runs on an edge node needs nothing but python3 there: library/ and plugins/module_utils import only the
standard library and Ansible's module_utils (which Ansible ships to the node with the module)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_SIDE = sorted([*(ROOT / "library").glob("*.py"), *(ROOT / "plugins" / "module_utils").glob("*.py")])


def foreign_imports(source: str) -> list[str]:
    """The modules SOURCE imports, anywhere in it (a function's lazy import counts), that are neither the
    standard library nor ansible.module_utils."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if name == "ansible.module_utils" or name.startswith("ansible.module_utils."):
                continue
            if top == "__future__" or top in sys.stdlib_module_names:
                continue
            # A node-side module run as a plain script on the node imports its siblings by name.
            if (
                getattr(node, "level", 0) == 0
                and (ROOT / "plugins" / "module_utils" / f"{name}.py").is_file()
            ):
                continue
            found.append(name)
    return found


def test_the_package_shares_node_side_code_only_by_links_to_it():
    """Logic both sides need lives once: where the package needs it, it imports the node's own file."""
    links = sorted(path for path in (ROOT / "edgewright").rglob("*.py") if path.is_symlink())
    assert links, "the package links to the node-side code it shares"
    assert all(path.resolve().parent == ROOT / "plugins" / "module_utils" for path in links), links


def test_node_side_files_are_found():
    names = {path.name for path in NODE_SIDE}
    assert {"edge_probe.py", "tpm.py", "mesh_identity.py"} <= names and len(NODE_SIDE) >= 15


@pytest.mark.parametrize("path", NODE_SIDE, ids=lambda path: str(path.relative_to(ROOT)))
def test_imports_only_the_standard_library(path):
    assert foreign_imports(path.read_text()) == [], f"{path.relative_to(ROOT)} is node-side code"


@pytest.mark.parametrize(
    "source",
    [
        "from edgewright.mesh.election import elect",
        "import kubernetes",
        "def api():\n    from cryptography import x509\n",
        "import yaml as y",
    ],
)
def test_a_package_import_is_caught(source):
    assert foreign_imports(source)


def test_the_standard_library_and_module_utils_pass():
    source = "import json, os\nfrom ansible.module_utils.basic import AnsibleModule\nfrom ansible.module_utils.tpm import run\n"
    assert foreign_imports(source) == []
