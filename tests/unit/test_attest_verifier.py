"""The verifier against real software TPMs (swtpm on loopback), node side driven through the same
module_utils code the Ansible modules run on a node."""

from __future__ import annotations

import datetime
import hashlib

import pytest
import tpm
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from edgewright.attest import structures
from edgewright.attest.manufacturer import Manufacturer
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


@pytest.fixture(scope="session")
def vendor(tmp_path_factory):
    """The TPM manufacturer the verifier trusts."""
    return Manufacturer(tmp_path_factory.mktemp("vendor"))


@pytest.fixture
def tpms(tmp_path, vendor):
    started = []

    def make(name: str, manufacturer: Manufacturer | None = vendor) -> swtpm.SoftwareTpm:
        t = swtpm.start(tmp_path / f"tpm-{name}", manufacturer)
        started.append(t)
        return t

    yield make
    for t in started:
        t.stop()


def trusting(make_store, path, vendor: Manufacturer) -> Store:
    """A verifier store whose trust store holds VENDOR's CA."""
    store = make_store(path)
    store.ek_trust_dir.mkdir(parents=True, exist_ok=True)
    (store.ek_trust_dir / "vendor.pem").write_bytes(vendor.ensure_ca())
    return store


@pytest.fixture
def verifier(make_store, tmp_path, vendor):
    return Verifier(trusting(make_store, tmp_path / "verifier", vendor))


def enroll(verifier: Verifier, node: str, t: swtpm.SoftwareTpm):
    ek_pub, ak_pub, _ = tpm.ensure_identity(t.tcti, EK, AK)
    challenge = verifier.enroll_challenge(node, ek_pub, ak_pub, tpm.read_ek_certificate(t.tcti))
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
    assert verifier.store.policy("edge")["learned_from"] == "att-1"


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


def test_expired_nonce_is_rejected(make_store, tmp_path, tpms, vendor):
    clock = [1000.0]
    verifier = Verifier(trusting(make_store, tmp_path / "v", vendor), nonce_ttl=60, clock=lambda: clock[0])
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
    challenge = verifier.enroll_challenge("att-1", ek_a, ak_b, tpm.read_ek_certificate(a.tcti))
    for t in (a, b):
        with pytest.raises(tpm.TpmError, match="tpm2_activatecredential failed"):
            tpm.activate_credential(t.tcti, EK, AK, challenge.credential)
    verdict = verifier.enroll_complete("att-1", b"\0" * 32)
    assert verdict.status == QUARANTINED and "not proven to be in the same TPM" in verdict.reason


def test_ek_as_ak_is_refused(verifier, tpms):
    t = tpms("a")
    ek, _, _ = tpm.ensure_identity(t.tcti, EK, AK)
    with pytest.raises(Refused, match="not a restricted signing key"):
        verifier.enroll_challenge("att-1", ek, ek, tpm.read_ek_certificate(t.tcti))


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


def test_a_denied_csr_is_kept_in_the_nodes_evidence(make_store, tmp_path):
    verifier = Verifier(make_store(tmp_path / "verifier"))
    verifier.record_denied_csr(
        "k8s-2", "denied: it asks for system:node:k8s-1", csr="csr-x", token_id="abc123"
    )
    [entry] = verifier.store.evidence("k8s-2")
    assert entry["outcome"] == "csr-denied" and entry["reason"] == "denied: it asks for system:node:k8s-1"
    assert (entry["csr"], entry["token_id"]) == ("csr-x", "abc123")
    with pytest.raises(StoreError, match="node name"):
        verifier.record_denied_csr("../k8s-1", "x")


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


# -- certified TPMs only --------------------------------------------------------------------------------


