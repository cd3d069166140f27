"""The controller's own PKI: a root CA, a signing CA for identities and the server key.

Keys are files in DATA_DIR/pki with mode 0600 and never enter the database. The RSA
server key both serves TLS and signs enrollment JWTs, because SDKs verify a JWT against
the leaf certificate the controller presents (wire-protocol.md).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from authorities.errors import KeyUnavailable
from kernel.certificates import to_pem
from kernel.secrets import write_private_file

log = logging.getLogger(__name__)

ROOT_CA_DAYS = 3650
SIGNING_CA_DAYS = 1825
SERVER_CERT_DAYS = 730
# A server certificate closer than this to its end is renewed at start-up.
SERVER_RENEW_BEFORE = dt.timedelta(days=30)
SERVER_RSA_BITS = 2048


@dataclass(frozen=True)
class ControllerPKI:
    root_cert: x509.Certificate
    signing_cert: x509.Certificate
    signing_key: ec.EllipticCurvePrivateKey
    server_cert: x509.Certificate
    server_key: rsa.RSAPrivateKey
    server_cert_path: Path
    server_key_path: Path

    @property
    def ca_bundle(self) -> list[x509.Certificate]:
        """Every CA a client needs: the issuer of identities and the root of both chains."""
        return [self.signing_cert, self.root_cert]

    @property
    def ca_bundle_pem(self) -> str:
        return "".join(to_pem(cert) for cert in self.ca_bundle)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def configured_controller_url() -> str:
    """https://ZITI_CTRL_ADDRESS:ZITI_CTRL_PORT of this process, IPv6 in brackets (RFC 3986)."""
    host = settings.ZITI_CTRL_ADDRESS
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"https://{host}:{settings.ZITI_CTRL_PORT}"


def _recorded_url_path() -> Path:
    return pki_dir() / "controller-url"


def record_controller_url() -> str:
    """At each start, note the address the server advertises, for every other process."""
    url = configured_controller_url()
    write_private_file(_recorded_url_path(), f"{url}\n".encode(), replace=True)
    return url


def controller_url() -> str:
    """The advertised controller: the JWT `iss`, and the base of the CRL and OCSP URLs in
    certificates, as the server advertised it at its last start.

    One place for the server and the CLI, so a command run with other settings (or none)
    cannot mint a JWT for an address the server does not answer on. Before any start,
    this process's own settings.
    """
    try:
        return _recorded_url_path().read_text().strip()
    except FileNotFoundError:
        return configured_controller_url()


def address_warning() -> str | None:
    """Words for a CLI user whose settings name another address than the server's."""
    recorded, configured = controller_url(), configured_controller_url()
    if recorded == configured:
        return None
    return (
        f"warning: this command's settings say {configured}, but the controller advertises {recorded} "
        "(at its last start); the JWT names the controller's address"
    )


# Where relying parties find revocation status, under controller_url(). Stable: every
# certificate the signing CA issues carries them, for as long as it is valid.
CRL_PATH = "/pki/signing-ca.crl"
OCSP_PATH = "/pki/ocsp"


def crl_url() -> str:
    return controller_url() + CRL_PATH


def ocsp_url() -> str:
    return controller_url() + OCSP_PATH


def _revocation_extensions(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    """RFC 5280 §4.2.1.13 CRL distribution point and §4.2.2.1 AIA (OCSP) of the signing CA."""
    crl = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(crl_url())],
        relative_name=None,
        reasons=None,
        crl_issuer=None,
    )
    ocsp = x509.AccessDescription(
        x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url())
    )
    return builder.add_extension(x509.CRLDistributionPoints([crl]), critical=False).add_extension(
        x509.AuthorityInformationAccess([ocsp]), critical=False
    )


def pki_dir() -> Path:
    return Path(settings.DATA_DIR) / "pki"


