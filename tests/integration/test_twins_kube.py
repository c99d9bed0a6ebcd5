"""Device twins against a real Kubernetes API server (the lab's control plane: etcd, kube-apiserver,
kube-controller-manager built by scripts/setup.d/60-kubernetes.sh), on 127.0.0.1, shared with the other
tests that need an API server and nothing else (tests/integration/conftest.py).

There are no kubelets here: edge nodes are Node objects created through the API, with their Ready
condition, allocatable memory and heartbeat set through the status subresource, exactly the fields
placement reads. Each test makes its own nodes and namespace and removes them afterwards.
"""

from __future__ import annotations

import datetime
import itertools
import re
import threading
import time

import pytest
from kubernetes.dynamic.exceptions import NotFoundError, UnprocessibleEntityError

from edgewright.cli import main
from edgewright.twins import kube
from edgewright.twins.manifests import DEVICE_LABEL, PLACED_AT, placed_node

MUNICH, BERLIN = (48.137, 11.575), (52.52, 13.405)
NAMESPACES = itertools.count(1)


@pytest.fixture(scope="module")
def kubeconfig(loopback_kubeconfig):
    return loopback_kubeconfig


@pytest.fixture(scope="module")
def dyn(kubeconfig):
    client = kube.connect(kubeconfig)
    kube.ensure_crd(client)
    return client


def res(dyn, api_version, kind):
    return dyn.resources.get(api_version=api_version, kind=kind)


