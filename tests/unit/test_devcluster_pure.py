"""The dev cluster's pure parts: wrapper go.mod, node manifests, port checks, PKI."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from podpatterns.devcluster import binaries, nodes, pki
from podpatterns.devcluster.processes import PortTaken, Spec, check_ports, port_owner

RELEASE_GOMOD = """\
module k8s.io/kubernetes

go 1.26.0

require (
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
\tgithub.com/spf13/cobra v1.9.1
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
)
"""


def test_wrapper_gomod_replaces_every_staging_module_with_its_release() -> None:
    gomod = binaries.kubernetes_wrapper_gomod(RELEASE_GOMOD, "v1.37.2")
    assert "require k8s.io/kubernetes v1.37.2" in gomod
    assert "\tk8s.io/api => k8s.io/api v0.37.2" in gomod
    assert "\tk8s.io/client-go => k8s.io/client-go v0.37.2" in gomod
    assert "go 1.26.0" in gomod
    assert "staging" not in gomod.replace("staging module", "")


def test_wrapper_gomod_refuses_a_gomod_without_staging_modules() -> None:
    with pytest.raises(ValueError, match="staging"):
        binaries.kubernetes_wrapper_gomod("module x\n\ngo 1.26\n")


def test_gpu_node_has_the_resource_label_and_taint() -> None:
    manifests = nodes.kwok_nodes(3, 1, nodes.NodeShape())
    assert [m["metadata"]["name"] for m in manifests] == [
        "kwok-worker-1", "kwok-worker-2", "kwok-worker-3", "kwok-gpu-1"]
    gpu = manifests[-1]
    assert gpu["status"]["allocatable"]["nvidia.com/gpu"] == "4"
    assert gpu["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
    assert gpu["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert "taints" not in manifests[0]["spec"]
    assert manifests[0]["status"]["allocatable"]["pods"] == "110"


def test_a_taken_port_is_named_with_its_program() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        owner = port_owner(port)
        assert owner is not None and owner[0] == os.getpid()
        with pytest.raises(PortTaken) as error:
            check_ports([Spec("kube-apiserver", ("x",), ports=(port,))], grace=0.3)
    message = str(error.value)
    assert f"port {port}" in message and "kube-apiserver" in message
    assert f"{owner[1]} (pid {os.getpid()})" in message
    assert port_owner(port) is None


def test_pki_is_kept_across_calls_and_the_server_cert_covers_the_service_ip(
    tmp_path: Path,
) -> None:
    from cryptography import x509

    first = pki.ensure(tmp_path, apiserver_ips=["127.0.0.1", "10.96.0.1"],
                       apiserver_names=["kubernetes.default.svc"])
    before = first.apiserver.cert.read_bytes()
    second = pki.ensure(tmp_path, apiserver_ips=["127.0.0.1", "10.96.0.1"],
                        apiserver_names=["kubernetes.default.svc"])
    assert second.apiserver.cert.read_bytes() == before
    cert = x509.load_pem_x509_certificate(before)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(i) for i in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1",
                                                                        "10.96.0.1"}
    admin = x509.load_pem_x509_certificate(first.client(pki.ADMIN).cert.read_bytes())
    groups = admin.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)
    assert [g.value for g in groups] == ["system:masters"]


def test_a_restart_reads_the_node_config_where_up_wrote_it(tmp_path: Path) -> None:
    from podpatterns.devcluster.paths import Layout
    from podpatterns.devcluster.realnode import RealNode

    layout = Layout(tmp_path)
    certs = pki.ensure(layout.pki, apiserver_ips=["127.0.0.1"], apiserver_names=["localhost"])
    node = RealNode(layout)
    ca = pki.CertificateAuthority.load_or_create(certs.folder)
    written = node.write_config(certs, "localhost/pause:1", ca)
    assert written == node.config_paths()
    assert all(path.is_file() for path in written.values())


def test_only_cluster_components_can_be_restarted(tmp_path: Path) -> None:
    from podpatterns.devcluster.cluster import DevCluster
    from podpatterns.devcluster.paths import Layout

    with pytest.raises(ValueError, match="cannot restart 'sshd'"):
        DevCluster(Layout(tmp_path)).restart("sshd")
    with pytest.raises(RuntimeError, match="etcd is not running"):
        DevCluster(Layout(tmp_path)).restart("etcd")
