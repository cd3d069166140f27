"""Use cases for identities: one function each, shared by console, API and commands.

The only module that writes Identity, Authenticator and Enrollment rows; the enrollment
protocol redeems tokens and records certificates through the functions at the end.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone

from authorities.jwt import sign_enrollment_claims
from authorities.models import CaUse, CertificateAuthority
from identities.errors import (
    CertificateTaken,
    EnrollmentUsed,
    IdentityError,
    IdentityNameTaken,
    InvalidIdentity,
)
from identities.models import Authenticator, Enrollment, EnrollmentMethod, Identity, IdentityType
from kernel.certificates import sha1_fingerprint, to_pem
from kernel.names import clean_name, clean_role_attributes


def parse_identity_type(value: str) -> IdentityType:
    """Accept `device`, `Device`, ...; raise InvalidIdentity for anything else."""
    for choice in IdentityType:
        if value.strip().lower() == choice.value.lower():
            return choice
    names = ", ".join(c.value.lower() for c in IdentityType)
    raise InvalidIdentity(f'"{value}" is not an identity type; choose one of {names}')


def _validated_name(name: str) -> str:
    try:
        return clean_name(name, "an identity")
    except ValueError as exc:
        raise InvalidIdentity(str(exc), "name") from exc


def enrollment_expiry(enrollment_minutes: int | None) -> dt.datetime:
    """When a token made now expires; ZITI_ENROLLMENT_DURATION minutes by default."""
    minutes = settings.ZITI_ENROLLMENT_DURATION if enrollment_minutes is None else enrollment_minutes
    if minutes <= 0:
        raise InvalidIdentity("the enrollment duration must be a positive number of minutes")
    return timezone.now() + dt.timedelta(minutes=minutes)


def create_identity(
    *,
    name: str,
    identity_type: IdentityType | str,
    role_attributes: Iterable[str] = (),
    enrollment_minutes: int | None = None,
    ca: CertificateAuthority | None = None,
) -> tuple[Identity, Enrollment]:
    """Create an identity with a pending one-time-token enrollment.

    With `ca`, the enrollment is ottca: the device will present a certificate from that
    third-party CA instead of a CSR; the CA must be usable for OTT enrollment now.

    Atomic: either both rows exist afterwards or neither does. Raises IdentityNameTaken
    for a duplicate name and InvalidIdentity for a bad name, type, duration or CA.
    """
    name = _validated_name(name)
    kind = identity_type if isinstance(identity_type, IdentityType) else parse_identity_type(identity_type)
    expires_at = enrollment_expiry(enrollment_minutes)
    try:
        with transaction.atomic():
            # Asked inside the write transaction: such a token could never be redeemed,
            # so say so now rather than at the device.
            if ca is not None and (refusal := ca.refusal(CaUse.OTT_ENROLLMENT)) is not None:
                raise InvalidIdentity(f'the certificate authority "{ca.name}" {refusal}', "ca")
            identity = Identity.objects.create(
                name=name,
                identity_type=kind,
                role_attributes=clean_role_attributes(role_attributes),
            )
            enrollment = Enrollment.objects.create(
                identity=identity,
                method=EnrollmentMethod.OTTCA if ca is not None else EnrollmentMethod.OTT,
                ca=ca,
                expires_at=expires_at,
            )
    except IntegrityError as exc:
        # The unique index is the arbiter; a check-then-insert would race.
        if Identity.objects.filter(name=name).exists():
            raise IdentityNameTaken(name) from exc
        raise
    return identity, enrollment


def update_identity(identity: Identity, *, name: str, role_attributes: Iterable[str]) -> Identity:
    """Rename an identity or change its roles; its type stays as created."""
    identity.name = _validated_name(name)
    identity.role_attributes = clean_role_attributes(role_attributes)
    try:
        with transaction.atomic():
            identity.save(update_fields=["name", "role_attributes", "updated_at"])
    except IntegrityError as exc:
        taken = identity.name
        identity.refresh_from_db()  # the caller keeps an object that matches the database
        raise IdentityNameTaken(taken) from exc
    return identity


# Sent, inside the transaction, when an identity is disabled: layers above (API
# sessions) end what the identity holds, without identities reaching up to them.
identity_disabled = Signal()


def set_identity_disabled(identity: Identity, disabled: bool) -> Identity:
    """Disable or enable an identity: a disabled identity cannot authenticate, and its
    API sessions end with the same commit."""
    with transaction.atomic():
        identity.is_disabled = disabled
        identity.save(update_fields=["is_disabled", "updated_at"])
        if disabled:
            identity_disabled.send(sender=Identity, identity=identity)
    return identity


def delete_identity(identity: Identity) -> None:
    """Delete an identity with its authenticators and enrollments, in one transaction."""
    with transaction.atomic():
        identity.delete()


def seed_identity_names(count: int, prefix: str) -> list[str]:
    """The names seed_identities gives: `<prefix>-<k>` for k = 1..count.

    Not zero-padded, so `seed-7` is the same name whichever count made it, and a second
    run over the same prefix collides instead of quietly making `seed-07`.

    Raises InvalidIdentity for a count below 1 or a prefix that makes a bad name.
    """
    if count <= 0:
        raise InvalidIdentity("the number of identities to seed must be positive")
    prefix = prefix.strip()
    if not prefix:
        raise InvalidIdentity("the name prefix may not be empty")
    # The longest name stands for all of them.
    _validated_name(f"{prefix}-{count}")
    return [f"{prefix}-{k}" for k in range(1, count + 1)]


def seed_identities(
    count: int,
    *,
    prefix: str = "seed",
    enrollment_minutes: int | None = None,
    batch_size: int = 2000,
) -> list[Enrollment]:
    """Create `count` Device identities named by seed_identity_names, each with a pending
    ott enrollment, for load tests and demos at scale.

    Rows go in with bulk_create, `batch_size` at a time, instead of create_identity's
    two INSERTs per identity. Ids, tokens and expiry follow create_identity: model
    defaults evaluated per object, valid `enrollment_minutes` (default
    ZITI_ENROLLMENT_DURATION).

    All or nothing: every batch runs inside one transaction, so either all `count`
    identities and their enrollments exist afterwards or none does. Raises
    InvalidIdentity for a bad count, prefix, duration or batch size, and
    IdentityNameTaken (naming a taken name) when any of the names exists already.
    Returns the enrollments in name order with their identity attached, ready for
    enrollment_jwt.
    """
    names = seed_identity_names(count, prefix)
    if batch_size <= 0:
        raise InvalidIdentity("the batch size must be positive")
    expires_at = enrollment_expiry(enrollment_minutes)
    stem = names[0].rsplit("-", 1)[0] + "-"

    def first_taken() -> str | None:
        # A prefix query, not an IN list of `count` names: that would overflow SQLite's
        # limit on query parameters.
        taken = set(Identity.objects.filter(name__startswith=stem).values_list("name", flat=True))
        return next((name for name in names if name in taken), None)

    enrollments: list[Enrollment] = []
    try:
        with transaction.atomic():
            clash = first_taken()
            if clash is not None:
                raise IdentityNameTaken(clash)
            for start in range(0, count, batch_size):
                # Model defaults (new_id, new_token, timezone.now) run once per object here.
                identities = [
                    Identity(name=name, identity_type=IdentityType.DEVICE)
                    for name in names[start : start + batch_size]
                ]
                batch = [
                    Enrollment(identity=identity, method=EnrollmentMethod.OTT, expires_at=expires_at)
                    for identity in identities
                ]
                Identity.objects.bulk_create(identities, batch_size=batch_size)
                Enrollment.objects.bulk_create(batch, batch_size=batch_size)
                enrollments.extend(batch)
    except IntegrityError as exc:
        # The unique index is the arbiter: a concurrent writer took a name after our look.
        clash = first_taken()
        if clash is not None:
            raise IdentityNameTaken(clash) from exc
        raise
    return enrollments


def enrollment_jwt(enrollment: Enrollment) -> str:
    """The enrollment JWT a device redeems: em, sub, jti, exp and the identity's name."""
    return sign_enrollment_claims(
        {
            "em": enrollment.method,
            "sub": enrollment.identity_id,
            "jti": enrollment.token,
            "exp": int(enrollment.expires_at.timestamp()),
            "name": enrollment.identity.name,
        }
    )


