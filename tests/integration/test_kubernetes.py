"""Joining Kubernetes for real: the lab's control plane (etcd, kube-apiserver, kube-controller-manager and
kube-scheduler built from source), real lab nodes attested on their swtpm, the site registry on the first
node, containerd and the real kubelet joining by TLS bootstrap, and pods from the site registry's images
running on the nodes. Then the refusals (quarantined node, expired token, bad input, a registry that is
unreachable or not of the site CA, an image the registry lacks) and decommissioning.

Needs root podman and the Kubernetes build of scripts/setup.d/60-kubernetes.sh; skipped without them.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, edgewright, envoy_artefact
from listeners import misplaced, node_listeners
from waiting import wait_for

from edgewright.attest.store import Store
from edgewright.lab.kube import binaries_dir, issue_cert, make_ca
from edgewright.lab.nodes import state_dir
from edgewright.lab.tpm import trusted_manufacturer

# Not the default port base (16400): a developer's own lab may be running its control plane there.
LAB, SUBNET, PORT_BASE = "k8s", "10.231.40.0/24", 16500
JOINED, BATTERY, REFUSED = "k8s-1", "k8s-2", "k8s-3"
# A member that is hard-killed and then decommissioned while it does not answer.
DOOMED = "k8s-4"

pytestmark = pytest.mark.skipif(
    shutil.which("podman") is None or not (binaries_dir() / "kubelet").exists() or os.geteuid() != 0,
    reason="needs root podman and the Kubernetes build (scripts/setup)",
)


def playbook(inventory: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    """Run a playbook of playbooks/ (or a path relative to the project) on the lab."""
    path = name if "/" in name else f"playbooks/{name}"
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), path, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ANSIBLE_FORCE_COLOR": "0"},
        check=False,
    )


def recap(output: str) -> dict[str, dict[str, int]]:
    """Per host, the counts of the PLAY RECAP lines."""
    counts = {}
    for line in output.split("PLAY RECAP")[-1].splitlines():
        if ":" in line and "ok=" in line:
            host, rest = line.split(":", 1)
            counts[host.strip()] = {k: int(v) for k, v in (p.split("=") for p in rest.split())}
    return counts


def on_node(node: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", "exec", node, *cmd], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A four-node lab with a control plane; k8s-2 reports a battery (power supplies its probe reads) and host
    vars make k8s-3 fail attestation."""
    work = tmp_path_factory.mktemp("kube")
    inventory = work / "hosts.yml"
    up = edgewright(
        "lab", "up", "--name", LAB, "--nodes", "4", "--subnet", SUBNET, "--kubernetes",
        "--kube-port-base", str(PORT_BASE), "--inventory", str(inventory),
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        (work / "group_vars").mkdir()
        (work / "group_vars" / "all.yml").write_text(
            yaml.safe_dump(
                {
                    "edgewright_verifier_dir": str(work / "verifier"),
                    "attest_learn_policy": True,
                    "attest_policy_reference_node": JOINED,
                    "edgewright_zone": "lab-a",
                    # The mesh's record and the probe reports of this lab alone.
                    "edgewright_state_dir": str(work / "state"),
                    "common_time_sync": "none",
                    # A golden policy no real node matches, for k8s-3's class: it fails attestation.
                    "attest_golden_policies": {"tampered": {13: "00" * 32}},
                }
            )
        )
        # The test's own verifier trusts the lab's TPM manufacturer, as the lab's verifier does.
        trusted_manufacturer(state_dir(LAB) / "tpm-manufacturer", work / "verifier")
        (work / "host_vars").mkdir()
        (work / "host_vars" / f"{JOINED}.yml").write_text(yaml.safe_dump({"edgewright_cluster_role": "head"}))
        # A container sees no battery of its own: k8s-2 gets one, discharging at 80%, where its probe reads.
        supplies = "/run/edgewright-lab/power_supply"
        battery = {"BAT0/type": "Battery", "BAT0/capacity": "80", "BAT0/status": "Discharging"}
        for path, value in battery.items():
            made = on_node(
                BATTERY, "sh", "-c", f"mkdir -p {supplies}/BAT0 && echo {value} > {supplies}/{path}"
            )
            assert made.returncode == 0, made.stderr
        (work / "host_vars" / f"{BATTERY}.yml").write_text(
            yaml.safe_dump({"edgewright_power_supply_dir": supplies})
        )
        (work / "host_vars" / f"{REFUSED}.yml").write_text(yaml.safe_dump({"attest_node_class": "tampered"}))
        inventory_vars = yaml.safe_load(inventory.read_text())["all"]["vars"]
        yield {
            "inventory": inventory,
            "work": work,
            "kubeconfig": inventory_vars["edgewright_kubeconfig"],
            "vars": inventory_vars,
        }
    finally:
        edgewright("lab", "down", "--name", LAB, "--inventory", str(inventory))


@pytest.fixture(scope="module")
def api(lab):
    from kubernetes import client, config

    return client.CoreV1Api(api_client=config.new_client_from_config(config_file=lab["kubeconfig"]))


@pytest.fixture(scope="module")
def site(lab):
    """Baseline, attestation and the join on the whole lab, once."""
    started = time.monotonic()
    run = playbook(lab["inventory"], "tests/integration/playbooks/onboard.yml")
    print(f"onboarding 4 nodes: {time.monotonic() - started:.1f} s")
    return run


def node_or_none(api, name):
    from kubernetes.client.exceptions import ApiException

    try:
        return api.read_node(name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def bootstrap_secrets(api, node: str) -> list[str]:
    return [
        s.metadata.name
        for s in api.list_namespaced_secret("kube-system", label_selector=f"edgewright.io/node={node}").items
    ]


def client_for(api, name: str):
    """Another API group's client over the same connection as the core one."""
    from kubernetes import client

    return getattr(client, name)(api.api_client)


def certificates_api(api):
    return client_for(api, "CertificatesV1Api")


def test_attested_nodes_join_with_their_labels_and_taints(lab, site, api):
    counts = recap(site.stdout)
    assert counts[JOINED]["failed"] == 0 and counts[BATTERY]["failed"] == 0, site.stdout[-3000:]
    head = api.read_node(JOINED)
    assert (
        head.metadata.labels
        | {
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": JOINED,
            "topology.kubernetes.io/zone": "lab-a",
            "edgewright.io/cluster-role": "head",
            "node-restriction.kubernetes.io/edgewright-attested": "true",
            "edgewright.io/power-source": "mains",
        }
        == head.metadata.labels
    )
    assert [a.address for a in head.status.addresses if a.type == "InternalIP"] == ["10.231.40.11"]
    assert not [t for t in head.spec.taints or [] if t.key.startswith("edgewright.io/")]
    battery = api.read_node(BATTERY)
    assert battery.metadata.labels["edgewright.io/power-source"] == "battery"
    assert battery.metadata.labels["edgewright.io/cluster-role"] == "member"
    assert ("edgewright.io/battery-powered", "true", "NoSchedule") in [
        (t.key, t.value, t.effect) for t in battery.spec.taints
    ]
    # The kubelet registered itself: with the certificate the controller manager signed after TLS bootstrap.
    cert = on_node(
        JOINED,
        "openssl",
        "x509",
        "-noout",
        "-subject",
        "-in",
        "/var/lib/kubelet/pki/kubelet-client-current.pem",
    )
    assert "CN = system:node:k8s-1" in cert.stdout and "O = system:nodes" in cert.stdout
    # The controller approved the kubelet's first request itself (nothing auto-approves a bootstrap token's).
    certificates = certificates_api(api)
    approvals = [
        (c.reason, c.message)
        for name in node_csrs(lab["kubeconfig"], JOINED)
        # A request still pending (nobody decided on it yet) has no conditions.
        for c in certificates.read_certificate_signing_request(name).status.conditions or []
        if c.type == "Approved"
    ]
    assert (
        "EdgewrightNodeBootstrap",
        "system:node:k8s-1 asked for by the bootstrap token issued to k8s-1",
    ) in (approvals)
    assert not [c for c, _ in approvals if c == "AutoApproved"]
    bindings = client_for(api, "RbacAuthorizationV1Api").list_cluster_role_binding().items
    names = [b.metadata.name for b in bindings]
    assert "edgewright:node-autoapprove-bootstrap" not in names
    # Renewals only for attested nodes, each by a binding of its own (revocation deletes it).
    assert "edgewright:node-autoapprove-renewal" not in names and f"edgewright:node-renewal:{JOINED}" in names
    # The bootstrap token was short-lived: revoked right after the join, and gone from the node.
    assert bootstrap_secrets(api, JOINED) == []
    assert on_node(JOINED, "test", "-e", "/etc/kubernetes/bootstrap-kubelet.conf").returncode == 1
    assert (
        json.loads(on_node(JOINED, "cat", "/var/lib/edgewright/lifecycle.json").stdout)["stage"] == "joined"
    )


def test_joined_node_becomes_ready(site, api):
    deadline = time.monotonic() + 90
    ready = None
    while time.monotonic() < deadline:
        ready = next(c for c in api.read_node(JOINED).status.conditions if c.type == "Ready")
        if ready.status == "True":
            break
        time.sleep(3)
    assert ready is not None and ready.status == "True", f"{ready.reason}: {ready.message}"


def test_the_kubelet_listens_on_its_cluster_address_only(lab, site, api):
    """The kubelet API on the address the Node registered, health on loopback, no read-only port; nothing
    the roles set up on the node (containerd, the site registry on the first node) on any other address."""
    joined = [n.metadata.name for n in api.list_node().items]
    assert JOINED in joined
    for name in joined:
        address = next(a.address for a in api.read_node(name).status.addresses if a.type == "InternalIP")
        listeners = node_listeners(name)
        # By port: ss cannot name the process of every socket.
        kubelet = {(entry.address, entry.port) for entry in listeners if entry.port in (10250, 10248, 10255)}
        assert kubelet == {(address, 10250), ("127.0.0.1", 10248)}, (name, listeners)
        assert not misplaced(listeners, {address}), (name, listeners)


def test_every_joined_node_runs_the_hello_workload_from_the_site_registry(lab, site, api):
    assert recap(site.stdout)[JOINED]["failed"] == 0, site.stdout[-3000:]
    pods = api.list_namespaced_pod(
        "edgewright", label_selector="app.kubernetes.io/name=edgewright-hello"
    ).items
    running = {p.spec.node_name: p for p in pods if p.status.phase == "Running"}
    # The battery-powered node too: the workload tolerates its taint. Not the quarantined one.
    assert sorted(running) == [JOINED, BATTERY, DOOMED]
    digests = json.loads(Path(lab["vars"]["edgewright_site_images_file"]).read_text())
    for pod in running.values():
        # By digest, pulled through containerd's mirror of edgewright.io: the site registry.
        assert pod.spec.containers[0].image == digests["hello"]["pinned"]
        assert pod.status.container_statuses[0].ready
    # The sandbox is the site registry's pause, by digest, named in containerd's configuration.
    config = on_node(JOINED, "cat", "/etc/containerd/config.toml").stdout
    assert f'sandbox_image = "{digests["pause"]["pinned"]}"' in config
    hosts = on_node(JOINED, "cat", "/etc/containerd/certs.d/registry.k8s.io/hosts.toml").stdout
    assert 'server = "https://10.231.40.11:5000"' in hosts
    # The lab status table shows each node's workload.
    status = edgewright("lab", "status", "--name", LAB, "--json")
    rows = {row["name"]: row["workload"] for row in json.loads(status.stdout)}
    assert rows == {JOINED: "ready", BATTERY: "ready", REFUSED: "-", DOOMED: "ready"}


def _deployment(name: str, node: str, image: str) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": node},
                    "automountServiceAccountToken": False,
                    "containers": [{"name": "main", "image": image}],
                },
            },
        },
    }


