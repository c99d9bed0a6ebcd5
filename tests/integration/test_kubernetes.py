"""Joining Kubernetes for real: the lab's control plane (etcd, kube-apiserver, kube-controller-manager and
kube-scheduler built from source), real lab nodes attested on their swtpm, the site registry on the first
node, containerd and the real kubelet joining by TLS bootstrap, and pods from the site registry's images
running on the nodes. Then the refusals (quarantined node, expired token, bad input, a registry that is
unreachable or not of the site CA, an image the registry lacks) and decommissioning.

Needs root podman and the Kubernetes build of scripts/setup.d/60-kubernetes.sh; skipped without them.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, edgewright
from listeners import misplaced, node_listeners

from edgewright.lab.kube import binaries_dir, make_ca
from edgewright.lab.lab import state_dir
from edgewright.lab.tpm import trusted_manufacturer

# Not the default port base (16400): a developer's own lab may be running its control plane there.
LAB, SUBNET, PORT_BASE = "k8s", "10.231.40.0/24", 16500
JOINED, BATTERY, REFUSED = "k8s-1", "k8s-2", "k8s-3"

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
    """A three-node lab with a control plane; host vars make k8s-2 battery-powered and k8s-3 fail attestation."""
    work = tmp_path_factory.mktemp("kube")
    inventory = work / "hosts.yml"
    up = edgewright(
        "lab", "up", "--name", LAB, "--nodes", "3", "--subnet", SUBNET, "--kubernetes",
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
                    "edgewright_zone": "lab-a",
                    "common_time_sync": "none",
                    # A golden policy no real node matches, for k8s-3's class: it fails attestation.
                    "attest_golden_policies": {"tampered": {16: "00" * 32}},
                }
            )
        )
        # The test's own verifier trusts the lab's TPM manufacturer, as the lab's verifier does.
        trusted_manufacturer(state_dir(LAB) / "tpm-manufacturer", work / "verifier")
        (work / "host_vars").mkdir()
        (work / "host_vars" / f"{JOINED}.yml").write_text(yaml.safe_dump({"edgewright_cluster_role": "head"}))
        (work / "host_vars" / f"{BATTERY}.yml").write_text(
            yaml.safe_dump({"edgewright_power_source": "battery"})
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
    print(f"onboarding 3 nodes: {time.monotonic() - started:.1f} s")
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
            "edgewright.io/attested": "true",
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
        for c in certificates.read_certificate_signing_request(name).status.conditions
        if c.type == "Approved"
    ]
    assert (
        "EdgewrightNodeBootstrap",
        "system:node:k8s-1 asked for by the bootstrap token issued to k8s-1",
    ) in (approvals)
    assert not [c for c, _ in approvals if c == "AutoApproved"]
    bindings = client_for(api, "RbacAuthorizationV1Api").list_cluster_role_binding().items
    assert "edgewright:node-autoapprove-bootstrap" not in [b.metadata.name for b in bindings]
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
    assert sorted(running) == [JOINED, BATTERY]
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
    assert rows == {JOINED: "ready", BATTERY: "ready", REFUSED: "-"}


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
    for name in ("registry.yml", "join.yml", "workloads.yml"):
        run = playbook(lab["inventory"], name, "--limit", f"{JOINED},{BATTERY}")
        counts = recap(run.stdout)
        assert run.returncode == 0, run.stdout[-3000:]
        assert all(counts[node]["changed"] == 0 for node in counts), f"{name}: {run.stdout[-3000:]}"


def test_expired_bootstrap_token_is_refused_by_the_api_server(lab, site, api):
    from kubernetes import client, config

    from plugins.module_utils.kube_bootstrap import issue, revoke

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
    from plugins.module_utils.kube_bootstrap import issue, revoke

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


def node_csrs(kubeconfig: str, node: str) -> list[str]:
    from plugins.module_utils.kube_bootstrap import node_csrs as find

    return find(kubeconfig, node)


def test_decommission_leaves_nothing_behind(lab, site, api):
    # What there is to remove: the node's certificate signing request from its TLS bootstrap, its keys.
    assert node_csrs(lab["kubeconfig"], BATTERY)
    assert (lab["work"] / "verifier" / "nodes" / f"{BATTERY}.json").exists()
    run = playbook(lab["inventory"], "decommission.yml", "-e", f"nodes={BATTERY}")
    assert run.returncode == 0, run.stdout[-3000:]
    # The API: no Node, no token, no certificate signing request for it.
    assert node_or_none(api, BATTERY) is None
    assert bootstrap_secrets(api, BATTERY) == []
    assert node_csrs(lab["kubeconfig"], BATTERY) == []
    # The verifier: the node and its keys are forgotten.
    assert not (lab["work"] / "verifier" / "nodes" / f"{BATTERY}.json").exists()
    # The node: nothing edgewright installed.
    for path in ("/usr/local/bin/kubelet", "/etc/kubernetes", "/var/lib/kubelet", "/etc/containerd", "/var/lib/containerd",
                 "/etc/systemd/system/kubelet.service", "/etc/edgewright", "/var/lib/edgewright", "/var/log/edgewright"):  # fmt: skip
        assert on_node(BATTERY, "test", "-e", path).returncode == 1, path
    assert on_node(BATTERY, "id", "edgewright").returncode != 0
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