def software_ek(real_ek_public: bytes) -> tuple[bytes, rsa.RSAPrivateKey]:
    """What a node without a TPM can make: an EK public area with every attribute a real EK has, around an
    RSA key made in software (its private key is the attacker's to use)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    modulus = key.public_key().public_numbers().n.to_bytes(256, "big")
    assert real_ek_public.endswith(b"\x01\x00" + real_ek_public[-256:])
    return real_ek_public[:-256] + modulus, key


def self_signed_certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgewright lab TPM manufacturer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def refusal(verifier: Verifier, node: str, ek: bytes, ak: bytes, certificate: bytes | None) -> str:
    with pytest.raises(Refused) as refused:
        verifier.enroll_challenge(node, ek, ak, certificate)
    assert verifier.status(node)["status"] == QUARANTINED
    return str(refused.value)


def test_a_tpm_without_an_ek_certificate_is_refused(verifier, tpms):
    t = tpms("plain", manufacturer=None)
    ek, ak, _ = tpm.ensure_identity(t.tcti, EK, AK)
    assert tpm.read_ek_certificate(t.tcti) is None
    reason = refusal(verifier, "att-1", ek, ak, None)
    assert "its TPM has no EK certificate" in reason
    assert hashlib.sha256(ek).hexdigest() in reason and "ek-allowlist.txt" in reason


def test_a_tpm_of_another_manufacturer_is_refused(verifier, tpms, tmp_path):
    t = tpms("foreign", manufacturer=Manufacturer(tmp_path / "other-vendor", name="another vendor"))
    ek, ak, _ = tpm.ensure_identity(t.tcti, EK, AK)
    reason = refusal(verifier, "att-1", ek, ak, tpm.read_ek_certificate(t.tcti))
    assert "(issuer CN=another vendor) is not signed by a manufacturer CA" in reason


def test_a_ca_with_the_manufacturers_name_but_not_its_key_is_refused(verifier, tpms, tmp_path):
    impostor = Manufacturer(tmp_path / "impostor")  # same name as the trusted vendor, another key
    t = tpms("impostor", manufacturer=impostor)
    ek, ak, _ = tpm.ensure_identity(t.tcti, EK, AK)
    reason = refusal(verifier, "att-1", ek, ak, tpm.read_ek_certificate(t.tcti))
    assert "is not signed by a manufacturer CA in the verifier's trust store" in reason


def test_a_software_ek_and_ak_are_refused_with_or_without_a_certificate(verifier, tpms):
    t = tpms("a")
    real_ek, ak, _ = tpm.ensure_identity(t.tcti, EK, AK)
    fake_ek, key = software_ek(real_ek)
    assert structures.parse_rsa_public(fake_ek).attributes == structures.parse_rsa_public(real_ek).attributes
    assert "its TPM has no EK certificate" in refusal(verifier, "att-1", fake_ek, ak, None)
    forged = self_signed_certificate(key)
    assert "is not signed by a manufacturer CA" in refusal(verifier, "att-2", fake_ek, ak, forged)
    # The real TPM's certificate does not vouch for a key made beside it.
    real_certificate = tpm.read_ek_certificate(t.tcti)
    assert "certifies another key than its EK" in refusal(verifier, "att-3", fake_ek, ak, real_certificate)


def test_an_allowlisted_ek_enrolls_without_a_certificate(verifier, tpms):
    t = tpms("plain", manufacturer=None)
    ek, _, _ = tpm.ensure_identity(t.tcti, EK, AK)
    verifier.store.ek_allowlist.write_text(
        f"# a TPM whose vendor ships no certificate\n{hashlib.sha256(ek).hexdigest()}\n"
    )
    assert enroll(verifier, "att-1", t).status == ENROLLED


def test_trust_on_first_use_only_when_named(make_store, tmp_path, tpms):
    t = tpms("plain", manufacturer=None)
    ek, ak, _ = tpm.ensure_identity(t.tcti, EK, AK)
    assert refusal(Verifier(make_store(tmp_path / "strict")), "att-1", ek, ak, None)
    assert (
        enroll(Verifier(make_store(tmp_path / "tofu"), insecure_trust_any_ek=True), "att-1", t).status
        == ENROLLED
    )


def test_an_enrolled_node_is_quarantined_once_its_manufacturer_is_no_longer_trusted(verifier, tpms):
    t = tpms("a")
    enroll(verifier, "att-1", t)
    assert enroll(verifier, "att-1", t) is None  # enrolled, no new challenge
    (verifier.store.ek_trust_dir / "vendor.pem").unlink()
    with pytest.raises(Refused, match="not signed by a manufacturer CA"):
        enroll(verifier, "att-1", t)
    assert verifier.status("att-1")["status"] == QUARANTINED


def test_a_trust_store_file_that_is_not_pem_is_a_clear_error(verifier, tpms):
    t = tpms("a")
    (verifier.store.ek_trust_dir / "broken.pem").write_text("not a certificate")
    with pytest.raises(VerifierError, match=r"trust store file .*broken.pem is not PEM certificates"):
        enroll(verifier, "att-1", t)


def test_a_gate_refuses_an_attestation_older_than_its_max_age(make_store, tmp_path, tpms, vendor):
    clock = [1_700_000_000.0]
    verifier = Verifier(trusting(make_store, tmp_path / "v", vendor), clock=lambda: clock[0])
    t = tpms("a")
    enroll(verifier, "att-1", t)
    attest(verifier, "att-1", t)
    assert verifier.require_attested("att-1")["status"] == ATTESTED
    clock[0] += 3601  # past the default
    with pytest.raises(Refused, match=r"last attested 3601 s ago, longer ago than the gate allows \(3600 s"):
        verifier.require_attested("att-1")
    assert verifier.require_attested("att-1", max_age=7200)["status"] == ATTESTED
    assert verifier.require_attested("att-1", max_age=None)["status"] == ATTESTED
    # Stale is no verdict: the node is not quarantined, and a fresh quote lets it through again.
    assert verifier.status("att-1")["status"] == ATTESTED
    attest(verifier, "att-1", t)
    assert verifier.require_attested("att-1", max_age=60)["status"] == ATTESTED


# -- measurements root cannot undo: PCR 13, the measurement log, policy learning ------------------------

MEASUREMENT_PCR = 13
CLASS_PCRS = [0, MEASUREMENT_PCR]


class MeasuredNode:
    """A node's side of measured attestation, as the tpm_measure and tpm_quote modules run it. The nodes of
    a test share their artefacts' paths (and files), as nodes of one class do; each has its own log."""

    def __init__(self, name: str, t: swtpm.SoftwareTpm, root) -> None:
        self.name, self.tpm = name, t
        self.artefacts = [root / "artefacts" / "swtpm.service", root / "artefacts" / "tpm2_quote"]
        for artefact in self.artefacts:
            artefact.parent.mkdir(parents=True, exist_ok=True)
            artefact.write_text(f"the {artefact.name} edgewright installs\n")
        self.log = root / name / "measurements.log"

    def measure(self) -> list[str]:
        measured, *_ = tpm.measure_artefacts(
            self.tpm.tcti, MEASUREMENT_PCR, [str(a) for a in self.artefacts], str(self.log)
        )
        return measured

    def attest(self, verifier: Verifier, *, learn=True, reference="mea-1", pcrs=CLASS_PCRS, log=None):
        self.measure()
        nonce = verifier.issue_nonce(self.name)
        message, signature, values = tpm.quote(self.tpm.tcti, AK, pcrs, nonce)
        return verifier.verify(
            self.name,
            "edge",
            message,
            signature,
            values,
            learn_policy=learn,
            measurement_log=tpm.read_log_text(str(self.log)) if log is None else log,
            expected_pcrs=CLASS_PCRS,
            policy_reference_node=reference,
        )


