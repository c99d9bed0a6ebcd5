"""The verifier's metrics, read from a real store the verifier wrote."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from edgewright.attest.store import Store
from edgewright.attest.verifier import Verifier
from edgewright.metrics.verifier import iso_to_unix, verifier_registry


def samples(store: Store) -> dict[tuple[str, tuple], float]:
    text = generate_latest(verifier_registry(store)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_statuses_timestamps_and_evidence_outcomes(tmp_path):
    store = Store(tmp_path / "verifier")
    verifier = Verifier(store, clock=lambda: 1_700_000_000.0)
    verifier.quarantine("edge-2", "no TPM found")
    store.save_node(
        {
            "node": "edge-1",
            "status": "attested",
            "since": "2023-11-14T22:13:20Z",
            "last_attested_at": "2023-11-14T22:13:20Z",
        }
    )
    got = samples(store)
    assert got[("edgewright_verifier_store_ok", ())] == 1
    assert got[("edgewright_attestation_status", (("node", "edge-2"), ("status", "quarantined")))] == 1
    assert got[("edgewright_attestation_status", (("node", "edge-1"), ("status", "attested")))] == 1
    assert ("edgewright_attestation_status", (("node", "edge-1"), ("status", "quarantined"))) not in got
    assert got[("edgewright_attestation_last_attested_timestamp_seconds", (("node", "edge-1"),))] == 1.7e9
    assert got[("edgewright_attestation_status_since_timestamp_seconds", (("node", "edge-2"),))] == 1.7e9
    assert got[("edgewright_attestation_nodes", (("status", "quarantined"),))] == 1
    assert got[("edgewright_attestation_nodes", (("status", "enrolling"),))] == 0
    assert got[("edgewright_attestation_events_total", (("outcome", "quarantined"),))] == 1

    verifier.release("edge-2", by="operator")
    got = samples(store)
    assert got[("edgewright_attestation_status", (("node", "edge-2"), ("status", "released")))] == 1
    assert got[("edgewright_attestation_events_total", (("outcome", "released"),))] == 1


def test_an_unreadable_store_is_reported_not_raised(tmp_path):
    store = Store(tmp_path / "verifier")
    store.root.mkdir(parents=True)
    (store.root / "store.json").write_text("{not json")
    (store.root / "store.json").chmod(0o600)
    got = samples(store)
    assert got == {("edgewright_verifier_store_ok", ()): 0}


def test_a_corrupt_record_is_counted_and_hides_no_other_node(tmp_path):
    root = tmp_path / "verifier"
    (root / "nodes").mkdir(parents=True)
    (root / "nodes" / "edge-1.json").write_text("{not json")
    store = Store(root)  # the old JSON store is imported, edge-1 as it is
    Verifier(store).quarantine("edge-2", "no TPM found")
    got = samples(store)
    assert got[("edgewright_verifier_store_ok", ())] == 1
    assert got[("edgewright_verifier_corrupt_records", ())] == 1
    assert got[("edgewright_attestation_status", (("node", "edge-2"), ("status", "quarantined")))] == 1


def test_an_empty_store_has_no_nodes(tmp_path):
    got = samples(Store(tmp_path / "never-written"))
    assert got[("edgewright_verifier_store_ok", ())] == 1
    assert got[("edgewright_attestation_nodes", (("status", "attested"),))] == 0


def test_iso_to_unix_reads_the_verifier_stamps_only():
    assert iso_to_unix("1970-01-01T00:01:00Z") == 60.0
    assert iso_to_unix("yesterday") is None
    assert iso_to_unix(None) is None


def test_the_command_names_a_bad_listen_address(tmp_path, capsys):
    from edgewright.cli import main

    assert main(["metrics", "verifier", "--store", str(tmp_path), "--listen", "9816"]) == 64
    assert "metrics address '9816' is not host:port" in capsys.readouterr().err
