"""Use cases for third-party certificate authorities."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import Action, ObjectType, Outcome
from audit.services import changed_fields, record
from authorities.errors import (
    CertificateAlreadyRevoked,
    CertificateAuthorityError,
    KeyUnavailable,
    PrivateKeyRefused,
    RevocationRefused,
)
from authorities.jwt import sign_enrollment_claims
from authorities.models import (
    DEFAULT_IDENTITY_NAME_FORMAT,
    CaUse,
    CertificateAuthority,
    RevocationReason,
    RevokedCertificate,
)
from authorities.pki import issue_proxy_certificate, load_pki, private_key_pem, root_key_path
from kernel.certificates import (
    CertificateRejected,
    PrivateKeySent,
    common_name,
    load_single_certificate,
    sha1_fingerprint,
    to_pem,
)
from kernel.names import MAX_NAME_LENGTH, clean_name, clean_role_attributes
from kernel.secrets import write_private_file

NAME_FORMAT_PLACEHOLDERS = ("[caName]", "[caId]", "[commonName]", "[requestedName]", "[identityId]")


def _audit(
    action: Action, ca: CertificateAuthority, outcome: Outcome = Outcome.SUCCEEDED, **detail: object
) -> None:
    """Record `action` on `ca`, in the caller's transaction."""
    record(action, ObjectType.CA, ca.pk, ca.name, outcome=outcome, detail=detail)


def _settings_of(ca: CertificateAuthority) -> dict[str, object]:
    """What an admin sets on a CA, as its audit records show it."""
    return {
        "name": ca.name,
        "ott_ca_enrollment": ca.is_ott_ca_enrollment_enabled,
        "auto_ca_enrollment": ca.is_auto_ca_enrollment_enabled,
        "authentication": ca.is_auth_enabled,
        "identity_roles": ca.identity_roles,
        "identity_name_format": ca.identity_name_format,
    }


def _validated_name(name: str) -> str:
    try:
        return clean_name(name, "a CA")
    except ValueError as exc:
        raise CertificateAuthorityError(str(exc), "name") from exc


_BRACKETED = re.compile(r"\[[^\[\]]*\]")


def _validated_name_format(name_format: str | None) -> str:
    """The format trimmed (empty: the default), or CertificateAuthorityError: it must name
    at least one known placeholder and no unknown one, or every device would get the
    same name, or a name with `[bogus]` in it."""
    name_format = (name_format or "").strip() or DEFAULT_IDENTITY_NAME_FORMAT
    known = ", ".join(NAME_FORMAT_PLACEHOLDERS)
    if len(name_format) > MAX_NAME_LENGTH:
        raise CertificateAuthorityError("the identity name format is too long", "identity_name_format")
    if not name_format.isprintable():
        raise CertificateAuthorityError(
            "the identity name format may not contain control characters", "identity_name_format"
        )
    unknown = [p for p in _BRACKETED.findall(name_format) if p not in NAME_FORMAT_PLACEHOLDERS]
    if unknown:
        raise CertificateAuthorityError(
            f"{unknown[0]} is not a placeholder; use {known}", "identity_name_format"
        )
    if not any(placeholder in name_format for placeholder in NAME_FORMAT_PLACEHOLDERS):
        raise CertificateAuthorityError(
            f"the identity name format needs at least one placeholder ({known}), "
            f"for example {DEFAULT_IDENTITY_NAME_FORMAT}",
            "identity_name_format",
        )
    return name_format


def _validated_roles(identity_roles: Iterable[str]) -> list[str]:
    try:
        return clean_role_attributes(identity_roles)
    except ValueError as exc:
        raise CertificateAuthorityError(str(exc), "identity_roles") from exc


def _loaded_certificate(data: str | bytes, what: str) -> x509.Certificate:
    try:
        return load_single_certificate(data, what)
    except PrivateKeySent as exc:
        raise PrivateKeyRefused(str(exc), "certificate") from None  # no traceback holds the input
    except CertificateRejected as exc:
        raise CertificateAuthorityError(str(exc), "certificate") from exc


# What cryptography's verifier (ExtensionPolicy.webpki_defaults_ca) accepts of an issuer.
MIN_RSA_BITS = 2048
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
WEAK_HASHES = (hashes.MD5, hashes.SHA1)
KEY_USAGE_FIX = "re-issue the CA certificate with -addext keyUsage=critical,keyCertSign,cRLSign"