@pytest.fixture
def measured(verifier, tpms, tmp_path):
    def make(name: str) -> MeasuredNode:
        node = MeasuredNode(name, tpms(name), tmp_path / "nodes")
        enroll(verifier, name, node.tpm)
        return node

    return make


def test_the_measurement_pcr_cannot_be_reset_from_software(tpms):
    t = tpms("a")
    with pytest.raises(tpm.TpmError, match="bad locality"):
        tpm.run(t.tcti, ["tpm2_pcrreset", str(MEASUREMENT_PCR)])
    tpm.run(t.tcti, ["tpm2_pcrreset", "16"])  # the debug PCR the measurements left: any process resets it


def test_the_reference_node_learns_pcrs_and_allowed_digests(verifier, measured):
    node = measured("mea-1")
    verdict = node.attest(verifier)
    assert verdict.ok and verdict.details["measurement_log_entries"] == 2
    policy = verifier.store.policy("edge")
    assert policy["learned_from"] == "mea-1" and policy["measurement_pcr"] == MEASUREMENT_PCR
    assert sorted(policy["digests"]) == sorted(str(a) for a in node.artefacts)
    assert list(policy["pcrs"]) == ["0"], "the log's PCR is judged by its entries, not pinned"
    # A rerun measures nothing again and passes against what was learned.
    assert node.measure() == [] and node.attest(verifier).ok


