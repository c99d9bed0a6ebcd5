"""edgewright's action plugins: each is documented by its library/ file, with the options it checks."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = sorted(path.stem for path in (ROOT / "plugins" / "action").glob("*.py"))


def load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"edgewright_action_{name}", ROOT / "plugins" / "action" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ActionModule


def documentation(name: str) -> dict:
    tree = ast.parse((ROOT / "library" / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    raise AssertionError(f"library/{name}.py has no DOCUMENTATION")


def test_the_controller_actions_are_found():
    assert {"attest_verifier", "mesh_election", "kube_bootstrap_token", "kube_node_credentials"} <= set(
        ACTIONS
    )
    assert "edge_probe_report" in ACTIONS


@pytest.mark.parametrize("name", ACTIONS)
def test_the_documented_options_are_the_checked_ones(name):
    spec = load(name).ARGUMENT_SPEC
    options = documentation(name)["options"]
    assert set(options) == set(spec)
    for option, checked in spec.items():
        documented = options[option]
        assert documented.get("type", "str") == checked.get("type", "str"), option
        assert bool(documented.get("required")) == bool(checked.get("required")), option
        assert documented.get("default") == checked.get("default"), option
        assert documented.get("choices") == checked.get("choices"), option
        assert documented.get("elements") == checked.get("elements"), option


@pytest.mark.parametrize("name", ACTIONS)
def test_the_library_file_only_documents(name):
    """Ansible runs the action; code left in library/ would be a second copy that never runs."""
    tree = ast.parse((ROOT / "library" / f"{name}.py").read_text())
    assigned = [n.targets[0].id for n in tree.body if isinstance(n, ast.Assign)]
    assert assigned == ["DOCUMENTATION", "EXAMPLES", "RETURN"]
    assert not [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
