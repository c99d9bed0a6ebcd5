"""The lab's control plane: its certificates and the command lines its components run with."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgewright.lab.kube import (
    ControlPlaneError,
    ControlPlaneSpec,
    Ports,
    api_service_address,
    component_commands,
    issue_cert,
    kubernetes_version,
    make_ca,
)
from edgewright.lab.nodes import LabSpec, render_inventory


def test_ports_are_offsets_of_the_base_and_never_the_defaults():
    ports = Ports(16500)
    assert (ports.etcd_client, ports.etcd_peer, ports.api, ports.controller_manager) == (
        16579,
        16580,
        16543,
        16557,
    )
    assert 6443 not in (Ports().api, Ports().etcd_client) and Ports().etcd_client != 2379


@pytest.mark.parametrize("base", [80, 65500])
def test_port_base_out_of_range_is_refused(base):
    with pytest.raises(ControlPlaneError, match="port base"):
        Ports(base).validate()


def test_api_certificate_is_signed_by_the_ca_for_every_name_nodes_and_pods_use():
    ca, ca_key = make_ca("test-ca")
    cert_pem, _ = issue_cert(
        ca,
        ca_key,
        "kube-apiserver",
        server=True,
        ip_addresses=("10.231.40.1", api_service_address()),
        dns_names=("kubernetes.default.svc",),
    )
    cert, ca_cert = x509.load_pem_x509_certificate(cert_pem), x509.load_pem_x509_certificate(ca)
    cert.verify_directly_issued_by(ca_cert)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.231.40.1") in sans.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("10.96.0.1") in sans.get_values_for_type(x509.IPAddress)
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_client_certificate_carries_its_groups():
    ca, ca_key = make_ca("test-ca")
    cert = x509.load_pem_x509_certificate(
        issue_cert(ca, ca_key, "edgewright-controller", organizations=("system:masters",), client=True)[0]
    )
    assert "O=system:masters" in cert.subject.rfc4514_string()


def test_components_listen_where_the_spec_says_and_bootstrap_is_on():
    spec = ControlPlaneSpec(lab="k8s", address="10.231.40.1", state=Path("/s"), ports=Ports(16400))
    commands = component_commands(spec, Path("/bin"), "/usr/bin/etcd")
    assert list(commands) == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    api = commands["kube-apiserver"]
    assert "--bind-address=10.231.40.1" in api and "--secure-port=16443" in api
    assert "--enable-bootstrap-token-auth" in api
    assert "--etcd-servers=https://127.0.0.1:16479" in api
    # Logs and exec reach the kubelet at its InternalIP and check its serving certificate: no skipping.
    assert "--kubelet-certificate-authority=/s/pki/ca.crt" in api
    assert "--kubelet-preferred-address-types=InternalIP" in api
    assert "--controllers=*,bootstrapsigner,tokencleaner" in commands["kube-controller-manager"]
    assert "--listen-client-urls=https://127.0.0.1:16479" in commands["etcd"]
    scheduler = commands["kube-scheduler"]
    # Its own credential, and its health port on loopback, clear of the other labs' ports.
    assert "--kubeconfig=/s/scheduler.kubeconfig" in scheduler
    assert "--bind-address=127.0.0.1" in scheduler and "--secure-port=16459" in scheduler


def test_kubernetes_version_is_pinned():
    assert kubernetes_version().startswith("v1.")


def test_inventory_has_no_kubernetes_vars_unless_asked(tmp_path):
    inventory = render_inventory(
        LabSpec(name="k8s", nodes=1, subnet="10.231.40.0/24"), tmp_path / "key", tmp_path / "known_hosts"
    )
    assert "edgewright_kube_api_server" not in inventory["all"]["vars"]
