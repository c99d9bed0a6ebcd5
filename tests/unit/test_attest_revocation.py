"""The Kubernetes side of a node's attestation standing, as data (edgewright.attest.revocation)."""

from __future__ import annotations

import pytest

from edgewright.attest import revocation

BATTERY = {"key": "edgewright.io/battery", "value": "true", "effect": "NoSchedule"}


def node(labels=None, taints=None) -> dict:
    return {"metadata": {"labels": labels or {}}, "spec": {"taints": taints or []}}


def test_quarantine_adds_the_protected_labels_and_the_noexecute_taint_keeping_other_taints():
    patch = revocation.node_patch("quarantined", node({"edgewright.io/attested": "true"}, [BATTERY]))
    assert patch["metadata"]["labels"] == {
        revocation.ATTESTED_LABEL: "false",
        revocation.QUARANTINED_LABEL: "true",
        revocation.LEGACY_ATTESTED_LABEL: None,
    }
    assert patch["spec"]["taints"] == [BATTERY, revocation.QUARANTINE_TAINT]
    kept = [k for k, v in revocation.node_labels("quarantined").items() if v is not None]
    assert kept and all(k.startswith("node-restriction.kubernetes.io/") for k in kept)


def test_a_node_that_has_its_standing_needs_no_patch():
    quarantined = node(
        {revocation.ATTESTED_LABEL: "false", revocation.QUARANTINED_LABEL: "true"},
        [BATTERY, revocation.QUARANTINE_TAINT],
    )
    assert revocation.node_patch("quarantined", quarantined) is None
    assert revocation.node_patch("attested", node({revocation.ATTESTED_LABEL: "true"}, [BATTERY])) is None


def test_restoring_removes_only_the_quarantine():
    patch = revocation.node_patch(
        "attested",
        node(
            {revocation.ATTESTED_LABEL: "false", revocation.QUARANTINED_LABEL: "true"},
            [revocation.QUARANTINE_TAINT, BATTERY],
        ),
    )
    assert patch == {
        "metadata": {"labels": {revocation.ATTESTED_LABEL: "true", revocation.QUARANTINED_LABEL: None}},
        "spec": {"taints": [BATTERY]},
    }


def test_the_renewal_binding_names_the_node_alone():
    binding = revocation.renewal_binding("edge-1")
    assert binding["metadata"]["name"] == "edgewright:node-renewal:edge-1"
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:node:edge-1"}
    ]
    assert binding["roleRef"]["name"].endswith(":selfnodeclient")


def test_an_unknown_standing_is_refused_by_name():
    with pytest.raises(ValueError, match="'released' is not one of attested, quarantined"):
        revocation.node_patch("released", node())