class Cluster:
    """Nodes and devices of one test, removed when it ends."""

    def __init__(self, dyn, kubeconfig, namespace):
        self.dyn, self.kubeconfig, self.namespace = dyn, kubeconfig, namespace
        # What each node should report; re-sent before every reconcile, since without kubelets the node
        # lifecycle controller would otherwise mark the nodes Unknown after its grace period.
        self.nodes: dict[str, tuple[bool, str]] = {}
        res(dyn, "v1", "Namespace").create(body={"metadata": {"name": namespace}})

    def node(self, name, ready=True, location=None, memory="4Gi", labels=None, taints=None):
        nodes = res(self.dyn, "v1", "Node")
        annotations = {"edgewright.io/location": f"{location[0]},{location[1]}"} if location else {}
        body = {"metadata": {"name": name, "labels": labels or {}, "annotations": annotations}}
        if taints:
            body["spec"] = {"taints": taints}
        if name in self.nodes:
            nodes.patch(body=body, name=name, content_type="application/merge-patch+json")
        else:
            nodes.create(body=body)
        self.heartbeat(name, ready, memory)

    def heartbeat(self, name, ready=True, memory="4Gi"):
        self.nodes[name] = (ready, memory)
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        condition = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "Test",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        status = {
            "conditions": [condition],
            "capacity": {"memory": memory, "cpu": "2", "pods": "110"},
            "allocatable": {"memory": memory, "cpu": "2", "pods": "110"},
        }
        res(self.dyn, "v1", "Node").status.patch(
            body={"status": status}, name=name, content_type="application/merge-patch+json"
        )

    def remove_node(self, name):
        res(self.dyn, "v1", "Node").delete(name=name)
        del self.nodes[name]

    def device(self, name, **spec):
        body = {
            "apiVersion": "edgewright.io/v1alpha1",
            "kind": "EdgeDevice",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        return res(self.dyn, "edgewright.io/v1alpha1", "EdgeDevice").create(
            body=body, namespace=self.namespace
        )

    def remove_device(self, name):
        res(self.dyn, "edgewright.io/v1alpha1", "EdgeDevice").delete(name=name, namespace=self.namespace)

    def status(self, name):
        item = res(self.dyn, "edgewright.io/v1alpha1", "EdgeDevice").get(name=name, namespace=self.namespace)
        return item.to_dict().get("status") or {}

    def deployment_of(self, name):
        return res(self.dyn, "apps/v1", "Deployment").get(
            name=f"edgedevice-{name}-deployment", namespace=self.namespace
        )

    def twin_node(self, name):
        deployment = res(self.dyn, "apps/v1", "Deployment").get(
            name=f"edgedevice-{name}-deployment", namespace=self.namespace
        )
        return placed_node(deployment.to_dict()["spec"]["template"]["spec"])

    def objects_of(self, device, kinds=kube.TWIN_KINDS):
        found = []
        for api_version, kind in kinds:
            items = (
                res(self.dyn, api_version, kind)
                .get(namespace=self.namespace, label_selector=f"{DEVICE_LABEL}={device}")
                .items
            )
            found += [f"{kind}/{i.metadata.name}" for i in items]
        return found

    def reconcile(self, *extra):
        for name, (ready, memory) in list(self.nodes.items()):
            self.heartbeat(name, ready, memory)
        return run(
            "twins", "reconcile", "--kubeconfig", self.kubeconfig, "--namespace", self.namespace, *extra
        )

    def close(self):
        for name in list(self.nodes):
            self.remove_node(name)
        res(self.dyn, "v1", "Namespace").delete(name=self.namespace)


def run(*argv):
    return main(list(argv))


@pytest.fixture
def cluster(dyn, kubeconfig, request):
    words = re.sub(r"[^a-z0-9]+", "-", request.node.name.removeprefix("test_").lower())
    namespace = f"twn-{next(NAMESPACES)}-{words[:40].strip('-')}"
    made = Cluster(dyn, kubeconfig, namespace)
    yield made
    made.close()


def test_twins_land_where_the_rules_say_and_a_second_run_changes_nothing(cluster, capsys):
    cluster.node("twn-munich", location=MUNICH, memory="4Gi")
    cluster.node("twn-berlin", location=BERLIN, memory="8Gi")
    cluster.node(
        "twn-quarantined",
        memory="64Gi",
        labels={"node-restriction.kubernetes.io/edgewright-attested": "false"},
    )
    cluster.node("twn-down", ready=False, memory="64Gi")
    cluster.device(
        "thermometer",
        protocol="http",
        address="http://10.231.70.50:8080",
        link="usb",
        node="twn-munich",
        location={"latitude": BERLIN[0], "longitude": BERLIN[1]},
    )
    cluster.device(
        "camera",
        protocol="mqtt",
        address="tcp://10.231.70.51:1883",
        link="wifi",
        location={"latitude": 52.4, "longitude": 13.3},
    )
    cluster.device("meter", protocol="opcua", address="opc.tcp://10.231.70.52:4840")
    cluster.device(
        "stick", protocol="http", address="http://10.231.70.53", link="usb", node="twn-quarantined"
    )

    assert cluster.reconcile() == 0
    assert cluster.twin_node("thermometer") == "twn-munich"  # wired, though Berlin is closer
    assert cluster.twin_node("camera") == "twn-berlin"  # closest
    assert cluster.twin_node("meter") == "twn-berlin"  # no location: most free memory of the usable
    assert cluster.objects_of("stick") == []  # its node is quarantined and nobody else can reach it
    assert cluster.status("stick")["phase"] == "Pending"
    assert "quarantined" in cluster.status("stick")["reason"]
    status = cluster.status("camera")
    assert (status["phase"], status["node"]) == ("Placed", "twn-berlin")
    assert len(cluster.objects_of("thermometer")) == 6
    capsys.readouterr()

    assert cluster.reconcile() == 0
    assert capsys.readouterr().out.strip() == "twins are as the rules say: nothing to change"


def test_a_dry_run_says_what_would_change_and_changes_nothing(cluster, capsys):
    cluster.node("twn-only")
    cluster.device("meter", protocol="http", address="http://m")
    assert cluster.reconcile("--dry-run") == 0
    assert "would create twn-only: twin of meter" in capsys.readouterr().out
    assert cluster.objects_of("meter") == [] and cluster.status("meter") == {}


def test_the_loop_picks_up_a_device_that_connects_between_rounds(cluster, capsys):
    cluster.node("twn-only")
    cluster.device("meter", protocol="http", address="http://m")
    connect = threading.Timer(
        0.5, cluster.device, args=("camera",), kwargs={"protocol": "mqtt", "address": "tcp://c"}
    )
    connect.start()
    try:
        assert cluster.reconcile("--every", "1.5", "--rounds", "2") == 0
    finally:
        connect.join()
    out = capsys.readouterr().out
    assert "twin of meter" in out and "twin of camera" in out
    assert cluster.twin_node("camera") == "twn-only"


def test_a_twin_account_may_read_only_its_own_device(cluster, dyn):
    cluster.node("twn-only", memory="4Gi")
    cluster.device("thermometer", protocol="http", address="http://t")
    cluster.device("camera", protocol="http", address="http://c")
    assert cluster.reconcile() == 0
    reviews = res(dyn, "authorization.k8s.io/v1", "SubjectAccessReview")
    user = f"system:serviceaccount:{cluster.namespace}:edgedevice-thermometer-sa"

    def allowed(resource, verb, name=None, group="edgewright.io", subresource=None):
        attributes = {"namespace": cluster.namespace, "group": group, "resource": resource, "verb": verb}
        if name:
            attributes["name"] = name
        if subresource:
            attributes["subresource"] = subresource
        review = reviews.create(
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": user,
                    "groups": ["system:serviceaccounts"],
                    "resourceAttributes": attributes,
                },
            }
        )
        return review.status.allowed

    assert allowed("edgedevices", "get", "thermometer")
    assert allowed("edgedevices", "patch", "thermometer", subresource="status")
    assert not allowed("edgedevices", "get", "camera")
    assert not allowed("edgedevices", "list")
    assert not allowed("edgedevices", "delete", "thermometer")
    assert not allowed("secrets", "get", "anything", group="")
    assert not allowed("deployments", "create", group="apps")


