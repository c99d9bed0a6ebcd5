"""The verifier's store on both backends (SQLite file, real PostgreSQL server): races between real
processes, corrupt records, file modes, clear errors, bounded evidence, and the import of a JSON store."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import tpm
from sqlalchemy import text

from edgewright.attest.manufacturer import Manufacturer
from edgewright.attest.store import IMPORTED_DIR, SETTINGS_FILE, Store, StoreError
from edgewright.attest.verifier import ATTESTED, Refused, Verifier
from tests import swtpm

EK, AK = 0x81010001, 0x81010002
PCRS = [0, 16]
RACERS = 6
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vendor(tmp_path_factory):
    return Manufacturer(tmp_path_factory.mktemp("vendor"))


@pytest.fixture
def tpm_a(tmp_path, vendor):
    t = swtpm.start(tmp_path / "tpm-a", vendor)
    yield t
    t.stop()


@pytest.fixture
def store(make_store, tmp_path, vendor):
    store = make_store(tmp_path / "verifier")
    store.ek_trust_dir.mkdir(parents=True, exist_ok=True)
    (store.ek_trust_dir / "vendor.pem").write_bytes(vendor.ensure_ca())
    return store


def race(target, args_per_racer) -> list:
    """Run TARGET(store, *args) in real processes, each with its own store already connected to the
    database, all released at once; their results, in order."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(len(args_per_racer)), ctx.Queue()
    racers = [
        ctx.Process(target=_racer, args=(target, barrier, results, i, a))
        for i, a in enumerate(args_per_racer)
    ]
    for p in racers:
        p.start()
    got = dict(results.get(timeout=120) for _ in racers)
    for p in racers:
        p.join(timeout=30)
    return [got[i] for i in range(len(racers))]


def _racer(target, barrier, results, index, args) -> None:
    try:
        store = Store(args[0])
        store.nodes()  # connected, schema checked: what is left to race is the step itself
        barrier.wait(timeout=60)
        results.put((index, target(store, *args[1:])))
    except BaseException as exc:  # reported to the test, not lost in a child's stderr
        results.put((index, f"error: {type(exc).__name__}: {exc}"))


def _enroll(store: Store, node: str, ek: bytes, ak: bytes, certificate: bytes) -> str:
    try:
        challenge = Verifier(store).enroll_challenge(node, ek, ak, certificate)
    except Refused as exc:
        return f"refused: {exc}"
    return "challenge" if challenge.credential else "no challenge"


def _verify(store: Store, node: str, quote: tuple) -> str:
    verdict = Verifier(store).verify(node, "edge", *quote)
    return "ok" if verdict.ok else f"failed: {verdict.reason}"


def test_processes_racing_to_enroll_one_ek_under_several_names_enroll_it_once(store, tpm_a):
    ek, ak, _ = tpm.ensure_identity(tpm_a.tcti, EK, AK)
    certificate = tpm.read_ek_certificate(tpm_a.tcti)
    outcomes = race(_enroll, [(str(store.root), f"node-{i}", ek, ak, certificate) for i in range(RACERS)])
    winners = [i for i, outcome in enumerate(outcomes) if outcome == "challenge"]
    assert len(winners) == 1, outcomes
    losers = [o for i, o in enumerate(outcomes) if i not in winners]
    assert all(
        o.startswith("refused: ") and f"already enrolled by node node-{winners[0]}" in o for o in losers
    )
    holders = [r["node"] for r in store.nodes() if r.get("ek_sha256")]
    assert holders == [f"node-{winners[0]}"]


def test_processes_racing_to_use_one_nonce_use_it_once(store, tpm_a):
    verifier = Verifier(store)
    ek, ak, _ = tpm.ensure_identity(tpm_a.tcti, EK, AK)
    challenge = verifier.enroll_challenge("att-1", ek, ak, tpm.read_ek_certificate(tpm_a.tcti))
    assert verifier.enroll_complete(
        "att-1", tpm.activate_credential(tpm_a.tcti, EK, AK, challenge.credential)
    ).ok
    nonce = verifier.issue_nonce("att-1")
    quote = tpm.quote(tpm_a.tcti, AK, PCRS, nonce)
    verifier.set_policy("edge", {i: v.hex() for i, v in quote[2].items()})
    outcomes = race(_verify, [(str(store.root), "att-1", quote)] * RACERS)
    assert outcomes.count("ok") == 1, outcomes
    assert all("no nonce was issued" in o or "quarantined" in o for o in outcomes if o != "ok"), outcomes
    attested = [e for e in store.evidence("att-1") if e["outcome"] == "attested"]
    assert len(attested) == 1 and attested[0]["nonce"] == nonce.hex()