def _pods_of(api, name: str) -> list:
    return api.list_namespaced_pod("default", label_selector=f"app={name}").items


def test_a_deployment_pinned_to_a_node_runs_and_a_missing_image_fails_alone(lab, site, api):
    from kubernetes import client, config

    apps = client.AppsV1Api(config.new_client_from_config(config_file=lab["kubeconfig"]))
    digests = json.loads(Path(lab["vars"]["edgewright_site_images_file"]).read_text())
    apps.create_namespaced_deployment("default", _deployment("pinned", JOINED, digests["hello"]["pinned"]))
    apps.create_namespaced_deployment("default", _deployment("missing", JOINED, "edgewright.io/missing:1.0"))
    try:
        deadline, pinned, missing = time.monotonic() + 120, [], []
        reason = ""
        while time.monotonic() < deadline:
            pinned, missing = _pods_of(api, "pinned"), _pods_of(api, "missing")
            waiting = [
                s.state.waiting
                for p in missing
                for s in p.status.container_statuses or []
                if s.state and s.state.waiting
            ]
            reason = waiting[0].reason if waiting else ""
            if [p.status.phase for p in pinned] == ["Running"] and reason in (
                "ErrImagePull",
                "ImagePullBackOff",
            ):
                break
            time.sleep(2)
        assert [(p.spec.node_name, p.status.phase) for p in pinned] == [(JOINED, "Running")]
        assert reason in ("ErrImagePull", "ImagePullBackOff"), reason
        # The pod's events say which image and that the site registry does not have it.
        failures = [
            e.message
            for e in api.list_namespaced_event(
                "default", field_selector=f"involvedObject.name={missing[0].metadata.name}"
            ).items
            if e.reason == "Failed"
        ]
        assert any("edgewright.io/missing:1.0" in m and "not found" in m for m in failures), failures
        # Nothing else is affected: the node's hello pod still runs and is ready.
        hello = api.list_namespaced_pod(
            "edgewright",
            label_selector="app.kubernetes.io/name=edgewright-hello",
            field_selector=f"spec.nodeName={JOINED}",
        ).items
        assert [p.status.container_statuses[0].ready for p in hello] == [True]
    finally:
        for name in ("pinned", "missing"):
            apps.delete_namespaced_deployment(name, "default")


def pod_ip(api, node: str) -> str:
    """The address of the node's hello pod (the DaemonSet of workloads.yml)."""
    (pod,) = api.list_namespaced_pod(
        "edgewright",
        label_selector="app.kubernetes.io/name=edgewright-hello",
        field_selector=f"spec.nodeName={node}",
    ).items
    return pod.status.pod_ip


def pod_netns(node: str, address: str) -> str:
    """The network namespace CNI made for the pod with ADDRESS on NODE: what runs in it is the pod's traffic."""
    for line in on_node(node, "ip", "netns", "list").stdout.splitlines():
        name = line.split()[0]
        if f"inet {address}/" in on_node(node, "ip", "-n", name, "-4", "-o", "addr", "show").stdout:
            return name
    raise AssertionError(f"no network namespace on {node} holds {address}")


CONNECT = "import socket, sys; c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print(c.recv(512).decode().strip())"  # fmt: skip
ACCEPT_ONE = "import socket; s = socket.create_server(('', 9090)); s.settimeout(60); c, peer = s.accept(); print(peer[0]); c.close()"  # fmt: skip


def from_pod(node: str, netns: str, address: str, port: int, attempts: int = 15) -> str:
    """Connect over TCP from the pod's namespace on NODE and return what the server answered (bounded retries:
    a new route or Service rule takes a moment)."""
    out = None
    for _ in range(attempts):
        out = on_node(node, "ip", "netns", "exec", netns, "python3", "-c", CONNECT, address, str(port))
        if out.returncode == 0:
            return out.stdout.strip()
        time.sleep(1)
    raise AssertionError(f"{node} pod -> {address}:{port}: {out.stderr[-500:]}")