def test_a_node_removed_moves_its_twins_and_only_them(cluster, capsys):
    cluster.node("twn-munich", location=MUNICH)
    cluster.node("twn-berlin", location=BERLIN)
    cluster.device("thermometer", protocol="http", address="http://t", link="ethernet", node="twn-munich")
    cluster.device(
        "camera", protocol="mqtt", address="tcp://c:1883", location={"latitude": 52.4, "longitude": 13.3}
    )
    cluster.device(
        "meter", protocol="http", address="http://m", location={"latitude": 48.2, "longitude": 11.6}
    )
    assert cluster.reconcile() == 0
    assert [cluster.twin_node(d) for d in ("thermometer", "camera", "meter")] == [
        "twn-munich",
        "twn-berlin",
        "twn-munich",
    ]
    # generation moves only with the spec (the deployment controller's status updates do not count).
    untouched = cluster.deployment_of("camera").metadata
    capsys.readouterr()

    cluster.remove_node("twn-munich")
    assert cluster.reconcile() == 0
    assert cluster.twin_node("thermometer") == "twn-berlin"  # best effort: an ethernet device
    assert cluster.twin_node("meter") == "twn-berlin"
    assert "node twn-munich is gone" in cluster.status("meter")["reason"]
    camera = cluster.deployment_of("camera").metadata
    assert (camera.generation, camera.annotations[PLACED_AT]) == (
        untouched.generation,
        untouched.annotations[PLACED_AT],
    )
    assert "camera" not in capsys.readouterr().out

    # The node comes back: within the dwell time nothing moves; after it, the twins go home.
    cluster.node("twn-munich", location=MUNICH)
    assert cluster.reconcile() == 0
    assert cluster.twin_node("meter") == "twn-berlin"
    assert cluster.reconcile("--min-dwell", "0") == 0
    assert cluster.twin_node("thermometer") == "twn-munich"
    assert cluster.twin_node("meter") == "twn-munich"
    assert "better placement" in cluster.status("meter")["reason"]


