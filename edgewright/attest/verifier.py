"""The attestation verifier: enrolls nodes by credential activation, attests them by TPM quotes against a
golden policy per node class, and quarantines every node that fails.

A node's life here: unknown -> enrolling (a credential challenge is out) -> enrolled (its AK is proven to
live in the same TPM as its EK) -> attested (its last quote, over a fresh nonce, matched its class's
golden PCR values). Any failure makes it quarantined, and it stays so, refused by every later step, until an
operator releases it.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from edgewright.attest import ekcert, measurements, structures
from edgewright.attest.store import EkConflict, Store, check_name
from edgewright.errors import EdgewrightError

ENROLLING = "enrolling"
ENROLLED = "enrolled"
ATTESTED = "attested"
QUARANTINED = "quarantined"
RELEASED = "released"

NONCE_BYTES = 32
DEFAULT_NONCE_TTL = 300.0
# How old an attestation a gate accepts before it issues a credential: one hour, so that a playbook run gates
# on the quote it made itself, and a node attested yesterday must quote again.
DEFAULT_MAX_AGE = 3600.0
EK_REQUIRED_ATTRIBUTES = (
    structures.FIXED_TPM | structures.FIXED_PARENT | structures.RESTRICTED | structures.DECRYPT
)


class VerifierError(EdgewrightError, ValueError):
    """Input the verifier cannot work with (not a verdict on the node); the message names the problem."""


class Refused(EdgewrightError, RuntimeError):
    """The node may not proceed: quarantined, or not attested. The message says why and how to release."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one enrollment or attestation step."""

    ok: bool
    status: str
    reason: str
    changed: bool
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Challenge:
    """A credential-activation challenge for a node (None credential: already enrolled with these keys)."""

    credential: bytes | None
    changed: bool


def now_iso(clock: Callable[[], float]) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


def iso_to_unix(stamp: str | None) -> float | None:
    """Unix time of the verifier's 'YYYY-MM-DDTHH:MM:SSZ' stamps; None when absent or unreadable."""
    if not stamp:
        return None
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return None