def test_kube_proxy_runs_with_a_credential_of_its_own_and_least_privilege(lab, site, api):
    from kubernetes import client, config

    assert on_node(JOINED, "systemctl", "is-active", "kube-proxy").stdout.strip() == "active"
    subject = on_node(
        JOINED, "openssl", "x509", "-in", "/etc/kubernetes/kube-proxy/cert.pem", "-noout", "-subject"
    )
    assert "O = edgewright:kube-proxies, CN = edgewright:kube-proxy:k8s-1" in subject.stdout
    assert on_node(JOINED, "stat", "-c", "%a %U", "/etc/kubernetes/kube-proxy/key.pem").stdout.split() == [
        "600",
        "root",
    ]
    # The unit keeps two capabilities of root's: CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
    pid = on_node(JOINED, "systemctl", "show", "-P", "MainPID", "kube-proxy").stdout.strip()
    bounding = [
        line
        for line in on_node(JOINED, "cat", f"/proc/{pid}/status").stdout.splitlines()
        if line.startswith("CapBnd")
    ]
    assert bounding == ["CapBnd:\t0000000000003000"]
    # Metrics and healthz on loopback: nothing of kube-proxy's listens on another address.
    sockets = [
        line.split()[3]
        for line in on_node(JOINED, "ss", "-ltnpH").stdout.splitlines()
        if "kube-proxy" in line
    ]
    assert sorted(sockets) == ["127.0.0.1:10249", "127.0.0.1:10256"], sockets
    # What the credential may do: read Services and their endpoints; not read Secrets, make pods or change Nodes.
    authz = client.AuthorizationV1Api(config.new_client_from_config(config_file=lab["kubeconfig"]))

    def allowed(verb: str, resource: str, group: str = "") -> bool:
        review = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user="edgewright:kube-proxy:k8s-1",
                groups=["edgewright:kube-proxies", "system:authenticated"],
                resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, group=group),
            )
        )
        return authz.create_subject_access_review(review).status.allowed

    assert allowed("watch", "endpointslices", "discovery.k8s.io") and allowed("list", "services")
    assert not any(
        [
            allowed("get", "secrets"),
            allowed("create", "pods"),
            allowed("patch", "nodes"),
            allowed("list", "configmaps"),
        ]
    )