def advertised_hosts() -> list[str]:
    """Host names the server certificate must cover, without duplicates."""
    hosts = ["localhost", "127.0.0.1", settings.ZITI_CTRL_ADDRESS]
    return list(dict.fromkeys(hosts))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _ski(public_key: CertificatePublicKeyTypes) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def ca_key_usage() -> x509.KeyUsage:
    """What a CA certificate's key may do: sign certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_key_usage(public_key: CertificatePublicKeyTypes) -> x509.KeyUsage:
    # RSA key exchange needs keyEncipherment; EC and EdDSA keys only sign.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ziti Identity Controller"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_root_ca(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = _now()
    name = _name("Ziti Controller Root CA")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=ROOT_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(_ski(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )


def _make_signing_ca(
    key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    root_key: CertificateIssuerPrivateKeyTypes,
) -> x509.Certificate:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(_name("Ziti Controller Signing CA"))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(now + dt.timedelta(days=SIGNING_CA_DAYS), root_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(_ski(key.public_key()), critical=False)
        .add_extension(_aki(root_cert), critical=False)
        .sign(root_key, hashes.SHA384())
    )


def _make_server_cert(
    key: rsa.RSAPrivateKey,
    root_cert: x509.Certificate,
    root_key: CertificateIssuerPrivateKeyTypes,
) -> x509.Certificate:
    now = _now()
    hosts = advertised_hosts()
    return (
        x509.CertificateBuilder()
        .subject_name(_name(settings.ZITI_CTRL_ADDRESS))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(now + dt.timedelta(days=SERVER_CERT_DAYS), root_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(key.public_key()), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
        .add_extension(_ski(key.public_key()), critical=False)
        .add_extension(_aki(root_cert), critical=False)
        .sign(root_key, hashes.SHA384())
    )


def key_passphrase() -> bytes | None:
    """ZITI_KEY_PASSPHRASE, or the first line of ZITI_KEY_PASSPHRASE_FILE; None for neither."""
    if settings.ZITI_KEY_PASSPHRASE:
        return str(settings.ZITI_KEY_PASSPHRASE).encode()
    if settings.ZITI_KEY_PASSPHRASE_FILE:
        path = Path(settings.ZITI_KEY_PASSPHRASE_FILE)
        try:
            first_line = path.read_text().splitlines()[0]
        except (OSError, IndexError) as exc:
            raise KeyUnavailable(f"ZITI_KEY_PASSPHRASE_FILE: cannot read a passphrase from {path}") from exc
        return first_line.encode()
    return None


def private_key_pem(key: CertificateIssuerPrivateKeyTypes, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with `passphrase` when there is one."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _is_encrypted(pem: bytes) -> bool:
    return b"ENCRYPTED" in pem[:64]


def _load_key(path: Path) -> CertificateIssuerPrivateKeyTypes:
    passphrase = key_passphrase()
    data = path.read_bytes()
    encrypted = _is_encrypted(data)
    if encrypted and passphrase is None:
        raise KeyUnavailable(
            f"{path} is encrypted: set ZITI_KEY_PASSPHRASE or ZITI_KEY_PASSPHRASE_FILE to its passphrase"
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except ValueError as exc:
        raise KeyUnavailable(f"{path} cannot be decrypted with the configured passphrase") from exc
    return key  # type: ignore[return-value]


def _write_key(path: Path, key: CertificateIssuerPrivateKeyTypes) -> None:
    write_private_file(path, private_key_pem(key, key_passphrase()))


def _encrypt_if_configured(path: Path) -> None:
    """A passphrase set after the keys were made: encrypt them in place, never missing."""
    if path.exists() and key_passphrase() is not None and not _is_encrypted(path.read_bytes()):
        log.info("encrypting %s with the configured passphrase", path)
        write_private_file(path, private_key_pem(_load_key(path), key_passphrase()), replace=True)


def root_key_path() -> Path:
    return pki_dir() / "root-ca.key"


def _needs_root_key(what: str) -> KeyUnavailable:
    return KeyUnavailable(
        f"{what} needs the root CA key, which is offline: put it back at {root_key_path()} (mode 0600), "
        "start once, and take it offline again"
    )


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _server_cert_is_current(cert: x509.Certificate) -> bool:
    if cert.not_valid_after_utc - _now() < SERVER_RENEW_BEFORE:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return all(_general_name(host) in san for host in advertised_hosts())


@contextmanager
def _pki_lock(directory: Path) -> Iterator[None]:
    """Serialise bootstrap between processes (workers or replicas sharing the files)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def bootstrap_pki() -> ControllerPKI:
    """Create whatever part of the PKI is missing, and return the whole of it.

    Idempotent: existing keys and CA certificates are kept across restarts. The server
    certificate is re-issued (same key) when it no longer covers the advertised hosts or
    nears its end, so changing ZITI_CTRL_ADDRESS needs no manual step.
    """
    directory = pki_dir()
    with _pki_lock(directory):
        root_key_path, root_cert_path = directory / "root-ca.key", directory / "root-ca.crt"
        signing_key_path, signing_cert_path = directory / "signing-ca.key", directory / "signing-ca.crt"
        server_key_path, server_cert_path = directory / "server.key", directory / "server.crt"

        for path in (root_key_path, signing_key_path, server_key_path):
            _encrypt_if_configured(path)

        # The root key may have been taken offline (`manage.py export_root_key`): its
        # certificate stays, and only what it signs needs it back.
        root_offline = not root_key_path.exists() and root_cert_path.exists()
        if not root_key_path.exists() and not root_offline:
            log.info("creating the controller root CA in %s", directory)
            _write_key(root_key_path, ec.generate_private_key(ec.SECP384R1()))
        root_key = None if root_offline else _load_key(root_key_path)
        if not root_cert_path.exists():
            write_private_file(root_cert_path, to_pem(_make_root_ca(root_key)).encode())  # type: ignore[arg-type]
        root_cert = _load_cert(root_cert_path)

        if not signing_key_path.exists() or not signing_cert_path.exists():
            if root_key is None:
                raise _needs_root_key("making the identity signing CA")
            if not signing_key_path.exists():
                log.info("creating the identity signing CA")
                _write_key(signing_key_path, ec.generate_private_key(ec.SECP256R1()))
                signing_cert_path.unlink(missing_ok=True)
            cert = _make_signing_ca(_load_key(signing_key_path), root_cert, root_key)  # type: ignore[arg-type]
            write_private_file(signing_cert_path, to_pem(cert).encode())

        if not server_key_path.exists():
            log.info("creating the RSA server key")
            _write_key(
                server_key_path, rsa.generate_private_key(public_exponent=65537, key_size=SERVER_RSA_BITS)
            )
            server_cert_path.unlink(missing_ok=True)
        if not server_cert_path.exists() or not _server_cert_is_current(_load_cert(server_cert_path)):
            if root_key is None:
                raise _needs_root_key(f"issuing the server certificate for {', '.join(advertised_hosts())}")
            log.info("issuing the server certificate for %s", ", ".join(advertised_hosts()))
            cert = _make_server_cert(_load_key(server_key_path), root_cert, root_key)  # type: ignore[arg-type]
            write_private_file(server_cert_path, to_pem(cert).encode(), replace=True)
        if root_offline:
            log.info(
                "the root CA key is offline; re-issuing the server certificate (a new address, or "
                "30 days before it ends) and the signing CA will need it back at %s",
                root_key_path,
            )
    load_pki.cache_clear()
    return load_pki()