def test_a_node_not_ready_moves_its_twins(cluster):
    cluster.node("twn-a", memory="8Gi")
    cluster.node("twn-b", memory="4Gi")
    cluster.device("meter", protocol="http", address="http://m")
    assert cluster.reconcile() == 0
    assert cluster.twin_node("meter") == "twn-a"
    cluster.heartbeat("twn-a", ready=False, memory="8Gi")
    assert cluster.reconcile() == 0
    assert cluster.twin_node("meter") == "twn-b"
    assert "node twn-a is not Ready" in cluster.status("meter")["reason"]


def test_a_device_removed_leaves_nothing_of_it(cluster):
    cluster.node("twn-only")
    cluster.device("camera", protocol="mqtt", address="tcp://c:1883")
    cluster.device("meter", protocol="http", address="http://m")
    assert cluster.reconcile() == 0
    assert len(cluster.objects_of("camera")) == 6
    cluster.remove_device("camera")
    assert cluster.reconcile() == 0
    assert cluster.objects_of("camera") == []
    assert len(cluster.objects_of("meter")) == 6
    # The controller manager's garbage collector takes the ReplicaSet of the deleted Deployment, and marks
    # its Pod for deletion (no scheduler runs here, so the Pod was never bound; a bound one would stay
    # Terminating with no kubelet to confirm).
    replica_sets = [("apps/v1", "ReplicaSet")]
    for _ in range(60):
        if not cluster.objects_of("camera", replica_sets):
            break
        time.sleep(0.5)
    assert cluster.objects_of("camera", replica_sets) == []
    pods = res(cluster.dyn, "v1", "Pod").get(
        namespace=cluster.namespace, label_selector=f"{DEVICE_LABEL}=camera"
    )
    assert all(pod.metadata.deletionTimestamp for pod in pods.items)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"protocol": "modbus", "address": "x"}, "spec.protocol"),
        (
            {"protocol": "http", "address": "x", "location": {"latitude": 91, "longitude": 0}},
            "spec.location.latitude",
        ),
        (
            {"protocol": "http", "address": "x", "location": {"latitude": 0, "longitude": 181}},
            "spec.location.longitude",
        ),
        ({"protocol": "http", "address": "x", "link": "usb"}, "a usb device must name its node"),
        ({"protocol": "http", "address": "x", "link": "bluetooth"}, "spec.link"),
    ],
)
def test_the_api_server_refuses_bad_devices(cluster, spec, problem):
    with pytest.raises(UnprocessibleEntityError) as error:
        cluster.device("bad", **spec)
    assert problem in str(error.value.body)
    with pytest.raises(NotFoundError):
        res(cluster.dyn, "edgewright.io/v1alpha1", "EdgeDevice").get(name="bad", namespace=cluster.namespace)


def test_a_device_wired_to_an_unknown_node_is_reported_and_gets_no_twin(cluster, capsys):
    cluster.node("twn-only")
    cluster.device("orphan", protocol="http", address="http://o", link="usb", node="twn-nowhere")
    cluster.device("fine", protocol="http", address="http://f")
    assert cluster.reconcile() == 1
    assert "'twn-nowhere', which is not in the cluster" in capsys.readouterr().err
    assert cluster.objects_of("orphan") == []
    assert cluster.status("orphan")["phase"] == "Invalid"
    assert cluster.twin_node("fine") == "twn-only"