def _learn(store: Store, node: str) -> str:
    """What policy learning does in verify: set the class's policy when it has none, in one transaction."""
    with store.locked():
        if store.policy("edge") is None:
            store.save_policy("edge", {"pcrs": {"16": "00" * 32}, "learned_from": node})
            return "set"
    return "kept"


def test_processes_racing_to_set_a_class_policy_set_it_once(store):
    outcomes = race(_learn, [(str(store.root), f"node-{i}") for i in range(RACERS)])
    assert sorted(outcomes) == ["kept"] * (RACERS - 1) + ["set"], outcomes
    assert store.policy("edge")["learned_from"] == f"node-{outcomes.index('set')}"


def _write_raw(store: Store, node: str, raw: str) -> None:
    with store.engine().begin() as conn:
        conn.execute(text("INSERT INTO nodes (node, record) VALUES (:n, :r)"), {"n": node, "r": raw})


def test_a_corrupt_record_is_named_and_blocks_no_other_node(store, tpm_a, capsys):
    verifier = Verifier(store)
    _write_raw(store, "edge-bad", "{not json")
    _write_raw(store, "edge-nostatus", json.dumps({"node": "edge-nostatus"}))
    with pytest.raises(StoreError, match="record of node edge-bad is corrupt"):
        verifier.status("edge-bad")
    with pytest.raises(StoreError, match=r"record of node edge-nostatus is corrupt \(it has no status\)"):
        verifier.issue_nonce("edge-nostatus")
    verifier.quarantine("edge-good", "no TPM found")
    assert [r["node"] for r in store.nodes()] == ["edge-good"]
    assert sorted(store.corrupt_records()) == ["edge-bad", "edge-nostatus"]
    from edgewright.attest.__main__ import main

    assert main(["--store", str(store.root), "status"]) == 0
    out = capsys.readouterr().out
    assert "edge-good" in out and "edge-bad" in out and "corrupt" in out


def test_files_and_directories_are_private(make_store, tmp_path):
    store = make_store(tmp_path / "site" / "verifier")
    Verifier(store).quarantine("edge-1", "no TPM found")
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    if make_store.backend == "sqlite":
        files = [p for p in store.root.iterdir() if p.name.startswith("verifier.db")]
        assert {p.name for p in files} >= {"verifier.db", "verifier.db-wal"}
        assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


def test_a_settings_file_others_can_read_is_refused(make_store, tmp_path):
    store = make_store(tmp_path / "verifier")
    settings = store.root / SETTINGS_FILE
    store.root.mkdir(parents=True, exist_ok=True)
    if not settings.exists():
        settings.write_text("{}")
    settings.chmod(0o644)
    with pytest.raises(StoreError, match=r"store.json is readable by group or others: chmod 600 it"):
        store.nodes()


def test_bad_settings_are_named(tmp_path):
    root = tmp_path / "verifier"
    root.mkdir(mode=0o700)
    settings = root / SETTINGS_FILE
    for content, message in [
        ('{"database_url": "nosuch://x"}', "no driver for it"),
        ('{"database_url": "not a url"}', "is not a database URL"),
        ('{"evidence_retention": 0}', "evidence_retention must be a positive number"),
        ('{"databse_url": "sqlite://"}', "unknown setting 'databse_url'"),
        ("{oops", "corrupt"),
    ]:
        settings.write_text(content)
        settings.chmod(0o600)
        with pytest.raises(StoreError, match=message):
            Store(root).append_evidence({"node": "edge-1", "outcome": "x"})


