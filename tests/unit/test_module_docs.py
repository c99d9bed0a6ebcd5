"""Every module edgewright ships documents itself: DOCUMENTATION, EXAMPLES and RETURN parse as YAML."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

LIBRARY = Path(__file__).resolve().parents[2] / "library"
MODULES = [
    "apt_signing_key",
    "attest_verifier",
    "edge_probe",
    "kube_bootstrap_csr",
    "kube_bootstrap_token",
    "kube_node_credentials",
    "tpm_activate_credential",
    "tpm_identity",
    "tpm_measure",
    "tpm_quote",
    "xds_client_certificate",
]


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