def _record_authenticator(
    identity: Identity, certificate: x509.Certificate, ca: CertificateAuthority | None
) -> Authenticator:
    try:
        # The unique index on the fingerprint decides, even between concurrent requests.
        with transaction.atomic():
            return Authenticator.objects.create(
                identity=identity,
                fingerprint=sha1_fingerprint(certificate),
                serial=format(certificate.serial_number, "x"),
                not_after=certificate.not_valid_after_utc,
                certificate_pem=to_pem(certificate),
                ca=ca,
            )
    except IntegrityError as exc:
        raise CertificateTaken() from exc


def redeem_enrollment(
    enrollment: Enrollment, certificate: x509.Certificate, ca: CertificateAuthority | None = None
) -> Authenticator:
    """Consume the token and make `certificate` its identity's authenticator, together.

    One transaction: a failure leaves the token usable. The token is consumed by a
    conditional UPDATE, not a read-then-write, so of two concurrent redemptions only one
    matches the row, on SQLite and PostgreSQL alike. Raises EnrollmentUsed when the token
    was used or expired meanwhile, CertificateTaken when another identity holds the
    certificate.
    """
    with transaction.atomic():
        now = timezone.now()
        won = Enrollment.objects.filter(
            pk=enrollment.pk, consumed_at__isnull=True, expires_at__gt=now
        ).update(consumed_at=now)
        if not won:
            raise EnrollmentUsed()
        return _record_authenticator(enrollment.identity, certificate, ca)