def test_an_unreachable_database_is_a_one_line_error(tmp_path, capsys):
    root = tmp_path / "verifier"
    root.mkdir(mode=0o700)
    fd = os.open(root / SETTINGS_FILE, os.O_CREAT | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(
            {"database_url": f"postgresql+psycopg://verifier:s3cret@/verifier?host={tmp_path}&port=1"}, out
        )
    from edgewright.attest.__main__ import main

    assert main(["--store", str(root), "status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "edgewright attest status: error: cannot open the verifier's database postgresql+psycopg://verifier:***@"
    )
    assert "s3cret" not in err and len(err.strip().splitlines()) == 1


def test_a_store_the_operator_may_not_open_is_a_one_line_error(tmp_path):
    root = tmp_path / "verifier"
    Verifier(Store(root)).quarantine("edge-1", "no TPM found")
    # As root, drop the capabilities that override file modes, so the modes apply as to any operator.
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    root.chmod(0o000)
    try:
        proc = subprocess.run(
            [*unprivileged, sys.executable, "-m", "edgewright.cli", "attest", "--store", str(root), "status"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
    finally:
        root.chmod(0o700)
    assert proc.returncode == 77, proc.stderr
    assert proc.stderr.startswith("edgewright attest status: error: ") and "permission denied" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_the_evidence_log_keeps_only_the_newest_entries(make_store, tmp_path):
    store = make_store(tmp_path / "verifier", evidence_retention=5)
    for i in range(12):
        store.append_evidence({"node": f"edge-{i % 2}", "outcome": "attested", "n": i})
    assert [e["n"] for e in store.evidence()] == [7, 8, 9, 10, 11]
    assert [e["n"] for e in store.evidence("edge-1")] == [7, 9, 11]


def old_json_store(root: Path) -> None:
    """A verifier directory as edgewright kept it before the database."""
    (root / "nodes").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "nodes" / "edge-1.json").write_text(
        json.dumps({"node": "edge-1", "status": ATTESTED, "ek_sha256": "ab" * 32, "node_class": "edge"})
    )
    (root / "nodes" / "edge-2.json").write_text("{truncated")
    (root / "policies" / "edge.json").write_text(json.dumps({"pcrs": {"16": "00" * 32}}))
    lines = [{"node": "edge-1", "outcome": "enrolled"}, {"node": "edge-1", "outcome": "attested"}]
    (root / "evidence.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))


def test_a_json_store_is_imported_once_and_kept_aside(make_store, tmp_path):
    root = tmp_path / "verifier"
    old_json_store(root)
    store = make_store(root)
    assert store.node("edge-1")["status"] == ATTESTED
    assert store.policy("edge") == {"pcrs": {"16": "00" * 32}}
    assert [e["outcome"] for e in store.evidence("edge-1")] == ["enrolled", "attested"]
    assert "edge-2" in store.corrupt_records()
    assert store.ek_holder("ab" * 32) == "edge-1"
    assert not (root / "nodes").exists() and (root / IMPORTED_DIR / "nodes" / "edge-1.json").exists()
    # Opening it again, or files put back by hand, import nothing twice.
    store.close()
    (root / IMPORTED_DIR / "evidence.jsonl").rename(root / "evidence.jsonl")
    again = make_store(root)
    assert [e["outcome"] for e in again.evidence("edge-1")] == ["enrolled", "attested"]


def test_a_second_store_in_a_process_loses_no_commit_of_the_first(tmp_path):
    """A process whose verifier opens the same SQLite store twice (the xDS server's standing check beside a
    task's step, say) keeps its locks: another process closing the store must not take itself for the last
    user and delete the WAL under the first store's later commits."""
    root = tmp_path / "verifier"

    def other_process(code: str) -> str:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                f"from edgewright.attest.store import Store; s = Store({str(root)!r}); {code}",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
        ).stdout.strip()

    first = Store(root)
    first.save_node({"node": "edge-1", "status": ATTESTED})
    Store(root).node("edge-1")
    other_process("s.save_node({'node': 'edge-2', 'status': 'attested'})")
    first.delete_node("edge-1")
    first.save_node({"node": "edge-3", "status": ATTESTED})
    assert other_process("print(s.node('edge-1'), s.node('edge-3') is not None)") == "None True"