def _refuse_unless_issuer(cert: x509.Certificate) -> None:
    """CertificateAuthorityError, saying why and how to fix it, unless `cert` can issue
    device certificates that the authentication and enrollment checks then accept: a CA
    (basicConstraints CA:TRUE) with keyUsage keyCertSign, within its dates, with a
    strong enough key and signature hash. Otherwise every device certificate from it
    would fail later, far from the cause."""

    def refuse(message: str) -> NoReturn:
        raise CertificateAuthorityError(message, "certificate")

    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    except ValueError:
        refuse("the CA certificate's extensions cannot be read: export the certificate anew")
    if constraints is None or not constraints.ca:
        refuse(
            "this is not a CA certificate: its basic constraints do not say CA:TRUE. Upload the "
            "certificate of the CA that signs your device certificates (made with "
            "-addext basicConstraints=critical,CA:TRUE), not a device's"
        )
    try:
        usage: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None:
        refuse(
            "the CA certificate has no keyUsage extension, so every device certificate it signs "
            f"would fail validation: {KEY_USAGE_FIX}"
        )
    if not usage.key_cert_sign:
        refuse(
            "the CA certificate's keyUsage does not allow keyCertSign (signing certificates), so "
            f"every device certificate it signs would fail validation: {KEY_USAGE_FIX}"
        )
    now = timezone.now()
    if cert.not_valid_before_utc > now:
        refuse(
            f"the CA certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: "
            "add it from then on, or check the clock of the machine that made it"
        )
    if cert.not_valid_after_utc <= now:
        refuse(
            f"the CA certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}: renew it and upload "
            "the new certificate"
        )
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            refuse(
                f"the CA's RSA key has {key.key_size} bits, too weak; at least {MIN_RSA_BITS} are "
                "needed: make the CA anew with a 3072-bit RSA or a P-256 EC key"
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ACCEPTED_CURVES):
            refuse(
                f"the CA's EC key is on the curve {key.curve.name}, which devices' certificate "
                "checks do not accept: make the CA anew on P-256, P-384 or P-521"
            )
    else:
        refuse(
            "the CA's key type is not supported: make the CA anew with an RSA (2048 bits or more) or EC key"
        )
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if algorithm is None or isinstance(algorithm, WEAK_HASHES):
        shown = algorithm.name.upper() if algorithm is not None else "an unsupported algorithm"
        refuse(f"the CA certificate is signed with {shown}, which is too weak: re-issue it with SHA-256")


def create_certificate_authority(
    *,
    name: str,
    certificate_pem: str | bytes,
    ott_ca_enrollment: bool = False,
    auto_ca_enrollment: bool = False,
    auth_enabled: bool = False,
    identity_roles: Iterable[str] = (),
    identity_name_format: str | None = None,
) -> CertificateAuthority:
    """Register a third-party CA, unverified, with a fresh verification token.

    The certificate must be exactly one CA certificate (PEM or DER) that can issue
    device certificates (see _refuse_unless_issuer) and is not registered yet. Raises
    CertificateAuthorityError naming the field at fault, PrivateKeyRefused when the
    input holds a private key (which is then neither kept nor logged).
    """
    name = _validated_name(name)
    roles = _validated_roles(identity_roles)
    name_format = _validated_name_format(identity_name_format)
    cert = _loaded_certificate(certificate_pem, "CA certificate")
    _refuse_unless_issuer(cert)
    fingerprint = sha1_fingerprint(cert)
    existing = CertificateAuthority.objects.filter(fingerprint=fingerprint).first()
    if existing is not None:
        raise CertificateAuthorityError(
            f'this certificate is already registered as CA "{existing.name}"', "certificate"
        )
    if CertificateAuthority.objects.filter(name=name).exists():
        raise CertificateAuthorityError(f'a CA named "{name}" already exists', "name")
    try:
        with transaction.atomic():
            ca = CertificateAuthority.objects.create(
                name=name,
                certificate_pem=to_pem(cert),
                fingerprint=fingerprint,
                is_ott_ca_enrollment_enabled=ott_ca_enrollment,
                is_auto_ca_enrollment_enabled=auto_ca_enrollment,
                is_auth_enabled=auth_enabled,
                identity_roles=roles,
                identity_name_format=name_format,
            )
            _audit(Action.CA_CREATED, ca, fingerprint=fingerprint, settings=_settings_of(ca))
            return ca
    except IntegrityError as exc:
        # A concurrent upload of the same name or certificate won the race.
        raise CertificateAuthorityError("a CA with this name or certificate already exists") from exc


