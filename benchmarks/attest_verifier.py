"""Verifier throughput on one core, with real quotes from a software TPM, against the raw RSA signature
verification rate of the same key type (the ceiling for this step).

    PYTHONPATH=. python benchmarks/attest_verifier.py [--quotes 100] [--rounds 20]

Prints: raw RSA-2048 PKCS#1 v1.5 / SHA-256 verifications per second; quote checks per second (signature,
nonce, PCR digest, golden policy); and full verifier attestations per second (nonce issue + verify with
the registry on disk and its lock, evidence log appended), all in this one process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins" / "module_utils")]

import tpm  # noqa: E402

from edgewright.attest import structures  # noqa: E402
from edgewright.attest.store import Store  # noqa: E402
from edgewright.attest.verifier import Verifier, check_quote  # noqa: E402
from tests import swtpm  # noqa: E402

EK, AK = 0x81010001, 0x81010002
PCRS = [0, 1, 2, 3, 4, 5, 6, 7, 16]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10.0f} /s  ({seconds / count * 1e6:8.1f} us each, n={count})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quotes", type=int, default=100, help="real quotes to make and verify")
    parser.add_argument("--rounds", type=int, default=20, help="times each quote is checked in the loops")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgewright-bench-") as tmp:
        t = swtpm.start(Path(tmp) / "tpm")
        try:
            verifier = Verifier(Store(Path(tmp) / "verifier"))
            ek_pub, ak_pub, _ = tpm.ensure_identity(t.tcti, EK, AK)
            challenge = verifier.enroll_challenge("bench-1", ek_pub, ak_pub)
            verifier.enroll_complete("bench-1", tpm.activate_credential(t.tcti, EK, AK, challenge.credential))
            ak = structures.parse_rsa_public(ak_pub)

            # End to end through the verifier: issue a nonce, the TPM quotes (not timed), verify.
            quotes, timed, made = [], 0.0, 0.0
            for _ in range(args.quotes):
                start = time.perf_counter()
                nonce = verifier.issue_nonce("bench-1")
                mid = time.perf_counter()
                quote = tpm.quote(t.tcti, AK, PCRS, nonce)
                end = time.perf_counter()
                verdict = verifier.verify("bench-1", "bench", *quote, learn_policy=True)
                timed += (mid - start) + (time.perf_counter() - end)
                made += end - mid
                assert verdict.ok, verdict.reason
                quotes.append((nonce, quote))
            golden = {int(k): bytes.fromhex(v) for k, v in verifier.store.policy("bench")["pcrs"].items()}
        finally:
            t.stop()
    key = ak.public_key()

    n = args.quotes * args.rounds
    start = time.perf_counter()
    for _ in range(args.rounds):
        for _nonce, (message, signature, _values) in quotes:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    raw = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(args.rounds):
        for nonce, (message, signature, values) in quotes:
            reason, _ = check_quote(ak, message, signature, nonce, values, golden)
            assert reason is None
    checks = time.perf_counter() - start

    print(f"swtpm quote (tpm2_quote, for reference)      {rate(args.quotes, made)}")
    print(f"raw RSA-2048 PKCS#1 v1.5 SHA-256 verify      {rate(n, raw)}")
    print(f"quote check (sig + nonce + PCRs + policy)    {rate(n, checks)}")
    print(f"verifier attestation (nonce + verify, disk)  {rate(args.quotes, timed)}")
    print(f"quote checks as a share of the raw rate      {raw / checks:10.0%}")


if __name__ == "__main__":
    main()
