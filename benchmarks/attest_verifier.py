"""Verifier throughput on one core, with real quotes from a software TPM, against the raw RSA signature
verification rate of the same key type (the ceiling for this step).

    PYTHONPATH=. python benchmarks/attest_verifier.py [--quotes 200] [--rounds 20]
        [--backend sqlite|postgresql] [--writers N] [--profile]

Prints: raw RSA-2048 PKCS#1 v1.5 / SHA-256 verifications per second; quote checks per second (signature,
nonce, PCR digest, golden policy); and whole verifier attestations per second (nonce issued and stored,
quote checked, verdict and evidence committed durably), all in this one process, and the attestation rate
as a share of the raw rate. The store is SQLite in a temporary directory, or a throwaway PostgreSQL server
(Debian's postgresql-15, private socket, fsync on) with --backend postgresql. --profile prints where the
attestation loop spends its time (cProfile, top functions by own time). --writers N also measures how
many durable verdicts (a node's record and an evidence entry committed) one and N verifier processes commit
per second together: what several verifiers sharing one database add up to.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import multiprocessing
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins" / "module_utils")]

import tpm  # noqa: E402

from edgewright.attest import structures  # noqa: E402
from edgewright.attest.store import Store  # noqa: E402
from edgewright.attest.verifier import Verifier, check_quote  # noqa: E402
from tests import postgres, swtpm  # noqa: E402

EK, AK = 0x81010001, 0x81010002
PCRS = [0, 1, 2, 3, 4, 5, 6, 7, 16]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10.0f} /s  ({seconds / count * 1e6:8.1f} us each, n={count})"


@contextlib.contextmanager
def profiling(profile: cProfile.Profile | None) -> Iterator[None]:
    if profile is None:
        yield
        return
    profile.enable()
    try:
        yield
    finally:
        profile.disable()


def verdict_commits(directory: str, url: str | None, node: str, count: int, start, results) -> None:
    """COUNT durable verdicts of one node as verify commits them (its record read and saved, an evidence
    entry added), in a process of its own, once START is set."""
    store = Store(directory, url=url)
    store.save_node({"node": node, "status": "attested", "ak_public": "00" * 280})
    start.wait()
    began = time.perf_counter()
    for i in range(count):
        with store.locked():
            record = store.node(node)
            record["last_attested_at"] = str(i)
            store.save_node(record)
            store.append_evidence({"node": node, "outcome": "attested", "nonce": f"{i:064x}"})
    results.put(time.perf_counter() - began)
    store.close()


def concurrent_verdicts(writers: int, count: int, url: str | None, directory: str) -> float:
    """Verdicts committed per second by WRITERS verifier processes together, each for its own node."""
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=verdict_commits, args=(directory, url, f"node-{i}", count, start, results))
        for i in range(writers)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0)  # every writer connected and waiting
    start.set()
    slowest = max(results.get(timeout=600) for _ in procs)
    for p in procs:
        p.join()
    return writers * count / slowest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quotes", type=int, default=200, help="real quotes to make and verify")
    parser.add_argument("--rounds", type=int, default=20, help="times each quote is checked in the loops")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--profile", action="store_true", help="profile the attestation loop (cProfile)")
    parser.add_argument(
        "--writers", type=int, default=0, help="also: durable verdicts/s of 1 and of N concurrent verifiers"
    )
    parser.add_argument("--sort", default="tottime", help="the profile's order (tottime, cumtime)")
    args = parser.parse_args()
    server = postgres.start() if args.backend == "postgresql" else None
    profile = cProfile.Profile() if args.profile else None
    try:
        with tempfile.TemporaryDirectory(prefix="edgewright-bench-") as tmp:
            store = Store(Path(tmp) / "verifier", url=server.new_database() if server else None)
            t = swtpm.start(Path(tmp) / "tpm")
            try:
                # The bench's TPM has no manufacturer: enrollment is not what is measured here.
                verifier = Verifier(store, insecure_trust_any_ek=True)
                ek_pub, ak_pub, _ = tpm.ensure_identity(t.tcti, EK, AK)
                challenge = verifier.enroll_challenge("bench-1", ek_pub, ak_pub)
                secret = tpm.activate_credential(t.tcti, EK, AK, challenge.credential)
                verifier.enroll_complete("bench-1", secret)
                ak = structures.parse_rsa_public(ak_pub)
                # The whole attestation step, timed around the TPM (whose quote takes tens of ms on the
                # node): the nonce issued and stored, then the quote over it checked and the verdict and
                # its evidence committed. The first quote sets the policy (learning), the rest are timed.
                nonce = verifier.issue_nonce("bench-1")
                assert verifier.verify(
                    "bench-1", "bench", *tpm.quote(t.tcti, AK, PCRS, nonce), learn_policy=True
                ).ok
                quotes, attesting, cpu, made = [], 0.0, 0.0, 0.0
                for _ in range(args.quotes):
                    start, cpu_start = time.perf_counter(), time.process_time()
                    with profiling(profile):
                        nonce = verifier.issue_nonce("bench-1")
                    mid, cpu_mid = time.perf_counter(), time.process_time()
                    quote = tpm.quote(t.tcti, AK, PCRS, nonce)
                    end, cpu_end = time.perf_counter(), time.process_time()
                    with profiling(profile):
                        verdict = verifier.verify("bench-1", "bench", *quote)
                    attesting += (mid - start) + (time.perf_counter() - end)
                    cpu += (cpu_mid - cpu_start) + (time.process_time() - cpu_end)
                    made += end - mid
                    assert verdict.ok, verdict.reason
                    quotes.append((nonce, quote))
            finally:
                t.stop()
            golden = {int(k): bytes.fromhex(v) for k, v in store.policy("bench")["pcrs"].items()}
            store.close()
            together = {}
            for writers in sorted({1, args.writers}) if args.writers else ():
                url = server.new_database() if server else None
                together[writers] = concurrent_verdicts(writers, 100, url, str(Path(tmp) / f"w{writers}"))
    finally:
        if server:
            server.stop()
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

    print(f"store: {args.backend}")
    print(f"swtpm quote (tpm2_quote, for reference)      {rate(args.quotes, made)}")
    print(f"raw RSA-2048 PKCS#1 v1.5 SHA-256 verify      {rate(n, raw)}")
    print(f"quote check (sig + nonce + PCRs + policy)    {rate(n, checks)}")
    print(f"verifier attestation (nonce + verify + db)   {rate(args.quotes, attesting)}")
    print(f"  of which CPU of this process               {rate(args.quotes, cpu)}")
    print(f"quote checks as a share of the raw rate      {raw / checks:10.0%}")
    print(f"attestations as a share of the raw rate      {(raw / n) / (attesting / args.quotes):10.0%}")
    print(f"  by CPU (the wait for disk syncs left out)  {(raw / n) / (cpu / args.quotes):10.0%}")
    for writers, per_second in together.items():
        print(f"durable verdicts, {writers:2d} verifier process(es)    {per_second:10.0f} /s")
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
