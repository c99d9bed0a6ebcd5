"""Cluster services follow the cluster: a real Envoy reaches a Service through the xDS control plane, which
takes the Service's endpoints from a real API server's EndpointSlices and pushes each change over EDS, so
an endpoint that moves is reached at its new place with no file or playbook changing.

The "pods" are HTTP servers on addresses of a veth pair of the test's own (EndpointSlices refuse loopback
addresses, and this kernel has no dummy interfaces),
and the EndpointSlices are written through the API as the EndpointSlice controller writes them for a
Service with a selector: what the control plane reads is exactly what a cluster gives it.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
from pathlib import Path

import pytest
import yaml
from kubernetes.dynamic.exceptions import ForbiddenError
from l7_peers import MutualTls, http_get, wait_for

from edgewright.lab.kube import issue_cert, render_kubeconfig
from edgewright.twins.kube import connect
from edgewright.xds.cluster_services import plan as plan_cluster_services
from edgewright.xds.kube import RBAC, SERVICE_LABEL, ServiceEndpointsWatcher
from edgewright.xds.model import parse_source
from edgewright.xds.resources import ads_bootstrap, static_resources
from edgewright.xds.server import SnapshotCache, SourceWatcher, start_server

pytest_plugins = ["l7_fixtures"]

NAMESPACE = "xds-follow"
DEVICE = "ewfollow0"  # its peer is ewfollow0p
POD_A, POD_B = "198.18.7.2", "198.18.7.3"  # the benchmarking range: never a real site's addresses
TARGET = 18130
LISTENER = 18191


@pytest.fixture
def pod_addresses():
    """Two addresses on a veth pair of the test's own (local to this machine), removed when the test ends."""
    subprocess.run(["ip", "link", "del", DEVICE], capture_output=True, check=False)
    subprocess.run(["ip", "link", "add", DEVICE, "type", "veth", "peer", "name", f"{DEVICE}p"], check=True)
    try:
        for address in (POD_A, POD_B):
            subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", DEVICE], check=True)
        for device in (DEVICE, f"{DEVICE}p"):
            subprocess.run(["ip", "link", "set", device, "up"], check=True)
        yield POD_A, POD_B
    finally:
        subprocess.run(["ip", "link", "del", DEVICE], check=False)


