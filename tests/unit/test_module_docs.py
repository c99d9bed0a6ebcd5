"""Every module edgewright ships documents itself: DOCUMENTATION, EXAMPLES and RETURN parse as YAML."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

LIBRARY = Path(__file__).resolve().parents[2] / "library"
# Every module of library/, found rather than listed, so a new one cannot skip its documentation.
MODULES = sorted(path.stem for path in LIBRARY.glob("*.py"))


def test_every_module_is_found():
    assert len(MODULES) >= 10 and "attest_verifier" in MODULES and "mesh_election" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_module_documents_itself(module):
    tree = ast.parse((LIBRARY / f"{module}.py").read_text())
    docs = {
        node.targets[0].id: yaml.safe_load(node.value.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and getattr(node.targets[0], "id", "") in ("DOCUMENTATION", "EXAMPLES", "RETURN")
    }
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert docs["DOCUMENTATION"]["module"] == module
    assert docs["EXAMPLES"] and docs["RETURN"]