def test_a_tainted_node_takes_only_its_wired_twins_which_tolerate_its_taint(cluster):
    battery = {"key": "edgewright.io/battery-powered", "value": "true", "effect": "NoSchedule"}
    cluster.node("twn-battery", location=MUNICH, memory="64Gi", taints=[battery])
    cluster.node("twn-mains", location=BERLIN, memory="1Gi")
    cluster.device("sensor", protocol="http", address="http://s", link="usb", node="twn-battery")
    cluster.device(
        "near", protocol="http", address="http://n", location={"latitude": 48.1, "longitude": 11.5}
    )
    assert cluster.reconcile() == 0
    assert cluster.twin_node("sensor") == "twn-battery"
    assert cluster.twin_node("near") == "twn-mains"  # the closest node is tainted
    sensor = cluster.deployment_of("sensor").to_dict()["spec"]["template"]["spec"]
    near = cluster.deployment_of("near").to_dict()["spec"]["template"]["spec"]
    assert "nodeName" not in sensor and "nodeName" not in near
    assert sensor["tolerations"] == [{**battery, "operator": "Equal"}]
    assert "tolerations" not in near


def test_only_the_site_registry_s_or_allowed_images_run(cluster, capsys):
    cluster.node("twn-only")
    cluster.device("miner", protocol="http", address="http://m", image="evil/miner:latest")
    cluster.device("site", protocol="http", address="http://s", image="registry.site:5000/twins/http:1")
    cluster.device("vendor", protocol="http", address="http://v", image="ghcr.io/vendor/twin:2")
    site = ("--site-registry", "registry.site:5000", "--allow-image", "ghcr.io/vendor/")
    assert cluster.reconcile(*site) == 1
    err = capsys.readouterr().err
    assert "image 'evil/miner:latest' is neither from the site registry" in err
    assert cluster.objects_of("miner") == [] and cluster.status("miner")["phase"] == "Invalid"
    assert cluster.twin_node("site") == "twn-only" and cluster.twin_node("vendor") == "twn-only"
    # An edit to an image outside the policy changes nothing of the running twin.
    before = cluster.deployment_of("site").to_dict()["spec"]
    res(cluster.dyn, "edgewright.io/v1alpha1", "EdgeDevice").patch(
        body={"spec": {"image": "evil/miner:latest"}},
        name="site",
        namespace=cluster.namespace,
        content_type="application/merge-patch+json",
    )
    assert cluster.reconcile(*site) == 1
    assert cluster.deployment_of("site").to_dict()["spec"] == before
    # Without a site registry or allowlist, only edgewright's own images run.
    assert cluster.reconcile() == 1
    assert "image 'ghcr.io/vendor/twin:2' is neither" in capsys.readouterr().err


def test_the_edge_map_of_the_live_cluster_renders_every_node_and_device(cluster, tmp_path):
    cluster.node("twn-munich", location=MUNICH)
    cluster.node("twn-berlin", location=BERLIN)
    res(cluster.dyn, "v1", "Node").patch(
        body={"metadata": {"annotations": {"edgewright.io/links": "twn-berlin=mesh"}}},
        name="twn-munich",
        content_type="application/merge-patch+json",
    )
    cluster.device("thermometer", protocol="http", address="http://t", link="usb", node="twn-munich")
    cluster.device(
        "camera",
        protocol="mqtt",
        address="tcp://c",
        link="wifi",
        location={"latitude": 52.4, "longitude": 13.3},
    )
    cluster.device(
        "lonely", protocol="http", address="http://l", link="usb", node="twn-munich", memoryMiB=999999
    )
    edge_map = tmp_path / "map.json"
    assert cluster.reconcile("--edgemap", str(edge_map)) == 0
    picture = tmp_path / "map.html"
    args = ("--kubeconfig", cluster.kubeconfig, "--namespace", cluster.namespace)
    assert run("edgemap", "render", *args, "-o", str(picture)) == 0
    text = picture.read_text()
    for name in ("twn-munich", "twn-berlin", "thermometer", "camera", "lonely"):
        assert f'id="vertex-{name}"' in text
    assert "link-mesh" in text and "link-usb" in text and "link-wifi" in text
    exported = tmp_path / "export.json"
    assert run("edgemap", "export", *args, "-o", str(exported)) == 0
    assert exported.read_text() == edge_map.read_text()