def control_plane_kubeconfig(admin_kubeconfig: str, workdir: Path) -> str:
    """A kubeconfig for the control plane's own identity, bound to RBAC (read Services and slices) only."""
    admin = connect(admin_kubeconfig)
    roles = admin.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRole")
    bindings = admin.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRoleBinding")
    name = RBAC["metadata"]["name"]
    roles.server_side_apply(body=RBAC, field_manager="edgewright-test", force_conflicts=True)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "edgewright-xds"}],
    }
    bindings.server_side_apply(body=binding, field_manager="edgewright-test", force_conflicts=True)
    pki = Path(admin_kubeconfig).parent / "pki"
    ca, ca_key = (pki / "ca.crt").read_bytes(), (pki / "ca.key").read_bytes()
    cert, key = issue_cert(ca, ca_key, "edgewright-xds", client=True)
    server = yaml.safe_load(Path(admin_kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    path = workdir / "xds.kubeconfig"
    path.write_text(yaml.safe_dump(render_kubeconfig(server, ca, cert, key, "edgewright-xds")))
    path.chmod(0o600)
    return str(path)


# What the cluster_services role plans for edge-2: web.xds-follow.svc.cluster.local on a loopback address.
SERVICES = [{"service": f"{NAMESPACE}/web", "port": 80, "protocol": "http", "address": "127.77.0.9"}]
BY_NAME = "http://127.77.0.9:80/"


def node_bootstrap(node: str, port: int, tls: MutualTls) -> dict:
    """NODE's bootstrap as the envoy role renders it: ADS to the control plane, plus the static listeners
    and Service-backed clusters of the cluster_services plan."""
    planned = plan_cluster_services(SERVICES)
    assert [h["name"] for h in planned["hosts"]] == ["web.xds-follow.svc.cluster.local", "web"]
    local = planned["envoy_local_config"]
    config = parse_source({"clusters": local["clusters"], "nodes": {node: {"listeners": local["listeners"]}}})
    rendered = static_resources(config.node_config(node), ads=True)
    bootstrap = ads_bootstrap(node, ("127.0.0.1", port), 18932, **tls.node_settings(node))
    bootstrap["static_resources"]["listeners"] = rendered["listeners"]
    bootstrap["static_resources"]["clusters"] += rendered["clusters"]
    return bootstrap


def endpoint_slice(address: str, ready: bool = True) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-1",
            "namespace": NAMESPACE,
            "labels": {SERVICE_LABEL: "web", "endpointslice.kubernetes.io/managed-by": "edgewright-test"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": TARGET, "protocol": "TCP"}],
        "endpoints": [{"addresses": [address], "conditions": {"ready": ready}}],
    }


def status_of(url: str) -> int:
    try:
        http_get(url)
        return 200
    except urllib.error.HTTPError as err:
        return err.code


def test_envoy_follows_a_service_as_its_endpoints_move(
    tmp_path, loopback_kubeconfig, pod_addresses, backends, envoy_factory
):
    pod_a, pod_b = pod_addresses
    backends("http", TARGET, "pod-a", host=pod_a)
    backends("http", TARGET, "pod-b", host=pod_b)
    admin = connect(loopback_kubeconfig)
    namespaces = admin.resources.get(api_version="v1", kind="Namespace")
    services = admin.resources.get(api_version="v1", kind="Service")
    slices = admin.resources.get(api_version="discovery.k8s.io/v1", kind="EndpointSlice")
    namespaces.server_side_apply(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        field_manager="edgewright-test",
        force_conflicts=True,
    )
    # No selector: the EndpointSlice controller leaves this Service's slices to the test.
    services.server_side_apply(
        body={
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": TARGET}]},
        },
        field_manager="edgewright-test",
        force_conflicts=True,
    )
    slices.server_side_apply(
        body=endpoint_slice(pod_a), field_manager="edgewright-test", force_conflicts=True
    )

    source_file = tmp_path / "source.yaml"
    source_file.write_text(
        yaml.safe_dump(
            {
                "clusters": {"web": {"service": f"{NAMESPACE}/web", "port": "http"}},
                "nodes": {
                    # edge-2 reaches the Service through a listener of its own bootstrap, as the
                    # cluster_services role gives it; the control plane grants it the endpoints only.
                    "edge-2": {"services": [f"{NAMESPACE}/web:80"]},
                    "edge-1": {
                        "listeners": [
                            {
                                "name": "web",
                                "address": "127.0.0.1",
                                "port": LISTENER,
                                "protocol": "http",
                                "routes": [{"prefix": "/", "cluster": "web"}],
                            }
                        ]
                    },
                },
            }
        )
    )
    cache = SnapshotCache()
    assert SourceWatcher(source_file, cache).poll()
    errors: list[str] = []
    kubeconfig = control_plane_kubeconfig(loopback_kubeconfig, tmp_path)
    followers = ServiceEndpointsWatcher(connect(kubeconfig), cache, on_error=errors.append)
    tls = MutualTls(tmp_path)
    server, port = start_server(cache, "127.0.0.1:0", tls=tls.server_tls)
    followers.start()
    url = f"http://127.0.0.1:{LISTENER}/"
    try:
        envoy_factory(
            ads_bootstrap("edge-1", ("127.0.0.1", port), 18931, **tls.node_settings("edge-1")), 18931
        )
        assert wait_for(lambda: http_get(url) == "pod-a", "Envoy to reach the Service's endpoint", timeout=30)

        # The pod moves: the cluster says so, and the same listener reaches it at its new address.
        moved = time.monotonic()
        slices.server_side_apply(
            body=endpoint_slice(pod_b), field_manager="edgewright-test", force_conflicts=True
        )
        assert wait_for(lambda: http_get(url) == "pod-b", "Envoy to follow the moved endpoint", timeout=30)
        print(
            f"\nService endpoint change -> Envoy routes to the new endpoint: {time.monotonic() - moved:.2f} s"
        )

        # No ready endpoint: Envoy has nowhere to send the request and says so (503), not the old pod.
        slices.server_side_apply(
            body=endpoint_slice(pod_b, ready=False), field_manager="edgewright-test", force_conflicts=True
        )
        assert wait_for(lambda: status_of(url) == 503, "Envoy to drop the endpoint that is not ready")
        slices.server_side_apply(
            body=endpoint_slice(pod_b), field_manager="edgewright-test", force_conflicts=True
        )
        assert wait_for(lambda: http_get(url) == "pod-b", "the endpoint to come back when ready")
        assert not errors, errors

        # The control plane's identity reads and nothing more: it cannot write a slice of its own.
        own = connect(kubeconfig).resources.get(api_version="discovery.k8s.io/v1", kind="EndpointSlice")
        with pytest.raises(ForbiddenError):
            own.server_side_apply(
                body={
                    **endpoint_slice(pod_a),
                    "metadata": {**endpoint_slice(pod_a)["metadata"], "name": "evil"},
                },
                field_manager="edgewright-test",
                force_conflicts=True,
            )
    finally:
        followers.stop()
        server.stop(grace=0)
        namespaces.delete(name=NAMESPACE)