@cache
def load_pki() -> ControllerPKI:
    """The PKI as bootstrapped; read once per process."""
    directory = pki_dir()
    signing_key = _load_key(directory / "signing-ca.key")
    server_key = _load_key(directory / "server.key")
    assert isinstance(signing_key, ec.EllipticCurvePrivateKey)
    assert isinstance(server_key, rsa.RSAPrivateKey)
    return ControllerPKI(
        root_cert=_load_cert(directory / "root-ca.crt"),
        signing_cert=_load_cert(directory / "signing-ca.crt"),
        signing_key=signing_key,
        server_cert=_load_cert(directory / "server.crt"),
        server_key=server_key,
        server_cert_path=directory / "server.crt",
        server_key_path=directory / "server.key",
    )


def _sign_client_certificate(
    public_key: CertificatePublicKeyTypes, subject: x509.Name, uri: str, days: int
) -> x509.Certificate:
    """A client certificate of the signing CA (RFC 5280, EKU clientAuth, one URI SAN),
    with the CRL and OCSP locations; never valid past the signing CA."""
    pki = load_pki()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(pki.signing_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(now + dt.timedelta(days=days), pki.signing_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(public_key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
        .add_extension(_ski(public_key), critical=False)
        .add_extension(_aki(pki.signing_cert), critical=False)
    )
    return _revocation_extensions(builder).sign(pki.signing_key, hashes.SHA256())


def issue_identity_certificate(
    public_key: CertificatePublicKeyTypes, identity_id: str, days: int | None = None
) -> x509.Certificate:
    """Sign a client certificate for an identity (CN = id, its spiffe URI)."""
    return _sign_client_certificate(
        public_key,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity_id)]),
        f"spiffe://{settings.ZITI_CTRL_ADDRESS}/identity/{identity_id}",
        days or settings.ZITI_IDENTITY_CERT_DAYS,
    )


# The mark of a certificate our PKI issued to a TLS-terminating proxy. Identity
# certificates carry a spiffe URI that the controller chooses, never one a CSR asks for,
# so no device can obtain this one.
PROXY_URI = "urn:ziti-controller:proxy"
PROXY_CERT_DAYS = 365


def issue_proxy_certificate(public_key: CertificatePublicKeyTypes, name: str) -> x509.Certificate:
    """A client certificate with which a proxy proves itself to the app (EKU clientAuth)."""
    return _sign_client_certificate(public_key, _name(f"proxy {name}"), PROXY_URI, PROXY_CERT_DAYS)


def is_proxy_certificate(cert: x509.Certificate) -> bool:
    """Whether `cert` is a current proxy certificate of this controller's signing CA."""
    now = _now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return False
    return _issued_as_proxy(cert)


@lru_cache(maxsize=64)
def _issued_as_proxy(cert: x509.Certificate) -> bool:
    # Cached: behind a proxy every request asks, on connections that live for minutes.
    try:
        cert.verify_directly_issued_by(load_pki().signing_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return PROXY_URI in names.get_values_for_type(x509.UniformResourceIdentifier)