def update_certificate_authority(
    ca: CertificateAuthority,
    *,
    name: str,
    ott_ca_enrollment: bool,
    auto_ca_enrollment: bool,
    auth_enabled: bool,
    identity_roles: Iterable[str],
    identity_name_format: str | None,
) -> CertificateAuthority:
    """Change a CA's name, flags, roles and name format; its certificate stays.

    Everything is validated before anything is set, and a refused change leaves `ca` as
    the database has it.
    """
    name = _validated_name(name)
    name_format = _validated_name_format(identity_name_format)
    roles = _validated_roles(identity_roles)
    before = _settings_of(ca)
    ca.name = name
    ca.is_ott_ca_enrollment_enabled = ott_ca_enrollment
    ca.is_auto_ca_enrollment_enabled = auto_ca_enrollment
    ca.is_auth_enabled = auth_enabled
    ca.identity_roles = roles
    ca.identity_name_format = name_format
    try:
        with transaction.atomic():
            ca.save()
            after = _settings_of(ca)
            _audit(Action.CA_UPDATED, ca, changed=changed_fields(before, after))
    except IntegrityError as exc:
        ca.refresh_from_db()
        raise CertificateAuthorityError(f'a CA named "{name}" already exists', "name") from exc
    return ca


def verify_certificate_authority(
    ca: CertificateAuthority, verification_pem: str | bytes
) -> CertificateAuthority:
    """Proof of possession: accept a certificate with CN = the token, signed by the CA's key.

    The signature is checked with cryptography (not by comparing names), the
    certificate must be within its dates, and the token is single-use: it is cleared in
    the same conditional update that marks the CA verified. Success and refusal are
    both recorded (a failed proof of possession is a security event).
    """
    try:
        with transaction.atomic():
            _verify(ca, verification_pem)
            _audit(Action.CA_VERIFIED, ca)
    except CertificateAuthorityError as exc:
        _audit(Action.CA_VERIFICATION_REFUSED, ca, outcome=Outcome.REFUSED, reason=exc.message)
        raise
    ca.refresh_from_db()
    return ca


def _verify(ca: CertificateAuthority, verification_pem: str | bytes) -> None:
    if ca.is_verified:
        raise CertificateAuthorityError("this CA is already verified", "certificate")
    cert = _loaded_certificate(verification_pem, "verification certificate")
    common_names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if common_names != [ca.verification_token]:
        found = ", ".join(str(cn) for cn in common_names) or "none"
        raise CertificateAuthorityError(
            f"wrong CN: the verification certificate's CN is {found}, expected the verification token",
            "certificate",
        )
    try:
        cert.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateAuthorityError(
            "wrong issuer: the verification certificate is not signed by this CA's key", "certificate"
        ) from exc
    now = timezone.now()
    if now < cert.not_valid_before_utc:
        raise CertificateAuthorityError("the verification certificate is not valid yet", "certificate")
    if now > cert.not_valid_after_utc:
        raise CertificateAuthorityError(
            f"the verification certificate expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            "certificate",
        )
    won = CertificateAuthority.objects.filter(
        pk=ca.pk, is_verified=False, verification_token=ca.verification_token
    ).update(is_verified=True, verified_at=now, verification_token="", updated_at=now)
    if not won:
        raise CertificateAuthorityError("this verification token has already been used", "certificate")


def delete_certificate_authority(ca: CertificateAuthority) -> None:
    """Delete a CA. Certificates it issued stop authenticating; its pending tokens die."""
    with transaction.atomic():
        _audit(Action.CA_DELETED, ca, fingerprint=ca.fingerprint)
        ca.delete()


def ca_enrollment_jwt(ca: CertificateAuthority) -> str:
    """The reusable auto-enrollment JWT of a CA that may be used for auto enrollment now,
    recorded as downloaded (console, CLI and the public client API alike).

    Raises CertificateAuthorityError saying why not, otherwise; nothing is recorded then.
    """
    refusal = ca.refusal(CaUse.AUTO_ENROLLMENT)
    if refusal is not None:
        raise CertificateAuthorityError(f"this CA is not verified or has auto enrollment off: it {refusal}")
    with transaction.atomic():
        _audit(Action.CA_JWT_DOWNLOADED, ca)
    return sign_enrollment_claims({"em": "ca", "sub": ca.id, "jti": ca.id, "name": ca.name})


def render_identity_name(
    ca: CertificateAuthority, *, common_name: str, requested_name: str, identity_id: str
) -> str:
    """Fill in the CA's identity name format."""
    values = {
        "[caName]": ca.name,
        "[caId]": ca.id,
        "[commonName]": common_name,
        "[requestedName]": requested_name,
        "[identityId]": identity_id,
    }
    name = ca.identity_name_format
    for placeholder, value in values.items():
        name = name.replace(placeholder, value)
    return name.strip()


def verification_recipe(ca: CertificateAuthority) -> list[str]:
    """The openssl commands that make the proof-of-possession certificate, one per line.

    `ca.pem` and `ca.key` stand for the CA's certificate and private key, which never
    leave the admin's machine.
    """
    return [
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
        f' -keyout verify.key -out verify.csr -subj "/CN={ca.verification_token}"',
        "openssl x509 -req -in verify.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        " -days 1 -sha256 -out verify.pem",
    ]


