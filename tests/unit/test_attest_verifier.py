"""The verifier against real software TPMs (swtpm on loopback), node side driven through the same
module_utils code the Ansible modules run on a node."""

from __future__ import annotations

import hashlib
import json

import pytest
import tpm

from edgewright.attest import structures
from edgewright.attest.store import Store, StoreError
from edgewright.attest.verifier import (
    ATTESTED,
    ENROLLED,
    QUARANTINED,
    RELEASED,
    Refused,
    Verifier,
    VerifierError,
)
from tests import swtpm

EK, AK, OTHER_AK = 0x81010001, 0x81010002, 0x81010003
PCRS = [0, 16]


@pytest.fixture
def tpms(tmp_path):
    started = []

    def make(name: str) -> swtpm.SoftwareTpm:
        t = swtpm.start(tmp_path / f"tpm-{name}")
        started.append(t)
        return t

    yield make
    for t in started:
        t.stop()


@pytest.fixture
def verifier(tmp_path):
    return Verifier(Store(tmp_path / "verifier"))


def enroll(verifier: Verifier, node: str, t: swtpm.SoftwareTpm):
    ek_pub, ak_pub, _ = tpm.ensure_identity(t.tcti, EK, AK)
    challenge = verifier.enroll_challenge(node, ek_pub, ak_pub)
    if challenge.credential is None:
        return None
    secret = tpm.activate_credential(t.tcti, EK, AK, challenge.credential)
    return verifier.enroll_complete(node, secret)


def attest(verifier: Verifier, node: str, t: swtpm.SoftwareTpm, node_class="edge", learn=True, ak=AK):
    nonce = verifier.issue_nonce(node)
    message, signature, values = tpm.quote(t.tcti, ak, PCRS, nonce)
    return verifier.verify(node, node_class, message, signature, values, learn_policy=learn)


def test_enroll_then_attest_records_evidence(verifier, tpms):
    t = tpms("a")
    verdict = enroll(verifier, "att-1", t)
    assert verdict.ok and verdict.status == ENROLLED
    # Enrolling again with the same keys is a no-op: no new challenge.
    assert enroll(verifier, "att-1", t) is None
    verdict = attest(verifier, "att-1", t)
    assert verdict.ok and verdict.status == ATTESTED and verdict.changed
    again = attest(verifier, "att-1", t)
    assert again.ok and not again.changed
    assert verifier.require_attested("att-1")["node_class"] == "edge"
    outcomes = [e["outcome"] for e in verifier.store.evidence("att-1")]
    assert outcomes == ["enrolled", "attested", "attested"]
    nonces = [e["nonce"] for e in verifier.store.evidence("att-1") if e["outcome"] == "attested"]
    assert len(set(nonces)) == 2, "every attestation uses a fresh nonce"
    assert json.loads((verifier.store.root / "policies" / "edge.json").read_text())["learned_from"] == "att-1"