def test_a_pod_reaches_a_pod_on_another_node_keeping_its_own_address(lab, site, api):
    client_ip, server_ip = pod_ip(api, JOINED), pod_ip(api, BATTERY)
    client_ns = pod_netns(JOINED, client_ip)
    # The hello pod on the other node answers with its own name and node.
    assert from_pod(JOINED, client_ns, server_ip, 8080).endswith(f"on {BATTERY}")
    # A listener in the far pod's namespace sees the client pod's address: no NAT between pods.
    server = subprocess.Popen(
        ["podman", "exec", BATTERY, "ip", "netns", "exec", pod_netns(BATTERY, server_ip), "python3", "-c", ACCEPT_ONE],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(1)
        on_node(JOINED, "ip", "netns", "exec", client_ns, "python3", "-c", CONNECT.replace("c.recv(512)", "b''"),
                server_ip, "9090")  # fmt: skip
        out, err = server.communicate(timeout=60)
    finally:
        server.kill()
    assert out.strip() == client_ip, err
    # Only the peers may send the pod network VXLAN: the filter accepts the other node's address alone.
    rules = on_node(JOINED, "iptables", "-S", "EDGEWRIGHT-PODNET-IN").stdout
    assert f"-A EDGEWRIGHT-PODNET-IN -s {lab['vars']['edgewright_lab_subnet'][:-4]}12/32 -j ACCEPT" in rules
    assert rules.rstrip().endswith("-A EDGEWRIGHT-PODNET-IN -j DROP")


def test_a_pod_reaches_a_cluster_ip_service_of_pods_on_another_node(lab, site, api):
    from kubernetes import client, config

    apps = client.AppsV1Api(config.new_client_from_config(config_file=lab["kubeconfig"]))
    digests = json.loads(Path(lab["vars"]["edgewright_site_images_file"]).read_text())
    far = _deployment("far", BATTERY, digests["hello"]["pinned"])
    pod_spec = far["spec"]["template"]["spec"]
    pod_spec["tolerations"] = [{"key": "edgewright.io/battery-powered", "operator": "Exists"}]
    pod_spec["containers"][0]["env"] = [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    ]
    apps.create_namespaced_deployment("default", far)
    service = api.create_namespaced_service(
        "default",
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "far"},
         "spec": {"selector": {"app": "far"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and [p.status.phase for p in _pods_of(api, "far")] != ["Running"]:
            time.sleep(2)
        assert [(p.spec.node_name, p.status.phase) for p in _pods_of(api, "far")] == [(BATTERY, "Running")]
        netns = pod_netns(JOINED, pod_ip(api, JOINED))
        assert from_pod(JOINED, netns, service.spec.cluster_ip, 80, attempts=30).endswith(f"on {BATTERY}")
    finally:
        api.delete_namespaced_service("far", "default")
        apps.delete_namespaced_deployment("far", "default")


def kube_proxy_state(node: str) -> tuple[str, str]:
    return (
        on_node(node, "sha256sum", "/etc/kubernetes/kube-proxy/config.yaml").stdout,
        on_node(node, "systemctl", "show", "-P", "MainPID", "kube-proxy").stdout,
    )


def changed_tasks(output: str) -> str:
    """The tasks a run reports changed, each with the TASK line it follows: what a 0-changed check names."""
    task, found = "", []
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line.rstrip("* ")
        elif line.startswith("changed:"):
            found.append(f"{task} {line}")
    return "\n".join(found) or output[-3000:]


@pytest.mark.parametrize(
    "extra,message",
    [
        # kube-proxy itself refuses it, before it replaces the running configuration.
        ({"kube_proxy_nodeport_addresses": ["not-a-cidr"]}, "kube-proxy configuration refused"),
        ({"kube_proxy_metrics_address": "0.0.0.0:10249"}, "kube_proxy_metrics_address '0.0.0.0:10249' listens on every address"),
        ({"edgewright_kube_cluster_cidr": "10.231.0.0/16"},
         "the pod CIDR 10.231.0.0/16 overlaps the node network of k8s-1 (eth0) 10.231.40.0/24"),
    ],
)  # fmt: skip
def test_a_broken_kube_proxy_config_or_overlapping_pod_cidr_is_refused_and_changes_nothing(
    lab, site, extra, message
):
    before = kube_proxy_state(JOINED)
    run = playbook(lab["inventory"], "join.yml", "--limit", JOINED, "-e", json.dumps(extra))
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-3000:]
    assert recap(run.stdout)[JOINED]["changed"] == 0, changed_tasks(run.stdout)
    assert kube_proxy_state(JOINED) == before


def test_quarantined_node_is_refused_a_token_and_does_not_join(lab, site, api):
    assert recap(site.stdout)[REFUSED]["failed"] == 1
    # The join alone on the quarantined node: the gate refuses it before any token exists.
    run = playbook(lab["inventory"], "join.yml", "--limit", REFUSED)
    assert run.returncode != 0
    assert f"node {REFUSED} is quarantined" in run.stdout
    assert bootstrap_secrets(api, REFUSED) == []
    assert node_or_none(api, REFUSED) is None
    assert on_node(REFUSED, "test", "-e", "/etc/kubernetes/bootstrap-kubelet.conf").returncode == 1
    assert on_node(REFUSED, "systemctl", "is-active", "kubelet").stdout.strip() != "active"
    # Refused before anything was installed.
    assert on_node(REFUSED, "test", "-e", "/usr/local/bin/kubelet").returncode == 1
    assert on_node(REFUSED, "test", "-e", "/etc/containerd/config.toml").returncode == 1


def test_second_run_changes_nothing(lab, site):
    # One run, as site.yml: the join reads the probe's facts (power source, battery taint) from the same run.
    # The first probe after the join records what it installed (the node changed); the run after it changes
    # nothing.
    for _ in range(2):
        run = playbook(
            lab["inventory"], "tests/integration/playbooks/rejoin.yml", "--limit", f"{JOINED},{BATTERY}"
        )
    counts = recap(run.stdout)
    assert run.returncode == 0, run.stdout[-3000:]
    assert all(counts[node]["changed"] == 0 for node in counts), changed_tasks(run.stdout)


def test_expired_bootstrap_token_is_refused_by_the_api_server(lab, site, api):
    from kubernetes import client, config

    from edgewright.kube_bootstrap import issue, revoke

    admin = config.new_client_from_config(config_file=lab["kubeconfig"]).configuration

    def certificates_as(token: str):
        conf = client.Configuration()
        conf.host, conf.ssl_ca_cert = admin.host, admin.ssl_ca_cert
        conf.api_key = {"authorization": f"Bearer {token}"}
        return client.CertificatesV1Api(client.ApiClient(conf))

    now = datetime.datetime.now(datetime.UTC)
    groups = ["system:bootstrappers:edgewright"]
    valid, expiring = issue(api, "k8s-expiry", 600, groups, now), issue(api, "k8s-expiry", 1, groups, now)
    try:
        certificates_as(valid["token"]).list_certificate_signing_request()  # a bootstrapper may list CSRs
        # Never used before it expired (the API server caches successful token lookups for a few seconds).
        time.sleep(2.5)
        with pytest.raises(client.exceptions.ApiException) as refused:
            certificates_as(expiring["token"]).list_certificate_signing_request()
        assert refused.value.status == 401
    finally:
        revoke(api, "k8s-expiry")


@pytest.mark.parametrize(
    "extra,message",
    [
        ({"kubelet_container_runtime": "cri-o"}, "kubelet_container_runtime must be one of: containerd"),
        ({"kubelet_node_ip": "0.0.0.0"}, "kubelet_node_ip 0.0.0.0 listens on every interface"),
        ({"kubelet_node_ip": "k8s-3.lab"}, "kubelet_node_ip must be an IP address (not a hostname"),
        # Nothing listens there: the node cannot reach it.
        (
            {"edgewright_site_registry": "10.231.40.11:5999"},
            "the site registry 10.231.40.11:5999 is unreachable from k8s-3",
        ),
        # The registry answers, under a certificate another CA's file does not vouch for.
        (
            {"edgewright_site_ca_dir": "OTHER_CA"},
            "presents a certificate the site CA OTHER_CA/ca.crt did not sign",
        ),
        ({"kubelet_extra_labels": {"bad key": "x"}}, "key 'bad key'"),
        ({"kubelet_extra_labels": {"edgewright.io/site": "has space"}}, "value 'has space'"),
        ({"kubelet_artefact": {"path": "ARTEFACT", "sha256": "0" * 64}}, "not the expected " + "0" * 64),
    ],
)
def test_bad_input_is_named_and_changes_nothing(lab, site, extra, message):
    other_ca = lab["work"] / "other-ca"
    if not other_ca.exists():
        other_ca.mkdir()
        (other_ca / "ca.crt").write_bytes(make_ca("not the site CA")[0])
    extra = json.loads(json.dumps(extra).replace("ARTEFACT", str(binaries_dir() / "kubelet")))
    extra = json.loads(json.dumps(extra).replace("OTHER_CA", str(other_ca)))
    message = message.replace("OTHER_CA", str(other_ca))
    run = playbook(
        lab["inventory"],
        "join.yml",
        "--limit",
        REFUSED,
        "-e",
        json.dumps({**extra, "kubelet_require_attestation": False}),
    )
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-2000:]
    assert on_node(REFUSED, "test", "-e", "/usr/local/bin/kubelet").returncode == 1
    assert on_node(REFUSED, "test", "-e", "/etc/containerd/config.toml").returncode == 1


def bootstrap_request(common_name: str, organizations: list[str]) -> str:
    """A client certificate request (base64 PEM) for a name, made with a fresh key as a kubelet makes it."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        + [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(subject)
    pem = request.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM
    )
    return base64.b64encode(pem).decode()


@pytest.mark.parametrize(
    "common_name,organizations,asked",
    [
        # k8s-2's own token asks for k8s-1's identity.
        (f"system:node:{JOINED}", ["system:nodes"], f"asks for system:node:{JOINED} but the token was issued to {BATTERY}"),
        # Its own name, with cluster-admin's group.
        (f"system:node:{BATTERY}", ["system:nodes", "system:masters"], "organizations system:nodes, system:masters, not system:nodes alone"),
    ],
)  # fmt: skip
def test_a_bootstrap_token_gets_no_certificate_but_its_own_nodes(
    lab, site, api, common_name, organizations, asked
):
    from kubernetes import client, config

    from edgewright.attest.store import Store
    from edgewright.kube_bootstrap import issue, revoke

    admin = config.new_client_from_config(config_file=lab["kubeconfig"]).configuration
    token = issue(api, BATTERY, 600, ["system:bootstrappers:edgewright"], datetime.datetime.now(datetime.UTC))
    as_token = client.Configuration()
    as_token.host, as_token.ssl_ca_cert = admin.host, admin.ssl_ca_cert
    as_token.api_key = {"authorization": f"Bearer {token['token']}"}
    certificates = certificates_api(api)
    name = None
    try:
        # Submitted with the token's own credentials, as the node holding it would.
        created = client.CertificatesV1Api(client.ApiClient(as_token)).create_certificate_signing_request(
            client.V1CertificateSigningRequest(
                metadata=client.V1ObjectMeta(generate_name="csr-"),
                spec=client.V1CertificateSigningRequestSpec(
                    request=bootstrap_request(common_name, organizations),
                    signer_name="kubernetes.io/kube-apiserver-client-kubelet",
                    usages=["digital signature", "client auth"],
                ),
            )
        )
        name = created.metadata.name
        assert created.spec.username == f"system:bootstrap:{token['token_id']}"
        verifier = lab["work"] / "verifier"
        run = module(
            "kube_bootstrap_csr",
            f"kubeconfig={lab['kubeconfig']} node={BATTERY} token_id={token['token_id']} "
            f"verifier_dir={verifier} timeout=30",
        )
        assert run.returncode != 0, run.stdout
        result = module_result(run)
        assert result["msg"].startswith(f"no client certificate for {BATTERY}: its bootstrap token"), result
        assert asked in result["msg"]
        assert [(d["name"], asked in d["reason"]) for d in result["denied"]] == [(name, True)], result
        assert result["approved"] == [] and result["changed"] is True
        # The denial is on the request, for the operator and the kubelet to see.
        conditions = certificates.read_certificate_signing_request(name).status.conditions
        assert [(c.type, c.reason) for c in conditions] == [("Denied", "EdgewrightNotThisNode")]
        assert asked in conditions[0].message
        # Nothing signs it: the controller manager's signer acts on approved requests within a second.
        time.sleep(3)
        assert not certificates.read_certificate_signing_request(name).status.certificate
        # And the verifier's evidence log keeps it, next to the node's attestations.
        denials = [e for e in Store(verifier).evidence(BATTERY) if e["outcome"] == "csr-denied"]
        mine = [e for e in denials if e["csr"] == name]
        assert [(e["token_id"], asked in e["reason"]) for e in mine] == [(token["token_id"], True)], denials
    finally:
        revoke(api, BATTERY)
        if name:
            certificates.delete_certificate_signing_request(name)


def kube_dns_pods(api) -> list:
    return api.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-dns").items


def test_cluster_dns_runs_in_the_cluster_from_the_site_registry_with_least_privilege(lab, site, api):
    assert recap(site.stdout)[JOINED]["failed"] == 0, site.stdout[-3000:]
    digests = json.loads(Path(lab["vars"]["edgewright_site_images_file"]).read_text())
    deployment = client_for(api, "AppsV1Api").read_namespaced_deployment("coredns", "kube-system")
    assert deployment.status.available_replicas == 2
    pods = kube_dns_pods(api)
    assert [p.status.phase for p in pods] == ["Running", "Running"]
    for pod in pods:
        # By digest, pulled through containerd's mirror of registry.k8s.io: the site registry.
        assert pod.spec.containers[0].image == digests["coredns"]["pinned"]
        assert pod.spec.security_context.run_as_non_root and pod.spec.security_context.run_as_user == 65534
        context = pod.spec.containers[0].security_context
        assert context.read_only_root_filesystem and context.allow_privilege_escalation is False
        assert (context.capabilities.drop, context.capabilities.add) == (["ALL"], ["NET_BIND_SERVICE"])
        assert pod.status.container_statuses[0].ready
    # At the address every kubelet hands its pods.
    assert api.read_namespaced_service("kube-dns", "kube-system").spec.cluster_ip == "10.96.0.10"
    assert "clusterDNS:\n  - 10.96.0.10" in on_node(JOINED, "cat", "/var/lib/kubelet/config.yaml").stdout
    sandboxes = on_node(
        JOINED, "sh", "-c", "cat /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/resolv.conf"
    )
    assert "nameserver 10.96.0.10" in sandboxes.stdout
    assert "search edgewright.svc.cluster.local svc.cluster.local cluster.local" in sandboxes.stdout
    # Its account may watch what names are made of, and nothing else.
    from kubernetes import client

    authorization = client_for(api, "AuthorizationV1Api")

    def allowed(verb: str, resource: str, group: str = "") -> bool:
        review = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user="system:serviceaccount:kube-system:coredns",
                groups=[
                    "system:serviceaccounts",
                    "system:serviceaccounts:kube-system",
                    "system:authenticated",
                ],
                resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, group=group),
            )
        )
        return authorization.create_subject_access_review(review).status.allowed

    for verb, resource, group in (
        ("list", "services", ""), ("watch", "services", ""), ("watch", "namespaces", ""),
        ("list", "endpointslices", "discovery.k8s.io"), ("watch", "endpointslices", "discovery.k8s.io"),
    ):  # fmt: skip
        assert allowed(verb, resource, group), (verb, resource)
    for verb, resource, group in (
        ("get", "secrets", ""), ("list", "pods", ""), ("update", "services", ""), ("list", "endpoints", ""),
        ("create", "endpointslices", "discovery.k8s.io"),
    ):  # fmt: skip
        assert not allowed(verb, resource, group), (verb, resource)


def test_a_pod_resolves_cluster_names_and_its_logs_and_exec_go_through_the_api(lab, site, api):
    from kubernetes import client
    from kubernetes.stream import stream

    digests = json.loads(Path(lab["vars"]["edgewright_site_images_file"]).read_text())
    apps = client_for(api, "AppsV1Api")
    greeter = api.create_namespaced_service(
        "default",
        client.V1Service(
            metadata=client.V1ObjectMeta(name="greeter"),
            spec=client.V1ServiceSpec(selector={"app": "greeter"}, ports=[client.V1ServicePort(port=80)]),
        ),
    )
    # Until kube-proxy carries the cluster DNS Service address, the pod asks a CoreDNS pod on its own node
    # by pod IP, with the search path and ndots a ClusterFirst pod gets from its kubelet.
    nameserver = next(p.status.pod_ip for p in kube_dns_pods(api) if p.spec.node_name == JOINED)
    resolver = _deployment("resolver", JOINED, digests["lookup"]["pinned"])
    resolver["spec"]["template"]["spec"] |= {
        "dnsPolicy": "None",
        "dnsConfig": {
            "nameservers": [nameserver],
            "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
            "options": [{"name": "ndots", "value": "5"}],
        },
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534},
    }
    resolver["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "NAMES", "value": "kubernetes.default.svc.cluster.local greeter"}
    ]
    apps.create_namespaced_deployment("default", resolver)
    try:
        deadline, logs, pods = time.monotonic() + 120, "", []
        while time.monotonic() < deadline:
            pods = [p for p in _pods_of(api, "resolver") if p.status.phase == "Running"]
            if pods:
                # The pod's log, read through the API server from the kubelet it verified.
                logs = api.read_namespaced_pod_log(pods[0].metadata.name, "default")
                if "lookup:" in logs:
                    break
            time.sleep(2)
        assert pods, "the resolver pod did not run"
        assert "kubernetes.default.svc.cluster.local 10.96.0.1\n" in logs, logs
        # A Service's short name, through the search path.
        assert f"greeter {greeter.spec.cluster_ip}\n" in logs, logs
        assert "lookup: every name resolved" in logs
        # exec runs a command in the pod, through the same verified connection.
        output = stream(
            api.connect_get_namespaced_pod_exec,
            pods[0].metadata.name,
            "default",
            command=["/lookup", "greeter.default", "kube-dns.kube-system", "nothing.default"],
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
        )
        assert f"greeter.default {greeter.spec.cluster_ip}\n" in output, output
        assert "kube-dns.kube-system 10.96.0.10\n" in output, output
        assert "nothing.default failed:" in output, output
    finally:
        apps.delete_namespaced_deployment("resolver", "default")
        api.delete_namespaced_service("greeter", "default")


def test_the_kubelet_serves_under_a_certificate_the_controller_approved_for_its_name_and_address(
    lab, site, api
):
    import socket
    import ssl

    approvals = [
        (c.reason, c.message)
        for csr in certificates_api(api).list_certificate_signing_request().items
        if csr.spec.signer_name == "kubernetes.io/kubelet-serving"
        and csr.spec.username == f"system:node:{JOINED}"
        for c in (csr.status.conditions or [])
        if c.type == "Approved"
    ]
    assert approvals == [
        ("EdgewrightNodeServing", f"system:node:{JOINED} serving as {JOINED}, 10.231.40.11, all its own")
    ]
    # The kubelet's port answers under the cluster CA for the node's address: what the API server checks.
    context = ssl.create_default_context(cafile=lab["vars"]["edgewright_kube_ca_file"])
    with (
        socket.create_connection(("10.231.40.11", 10250), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="10.231.40.11") as tls,
    ):
        subject = dict(part[0] for part in tls.getpeercert()["subject"])
    assert subject["commonName"] == f"system:node:{JOINED}"


def serving_request(common_name: str, dns_names: list[str], ips: list[str]) -> str:
    """A serving certificate request (base64 PEM) as a kubelet makes it, with a fresh key."""
    import base64
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    names = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    pem = request.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM
    )
    return base64.b64encode(pem).decode()


@pytest.mark.parametrize(
    "common_name,dns_names,ips,asked",
    [
        # k8s-1's kubelet asks to serve as k8s-2: the API server's NodeRestriction refuses it outright.
        (f"system:node:{BATTERY}", [BATTERY], ["10.231.40.12"], f"can only create a node CSR with CN=system:node:{JOINED}"),
        # Its own name, and an address that is not its own.
        (f"system:node:{JOINED}", [JOINED], ["10.231.40.11", "10.231.40.99"], f"addresses that are not {JOINED}'s (10.231.40.99)"),
    ],
)  # fmt: skip
def test_a_serving_csr_for_another_name_or_an_extra_address_is_denied_and_recorded(
    lab, site, api, common_name, dns_names, ips, asked
):
    from kubernetes import client, config

    from edgewright.attest.store import Store

    # The node's own kubelet credential, as a node that tries this would use it.
    credential = lab["work"] / f"{JOINED}-kubelet-client.pem"
    credential.write_text(on_node(JOINED, "cat", "/var/lib/kubelet/pki/kubelet-client-current.pem").stdout)
    credential.chmod(0o600)
    admin = config.new_client_from_config(config_file=lab["kubeconfig"]).configuration
    as_node = client.Configuration()
    as_node.host, as_node.ssl_ca_cert = admin.host, admin.ssl_ca_cert
    as_node.cert_file = as_node.key_file = str(credential)
    certificates = certificates_api(api)
    name = None
    try:
        request = client.V1CertificateSigningRequest(
            metadata=client.V1ObjectMeta(generate_name="csr-"),
            spec=client.V1CertificateSigningRequestSpec(
                request=serving_request(common_name, dns_names, ips),
                signer_name="kubernetes.io/kubelet-serving",
                usages=["digital signature", "server auth"],
            ),
        )
        node_certificates = client.CertificatesV1Api(client.ApiClient(as_node))
        if common_name != f"system:node:{JOINED}":
            with pytest.raises(client.exceptions.ApiException) as refused:
                node_certificates.create_certificate_signing_request(request)
            assert refused.value.status == 403 and asked in refused.value.body
            return
        created = node_certificates.create_certificate_signing_request(request)
        name = created.metadata.name
        assert created.spec.username == f"system:node:{JOINED}"
        verifier = lab["work"] / "verifier"
        # The node holds a good serving certificate: nothing of its own is due, so the request for an
        # address that is not its own is denied and the run fails naming it.
        current = on_node(
            JOINED,
            "sed",
            "-n",
            "/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p",
            "/var/lib/kubelet/pki/kubelet-server-current.pem",
        )
        run = module(
            "kube_serving_csr",
            json.dumps(
                {
                    "kubeconfig": lab["kubeconfig"],
                    "node": JOINED,
                    "addresses": ["10.231.40.11"],
                    "dns_names": [JOINED],
                    "current_certificate": current.stdout,
                    "ca_file": lab["vars"]["edgewright_kube_ca_file"],
                    "verifier_dir": str(verifier),
                    "timeout": 10,
                }
            ),
        )
        assert run.returncode != 0, run.stdout
        result = module_result(run)
        assert [(d["name"], asked in d["reason"]) for d in result["denied"]] == [(name, True)], result
        assert result["approved"] == []
        conditions = certificates.read_certificate_signing_request(name).status.conditions
        assert [(c.type, c.reason) for c in conditions] == [("Denied", "EdgewrightNotThisNode")]
        time.sleep(3)
        assert not certificates.read_certificate_signing_request(name).status.certificate
        denials = [
            e for e in Store(verifier).evidence(JOINED) if e["outcome"] == "csr-denied" and e["csr"] == name
        ]
        assert [asked in e["reason"] for e in denials] == [True], denials
        # The node's own serving certificate stands: a rerun needs and approves nothing.
        again = module(
            "kube_serving_csr",
            json.dumps(
                {
                    "kubeconfig": lab["kubeconfig"],
                    "node": JOINED,
                    "addresses": ["10.231.40.11"],
                    "dns_names": [JOINED],
                    "ca_file": lab["vars"]["edgewright_kube_ca_file"],
                    "current_certificate": current.stdout,
                    "timeout": 0,
                }
            ),
        )
        assert module_result(again) | {"changed": False, "approved": []} == module_result(again), again.stdout
    finally:
        credential.unlink(missing_ok=True)
        if name:
            certificates.delete_certificate_signing_request(name)


def node_csrs(kubeconfig: str, node: str) -> list[str]:
    from edgewright.kube_bootstrap import node_csrs as find

    return find(kubeconfig, node)


XDS_PORT = 18240


def test_an_edge_node_reaches_a_service_of_real_pods_by_name_and_follows_it_when_its_pod_moves(
    lab, site, api, tmp_path
):
    """The host side of an edge node (no pod, no kube-proxy in the path) reaches a ClusterIP Service's pods
    by the Service's name through its Envoy, whose endpoints the xDS control plane takes from the cluster:
    the pod moves to another node and the same name answers from there, with no playbook run between."""
    from kubernetes import client, config

    from edgewright.twins.kube import connect
    from edgewright.xds.identity import CA_CERT, ensure_client_ca
    from edgewright.xds.kube import ServiceEndpointsWatcher
    from edgewright.xds.server import ServerTls, SnapshotCache, SourceWatcher, start_server

    apps = client.AppsV1Api(config.new_client_from_config(config_file=lab["kubeconfig"]))
    digests = json.loads(Path(lab["vars"]["edgewright_site_images_file"]).read_text())
    echo = _deployment("echo", DOOMED, digests["hello"]["pinned"])
    echo["spec"]["strategy"] = {"type": "Recreate"}
    pod = echo["spec"]["template"]["spec"]
    pod["tolerations"] = [
        {"key": "edgewright.io/battery-powered", "operator": "Exists", "effect": "NoSchedule"}
    ]
    pod["containers"][0]["env"] = [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    ]
    pod["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "echo", "namespace": "default"},
        "spec": {"selector": {"app": "echo"}, "ports": [{"name": "hello", "port": 8080, "targetPort": 8080}]},
    }
    apps.create_namespaced_deployment("default", echo)
    api.create_namespaced_service("default", service)

    # The control plane on the lab's gateway: mutual TLS, a server certificate for its address, the site's
    # xDS client CA signing each node's certificate over the node's own key.
    gateway = lab["vars"]["edgewright_lab_subnet"][:-4] + "1"
    ca, ca_key = make_ca("xds server CA")
    cert, key = issue_cert(ca, ca_key, "xds", ip_addresses=(gateway,), server=True)
    for name, pem in (("ca.pem", ca), ("cert.pem", cert), ("key.pem", key)):
        (tmp_path / name).write_bytes(pem)
    client_ca = tmp_path / "xds-client-ca"
    ensure_client_ca(client_ca)
    source = tmp_path / "source.yaml"
    source.write_text(
        yaml.safe_dump(
            {
                "clusters": {"echo": {"service": "default/echo", "port": "hello"}},
                "nodes": {JOINED: {"services": ["default/echo:8080"]}},
            }
        )
    )
    cache = SnapshotCache()
    assert SourceWatcher(source, cache).poll()
    # The lab's administrator kubeconfig: the least privilege the control plane needs is proven against a
    # real API server in l7/test_xds_follows_services.py.
    followers = ServiceEndpointsWatcher(connect(lab["kubeconfig"]), cache, on_error=print)
    server, _ = start_server(
        cache,
        f"{gateway}:{XDS_PORT}",
        tls=ServerTls(tmp_path / "cert.pem", tmp_path / "key.pem", client_ca / CA_CERT),
    )
    followers.start()
    envoy, sha256 = envoy_artefact()
    sidecar = {
        "envoy_artefact_url": envoy,
        "envoy_artefact_sha256": sha256,
        "envoy_concurrency": 1,
        "envoy_config_source": "xds",
        "envoy_xds_host": gateway,
        "envoy_xds_port": XDS_PORT,
        "envoy_xds_tls_ca": "/etc/edgewright/xds-server-ca.pem",
        "envoy_xds_tls_ca_source": str(tmp_path / "ca.pem"),
        "envoy_xds_client_ca_dir": str(client_ca),
        "cluster_services_list": [{"service": "default/echo", "port": 8080}],
    }

    def answer() -> str:
        out = on_node(JOINED, "python3", "-c", CONNECT, "echo.default.svc.cluster.local", "8080")
        return out.stdout.strip() if out.returncode == 0 else ""

    def ready_on(name: str) -> bool:
        return any(
            p.spec.node_name == name and p.status.container_statuses and p.status.container_statuses[0].ready
            for p in _pods_of(api, "echo")
        )

    try:
        run = playbook(lab["inventory"], "sidecars.yml", "--limit", JOINED, "-e", json.dumps(sidecar))
        assert run.returncode == 0, run.stdout[-3000:]
        wait_for(lambda: answer().endswith(f"on {DOOMED}"), f"the Service's pod on {DOOMED}", 180, 1)

        # The pod moves to another node: the cluster says so, and the same name follows it.
        moved = {"spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/hostname": BATTERY}}}}}
        apps.patch_namespaced_deployment("echo", "default", moved)
        wait_for(lambda: ready_on(BATTERY), f"the moved pod to be ready on {BATTERY}", 180, 0.2)
        ready = time.monotonic()
        wait_for(lambda: answer().endswith(f"on {BATTERY}"), f"the name to answer from {BATTERY}", 60, 0.2)
        print(
            f"moved pod ready -> the edge node's Envoy reaches it by name: {time.monotonic() - ready:.2f} s"
        )
    finally:
        followers.stop()
        server.stop(grace=0)
        apps.delete_namespaced_deployment("echo", "default")
        api.delete_namespaced_service("echo", "default")


# The nodes the mesh test puts on the overlay (k8s-1 their head), and later runs keep there.
MESHED = f"{JOINED},{BATTERY},{DOOMED}"


def head_settings() -> dict:
    """The head's yggdrasil settings: the members' keys it accepts."""
    return json.loads(on_node(JOINED, "cat", "/etc/yggdrasil/yggdrasil.conf").stdout)


def overlay_record(lab) -> dict:
    return json.loads((lab["work"] / "state" / "mesh" / "overlay.json").read_text())


def test_pod_traffic_crosses_the_mesh_where_it_is_the_only_path(lab, site, api):
    # The joined nodes go on the mesh (yggdrasil); their kubelets take their mesh addresses as node IPs.
    run = playbook(lab["inventory"], "tests/integration/playbooks/mesh_join.yml", "--limit", MESHED)
    assert run.returncode == 0, run.stdout[-3000:]
    addresses = {}
    for name in (JOINED, BATTERY, DOOMED):
        (internal,) = [a.address for a in api.read_node(name).status.addresses if a.type == "InternalIP"]
        addresses[name] = internal
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("200::/7") for a in addresses.values()), (
        addresses
    )
    settings = json.loads(on_node(JOINED, "cat", "/etc/edgewright/pod-network.json").stdout)
    assert [(p["name"], p["address"]) for p in settings["peers"]] == [
        (BATTERY, addresses[BATTERY]),
        (DOOMED, addresses[DOOMED]),
    ]
    # Only the mesh daemon's own connection still joins the two nodes' lab addresses.
    cut = edgewright("lab", "cut", "--name", LAB, JOINED, BATTERY, "--keep-port", "7701")
    try:
        assert cut.returncode == 0, cut.stderr
        battery_lab_address = lab["vars"]["edgewright_lab_subnet"][:-4] + "12"
        assert on_node(JOINED, "ping", "-c", "1", "-W", "1", battery_lab_address).returncode != 0
        netns = pod_netns(JOINED, pod_ip(api, JOINED))
        assert from_pod(JOINED, netns, pod_ip(api, BATTERY), 8080, attempts=30).endswith(f"on {BATTERY}")
    finally:
        edgewright("lab", "cut", "--name", LAB, JOINED, BATTERY, "--restore")


def test_a_tampered_joined_node_is_revoked_and_comes_back_after_release_and_a_clean_quote(lab, site, api):
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    from edgewright.attest import revocation

    apps = client.AppsV1Api(config.new_client_from_config(config_file=lab["kubeconfig"]))
    rbac = client_for(api, "RbacAuthorizationV1Api")
    digests = json.loads(Path(lab["vars"]["edgewright_site_images_file"]).read_text())
    pinned = _deployment("revoked", BATTERY, digests["hello"]["pinned"])
    # It may run on the battery-powered node, but tolerates nothing else (the quarantine taint least of all).
    pinned["spec"]["template"]["spec"]["tolerations"] = [
        {"key": "edgewright.io/battery-powered", "operator": "Exists", "effect": "NoSchedule"}
    ]
    apps.create_namespaced_deployment("default", pinned)
    key = overlay_record(lab)["nodes"][BATTERY]["public_key"]

    def running_on_battery() -> list:
        return [
            p
            for p in _pods_of(api, "revoked")
            if p.spec.node_name == BATTERY
            and p.status.phase == "Running"
            and not p.metadata.deletion_timestamp
        ]

    try:
        wait_for(running_on_battery, "the pinned pod to run on the battery node", timeout=180, interval=2)
        assert key in head_settings()["AllowedPublicKeys"]
        # A measured file changes on the joined node (a byte added to a measured binary, which still runs);
        # its next attestation fails.
        tampered = on_node(
            BATTERY,
            "sh",
            "-c",
            'cp -L /usr/bin/tpm2_quote /root/quote.orig && echo >> "$(readlink -f /usr/bin/tpm2_quote)"',
        )
        assert tampered.returncode == 0, tampered.stderr
        started = time.monotonic()
        run = playbook(lab["inventory"], "attest.yml", "-e", f"nodes={BATTERY}")
        revoked_s = time.monotonic() - started
        assert run.returncode != 0 and f"{BATTERY} is quarantined" in run.stdout, run.stdout[-3000:]
        node = api.read_node(BATTERY)
        assert node.metadata.labels[revocation.QUARANTINED_LABEL] == "true"
        assert node.metadata.labels[revocation.ATTESTED_LABEL] == "false"
        assert ("edgewright.io/quarantined", "NoExecute") in [(t.key, t.effect) for t in node.spec.taints]
        # Its client certificate is no longer renewed, and its mesh head no longer accepts it.
        with pytest.raises(ApiException) as gone:
            rbac.read_cluster_role_binding(revocation.renewal_binding_name(BATTERY))
        assert gone.value.status == 404
        assert BATTERY not in overlay_record(lab)["nodes"], run.stdout[-5000:]
        assert key not in head_settings()["AllowedPublicKeys"], run.stdout[-5000:]
        # Its pod is evicted, and its replacement cannot be placed there.
        wait_for(lambda: not running_on_battery(), "the pod on the quarantined node to be evicted", 120, 1)
        evicted_s = time.monotonic() - started
        print(f"tamper -> revoked (the attest run): {revoked_s:.1f} s; -> pod evicted: {evicted_s:.1f} s")

        # Fixed, its TPM restarted (the changed measurement stays in the PCR until then) and released: a
        # fresh, passing quote and the mesh and join runs bring everything back.
        restored = on_node(BATTERY, "sh", "-c", 'cp /root/quote.orig "$(readlink -f /usr/bin/tpm2_quote)"')
        assert restored.returncode == 0, restored.stderr
        assert on_node(BATTERY, "systemctl", "restart", "swtpm").returncode == 0
        released = edgewright("attest", "--store", str(lab["work"] / "verifier"), "release", BATTERY)
        assert released.returncode == 0, released.stderr
        attested = playbook(lab["inventory"], "attest.yml", "-e", f"nodes={BATTERY}")
        assert attested.returncode == 0, attested.stdout[-3000:]
        back = playbook(lab["inventory"], "tests/integration/playbooks/mesh_join.yml", "--limit", MESHED)
        assert back.returncode == 0, back.stdout[-3000:]
        node = api.read_node(BATTERY)
        assert node.metadata.labels[revocation.ATTESTED_LABEL] == "true"
        assert revocation.QUARANTINED_LABEL not in node.metadata.labels
        assert "edgewright.io/quarantined" not in [t.key for t in node.spec.taints or []]
        assert rbac.read_cluster_role_binding(revocation.renewal_binding_name(BATTERY))
        assert overlay_record(lab)["nodes"][BATTERY]["public_key"] in head_settings()["AllowedPublicKeys"]
        wait_for(running_on_battery, "the pod to run on the released node again", timeout=180, interval=2)
    finally:
        apps.delete_namespaced_deployment("revoked", "default")


def test_a_hard_killed_node_has_its_pods_placed_elsewhere_and_is_decommissioned_while_dead(lab, site, api):
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    from edgewright.attest import revocation
    from edgewright.xds.server import verifier_standing

    apps = client.AppsV1Api(config.new_client_from_config(config_file=lab["kubeconfig"]))
    rbac = client_for(api, "RbacAuthorizationV1Api")
    digests = json.loads(Path(lab["vars"]["edgewright_site_images_file"]).read_text())
    # Placed on the doomed node while it lives, anywhere else once it is gone (a preference, not a pin).
    moving = _deployment("moving", DOOMED, digests["hello"]["pinned"])
    spec = moving["spec"]["template"]["spec"]
    del spec["nodeSelector"]
    spec["affinity"] = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "preference": {
                        "matchExpressions": [
                            {"key": "kubernetes.io/hostname", "operator": "In", "values": [DOOMED]}
                        ]
                    },
                }
            ]
        }
    }
    apps.create_namespaced_deployment("default", moving)
    key = overlay_record(lab)["nodes"][DOOMED]["public_key"]

    def running_on(names) -> list:
        return [
            p.spec.node_name
            for p in _pods_of(api, "moving")
            if p.spec.node_name in names and p.status.phase == "Running" and not p.metadata.deletion_timestamp
        ]

    try:
        wait_for(lambda: running_on({DOOMED}), "the pod to run on the doomed node", timeout=180, interval=2)
        assert key in head_settings()["AllowedPublicKeys"]
        assert Store(lab["work"] / "verifier").node(DOOMED) is not None
        # Hard-killed: no shutdown, nothing said to anyone.
        subprocess.run(["podman", "kill", DOOMED], check=True, capture_output=True)
        killed = time.monotonic()
        wait_for(lambda: running_on({JOINED}), "the pod to run on another node", timeout=420, interval=1)
        print(f"node hard-killed -> its pod Running on {JOINED}: {time.monotonic() - killed:.1f} s")

        run = playbook(lab["inventory"], "decommission.yml", "-e", f"nodes={DOOMED}")
        assert run.returncode == 0, run.stdout[-3000:]
        said = " ".join(run.stdout.split())
        assert f"{DOOMED} did not answer" in said and "nothing on the node itself is" in said, said[-3000:]
        # The API: no Node, no token, no certificate signing request, no renewal binding.
        assert node_or_none(api, DOOMED) is None
        assert bootstrap_secrets(api, DOOMED) == []
        assert node_csrs(lab["kubeconfig"], DOOMED) == []
        with pytest.raises(ApiException) as gone:
            rbac.read_cluster_role_binding(revocation.renewal_binding_name(DOOMED))
        assert gone.value.status == 404
        # The verifier forgot it, so the xDS control plane's standing check refuses it.
        assert Store(lab["work"] / "verifier").node(DOOMED) is None, task_output(run.stdout, "Deregister")
        assert verifier_standing(lab["work"] / "verifier")(DOOMED)
        # The mesh: out of the controller's record, and its head neither accepts nor holds it as a peer.
        assert DOOMED not in overlay_record(lab)["nodes"]
        assert key not in head_settings()["AllowedPublicKeys"]
        peers = on_node(JOINED, "yggdrasilctl", "-json", "getpeers")
        assert peers.returncode == 0 and key not in peers.stdout, peers.stdout
        # The remaining nodes' pod network forgot it.
        settings = json.loads(on_node(JOINED, "cat", "/etc/edgewright/pod-network.json").stdout)
        assert [p["name"] for p in settings["peers"]] == [BATTERY]
        # The rest of the fleet stands, and the pod still runs.
        assert running_on({JOINED})
        assert api.read_node(BATTERY) is not None
    finally:
        apps.delete_namespaced_deployment("moving", "default")
        # What the operator does last: the departed node leaves the inventory.
        forget_host(lab["inventory"], DOOMED)


def task_output(stdout: str, name: str) -> str:
    """What the run printed for its tasks whose name starts with NAME, to say why a check failed."""
    return "\n".join(part[:2000] for part in stdout.split("TASK [")[1:] if part.startswith(name))


def forget_host(inventory: Path, name: str) -> None:
    def walk(group: dict) -> None:
        (group.get("hosts") or {}).pop(name, None)
        for child in (group.get("children") or {}).values():
            walk(child or {})

    hosts = yaml.safe_load(inventory.read_text())
    walk(hosts["all"])
    inventory.write_text(yaml.safe_dump(hosts))


def test_decommission_leaves_nothing_behind(lab, site, api):
    # What there is to remove: the node's certificate signing request from its TLS bootstrap, its keys.
    assert node_csrs(lab["kubeconfig"], BATTERY)
    assert Store(lab["work"] / "verifier").node(BATTERY) is not None
    run = playbook(lab["inventory"], "decommission.yml", "-e", f"nodes={BATTERY}")
    assert run.returncode == 0, run.stdout[-3000:]
    # The API: no Node, no token, no certificate signing request for it.
    assert node_or_none(api, BATTERY) is None
    assert bootstrap_secrets(api, BATTERY) == []
    assert node_csrs(lab["kubeconfig"], BATTERY) == []
    # The verifier: the node and its keys are forgotten.
    assert Store(lab["work"] / "verifier").node(BATTERY) is None, task_output(run.stdout, "Deregister")
    # The node: nothing edgewright installed.
    for path in ("/usr/local/bin/kubelet", "/etc/kubernetes", "/var/lib/kubelet", "/etc/containerd", "/var/lib/containerd",
                 "/etc/systemd/system/kubelet.service", "/etc/edgewright", "/var/lib/edgewright", "/var/log/edgewright"):  # fmt: skip
        assert on_node(BATTERY, "test", "-e", path).returncode == 1, path
    assert on_node(BATTERY, "id", "edgewright").returncode != 0
    # kube-proxy and the pod network went too, and the remaining node no longer takes the departed one's VXLAN.
    for path in ("/usr/local/bin/kube-proxy", "/etc/systemd/system/kube-proxy.service",
                 "/etc/systemd/system/edgewright-pod-network.service", "/usr/local/lib/edgewright/pod-network"):  # fmt: skip
        assert on_node(BATTERY, "test", "-e", path).returncode == 1, path
    assert on_node(BATTERY, "ip", "link", "show", "ewpods").returncode != 0
    # The node's iptables went with its packages: read its rules from the host, in the node's namespace.
    pid = subprocess.run(
        ["podman", "inspect", "-f", "{{.State.Pid}}", BATTERY], capture_output=True, text=True
    ).stdout
    rules = subprocess.run(
        ["nsenter", "-t", pid.strip(), "-n", "iptables-save"], capture_output=True, text=True, check=True
    )
    assert "KUBE-SERVICES" not in rules.stdout and "EDGEWRIGHT-PODNET" not in rules.stdout, rules.stdout
    # Its peers are the joined nodes still there (the hard-killed one has left when its test ran first).
    peers = json.loads(on_node(JOINED, "cat", "/etc/edgewright/pod-network.json").stdout)["peers"]
    assert [p["name"] for p in peers] == [n for n in (DOOMED,) if node_or_none(api, n) is not None], peers
    for package in ("containerd", "containernetworking-plugins"):
        status = on_node(BATTERY, "dpkg-query", "-W", "-f=${Status}", package).stdout
        assert "install ok installed" not in status, package
    handles = on_node(
        BATTERY, "env", "TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=2321", "tpm2_getcap", "handles-persistent"
    )
    assert "0x81010002" not in handles.stdout.lower()
    # The rest of the fleet is untouched.
    assert api.read_node(JOINED) is not None


def test_scale_and_decommission_refuse_to_run_without_naming_the_nodes(lab):
    # Not the whole fleet, not --limit (the nodes' peers must take part), not a name outside edge_nodes.
    for name in ("scale.yml", "decommission.yml"):
        for args in ((), ("--limit", REFUSED), ("-e", "nodes=no-such-node")):
            run = playbook(lab["inventory"], name, *args)
            assert run.returncode != 0
            assert "-e nodes=NAME" in run.stdout, run.stdout[-2000:]


def module(name: str, args: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ansible", "localhost", "-m", name, "-a", args, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
        check=False,
    )


def module_result(run: subprocess.CompletedProcess) -> dict:
    """The module's result, from the ad-hoc run's `localhost | STATUS! => {...}` line."""
    return json.JSONDecoder().raw_decode(run.stdout[run.stdout.index("=> ") + 3 :])[0]


@pytest.mark.parametrize(
    "args,message",
    [
        ("ttl=0", "ttl must be between 1 and 86400 seconds, not 0"),
        ("groups=system:masters", "extra groups must look like system:bootstrappers:NAME"),
        ("state=expired", "value of state must be one of: present, absent"),
    ],
)
def test_token_module_refuses_bad_input_and_creates_nothing(lab, api, args, message):
    run = module("kube_bootstrap_token", f"kubeconfig={lab['kubeconfig']} node=k8s-bad {args}")
    assert run.returncode != 0
    assert message in run.stdout
    assert bootstrap_secrets(api, "k8s-bad") == []


def test_token_module_in_check_mode_creates_nothing(lab, api):
    run = module("kube_bootstrap_token", f"kubeconfig={lab['kubeconfig']} node=k8s-check ttl=60", "--check")
    assert run.returncode == 0 and "CHANGED" in run.stdout
    assert bootstrap_secrets(api, "k8s-check") == []


@pytest.mark.parametrize(
    "args,message",
    [
        ("token_id=ABC-12", "token_id 'ABC-12' is not a bootstrap token id"),
        ("token_id=abc123 timeout=-1", "timeout must be 0 or more seconds, not -1"),
        ("token_id=abc123 timeout=soon", "is of type str and we were unable to convert to int"),
    ],
)
def test_csr_module_refuses_bad_input_and_decides_nothing(lab, api, args, message):
    before = [
        (c.metadata.name, c.status.conditions)
        for c in certificates_api(api).list_certificate_signing_request().items
    ]
    run = module("kube_bootstrap_csr", f"kubeconfig={lab['kubeconfig']} node=k8s-bad {args}")
    assert run.returncode != 0
    assert message in run.stdout, run.stdout
    after = [
        (c.metadata.name, c.status.conditions)
        for c in certificates_api(api).list_certificate_signing_request().items
    ]
    assert after == before