def test_root_re_extending_the_pcr_with_the_golden_measurements_is_quarantined(verifier, measured):
    node = measured("mea-1")
    assert node.attest(verifier).ok
    # Root cannot reset the PCR, so it extends the golden events again, and writes them into the log too.
    with pytest.raises(tpm.TpmError, match="bad locality"):
        tpm.run(node.tpm.tcti, ["tpm2_pcrreset", str(MEASUREMENT_PCR)])
    golden = tpm.load_log(str(node.log))
    for _, path, digest in golden:
        tpm.extend_pcr(node.tpm.tcti, MEASUREMENT_PCR, tpm.event_hash(path, digest))
    tpm.save_log(str(node.log), golden + golden)
    verdict = node.attest(verifier)
    assert verdict.status == QUARANTINED
    assert f"entry 3 ({node.artefacts[0]}" in verdict.reason and "a second time" in verdict.reason
    with pytest.raises(Refused, match="quarantined"):
        verifier.require_attested("mea-1")
    # Keeping the golden log instead: the PCR no longer replays from it.
    verifier.release("mea-1", by="operator")
    tpm.save_log(str(node.log), golden)
    verdict = node.attest(verifier)
    assert verdict.status == QUARANTINED and "does not replay to the quoted value of PCR 13" in verdict.reason


def test_a_changed_measured_file_is_named_in_the_failure(verifier, measured):
    reference, other = measured("mea-1"), measured("mea-2")
    assert reference.attest(verifier).ok and other.attest(verifier).ok
    other.artefacts[1].write_text("a tpm2_quote that signs what it is told\n")
    assert other.measure() == [str(other.artefacts[1])]
    verdict = other.attest(verifier)
    assert verdict.status == QUARANTINED
    assert verdict.reason.startswith(f"entry 3 ({other.artefacts[1]}, sha256 ")
    assert "the policy allows" in verdict.reason
    assert verifier.status("mea-2")["reason"] == verdict.reason
    # The operator rolls the new version out: its digest is allowed, and once the node's TPM restarts
    # (a reboot) with it, the node attests; the old version stays allowed beside it.
    new_digest = tpm.file_measurement(str(other.artefacts[1])).hex()
    assert verifier.allow_digests("edge", {str(other.artefacts[1]): [new_digest]})
    assert not verifier.allow_digests("edge", {str(other.artefacts[1]): [new_digest.upper()]})
    verifier.release("mea-2", by="operator")
    other.tpm.stop()
    other.tpm = swtpm.start(other.tpm.state)
    try:
        assert other.attest(verifier).ok
    finally:
        other.tpm.stop()
    assert len(verifier.store.policy("edge")["digests"][str(other.artefacts[1])]) == 2


@pytest.mark.parametrize(
    ("allowed", "message"),
    [
        ({"etc/x": ["00" * 32]}, "must be absolute"),
        ({"/etc/x\n13 forged": ["00" * 32]}, "must be absolute and free of control characters"),
        ({"/etc/x": ["abcd"]}, "is not a SHA-256 hex value"),
    ],
)
def test_bad_allowed_digests_are_refused_and_nothing_changes(verifier, measured, allowed, message):
    assert measured("mea-1").attest(verifier).ok
    before = verifier.store.policy("edge")
    with pytest.raises(VerifierError, match=message):
        verifier.allow_digests("edge", allowed)
    assert verifier.store.policy("edge") == before


def test_allowing_digests_needs_a_policy_that_judges_the_log(verifier):
    verifier.set_policy("edge", {0: "00" * 32})
    with pytest.raises(VerifierError, match="no policy that judges the measurement log"):
        verifier.allow_digests("edge", {"/etc/x": ["00" * 32]})


