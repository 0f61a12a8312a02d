"""Throwaway certificate authorities for TLS tests on loopback.

Made with the ``cryptography`` package (installed with the kubernetes client's google-auth): a CA
and a server certificate for chosen DNS names (never 127.0.0.1 unless asked), so a test can make
verification fail (another CA, a name that does not match) or pass (the right CA plus the
kubeconfig's ``tls-server-name``).

By default they look as Go's ``crypto/x509`` (kubeadm, client-go, k3s) and OpenSSL's defaults make
them: the CA has a Subject Key Identifier, the server certificate the Authority Key Identifier
pointing at it. ``legacy=True`` makes them as older clusters serve them (older Amazon EKS and
Google GKE clusters, CAs made by Go before 1.15): a bare self-signed root with only a critical
``basicConstraints``, and a server certificate with no key identifier, which Python 3.13's strict
verification refuses ("Missing Authority Key Identifier") and kubectl accepts.
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Certs:
    """PEM files of a CA and of a server certificate it signed."""

    ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certs(
    folder: Path, *, dns_names: tuple[str, ...] = (), ip: bool = False, legacy: bool = False
) -> Certs:
    """A fresh CA and a server certificate for ``dns_names`` (and 127.0.0.1 if ``ip``).

    ``legacy``: without key identifiers, as older clusters' CAs (see the module's docstring).
    """
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_builder = (
        x509.CertificateBuilder()
        .subject_name(_name("test-ca"))
        .issuer_name(_name("test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if not legacy:
        ca_builder = ca_builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        ).add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    ca = ca_builder.sign(ca_key, hashes.SHA256())
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    if ip:
        names.append(x509.IPAddress(IPv4Address("127.0.0.1")))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0] if dns_names else "127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    if not legacy:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    paths = Certs(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def server_context(certs: Certs) -> ssl.SSLContext:
    """The TLS context of a server presenting ``certs``' server certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    return context