def _unique_identity_name(base: str, batch: int = 20) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is free.

    Looks candidates up by exact name, a batch at a time, so the unique index answers;
    scanning names by pattern would read every identity while holding the write lock.
    """
    for start in itertools.count(1, batch):
        candidates = [base if n == 1 else f"{base}-{n}" for n in range(start, start + batch)]
        taken = set(Identity.objects.filter(name__in=candidates).values_list("name", flat=True))
        free = next((name for name in candidates if name not in taken), None)
        if free is not None:
            return free
    raise AssertionError("unreachable")


def create_enrolled_device(
    *,
    identity_id: str,
    name: str,
    role_attributes: Iterable[str],
    certificate: x509.Certificate,
    ca: CertificateAuthority,
) -> Identity:
    """Auto enrollment's half: a Device identity that holds `certificate` from `ca`.

    The name follows the rule of every identity name; on collision it gets a counter
    (`name-2`, ...). The identity and its authenticator commit together or not at all.
    Raises InvalidIdentity for a name that breaks the rule, CertificateTaken when another
    identity holds the certificate, and IdentityError when no free name was found.
    """
    try:
        base = _validated_name(name)
    except InvalidIdentity as exc:
        raise InvalidIdentity(
            f"the name made by the CA's identity name format is not valid: {exc}", "name"
        ) from exc
    for _attempt in range(5):
        identity = Identity(
            id=identity_id,
            identity_type=IdentityType.DEVICE,
            role_attributes=clean_role_attributes(role_attributes),
        )
        try:
            with transaction.atomic():
                # The counter may push a name over the limit: the rule holds for it too.
                identity.name = _validated_name(_unique_identity_name(base))
                identity.save(force_insert=True)
                _record_authenticator(identity, certificate, ca)
            return identity
        except IntegrityError:
            # Another enrollment took the same name between our look and our insert.
            continue
    raise IdentityError("could not find a free identity name; try again")