def ca_summary(ca: CertificateAuthority) -> dict[str, object]:
    """A CA as the CLI's --json prints it, in the edge API's field names."""
    return {
        "id": ca.id,
        "name": ca.name,
        "fingerprint": ca.fingerprint,
        "verificationToken": ca.verification_token,
        "isVerified": ca.is_verified,
        "isOttCaEnrollmentEnabled": ca.is_ott_ca_enrollment_enabled,
        "isAutoCaEnrollmentEnabled": ca.is_auto_ca_enrollment_enabled,
        "isAuthEnabled": ca.is_auth_enabled,
        "identityRoles": ca.identity_roles,
        "identityNameFormat": ca.identity_name_format,
    }


def write_proxy_credentials(directory: Path, name: str) -> tuple[Path, Path]:
    """Make a key and a proxy certificate for a TLS-terminating proxy, into `directory`.

    The proxy presents them to the app (nginx's `proxy_ssl_certificate`), which then
    believes the client certificate it forwards. The key is written first, mode 0600;
    neither file is ever written over an existing one (FileExistsError), so a second
    run cannot silently replace what a running proxy uses.
    """
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "proxy"
    cert_path, key_path = directory / f"{slug}.crt", directory / f"{slug}.key"
    if cert_path.exists():
        raise FileExistsError(cert_path)
    key = ec.generate_private_key(ec.SECP256R1())
    write_private_file(key_path, private_key_pem(key))
    cert = issue_proxy_certificate(key.public_key(), name)
    write_private_file(cert_path, (to_pem(cert) + to_pem(load_pki().signing_cert)).encode())
    return cert_path, key_path


def take_root_key_offline(destination: Path) -> Path:
    """Move the root CA key out of the data directory, to `destination` (mode 0600).

    The key is copied byte for byte (encrypted if it was), read back and compared before
    the original is removed, so it exists in one place or both, never none. The
    controller runs without it; re-issuing the server certificate or the signing CA
    asks for it back. Raises FileExistsError for an existing destination and
    KeyUnavailable when the key is already offline.
    """
    source = root_key_path()
    if not source.exists():
        raise KeyUnavailable(f"the root CA key is not in {source.parent}: it is offline already")
    data = source.read_bytes()
    write_private_file(destination, data)
    if destination.read_bytes() != data:
        raise KeyUnavailable(f"{destination} does not read back as written; the key stays in {source}")
    source.unlink()
    return source


def parse_revocation_reason(value: str | RevocationReason | None) -> RevocationReason:
    """An RFC 5280 reason code by its name (`keyCompromise`, `key-compromise`, ...).

    None is unspecified; anything else unknown raises RevocationRefused listing the names.
    """
    if isinstance(value, RevocationReason):
        return value
    if value is None or not value.strip():
        return RevocationReason.UNSPECIFIED
    wanted = value.replace("-", "").replace("_", "").replace(" ", "").lower()
    for reason in RevocationReason:
        if reason.value.lower() == wanted:
            return reason
    names = ", ".join(reason.value for reason in RevocationReason)
    raise RevocationRefused(f'"{value}" is not a revocation reason; choose one of {names}', "reason")


def revoke_certificate(
    certificate: x509.Certificate, reason: RevocationReason | str | None = None
) -> RevokedCertificate:
    """Revoke a certificate of the controller's signing CA, for good (RFC 5280 §5.3.1).

    Records serial, time and reason. From the moment the row commits, the CRL (rebuilt
    on its next fetch) lists it, OCSP answers revoked and no worker or replica lets it
    authenticate. Joins the caller's transaction, so a revocation that is part of a
    larger change (reset, renewal, delete) commits or rolls back with it.

    Raises RevocationRefused for a certificate the signing CA did not issue (a
    third-party CA publishes its own revocations) or an unknown reason, and
    CertificateAlreadyRevoked when it is revoked already; nothing changes then.
    """
    reason = parse_revocation_reason(reason)
    try:
        certificate.verify_directly_issued_by(load_pki().signing_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise RevocationRefused(
            "only certificates issued by this controller's signing CA can be revoked here"
        ) from exc
    serial = format(certificate.serial_number, "x")
    try:
        with transaction.atomic():
            return RevokedCertificate.objects.create(
                serial=serial,
                fingerprint=sha1_fingerprint(certificate),
                subject=common_name(certificate)[:255],
                not_after=certificate.not_valid_after_utc,
                reason=reason,
            )
    except IntegrityError as exc:
        # The unique serial decides, also between two admins revoking at once.
        raise CertificateAlreadyRevoked(f"the certificate with serial {serial} is already revoked") from exc
