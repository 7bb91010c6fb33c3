"""The dev cluster's own PKI: a CA, serving and client certificates, service-account keys.

Every client verifies the server against this CA (no insecure-skip-tls-verify, no static
token file), as in a kubeadm cluster, so what the tests prove about TLS and RBAC holds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: CN is the user, O the groups."""

    file_stem: str
    user: str
    groups: tuple[str, ...] = ()


# The identities of the control-plane components. Each has its own user, so the audit log
# tells the controllers apart (the benchmark counts writes by user).
ADMIN = ClientIdentity("admin", "kubernetes-admin", ("system:masters",))
# kube-controller-manager runs with one identity for all of its controllers (not one
# ServiceAccount each), so that its writes are counted under one user; that identity then
# needs every controller's rights, which system:masters gives.
CONTROLLER_MANAGER = ClientIdentity(
    "controller-manager", "system:kube-controller-manager", ("system:masters",)
)
SCHEDULER = ClientIdentity("scheduler", "system:kube-scheduler")
KWOK = ClientIdentity("kwok", "system:kwok-controller", ("system:masters",))
APISERVER_KUBELET = ClientIdentity(
    "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",)
)
APISERVER_ETCD = ClientIdentity("apiserver-etcd-client", "kube-apiserver-etcd-client")
CLIENTS = (ADMIN, CONTROLLER_MANAGER, SCHEDULER, KWOK, APISERVER_KUBELET, APISERVER_ETCD)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, organizations: Iterable[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


class CertificateAuthority:
    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert = cert
        self.key = key

    @classmethod
    def load_or_create(cls, folder: Path, name: str = "ca") -> CertificateAuthority:
        cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
        if cert_path.exists() and key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return cls(x509.load_pem_x509_certificate(cert_path.read_bytes()), key)
        key = _key()
        now = dt.datetime.now(dt.UTC)
        subject = _name(f"podpatterns-dev-{name}")
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + 10 * _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        _write_key(key_path, key)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(cert, key)

    def issue(
        self,
        folder: Path,
        stem: str,
        *,
        common_name: str,
        organizations: Iterable[str] = (),
        dns_names: Iterable[str] = (),
        ip_addresses: Iterable[str] = (),
        server: bool = False,
        client: bool = False,
    ) -> Pair:
        """Issue (or keep, when it already covers the same names) a leaf certificate."""
        pair = Pair(folder / f"{stem}.crt", folder / f"{stem}.key")
        dns, ips = sorted(set(dns_names)), sorted(set(ip_addresses))
        subject = _name(common_name, organizations)
        if pair.cert.exists() and pair.key.exists() and _covers(pair.cert, subject, dns, ips):
            return pair
        key = _key()
        now = dt.datetime.now(dt.UTC)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        if dns or ips:
            names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
            names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        folder.mkdir(parents=True, exist_ok=True)
        _write_key(pair.key, key)
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return pair


def _covers(cert_path: Path, subject: x509.Name, dns: list[str], ips: list[str]) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if cert.subject != subject:
        return False
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return not dns and not ips
    have_dns = sorted(san.get_values_for_type(x509.DNSName))
    have_ips = sorted(str(i) for i in san.get_values_for_type(x509.IPAddress))
    return have_dns == dns and have_ips == ips


@dataclass(frozen=True)
class ClusterPKI:
    folder: Path
    ca: Pair
    apiserver: Pair
    etcd_server: Pair
    service_account_key: Path
    service_account_pub: Path
    clients: dict[str, Pair]

    def client(self, identity: ClientIdentity) -> Pair:
        return self.clients[identity.file_stem]


def ensure(
    folder: Path,
    *,
    apiserver_ips: Iterable[str],
    apiserver_names: Iterable[str],
) -> ClusterPKI:
    """Create what is missing; existing material is kept so a restart keeps its identity."""
    ca = CertificateAuthority.load_or_create(folder)
    apiserver = ca.issue(
        folder,
        "apiserver",
        common_name="kube-apiserver",
        dns_names=apiserver_names,
        ip_addresses=apiserver_ips,
        server=True,
    )
    etcd_server = ca.issue(
        folder,
        "etcd-server",
        common_name="etcd",
        dns_names=["localhost"],
        ip_addresses=["127.0.0.1"],
        server=True,
        client=True,
    )
    clients = {
        identity.file_stem: ca.issue(
            folder,
            identity.file_stem,
            common_name=identity.user,
            organizations=identity.groups,
            client=True,
        )
        for identity in CLIENTS
    }
    sa_key, sa_pub = folder / "sa.key", folder / "sa.pub"
    if not (sa_key.exists() and sa_pub.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(sa_key, key)
        sa_pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return ClusterPKI(
        folder=folder,
        ca=Pair(folder / "ca.crt", folder / "ca.key"),
        apiserver=apiserver,
        etcd_server=etcd_server,
        service_account_key=sa_key,
        service_account_pub=sa_pub,
        clients=clients,
    )