def make_credential(ek_public: bytes, ak_name: bytes, secret: bytes) -> bytes:
    """Wrap SECRET so only the TPM holding this EK can unwrap it, and only for the key named AK_NAME."""
    with tempfile.TemporaryDirectory(prefix="edgewright-mkcred-") as tmp:
        ek_file, secret_file, out = Path(tmp, "ek.pub"), Path(tmp, "secret"), Path(tmp, "credential")
        ek_file.write_bytes(ek_public)
        secret_file.write_bytes(secret)
        try:
            proc = subprocess.run(
                [
                    "tpm2_makecredential",
                    "--tcti",
                    "none",
                    "-u",
                    str(ek_file),
                    "-s",
                    str(secret_file),
                    "-n",
                    ak_name.hex(),
                    "-o",
                    str(out),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError as exc:
            raise VerifierError(
                "tpm2_makecredential not found on the controller: install tpm2-tools"
            ) from exc
        if proc.returncode != 0:
            raise VerifierError(f"tpm2_makecredential failed: {proc.stderr.strip()}")
        return out.read_bytes()


def check_quote(
    ak: structures.AkPublic,
    message: bytes,
    signature: bytes,
    nonce: bytes,
    pcr_values: Mapping[int, bytes],
    golden: Mapping[int, bytes],
) -> tuple[str | None, structures.Quote | None]:
    """Why this quote must be rejected (None when it is good), and the parsed quote when it parses.

    Checked in this order: the AK's signature, the nonce, the reported PCR values against the signed
    digest, then those values against the golden policy.
    """
    try:
        ak.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return "the quote's signature does not verify with the node's enrolled AK", None
    try:
        quote = structures.parse_quote(message)
    except structures.StructureError as exc:
        return f"the quote is malformed: {exc}", None
    if not hmac.compare_digest(quote.nonce, nonce):
        return "the quote is not over the nonce issued for this attestation (replayed or stale quote)", quote
    if sorted(pcr_values) != list(quote.pcr_indexes):
        return (
            f"the reported PCRs {sorted(pcr_values)} are not the quoted PCRs {list(quote.pcr_indexes)}",
            quote,
        )
    if structures.composite_digest([pcr_values[i] for i in quote.pcr_indexes]) != quote.pcr_digest:
        return "the reported PCR values do not match the digest the TPM signed", quote
    for index, expected in sorted(golden.items()):
        if index not in pcr_values:
            return f"PCR {index} is in the golden policy but not in the quote", quote
        if pcr_values[index] != expected:
            return (
                f"PCR {index} is {pcr_values[index].hex()}, the golden policy expects {expected.hex()}",
                quote,
            )
    return None, quote


def golden_from_policy(policy: Mapping[str, Any]) -> dict[int, bytes]:
    """The golden PCR values of a stored policy ({"pcrs": {"16": "hex"}})."""
    return {int(k): bytes.fromhex(v) for k, v in policy.get("pcrs", {}).items()}


def validate_golden(pcrs: Mapping[Any, Any]) -> dict[int, bytes]:
    """Golden PCR values given by an operator, checked: PCR 0-23 with 32-byte SHA-256 hex values."""
    golden: dict[int, bytes] = {}
    for key, value in pcrs.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise VerifierError(f"golden policy PCR {key!r} is not a PCR number") from None
        if not 0 <= index < structures.PCR_COUNT:
            raise VerifierError(f"golden policy PCR {index} is out of range (0-{structures.PCR_COUNT - 1})")
        try:
            digest = bytes.fromhex(str(value))
        except ValueError:
            raise VerifierError(f"golden value of PCR {index} is not hex") from None
        if len(digest) != structures.SHA256_SIZE:
            raise VerifierError(f"golden value of PCR {index} is {len(digest)} bytes, a SHA-256 PCR is 32")
        golden[index] = digest
    return golden


def learned_policy(
    pcr_values: Mapping[int, bytes],
    measurement_log: str | None,
    entries: Sequence[measurements.Entry],
    expected_pcrs: Sequence[int] | None,
) -> tuple[dict[str, Any], str | None]:
    """The policy a reference node's checked quote teaches, or why it teaches none.

    Never an empty or partial PCR set: the quote must cover EXPECTED_PCRS exactly (the PCRs every node of
    the class quotes) and, with a log, the log must be non-empty, all for one quoted PCR, replay to its
    value and measure each artefact once. The log's PCR is judged by its entries' digests, not pinned to a
    value, so that an operator can allow another digest of an artefact without a new PCR value.
    """
    refused = "policy learning refused: "
    quoted = sorted(pcr_values)
    if not quoted:
        return {}, refused + "the quote covers no PCRs"
    if expected_pcrs is not None and quoted != sorted(set(expected_pcrs)):
        return {}, refused + f"the quote covers PCRs {quoted}, the class quotes {sorted(set(expected_pcrs))}"
    policy: dict[str, Any] = {"pcrs": {str(i): v.hex() for i, v in sorted(pcr_values.items())}}
    if measurement_log is None:
        return policy, None
    if not entries:
        return {}, refused + "the measurement log is empty"
    pcr = entries[0].pcr
    problem = measurements.log_problem(entries, pcr, pcr_values, None)
    if problem:
        return {}, refused + problem
    policy["pcrs"].pop(str(pcr))
    policy.update(measurement_pcr=pcr, digests=measurements.learned_digests(entries))
    return policy, None


class Verifier:
    """The verifier over one store directory. Every public method is one locked transaction."""

    def __init__(
        self,
        store: Store,
        *,
        nonce_ttl: float = DEFAULT_NONCE_TTL,
        clock: Callable[[], float] = time.time,
        credential_maker: Callable[[bytes, bytes, bytes], bytes] = make_credential,
        insecure_trust_any_ek: bool = False,
    ) -> None:
        self.store = store
        # Trust on first use: any EK is enrolled, certified or not. A node with no TPM at all passes then
        # (keys made in software prove nothing), so this is for a test bench only and is named to say so.
        self.insecure_trust_any_ek = insecure_trust_any_ek
        self.nonce_ttl = nonce_ttl
        self.clock = clock
        self.make_credential = credential_maker

    # -- enrollment -------------------------------------------------------------------------------------

    def enroll_challenge(
        self, node: str, ek_public: bytes, ak_public: bytes, ek_certificate: bytes | None = None
    ) -> Challenge:
        """A credential for the node's TPM to activate, or no credential when already enrolled with these keys.

        The EK must be certified: EK_CERTIFICATE (DER, from the TPM's NV index) signed by a manufacturer CA
        of the trust store, or the EK allowlisted by the operator. Raises Refused when the node is
        quarantined, or quarantines it when its keys are unusable or its EK is not certified.
        """
        check_name("node", node)
        with self.store.locked():
            record = self.store.node(node)
            self._refuse_quarantined(record)
            ek_sha256 = hashlib.sha256(ek_public).hexdigest()
            if record and record.get("enrolled_at"):
                if record["ek_sha256"] == ek_sha256 and record["ak_public"] == ak_public.hex():
                    # Checked again at every enrollment step: a manufacturer CA the operator removed from
                    # the trust store no longer vouches for the TPMs it certified.
                    problem = self._ek_trust_problem(ek_public, ek_sha256, ek_certificate)
                    if problem is None:
                        return Challenge(None, changed=False)
                    self._quarantine(node, record, problem)
                    raise Refused(self._refusal(node, problem))
                reason = "its EK or AK differs from the ones it enrolled with (TPM replaced or keys re-made?)"
                self._quarantine(node, record, reason)
                raise Refused(self._refusal(node, reason))
            problem = self._key_problem(node, ek_public, ak_public, ek_sha256) or self._ek_trust_problem(
                ek_public, ek_sha256, ek_certificate
            )
            if problem:
                self._quarantine(node, record, problem)
                raise Refused(self._refusal(node, problem))
            ak = structures.parse_rsa_public(ak_public)
            secret = secrets.token_bytes(32)
            credential = self.make_credential(ek_public, ak.name, secret)
            enrolling = {
                "node": node,
                "status": ENROLLING,
                "ek_sha256": ek_sha256,
                "ak_public": ak_public.hex(),
                "ak_name": ak.name.hex(),
                "challenge_sha256": hashlib.sha256(secret).hexdigest(),
                "challenge_issued_at": self.clock(),
                "since": now_iso(self.clock),
            }
            try:
                self.store.save_node(enrolling)
            except EkConflict as exc:
                # Another verifier enrolled this EK for another node since the check above: the database's
                # UNIQUE EK column decides the race, and this node is refused as it would have been.
                reason = f"its EK is already enrolled by node {exc.holder}"
                self._quarantine(node, record, reason)
                raise Refused(self._refusal(node, reason)) from None
            return Challenge(credential, changed=True)

    def _key_problem(self, node: str, ek_public: bytes, ak_public: bytes, ek_sha256: str) -> str | None:
        try:
            ek = structures.parse_rsa_public(ek_public)
        except structures.StructureError as exc:
            return f"its EK public key is not a TPM RSA public area: {exc}"
        if ek.attributes & EK_REQUIRED_ATTRIBUTES != EK_REQUIRED_ATTRIBUTES:
            return "its EK is not a restricted decryption key fixed to its TPM"
        try:
            ak = structures.parse_rsa_public(ak_public)
        except structures.StructureError as exc:
            return f"its AK public key is not a TPM RSA public area: {exc}"
        if not ak.is_restricted_signing_key():
            return "its AK is not a restricted signing key made in and fixed to its TPM"
        holder = self.store.ek_holder(ek_sha256)
        if holder is not None and holder != node:
            return f"its EK is already enrolled by node {holder}"
        return None

    def _ek_trust_problem(self, ek_public: bytes, ek_sha256: str, ek_certificate: bytes | None) -> str | None:
        """Why this EK is not known to live in a real TPM (None when it is certified or allowlisted)."""
        if self.insecure_trust_any_ek or self.store.ek_allowlisted(ek_sha256):
            return None
        try:
            anchors = ekcert.load_anchors(self.store.ek_trust_dir)
        except ValueError as exc:
            raise VerifierError(str(exc)) from None
        ek = structures.parse_rsa_public(ek_public).public_key()
        problem = ekcert.certificate_problem(ek_certificate, ek, anchors)
        if problem is None:
            return None
        if not anchors:
            problem += f" (the trust store {self.store.ek_trust_dir} holds no manufacturer CA)"
        return f"{problem}; to trust this TPM all the same, allowlist its EK ({ek_sha256}) in {self.store.ek_allowlist}"

    def enroll_complete(self, node: str, activated_secret: bytes) -> Verdict:
        """Finish enrollment with the secret the node's TPM recovered from its credential."""
        with self.store.locked():
            record = self.store.node(node)
            self._refuse_quarantined(record)
            if not record or record["status"] != ENROLLING:
                raise VerifierError(f"node {node} has no enrollment challenge outstanding")
            expected = bytes.fromhex(record["challenge_sha256"])
            if not hmac.compare_digest(hashlib.sha256(activated_secret).digest(), expected):
                reason = "credential activation failed: its AK is not proven to be in the same TPM as its EK"
                self._quarantine(node, record, reason)
                return Verdict(False, QUARANTINED, reason, changed=True)
            record.update(status=ENROLLED, since=now_iso(self.clock), enrolled_at=now_iso(self.clock))
            for key in ("challenge_sha256", "challenge_issued_at"):
                record.pop(key, None)
            self.store.save_node(record)
            self._evidence(
                node, "enrolled", "AK bound to EK by credential activation", ak_name=record["ak_name"]
            )
            return Verdict(True, ENROLLED, "enrolled", changed=True)

    # -- attestation ------------------------------------------------------------------------------------

    def issue_nonce(self, node: str) -> bytes:
        """A fresh random nonce for the node's next quote (replacing any earlier one)."""
        check_name("node", node)
        # Not synced to disk at once: a nonce lost in a crash of the controller only fails its quote,
        # while using a nonce (in verify) is always durable, so no quote can pass twice.
        with self.store.locked(durable=False):
            record = self.store.node(node)
            self._refuse_quarantined(record)
            if not record or not record.get("enrolled_at"):
                reason = "it was never enrolled with the verifier"
                self._quarantine(node, record, reason)
                raise Refused(self._refusal(node, reason))
            nonce = secrets.token_bytes(NONCE_BYTES)
            record.update(nonce=nonce.hex(), nonce_issued_at=self.clock())
            self.store.save_node(record)
            return nonce

    def verify(
        self,
        node: str,
        node_class: str,
        message: bytes,
        signature: bytes,
        pcr_values: Mapping[int, bytes],
        *,
        learn_policy: bool = False,
        measurement_log: str | None = None,
        expected_pcrs: Sequence[int] | None = None,
        policy_reference_node: str | None = None,
    ) -> Verdict:
        """Check a quote the node made over its last nonce, and the measurement log sent with it; quarantine
        the node when either fails.

        The nonce is used up whatever the outcome, so the same quote can never pass twice. With a policy
        that allows digests per measured file, MEASUREMENT_LOG must replay to the quoted measurement PCR and
        each of its entries be allowed (see edgewright.attest.measurements).

        With LEARN_POLICY and no golden policy for NODE_CLASS yet, this node's signed, fresh PCR values and
        its replayed log become the class's policy, but only when the node is POLICY_REFERENCE_NODE (when
        one is named: any other node never learns) and the quote covers exactly EXPECTED_PCRS (when given)
        with a non-empty log: an empty or partial PCR set is never learned.
        """
        check_name("node class", node_class)
        with self.store.locked():
            record = self.store.node(node)
            self._refuse_quarantined(record)
            if not record or not record.get("enrolled_at"):
                reason = "it was never enrolled with the verifier"
                self._quarantine(node, record, reason)
                return Verdict(False, QUARANTINED, reason, changed=True)
            nonce_hex, issued_at = record.pop("nonce", None), record.pop("nonce_issued_at", 0.0)
            self.store.save_node(record)
            if nonce_hex is None:
                reason = "no nonce was issued for this quote (replayed quote)"
            elif self.clock() - issued_at > self.nonce_ttl:
                reason = f"the nonce expired ({self.nonce_ttl:.0f} s) before the quote arrived"
            else:
                reason = None
            policy = self.store.policy(node_class)
            learning = False
            if reason is None and policy is None:
                if learn_policy and policy_reference_node in (None, node):
                    learning = True
                elif learn_policy:
                    reason = (
                        f"there is no golden policy for node class {node_class} yet, and it is learned only "
                        f"from {policy_reference_node} (attest_policy_reference_node)"
                    )
                else:
                    reason = f"there is no golden policy for node class {node_class}"
            quote = None
            if reason is None:
                ak = structures.parse_rsa_public(bytes.fromhex(record["ak_public"]))
                reason, quote = check_quote(
                    ak,
                    message,
                    signature,
                    bytes.fromhex(nonce_hex),
                    pcr_values,
                    {} if learning else golden_from_policy(policy),
                )
            entries: list[measurements.Entry] = []
            if reason is None and measurement_log is not None:
                try:
                    entries = measurements.parse_log(measurement_log)
                except measurements.LogError as exc:
                    reason = str(exc)
            if reason is None and learning:
                policy, reason = learned_policy(pcr_values, measurement_log, entries, expected_pcrs)
            if reason is None and "digests" in policy:
                if measurement_log is None:
                    reason = "the quote came without the measurement log the policy judges"
                else:
                    reason = measurements.log_problem(
                        entries, int(policy["measurement_pcr"]), pcr_values, policy["digests"]
                    )
            details = {
                "node_class": node_class,
                "nonce": nonce_hex,
                "pcrs": {str(i): v.hex() for i, v in sorted(pcr_values.items())},
                "reset_count": quote.reset_count if quote else None,
                "measurement_log_entries": len(entries) if measurement_log is not None else None,
            }
            if reason is not None:
                self._quarantine(node, record, reason, **details)
                return Verdict(False, QUARANTINED, reason, changed=True, details=details)
            if learning:
                self.store.save_policy(
                    node_class, {**policy, "learned_from": node, "at": now_iso(self.clock)}
                )
            changed = record["status"] != ATTESTED or record.get("node_class") != node_class
            record.update(status=ATTESTED, node_class=node_class, last_attested_at=now_iso(self.clock))
            if changed:
                record["since"] = now_iso(self.clock)
            record.pop("reason", None)
            self.store.save_node(record)
            self._evidence(
                node, "attested", "quote matches the golden policy", learned_policy=learning, **details
            )
            return Verdict(True, ATTESTED, "attested", changed=changed or learning, details=details)

    # -- quarantine ---------------------------------------------------------------------------------------

    def quarantine(self, node: str, reason: str) -> Verdict:
        """Quarantine a node for a failure found outside the verifier (e.g. no TPM, a failed TPM command)."""
        check_name("node", node)
        with self.store.locked():
            record = self.store.node(node)
            if record and record["status"] == QUARANTINED:
                return Verdict(False, QUARANTINED, record.get("reason", reason), changed=False)
            self._quarantine(node, record, reason)
            return Verdict(False, QUARANTINED, reason, changed=True)

    def release(self, node: str, *, by: str, forget_keys: bool = False) -> Verdict:
        """Lift a node's quarantine. It must attest again before anything proceeds; with FORGET_KEYS it
        enrolls again too (after a TPM replacement or a deliberate key change)."""
        check_name("node", node)
        with self.store.locked():
            record = self.store.node(node)
            if not record:
                raise VerifierError(f"node {node} is not known to the verifier")
            if record["status"] != QUARANTINED and not forget_keys:
                return Verdict(True, record["status"], "not quarantined", changed=False)
            was = record.get("reason", "")
            if forget_keys or not record.get("enrolled_at"):
                # Never fully enrolled, or told to forget: the node enrolls afresh on its next run.
                record = {"node": node}
            else:
                record = {k: v for k, v in record.items() if k not in ("reason", "quarantined_at")}
            record.update(status=RELEASED, since=now_iso(self.clock))
            self.store.save_node(record)
            self._evidence(node, "released", f"released by {by} (was: {was})", forget_keys=forget_keys)
            return Verdict(True, RELEASED, "released", changed=True)

    def deregister(self, node: str) -> bool:
        """Forget a decommissioned node: its enrolled EK and AK, status and pending nonce. The evidence log
        keeps its history. True when the node was known."""
        check_name("node", node)
        with self.store.locked():
            if not self.store.delete_node(node):
                return False
            self._evidence(node, "deregistered", "decommissioned: its keys are no longer trusted")
            return True

    def record_denied_csr(self, node: str, reason: str, **details: Any) -> None:
        """Keep in the evidence log that a certificate request made with the node's bootstrap token was
        denied (it asked for what is not the node's own), next to the node's attestations."""
        check_name("node", node)
        with self.store.locked():
            self._evidence(node, "csr-denied", reason, **details)

    def require_attested(self, node: str, max_age: float | None = DEFAULT_MAX_AGE) -> dict[str, Any]:
        """The node's record when it is attested, by a quote at most MAX_AGE seconds old (None: any age);
        Refused (with the reason) otherwise. A stale attestation is no verdict on the node, so it is refused
        without quarantine: attesting again lets it through."""
        check_name("node", node)
        record = self.store.node(node)
        self._refuse_quarantined(record)
        if not record or record["status"] != ATTESTED:
            status = record["status"] if record else "unknown to the verifier"
            raise Refused(f"node {node} is not attested (status: {status}): attest it first")
        if max_age is not None:
            attested_at = iso_to_unix(record.get("last_attested_at"))
            age = None if attested_at is None else self.clock() - attested_at
            if age is None or age > max_age:
                when = "at an unknown time" if age is None else f"{age:.0f} s ago"
                raise Refused(
                    f"node {node} was last attested {when}, longer ago than the gate allows "
                    f"({max_age:.0f} s, attest_max_age): attest it again"
                )
        return record

    def status(self, node: str) -> dict[str, Any] | None:
        return self.store.node(check_name("node", node))

    def set_policy(self, node_class: str, pcrs: Mapping[Any, Any]) -> bool:
        """Store the golden PCR values of a node class; True when they changed."""
        golden = validate_golden(pcrs)
        policy = {"pcrs": {str(i): v.hex() for i, v in sorted(golden.items())}}
        with self.store.locked():
            current = self.store.policy(node_class)
            if current and current.get("pcrs") == policy["pcrs"]:
                return False
            self.store.save_policy(node_class, policy)
            return True

    def allow_digests(self, node_class: str, allowed: Mapping[str, Sequence[str]]) -> bool:
        """Add allowed digests of measured files (path to SHA-256 hex values) to a class's policy, as when a
        new version of an artefact is rolled out; True when the policy changed. The policy must judge the
        measurement log already (learned from a reference node)."""
        checked: dict[str, list[str]] = {}
        for path, digests in allowed.items():
            if not isinstance(path, str) or not measurements.MEASURED_PATH.fullmatch(path):
                raise VerifierError(f"measured path {path!r} must be absolute and free of control characters")
            for digest in digests:
                if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
                    raise VerifierError(f"allowed digest {digest!r} of {path} is not a SHA-256 hex value")
            checked[path] = [d.lower() for d in digests]
        with self.store.locked():
            policy = self.store.policy(node_class)
            if not policy or "digests" not in policy:
                raise VerifierError(
                    f"node class {node_class} has no policy that judges the measurement log: learn one from "
                    "a reference node (attest_learn_policy, attest_policy_reference_node) first"
                )
            digests = {path: list(values) for path, values in policy["digests"].items()}
            for path, values in checked.items():
                digests[path] = digests.get(path, []) + [v for v in values if v not in digests.get(path, [])]
            if digests == policy["digests"]:
                return False
            self.store.save_policy(node_class, {**policy, "digests": digests})
            return True

    # -- internals ----------------------------------------------------------------------------------------

    def _refusal(self, node: str, reason: str) -> str:
        return (
            f"node {node} is quarantined: {reason}. Fix the node, then release it with "
            f"`edgewright attest --store {self.store.root} release {node}`"
        )

    def _refuse_quarantined(self, record: dict[str, Any] | None) -> None:
        if record and record["status"] == QUARANTINED:
            raise Refused(self._refusal(record["node"], record.get("reason", "no reason recorded")))

    def _quarantine(self, node: str, record: dict[str, Any] | None, reason: str, **details: Any) -> None:
        record = dict(record or {"node": node})
        for key in ("nonce", "nonce_issued_at", "challenge_sha256", "challenge_issued_at"):
            record.pop(key, None)
        record.update(
            status=QUARANTINED, reason=reason, quarantined_at=now_iso(self.clock), since=now_iso(self.clock)
        )
        self.store.save_node(record)
        self._evidence(node, "quarantined", reason, **details)

    def _evidence(self, node: str, outcome: str, reason: str, **details: Any) -> None:
        self.store.append_evidence(
            {"at": now_iso(self.clock), "node": node, "outcome": outcome, "reason": reason, **details}
        )
