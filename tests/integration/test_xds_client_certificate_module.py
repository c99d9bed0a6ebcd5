"""The xds_client_certificate module run by real Ansible on the controller (localhost), against a verifier
that attested a node with a real software TPM: only an attested node gets a certificate, a rerun keeps it,
and bad input is refused naming the node with nothing made."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import tpm
from conftest import ROOT
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edgewright.attest.store import Store
from edgewright.attest.verifier import Verifier
from edgewright.lab.tpm import trusted_manufacturer
from edgewright.xds.identity import node_of_certificate
from tests import swtpm

EK, AK = 0x81010001, 0x81010002


def run_module(params: dict, *extra: str) -> dict:
    proc = subprocess.run(
        [
            "ansible",
            "localhost",
            "-c",
            "local",
            "-m",
            "xds_client_certificate",
            "-a",
            json.dumps(params),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        },
        check=False,
    )
    result, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    return result["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture
def attested(tmp_path):
    """A verifier directory in which node edge-1 is attested by its own software TPM."""
    # A TPM from a manufacturer the verifier trusts (it enrolls certified TPMs only).
    t = swtpm.start(tmp_path / "tpm", trusted_manufacturer(tmp_path / "manufacturer", tmp_path / "verifier"))
    try:
        verifier = Verifier(Store(tmp_path / "verifier"))
        ek_pub, ak_pub, _ = tpm.ensure_identity(t.tcti, EK, AK)
        challenge = verifier.enroll_challenge("edge-1", ek_pub, ak_pub, tpm.read_ek_certificate(t.tcti))
        verifier.enroll_complete("edge-1", tpm.activate_credential(t.tcti, EK, AK, challenge.credential))
        nonce = verifier.issue_nonce("edge-1")
        message, signature, values = tpm.quote(t.tcti, AK, [0, 16], nonce)
        assert verifier.verify("edge-1", "edge", message, signature, values, learn_policy=True).ok
    finally:
        t.stop()
    return verifier


def _csr() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge-2")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_an_attested_node_gets_a_certificate_naming_it_and_a_rerun_keeps_it(tmp_path, attested):
    params = {"ca_dir": str(tmp_path / "ca"), "verifier_dir": str(attested.store.root), "node": "edge-1"}
    csr = _csr()
    checked = run_module({**params, "csr": csr}, "--check")
    assert checked["changed"] is True
    assert not (tmp_path / "ca").exists(), "check mode must not make the CA"

    first = run_module({**params, "csr": csr})
    assert first["changed"] is True, first
    cert = x509.load_pem_x509_certificate(first["certificate"].encode())
    assert node_of_certificate(cert) == "edge-1"  # not the edge-2 the CSR asked for
    assert first["reason"] == "it has no certificate"

    again = run_module({**params, "csr": csr, "current": first["certificate"]})
    assert again["changed"] is False
    assert again["certificate"] == first["certificate"]


def test_a_node_that_is_not_attested_gets_nothing_and_nothing_is_made(tmp_path, attested):
    for node in ("edge-9", "../edge-1"):
        result = run_module(
            {
                "ca_dir": str(tmp_path / "ca"),
                "verifier_dir": str(attested.store.root),
                "node": node,
                "csr": _csr(),
            }
        )
        assert result.get("failed") is True
        assert f"no xDS client certificate for {node}" in result["msg"]
    attested.quarantine("edge-1", "a test quarantine")
    quarantined = run_module(
        {
            "ca_dir": str(tmp_path / "ca"),
            "verifier_dir": str(attested.store.root),
            "node": "edge-1",
            "csr": _csr(),
        }
    )
    assert quarantined.get("failed") is True
    assert "quarantined" in quarantined["msg"]
    assert not (tmp_path / "ca").exists()


def test_a_bad_csr_or_renewal_window_is_refused_naming_it(tmp_path, attested):
    params = {"ca_dir": str(tmp_path / "ca"), "verifier_dir": str(attested.store.root), "node": "edge-1"}
    bad = run_module({**params, "csr": "not a csr"})
    assert bad.get("failed") is True
    assert "node edge-1: the certificate signing request is not a PEM CSR" in bad["msg"]
    window = run_module({**params, "csr": _csr(), "lifetime_hours": 8, "renew_hours": 8})
    assert window.get("failed") is True
    assert "renew_before" in window["msg"] and "lifetime" in window["msg"]
    assert not (tmp_path / "ca").exists()