def test_a_pcr_extended_outside_the_log_fails(verifier, measured):
    node = measured("mea-1")
    assert node.attest(verifier).ok
    tpm.extend_pcr(node.tpm.tcti, MEASUREMENT_PCR, hashlib.sha256(b"a module loaded by root").digest())
    verdict = node.attest(verifier)
    assert verdict.status == QUARANTINED and "extended outside the log" in verdict.reason


def test_a_quote_of_no_pcrs_does_not_become_the_policy(verifier, measured):
    node = measured("mea-1")
    node.measure()
    nonce = verifier.issue_nonce("mea-1")
    message, signature = swtpm.quote_of_no_pcrs(node.tpm, AK, nonce)
    assert structures.parse_quote(message).pcr_indexes == ()
    verdict = verifier.verify(
        "mea-1",
        "edge",
        message,
        signature,
        {},
        learn_policy=True,
        measurement_log=tpm.read_log_text(str(node.log)),
        expected_pcrs=CLASS_PCRS,
        policy_reference_node="mea-1",
    )
    assert (
        verdict.status == QUARANTINED
        and "policy learning refused: the quote covers no PCRs" in verdict.reason
    )
    assert verifier.store.policy("edge") is None


@pytest.mark.parametrize(
    ("pcrs", "log", "reason"),
    [
        ([0], None, "the quote covers PCRs [0], the class quotes [0, 13]"),
        (CLASS_PCRS, "", "the measurement log is empty"),
    ],
)
def test_a_partial_quote_or_an_empty_log_does_not_become_the_policy(verifier, measured, pcrs, log, reason):
    verdict = measured("mea-1").attest(verifier, pcrs=pcrs, log=log)
    assert verdict.status == QUARANTINED and f"policy learning refused: {reason}" in verdict.reason
    assert verifier.store.policy("edge") is None


def test_a_node_not_designated_never_learns(verifier, measured):
    reference, other = measured("mea-1"), measured("mea-2")
    verdict = other.attest(verifier)
    assert verdict.status == QUARANTINED and "learned only from mea-1" in verdict.reason
    assert verifier.store.policy("edge") is None
    verifier.release("mea-2", by="operator")
    assert reference.attest(verifier).ok and other.attest(verifier).ok
    assert verifier.store.policy("edge")["learned_from"] == "mea-1"


def test_concurrent_attestations_learn_only_from_the_reference(verifier, measured):
    """Forks attesting at once: whichever takes the lock first, the policy is the reference node's."""
    import threading

    nodes = [measured(f"mea-{i}") for i in (1, 2, 3)]
    quotes = {}
    for node in nodes:
        node.measure()
        nonce = verifier.issue_nonce(node.name)
        quotes[node.name] = (
            *tpm.quote(node.tpm.tcti, AK, CLASS_PCRS, nonce),
            tpm.read_log_text(str(node.log)),
        )
    # A thread that fails breaks the barrier (its timeout only keeps a broken run from hanging).
    start, verdicts = threading.Barrier(len(nodes), timeout=120), {}

    def run(node):
        message, signature, values, log = quotes[node.name]
        start.wait()
        verdicts[node.name] = verifier.verify(
            node.name, "edge", message, signature, values, learn_policy=True, measurement_log=log,
            expected_pcrs=CLASS_PCRS, policy_reference_node="mea-1",
        )  # fmt: skip

    threads = [threading.Thread(target=run, args=(node,)) for node in reversed(nodes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(verdicts) == ["mea-1", "mea-2", "mea-3"], "a verification raised"
    assert verdicts["mea-1"].ok and verifier.store.policy("edge")["learned_from"] == "mea-1"
    for name in ("mea-2", "mea-3"):
        assert verdicts[name].ok or "learned only from mea-1" in verdicts[name].reason


def test_a_policy_with_digests_needs_the_log(verifier, measured):
    node = measured("mea-1")
    assert node.attest(verifier).ok
    nonce = verifier.issue_nonce("mea-1")
    verdict = verifier.verify("mea-1", "edge", *tpm.quote(node.tpm.tcti, AK, CLASS_PCRS, nonce))
    assert verdict.status == QUARANTINED and "without the measurement log" in verdict.reason