def test_quote_matches_tpm2_checkquote(verifier, tpms, tmp_path):
    """Our verification agrees with tpm2-tools' own on the same real quote."""
    import subprocess

    t = tpms("a")
    enroll(verifier, "att-1", t)
    nonce = bytes(range(16))
    message, signature, values = tpm.quote(t.tcti, AK, PCRS, nonce)
    ak = structures.parse_rsa_public(tpm.read_public(t.tcti, AK))
    from edgewright.attest.verifier import check_quote

    assert check_quote(ak, message, signature, nonce, values, {})[0] is None
    pem = tmp_path / "ak.pem"
    tpm.run(t.tcti, ["tpm2_readpublic", "-c", hex(AK), "-f", "pem", "-o", str(pem)])
    (tmp_path / "m").write_bytes(message)
    (tmp_path / "s").write_bytes(signature)
    ok = subprocess.run(
        [
            "tpm2_checkquote",
            "-u",
            str(pem),
            "-m",
            str(tmp_path / "m"),
            "-s",
            str(tmp_path / "s"),
            "-F",
            "plain",
            "-g",
            "sha256",
            "-q",
            nonce.hex(),
        ],
        capture_output=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr


def test_tampered_pcr_quarantines_and_refuses(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    assert attest(verifier, "att-1", t).ok
    tpm.extend_pcr(t.tcti, 16, hashlib.sha256(b"unexpected binary").digest())
    verdict = attest(verifier, "att-1", t)
    assert not verdict.ok and verdict.status == QUARANTINED
    assert "PCR 16 is" in verdict.reason and "golden policy expects" in verdict.reason
    with pytest.raises(Refused, match="quarantined: PCR 16"):
        verifier.require_attested("att-1")
    with pytest.raises(Refused, match="release it"):
        verifier.issue_nonce("att-1")


def test_replayed_quote_is_rejected(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    nonce = verifier.issue_nonce("att-1")
    quote = tpm.quote(t.tcti, AK, PCRS, nonce)
    assert verifier.verify("att-1", "edge", *quote, learn_policy=True).ok
    verifier.issue_nonce("att-1")  # a new attestation starts; the old quote is sent again
    verdict = verifier.verify("att-1", "edge", *quote)
    assert verdict.status == QUARANTINED and "replayed or stale" in verdict.reason


def test_quote_without_nonce_issued_is_rejected(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    nonce = verifier.issue_nonce("att-1")
    quote = tpm.quote(t.tcti, AK, PCRS, nonce)
    assert verifier.verify("att-1", "edge", *quote, learn_policy=True).ok
    verdict = verifier.verify("att-1", "edge", *quote)
    assert verdict.status == QUARANTINED and "no nonce was issued" in verdict.reason


def test_expired_nonce_is_rejected(tmp_path, tpms):
    clock = [1000.0]
    verifier = Verifier(Store(tmp_path / "v"), nonce_ttl=60, clock=lambda: clock[0])
    t = tpms("a")
    enroll(verifier, "att-1", t)
    nonce = verifier.issue_nonce("att-1")
    quote = tpm.quote(t.tcti, AK, PCRS, nonce)
    clock[0] += 61
    verdict = verifier.verify("att-1", "edge", *quote, learn_policy=True)
    assert verdict.status == QUARANTINED and "expired" in verdict.reason


def test_quote_by_another_nodes_ak_is_rejected(verifier, tpms):
    a, b = tpms("a"), tpms("b")
    enroll(verifier, "att-1", a)
    enroll(verifier, "att-2", b)
    assert attest(verifier, "att-1", a).ok
    nonce = verifier.issue_nonce("att-1")
    quote = tpm.quote(b.tcti, AK, PCRS, nonce)  # the right nonce, signed in the other node's TPM
    verdict = verifier.verify("att-1", "edge", *quote)
    assert verdict.status == QUARANTINED and "does not verify with the node's enrolled AK" in verdict.reason


def test_quote_by_an_unenrolled_key_of_the_same_tpm_is_rejected(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    assert attest(verifier, "att-1", t).ok
    tpm.ensure_identity(t.tcti, EK, OTHER_AK)
    verdict = attest(verifier, "att-1", t, ak=OTHER_AK)
    assert verdict.status == QUARANTINED and "enrolled AK" in verdict.reason


def test_altered_pcr_values_are_rejected(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    assert attest(verifier, "att-1", t).ok
    nonce = verifier.issue_nonce("att-1")
    message, signature, values = tpm.quote(t.tcti, AK, PCRS, nonce)
    values[16] = bytes([1]) * 32
    verdict = verifier.verify("att-1", "edge", message, signature, values)
    assert verdict.status == QUARANTINED and "do not match the digest the TPM signed" in verdict.reason


def test_never_enrolled_node_is_quarantined(verifier, tpms):
    with pytest.raises(Refused, match="never enrolled"):
        verifier.issue_nonce("att-9")
    assert verifier.status("att-9")["status"] == QUARANTINED


def test_ak_not_bound_to_ek_fails_enrollment(verifier, tpms):
    """EK of one TPM presented with the AK of another: neither TPM can activate the credential."""
    a, b = tpms("a"), tpms("b")
    ek_a, _, _ = tpm.ensure_identity(a.tcti, EK, AK)
    _, ak_b, _ = tpm.ensure_identity(b.tcti, EK, AK)
    challenge = verifier.enroll_challenge("att-1", ek_a, ak_b)
    for t in (a, b):
        with pytest.raises(tpm.TpmError, match="tpm2_activatecredential failed"):
            tpm.activate_credential(t.tcti, EK, AK, challenge.credential)
    verdict = verifier.enroll_complete("att-1", b"\0" * 32)
    assert verdict.status == QUARANTINED and "not proven to be in the same TPM" in verdict.reason


def test_ek_as_ak_is_refused(verifier, tpms):
    t = tpms("a")
    ek, _, _ = tpm.ensure_identity(t.tcti, EK, AK)
    with pytest.raises(Refused, match="not a restricted signing key"):
        verifier.enroll_challenge("att-1", ek, ek)


def test_same_ek_for_two_nodes_is_refused(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    with pytest.raises(Refused, match="already enrolled by node att-1"):
        enroll(verifier, "att-2", t)


def test_changed_keys_quarantine_an_enrolled_node(verifier, tpms):
    a, b = tpms("a"), tpms("b")
    enroll(verifier, "att-1", a)
    with pytest.raises(Refused, match="differs from the ones it enrolled with"):
        enroll(verifier, "att-1", b)


def test_no_policy_and_no_learning_quarantines(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    verdict = attest(verifier, "att-1", t, node_class="gateway", learn=False)
    assert verdict.status == QUARANTINED and "no golden policy for node class gateway" in verdict.reason


def test_operator_policy_is_enforced(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    assert verifier.set_policy("edge", {16: "00" * 32, "0": "00" * 32})
    assert not verifier.set_policy("edge", {"16": "00" * 32, 0: "00" * 32})
    assert attest(verifier, "att-1", t, learn=False).ok
    tpm.extend_pcr(t.tcti, 16, bytes(32))
    assert attest(verifier, "att-1", t, learn=False).status == QUARANTINED


@pytest.mark.parametrize(
    ("pcrs", "message"),
    [
        ({24: "00" * 32}, "PCR 24 is out of range"),
        ({"x": "00" * 32}, "'x' is not a PCR number"),
        ({16: "zz"}, "PCR 16 is not hex"),
        ({16: "00" * 20}, "20 bytes"),
    ],
)
def test_bad_policy_is_refused_and_nothing_stored(verifier, pcrs, message):
    with pytest.raises(VerifierError, match=message):
        verifier.set_policy("edge", pcrs)
    assert verifier.store.policy("edge") is None


@pytest.mark.parametrize("name", ["../etc", "", "a b", "-x", "a/b"])
def test_bad_node_names_are_refused(verifier, name):
    with pytest.raises(StoreError, match="name"):
        verifier.issue_nonce(name)


def test_release_requires_a_new_attestation(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    assert attest(verifier, "att-1", t).ok
    tpm.extend_pcr(t.tcti, 16, bytes(32))
    assert attest(verifier, "att-1", t).status == QUARANTINED
    assert verifier.release("att-1", by="operator").status == RELEASED
    with pytest.raises(Refused, match="not attested"):
        verifier.require_attested("att-1")
    # Still tampered: quarantined again. After the TPM restarts (PCRs cleared) it attests.
    assert attest(verifier, "att-1", t).status == QUARANTINED
    verifier.release("att-1", by="operator")
    t.stop()
    restarted = swtpm.start(t.state)
    try:
        assert attest(verifier, "att-1", restarted).ok
    finally:
        restarted.stop()
    assert [e["outcome"] for e in verifier.store.evidence("att-1")][-2:] == ["released", "attested"]


def test_release_with_forget_keys_enrolls_afresh(verifier, tpms):
    a, b = tpms("a"), tpms("b")
    enroll(verifier, "att-1", a)
    with pytest.raises(Refused):
        enroll(verifier, "att-1", b)
    verifier.release("att-1", by="operator", forget_keys=True)
    assert enroll(verifier, "att-1", b).ok


def test_deregister_forgets_the_node_and_its_keys(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    assert attest(verifier, "att-1", t).ok
    assert verifier.deregister("att-1") is True
    assert verifier.status("att-1") is None
    with pytest.raises(Refused, match="unknown to the verifier"):
        verifier.require_attested("att-1")
    # A second time there is nothing left to forget; the history stays in the evidence log.
    assert verifier.deregister("att-1") is False
    assert [e["outcome"] for e in verifier.store.evidence("att-1")][-1] == "deregistered"
