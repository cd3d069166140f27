"""Use cases for identities: one function each, shared by console, API and commands.

The only module that writes Identity, Authenticator and Enrollment rows; the enrollment
protocol redeems tokens and records certificates through the functions at the end.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NoReturn, TypedDict

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.dispatch import Signal
from django.template.defaultfilters import pluralize
from django.utils import timezone

from audit.models import Action, ObjectType
from audit.services import changed_fields, record
from authorities import services as authorities
from authorities.jwt import sign_enrollment_claims
from authorities.models import CaUse, CertificateAuthority, RevocationReason, RevokedCertificate
from identities.errors import (
    CertificateTaken,
    EnrollmentUsed,
    ExtensionRefused,
    IdentityDisabled,
    IdentityError,
    IdentityNameTaken,
    IdentityTypeChangeError,
    InvalidIdentity,
    KeyInUse,
    LifecycleRefused,
    NoTokenToHandOut,
)
from identities.models import (
    Authenticator,
    Enrollment,
    EnrollmentMethod,
    Identity,
    IdentityImport,
    IdentityType,
    ImportState,
    new_token,
)
from kernel.certificates import certificate_from_pem, public_key_sha256, sha1_fingerprint, to_pem
from kernel.names import clean_name, clean_role_attributes
from kernel.queries import insert_row, quoted_names


def _audit(action: Action, identity: Identity, **detail: object) -> None:
    """Record `action` on `identity`, in the caller's transaction."""
    record(action, ObjectType.IDENTITY, identity.pk, identity.name, detail=detail)


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


def _validated_roles(role_attributes: Iterable[str]) -> list[str]:
    try:
        return clean_role_attributes(role_attributes)
    except ValueError as exc:
        raise InvalidIdentity(str(exc), "role_attributes") from exc


def names_taken(names: Iterable[str]) -> set[str]:
    """Which of `names` an identity already has, compared without case (as the unique
    index on Lower(name) compares them), lowered. One query on that index."""
    lowered = {name.lower() for name in names}
    if not lowered:
        return set()
    return set(
        Identity.objects.alias(lower_name=Lower("name"))
        .filter(lower_name__in=lowered)
        .values_list(Lower("name"), flat=True)
    )


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
    is_admin: bool = False,
    external_id: str | None = None,
    tags: Mapping[str, object] | None = None,
) -> tuple[Identity, Enrollment]:
    """Create an identity with a pending one-time-token enrollment.

    With `ca`, the enrollment is ottca: the device will present a certificate from that
    third-party CA instead of a CSR; the CA must be usable for OTT enrollment now.
    `is_admin` lets it use the management API with its certificate once enrolled.

    Atomic: either both rows exist afterwards or neither does. Raises IdentityNameTaken
    for a duplicate name and InvalidIdentity for a bad name, type, duration, CA or an
    external id another identity has.
    """
    name = _validated_name(name)
    external_id = _validated_external_id(external_id)
    kind = identity_type if isinstance(identity_type, IdentityType) else parse_identity_type(identity_type)
    roles = _validated_roles(role_attributes)
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
                role_attributes=roles,
                is_admin=is_admin,
                external_id=external_id,
                tags=dict(tags or {}),
            )
            enrollment = Enrollment.objects.create(
                identity=identity,
                method=EnrollmentMethod.OTTCA if ca is not None else EnrollmentMethod.OTT,
                ca=ca,
                expires_at=expires_at,
            )
            _audit(
                Action.IDENTITY_CREATED,
                identity,
                type=identity.identity_type,
                role_attributes=identity.role_attributes,
                enrollment_method=enrollment.method,
                ca=ca.name if ca else None,
            )
    except IntegrityError as exc:
        # The unique index is the arbiter; a check-then-insert would race.
        _raise_taken(name, external_id, exc)
    return identity, enrollment


def _validated_external_id(external_id: str | None) -> str | None:
    """None for none; otherwise trimmed, non-empty, at most MAX_NAME_LENGTH, printable."""
    if external_id is None:
        return None
    try:
        return clean_name(external_id, "an external id")
    except ValueError as exc:
        raise InvalidIdentity(str(exc), "external_id") from exc


def _raise_taken(name: str, external_id: str | None, exc: IntegrityError) -> NoReturn:
    """Which unique value a failed write collided with, in words (names without case)."""
    if names_taken([name]):
        raise IdentityNameTaken(name) from exc
    if external_id is not None and Identity.objects.filter(external_id=external_id).exists():
        raise InvalidIdentity(f'another identity has the external id "{external_id}"', "external_id") from exc
    raise exc


def _audited_fields(identity: Identity) -> dict[str, object]:
    """What an edit can change, as the audit trail compares it before and after."""
    return {
        "name": identity.name,
        "role_attributes": identity.role_attributes,
        "is_admin": identity.is_admin,
        "external_id": identity.external_id,
        "tags": identity.tags,
    }


class _Keep:
    """An argument left out: the identity keeps what it has."""


KEEP = _Keep()


def update_identity(
    identity: Identity,
    *,
    name: str,
    role_attributes: Iterable[str],
    identity_type: IdentityType | str | None = None,
    is_admin: bool | None = None,
    external_id: str | _Keep | None = KEEP,
    tags: Mapping[str, object] | None = None,
) -> Identity:
    """Rename an identity, change its roles, admin flag, external id or tags; the change
    and its audit record (what was, what is) commit together.

    Its type stays as created: an `identity_type` other than the current one raises
    IdentityTypeChangeError (the same type is accepted, as an update sends every field).
    Left-out arguments keep their values. Raises IdentityNameTaken or InvalidIdentity
    for a name or external id that is taken or malformed; then nothing changes.
    """
    if identity_type is not None:
        kind = (
            identity_type if isinstance(identity_type, IdentityType) else parse_identity_type(identity_type)
        )
        if kind != identity.identity_type:
            raise IdentityTypeChangeError()
    before = _audited_fields(identity)
    identity.name = _validated_name(name)
    identity.role_attributes = _validated_roles(role_attributes)
    fields = ["name", "role_attributes", "updated_at"]
    if is_admin is not None:
        identity.is_admin = is_admin
        fields.append("is_admin")
    if not isinstance(external_id, _Keep):
        identity.external_id = _validated_external_id(external_id)
        fields.append("external_id")
    if tags is not None:
        identity.tags = dict(tags)
        fields.append("tags")
    try:
        with transaction.atomic():
            identity.save(update_fields=fields)
            changed = changed_fields(before, _audited_fields(identity))
            _audit(Action.IDENTITY_UPDATED, identity, changed=changed)
    except IntegrityError as exc:
        name, external_id = identity.name, identity.external_id
        identity.refresh_from_db()  # the caller keeps an object that matches the database
        _raise_taken(name, external_id, exc)
    return identity


# Sent, inside the transaction, when an identity is disabled: layers above (API
# sessions) end what the identity holds, without identities reaching up to them.
identity_disabled = Signal()


def set_identity_disabled(
    identity: Identity,
    disabled: bool,
    *,
    revoke: bool = False,
    reason: RevocationReason | str | None = None,
) -> Identity:
    """Disable or enable an identity: a disabled identity can neither authenticate nor
    redeem its token. With `revoke`, disabling also revokes every certificate of our
    PKI it holds (default reason privilegeWithdrawn), in the same transaction. Its API
    sessions end with the same commit.

    Raises RevocationRefused for an unknown reason; nothing changes then.
    """
    with transaction.atomic():
        if disabled and revoke:
            _revoke_held_certificates(identity, reason or RevocationReason.PRIVILEGE_WITHDRAWN)
        identity.is_disabled = disabled
        identity.save(update_fields=["is_disabled", "updated_at"])
        if disabled:
            identity_disabled.send(sender=Identity, identity=identity)
            _audit(Action.IDENTITY_DISABLED, identity, revoked_certificates=revoke)
        else:
            _audit(Action.IDENTITY_ENABLED, identity)
    return identity


def delete_identity(identity: Identity) -> None:
    """Delete an identity with its authenticators and enrollments, in one transaction.

    Certificates of our PKI it holds are revoked first (cessationOfOperation), so a
    relying party that kept one learns it is no good.
    """
    with transaction.atomic():
        _revoke_held_certificates(identity, RevocationReason.CESSATION_OF_OPERATION)
        _audit(Action.IDENTITY_DELETED, identity, type=identity.identity_type)
        identity.delete()


def _revoke_held_certificates(identity: Identity, reason: RevocationReason | str) -> list[RevokedCertificate]:
    """Revoke every not yet revoked certificate of our PKI that `identity` holds, the
    pending renewal ones included. Joins the caller's transaction."""
    reason = authorities.parse_revocation_reason(reason)
    revoked = []
    for authenticator in identity.authenticators.filter(ca__isnull=True):
        revoked.extend(_revoke_certificates_of(authenticator, reason))
    return revoked


def _revoke_certificates_of(
    authenticator: Authenticator, reason: RevocationReason
) -> list[RevokedCertificate]:
    """Revoke the authenticator's certificate and its pending renewal, those not yet
    revoked, each recorded on its identity."""
    revoked = []
    for pem in filter(None, [authenticator.certificate_pem, authenticator.pending_certificate_pem]):
        certificate = certificate_from_pem(pem)
        if not RevokedCertificate.objects.is_revoked(format(certificate.serial_number, "x")):
            revoked.append(_revoke(authenticator.identity, certificate, reason))
    return revoked


def _revoke(
    identity: Identity, certificate: x509.Certificate, reason: RevocationReason | str | None
) -> RevokedCertificate:
    """Revoke one certificate `identity` holds, and record it on the identity."""
    revoked = authorities.revoke_certificate(certificate, reason)
    _audit(Action.CERTIFICATE_REVOKED, identity, serial=revoked.serial, reason=revoked.reason)
    return revoked


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
        # limit on query parameters. Without case, as the unique index compares.
        taken = set(
            Identity.objects.alias(lower_name=Lower("name"))
            .filter(lower_name__startswith=stem.lower())
            .values_list(Lower("name"), flat=True)
        )
        return next((name for name in names if name.lower() in taken), None)

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
            # One record for the batch: a million rows of "created" would drown the trail.
            record(
                Action.IDENTITIES_SEEDED,
                ObjectType.IDENTITY,
                object_name=f"{stem}*",
                detail={"count": count, "first": names[0], "last": names[-1]},
            )
    except IntegrityError as exc:
        # The unique index is the arbiter: a concurrent writer took a name after our look.
        clash = first_taken()
        if clash is not None:
            raise IdentityNameTaken(clash) from exc
        raise
    if connection.vendor == "postgresql":
        # A bulk load leaves PostgreSQL's planner statistics behind (until autovacuum
        # gets to it): planning the console's list on them took seconds at a million.
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (Identity, Enrollment))
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")
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


def download_enrollment_jwt(identity: Identity) -> str:
    """The JWT of `identity`'s pending token, handed to an admin: recorded as downloaded.

    Raises NoTokenToHandOut when it has none, or is disabled (enable it first); nothing
    is recorded then.
    """
    if identity.is_disabled:
        raise NoTokenToHandOut("this identity is disabled: enable it before handing out its token")
    enrollment = identity.enrollments.pending().select_related("identity").first()
    if enrollment is None:
        raise NoTokenToHandOut()
    with transaction.atomic():
        _audit(
            Action.JWT_DOWNLOADED,
            identity,
            method=enrollment.method,
            expires_at=enrollment.expires_at.isoformat(),
        )
    return enrollment_jwt(enrollment)


def set_identities_disabled(identities: Iterable[Identity], disabled: bool) -> list[Identity]:
    """Disable (or enable) each identity as set_identity_disabled does, in one
    transaction: all of them or, on any error, none."""
    with transaction.atomic():
        return [set_identity_disabled(identity, disabled) for identity in identities]


def delete_identities(identities: Iterable[Identity]) -> int:
    """Delete each identity as delete_identity does, in one transaction; how many."""
    count = 0
    with transaction.atomic():
        for identity in identities:
            delete_identity(identity)
            count += 1
    return count


def download_enrollment_jwts(identities: Iterable[Identity]) -> tuple[dict[str, str], list[Identity]]:
    """The JWTs of those identities that have a token to hand out (name → JWT), each
    recorded as download_enrollment_jwt records it, and the identities skipped."""
    tokens: dict[str, str] = {}
    skipped = []
    with transaction.atomic():
        for identity in identities:
            try:
                tokens[identity.name] = download_enrollment_jwt(identity)
            except NoTokenToHandOut:
                skipped.append(identity)
    return tokens, skipped


def _chosen_expiry(expires_at: dt.datetime | None) -> dt.datetime:
    if expires_at is None:
        return enrollment_expiry(None)
    if expires_at <= timezone.now():
        raise InvalidIdentity("the new token's expiry must be in the future", "expires_at")
    return expires_at


def _locked(identity: Identity) -> Identity:
    # Serialises reissue, reset and redemption of one identity: on PostgreSQL the row
    # lock, on SQLite the immediate write transaction.
    return Identity.objects.select_for_update().get(pk=identity.pk)


def _new_token_for(
    identity: Identity, method: EnrollmentMethod, ca: CertificateAuthority | None, expires_at: dt.datetime
) -> Enrollment:
    if ca is not None and (refusal := ca.refusal(CaUse.OTT_ENROLLMENT)) is not None:
        raise LifecycleRefused(
            f'the certificate authority "{ca.name}" {refusal}: enable OTT CA enrollment on it first', "ca"
        )
    identity.enrollments.unconsumed().delete()
    return Enrollment.objects.create(identity=identity, method=method, ca=ca, expires_at=expires_at)


def reissue_enrollment(identity: Identity, *, expires_at: dt.datetime | None = None) -> Enrollment:
    """Give a not yet enrolled identity a new one-time token (OpenZiti's
    `POST /enrollments/{id}/refresh`): a new jti and the expiry chosen (default
    ZITI_ENROLLMENT_DURATION from now). Its method and CA stay those of the last token.

    Atomic: the old token stops working in the same transaction that makes the new one,
    and a redemption racing with it either wins (then this refuses) or finds its token
    gone. Raises LifecycleRefused for an enrolled identity (reset it instead) or a CA
    that no longer allows OTT enrollment, InvalidIdentity for an expiry in the past.
    """
    expiry = _chosen_expiry(expires_at)
    with transaction.atomic():
        identity = _locked(identity)
        if identity.authenticators.exists():
            raise LifecycleRefused(
                f'"{identity.name}" is enrolled: reset its enrollment to give it a new token'
            )
        last = identity.enrollments.select_related("ca").order_by("-created_at").first()
        method = EnrollmentMethod(last.method) if last is not None else EnrollmentMethod.OTT
        ca = last.ca if last is not None and method == EnrollmentMethod.OTTCA else None
        if method == EnrollmentMethod.OTTCA and ca is None:
            raise LifecycleRefused("the third-party CA of this identity's token is gone; delete the identity")
        current = identity.enrollments.unconsumed().order_by("-created_at").first()
        _audit(Action.TOKEN_REISSUED, identity, method=method, expires_at=expiry.isoformat())
        if current is None:
            return _new_token_for(identity, method, ca, expiry)
        if ca is not None and (refusal := ca.refusal(CaUse.OTT_ENROLLMENT)) is not None:
            raise LifecycleRefused(f'the certificate authority "{ca.name}" {refusal}', "ca")
        identity.enrollments.unconsumed().exclude(pk=current.pk).delete()
        # Same enrollment, as OpenZiti's refresh keeps its id; a new token and expiry.
        won = Enrollment.objects.filter(pk=current.pk, consumed_at__isnull=True).update(
            token=new_token(), expires_at=expiry
        )
        if not won:
            raise EnrollmentUsed()
        current.refresh_from_db()
        return current


def reset_enrollment(
    identity: Identity,
    *,
    expires_at: dt.datetime | None = None,
    reason: RevocationReason | str | None = None,
) -> Enrollment:
    """Start an enrolled identity over (OpenZiti's `POST /authenticators/{id}/re-enroll`):
    a wiped or replaced device. The identity keeps its id, name and role attributes; its
    certificate authenticators go (with their API sessions), each certificate of our PKI
    is revoked (default reason superseded), and a new one-time token of the matching
    method is issued: ott after a certificate of our PKI, ottca with the same CA after a
    third-party one.

    Atomic: all of it or nothing. Raises LifecycleRefused for an identity with no
    certificate (reissue its token instead) or whose CA no longer allows OTT enrollment,
    InvalidIdentity for an expiry in the past, RevocationRefused for an unknown reason.
    """
    expiry = _chosen_expiry(expires_at)
    reason = authorities.parse_revocation_reason(reason or RevocationReason.SUPERSEDED)
    with transaction.atomic():
        identity = _locked(identity)
        latest = identity.authenticators.select_related("ca").order_by("-created_at").first()
        if latest is None:
            raise LifecycleRefused(
                f'"{identity.name}" has no certificate to reset; reissue its token instead'
            )
        method, ca = (EnrollmentMethod.OTTCA, latest.ca) if latest.ca else (EnrollmentMethod.OTT, None)
        _revoke_held_certificates(identity, reason)
        identity.authenticators.all().delete()
        _audit(Action.ENROLLMENT_RESET, identity, method=method, reason=reason, expires_at=expiry.isoformat())
        return _new_token_for(identity, method, ca, expiry)


def add_enrollment(
    identity: Identity,
    *,
    ca: CertificateAuthority | None = None,
    expires_at: dt.datetime | None = None,
) -> Enrollment:
    """A one-time token for an identity that has none (OpenZiti's `POST /enrollments`):
    ott, or ottca with `ca`, expiring at `expires_at` (default ZITI_ENROLLMENT_DURATION).

    Atomic, under the identity's lock. Raises LifecycleRefused for an enrolled identity
    (reset it instead), one whose token is still pending (refresh that one) or a CA
    that does not allow OTT enrollment; InvalidIdentity for an expiry in the past.
    """
    expiry = _chosen_expiry(expires_at)
    with transaction.atomic():
        identity = _locked(identity)
        if identity.authenticators.exists():
            raise LifecycleRefused(f'"{identity.name}" is enrolled: reset its enrollment instead')
        if identity.enrollments.pending().exists():
            raise LifecycleRefused(f'"{identity.name}" has a pending token: refresh it instead')
        method = EnrollmentMethod.OTTCA if ca is not None else EnrollmentMethod.OTT
        _audit(Action.ENROLLMENT_CREATED, identity, method=method, expires_at=expiry.isoformat())
        return _new_token_for(identity, method, ca, expiry)


def delete_enrollment(enrollment: Enrollment) -> None:
    """Withdraw a token: its JWT stops working at once. The identity stays."""
    with transaction.atomic():
        _audit(Action.ENROLLMENT_DELETED, enrollment.identity, method=enrollment.method)
        enrollment.delete()


def delete_authenticator(authenticator: Authenticator) -> None:
    """Take a certificate away from its identity, which can no longer authenticate with
    it (its API sessions end). A certificate of our PKI is revoked first
    (cessationOfOperation), the pending renewal one too; one transaction."""
    with transaction.atomic():
        if authenticator.is_internal:
            _revoke_certificates_of(authenticator, RevocationReason.CESSATION_OF_OPERATION)
        _audit(Action.AUTHENTICATOR_DELETED, authenticator.identity, serial=authenticator.serial)
        authenticator.delete()


def revoke_identity_certificate(
    authenticator: Authenticator, reason: RevocationReason | str | None = None
) -> RevokedCertificate:
    """Revoke the certificate an authenticator holds (RFC 5280 reason, default
    unspecified). The authenticator stays on record, marked revoked, and never
    authenticates again; reset the identity to give the device a new one.

    Raises LifecycleRefused for a third-party CA's certificate (that CA publishes its
    revocations; reset or delete the identity instead), CertificateAlreadyRevoked when
    revoked already, RevocationRefused for an unknown reason. Nothing changes then.
    """
    if not authenticator.is_internal:
        raise LifecycleRefused(
            "this certificate was issued by a third-party CA, which publishes its own revocations; "
            "reset or delete the identity to stop it authenticating here"
        )
    with transaction.atomic():
        return _revoke(authenticator.identity, certificate_from_pem(authenticator.certificate_pem), reason)


def request_certificate_extension(authenticator: Authenticator, *, roll_keys: bool = False) -> Authenticator:
    """Ask the device to renew its certificate (OpenZiti's
    `POST /authenticators/{id}/request-extend`), with a new key if `roll_keys`. The
    device learns it from its API session; extend-verify clears the request.

    Raises ExtensionRefused for a third-party CA's certificate, which cannot be renewed here.
    """
    if not authenticator.is_internal:
        raise ExtensionRefused("only certificates issued by this controller can be renewed")
    with transaction.atomic():
        Authenticator.objects.filter(pk=authenticator.pk).update(
            is_extend_requested=True, is_key_roll_requested=roll_keys
        )
        _audit(
            Action.RENEWAL_REQUESTED, authenticator.identity, serial=authenticator.serial, roll_keys=roll_keys
        )
    authenticator.refresh_from_db()
    return authenticator


def hold_extension(authenticator: Authenticator, certificate: x509.Certificate) -> Authenticator:
    """Keep `certificate`, just issued to renew `authenticator`, until the device
    verifies it; the current certificate stays valid meanwhile. A second extend
    replaces a held certificate that was never verified (it is revoked, superseded).

    Raises ExtensionRefused when the key is another identity's or the authenticator is
    not ours or is gone.
    """
    key_hash = public_key_sha256(certificate.public_key())
    with transaction.atomic():
        current = Authenticator.objects.select_for_update().filter(pk=authenticator.pk).first()
        if current is None or not current.is_internal:
            raise ExtensionRefused("this authenticator cannot be renewed")
        if (
            Authenticator.objects.filter(public_key_sha256=key_hash)
            .exclude(identity_id=current.identity_id)
            .exists()
        ):
            raise KeyInUse()
        if current.pending_certificate_pem:
            authorities.revoke_certificate(
                certificate_from_pem(current.pending_certificate_pem), RevocationReason.SUPERSEDED
            )
        current.pending_certificate_pem = to_pem(certificate)
        current.pending_fingerprint = sha1_fingerprint(certificate)
        current.pending_serial = format(certificate.serial_number, "x")
        current.save(update_fields=["pending_certificate_pem", "pending_fingerprint", "pending_serial"])
    return current


def complete_extension(authenticator: Authenticator, presented: x509.Certificate) -> Authenticator:
    """Swap in the held certificate (OpenZiti's extend-verify): the device shows it has
    it. From the commit on the new certificate authenticates and the old one, revoked
    (superseded), does not. A key different from the old one is recorded as a key roll.
    The extend and key-roll requests are cleared.

    Atomic. Raises ExtensionRefused when nothing is held or `presented` is not the held
    certificate (compared by SHA-1 fingerprint); nothing changes then.
    """
    fingerprint = sha1_fingerprint(presented)
    with transaction.atomic():
        current = Authenticator.objects.select_for_update().filter(pk=authenticator.pk).first()
        if current is None or not current.pending_certificate_pem:
            raise ExtensionRefused("there is no renewed certificate to verify; extend first")
        if fingerprint != current.pending_fingerprint:
            raise ExtensionRefused("this is not the certificate issued by the last extend")
        old = certificate_from_pem(current.certificate_pem)
        new = certificate_from_pem(current.pending_certificate_pem)
        now = timezone.now()
        key_hash = public_key_sha256(new.public_key())
        if not RevokedCertificate.objects.is_revoked(format(old.serial_number, "x")):
            authorities.revoke_certificate(old, RevocationReason.SUPERSEDED)
        current.fingerprint = fingerprint
        current.serial = current.pending_serial
        current.not_after = new.not_valid_after_utc
        current.certificate_pem = current.pending_certificate_pem
        if key_hash != current.public_key_sha256:
            current.key_rolled_at = now
        current.public_key_sha256 = key_hash
        current.pending_certificate_pem = current.pending_fingerprint = current.pending_serial = ""
        current.is_extend_requested = current.is_key_roll_requested = False
        current.extended_at = now
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError as exc:
            raise CertificateTaken() from exc
        _audit(
            Action.CERTIFICATE_RENEWED,
            current.identity,
            serial=current.serial,
            previous_serial=format(old.serial_number, "x"),
            rekeyed=current.key_rolled_at == now,
        )
    return current


def _new_authenticator(
    identity: Identity, certificate: x509.Certificate, ca: CertificateAuthority | None
) -> Authenticator:
    """The row that makes `certificate` the identity's, not yet written."""
    return Authenticator(
        identity=identity,
        fingerprint=sha1_fingerprint(certificate),
        serial=format(certificate.serial_number, "x"),
        not_after=certificate.not_valid_after_utc,
        certificate_pem=to_pem(certificate),
        public_key_sha256=public_key_sha256(certificate.public_key()),
        ca=ca,
    )


def _record_authenticator(authenticator: Authenticator) -> Authenticator:
    try:
        # The unique index on the fingerprint decides, even between concurrent requests.
        # No savepoint: every caller fails its whole transaction on CertificateTaken,
        # and on the enrollment path a savepoint pair is two more round trips.
        with transaction.atomic(savepoint=False):
            return insert_row(authenticator)
    except IntegrityError as exc:
        raise CertificateTaken() from exc


# The two statements of every redemption, written out: the query compiler cost more
# than running them. Names come from the models; every value is a parameter.
def _lock_identity_disabled(identity_id: str) -> bool:
    """Whether the identity is disabled (or gone), its row locked until the transaction
    ends where the database locks rows (SQLite's writer holds the whole database)."""
    table, pk, is_disabled = quoted_names(Identity, "pk", "is_disabled")
    sql = f"SELECT {is_disabled} FROM {table} WHERE {pk} = %s"  # noqa: S608
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [identity_id])
        row = cursor.fetchone()
    return row is None or bool(row[0])


def _consume_token(enrollment: Enrollment, now: dt.datetime) -> bool:
    """Mark the token used if it still is this enrollment's, unused and unexpired."""
    table, pk, consumed_at, token, expires_at = quoted_names(
        Enrollment, "pk", "consumed_at", "token", "expires_at"
    )
    sql = (
        f"UPDATE {table} SET {consumed_at} = %s "  # noqa: S608
        f"WHERE {pk} = %s AND {token} = %s AND {consumed_at} IS NULL AND {expires_at} > %s"
    )
    when = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [when, enrollment.pk, enrollment.token, when])
        return cursor.rowcount == 1


def redeem_enrollment(
    enrollment: Enrollment, certificate: x509.Certificate, ca: CertificateAuthority | None = None
) -> Authenticator:
    """Consume the token and make `certificate` its identity's authenticator, together.

    One transaction: a failure leaves the token usable. The token is consumed by a
    conditional UPDATE, not a read-then-write, so of two concurrent redemptions only one
    matches the row, on SQLite and PostgreSQL alike. Raises EnrollmentUsed when the token
    was used, reissued or expired meanwhile, IdentityDisabled when the identity is
    disabled, CertificateTaken when another identity holds the
    certificate.
    """
    # Made before the transaction: SQLite's one writer holds the database until it ends.
    authenticator = _new_authenticator(enrollment.identity, certificate, ca)
    with transaction.atomic():
        now = timezone.now()
        # A disabled identity cannot enroll, even if it was disabled a moment ago: its
        # row is locked (as reissue and reset lock it) and read first. Not as a join in
        # the UPDATE below: PostgreSQL would re-check such a subquery against its old
        # snapshot, and two concurrent redemptions could both win.
        if _lock_identity_disabled(enrollment.identity_id):
            raise IdentityDisabled()
        # The token too: one reissued meanwhile is no longer this one.
        if not _consume_token(enrollment, now):
            raise EnrollmentUsed()
        _record_authenticator(authenticator)
        _audit(
            Action.ENROLLMENT_SUCCEEDED,
            enrollment.identity,
            method=enrollment.method,
            serial=authenticator.serial,
            ca=ca.name if ca else None,
        )
        return authenticator


def _unique_identity_name(base: str, batch: int = 20) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is free (compared without case).

    Looks candidates up by name, a batch at a time, so the unique index answers;
    scanning names by pattern would read every identity while holding the write lock.
    """
    for start in itertools.count(1, batch):
        candidates = [base if n == 1 else f"{base}-{n}" for n in range(start, start + batch)]
        taken = names_taken(candidates)
        free = next((name for name in candidates if name.lower() not in taken), None)
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
            role_attributes=_validated_roles(role_attributes),
        )
        try:
            with transaction.atomic():
                # The counter may push a name over the limit: the rule holds for it too.
                identity.name = _validated_name(_unique_identity_name(base))
                identity.save(force_insert=True)
                authenticator = _record_authenticator(_new_authenticator(identity, certificate, ca))
                _audit(
                    Action.ENROLLMENT_SUCCEEDED,
                    identity,
                    method="ca",
                    serial=authenticator.serial,
                    ca=ca.name,
                    role_attributes=identity.role_attributes,
                )
            return identity
        except IntegrityError:
            # Another enrollment took the same name between our look and our insert.
            continue
    raise IdentityError("could not find a free identity name; try again")


# --- bulk provisioning from a CSV file ------------------------------------------------

MAX_IMPORT_ROWS = 10_000
MAX_IMPORT_BYTES = 2 * 1024 * 1024
# Rows created per step: each step is one transaction, short enough for the console's
# request and for SQLite's single writer, however long the file.
IMPORT_CHUNK = 500
# Header names each column may have, compared without case, spaces, `_` or `-`.
_IMPORT_COLUMNS = {
    "name": "name",
    "type": "type",
    "identitytype": "type",
    "roleattributes": "roles",
    "roles": "roles",
    "ca": "ca",
    "certificateauthority": "ca",
}
IMPORT_HEADER = "name,type,role_attributes,ca"


class ImportRow(TypedDict):
    """A row of a CSV import as read and checked; stored as such in IdentityImport.rows."""

    line: int
    name: str
    type: str
    roles: list[str]
    ca: str | None
    ca_name: str
    problems: list[str]


def _import_columns(header: list[str]) -> list[str]:
    columns = []
    for cell in header:
        key = "".join(c for c in cell.lower() if c.isalnum())
        if key not in _IMPORT_COLUMNS:
            raise InvalidIdentity(
                f'the column "{cell.strip()}" is not one of {IMPORT_HEADER}; '
                "the first line names the columns",
                "file",
            )
        columns.append(_IMPORT_COLUMNS[key])
    missing = {"name", "type"} - set(columns)
    if missing or len(set(columns)) != len(columns):
        raise InvalidIdentity(
            f"the first line must name the columns, each once: {IMPORT_HEADER} (role_attributes and ca "
            "may be left out)",
            "file",
        )
    return columns


def _import_ca_lookup() -> dict[str, CertificateAuthority]:
    """Every CA by id and by lowered name: a CSV names a CA either way."""
    lookup: dict[str, CertificateAuthority] = {}
    for ca in CertificateAuthority.objects.all():
        lookup[ca.id] = ca
        lookup[ca.name.lower()] = ca
    return lookup


def _check_import_row(line: int, cells: dict[str, str], cas: dict[str, CertificateAuthority]) -> ImportRow:
    """One row as the preview shows and the import creates it, with its problems in words."""
    problems: list[str] = []
    name = cells.get("name", "").strip()
    try:
        name = _validated_name(name)
    except InvalidIdentity as exc:
        problems.append(exc.message)
    kind = ""
    try:
        kind = parse_identity_type(cells.get("type", "")).value
    except InvalidIdentity as exc:
        problems.append(exc.message)
    roles: list[str] = []
    try:
        roles = _validated_roles(re.split(r"[;,]", cells.get("roles", "")))
    except InvalidIdentity as exc:
        problems.append(exc.message)
    ca_name = cells.get("ca", "").strip()
    ca = cas.get(ca_name) or cas.get(ca_name.lower()) if ca_name else None
    if ca_name and ca is None:
        problems.append(f'there is no certificate authority "{ca_name}"')
    elif ca is not None and (refusal := ca.refusal_as_loaded(CaUse.OTT_ENROLLMENT)) is not None:
        problems.append(f'the certificate authority "{ca.name}" {refusal}')
    return {
        "line": line,
        "name": name,
        "type": kind,
        "roles": roles,
        "ca": ca.id if ca is not None else None,
        "ca_name": ca.name if ca is not None else ca_name,
        "problems": problems,
    }


def read_identity_csv(data: bytes) -> list[ImportRow]:
    """The preview of a CSV import: every row of the file checked by the rules of
    create_identity, without creating anything. Each row carries its problems in words
    (bad name, type, role attributes or CA; a name taken, or repeated in the file, in
    any case).

    The file is UTF-8 CSV whose first line names the columns (IMPORT_HEADER); role
    attributes are separated by `;` or `,` within their cell. Raises InvalidIdentity
    (field "file") when the file as a whole cannot be read: not text, no header, no
    rows, more than MAX_IMPORT_ROWS rows or MAX_IMPORT_BYTES bytes.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidIdentity(
            f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it into smaller files",
            "file",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidIdentity(
            f"the file is not UTF-8 text (byte {exc.start + 1}); save it as CSV UTF-8", "file"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        # With the line each row ends on, as an editor counts: blank lines are skipped.
        lines = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise InvalidIdentity(f"the file is not valid CSV: {exc}", "file") from exc
    if not lines:
        raise InvalidIdentity(f"the file is empty; its first line names the columns: {IMPORT_HEADER}", "file")
    columns = _import_columns(lines[0][1])
    if len(lines) == 1:
        raise InvalidIdentity("the file names its columns but has no rows of identities", "file")
    if len(lines) - 1 > MAX_IMPORT_ROWS:
        raise InvalidIdentity(
            f"the file has {len(lines) - 1} rows; at most {MAX_IMPORT_ROWS} are imported at once", "file"
        )
    cas = _import_ca_lookup()
    rows = []
    for line, cells in lines[1:]:
        row = _check_import_row(line, dict(zip(columns, cells, strict=False)), cas)
        if len(cells) > len(columns):
            row["problems"].append(f"{len(cells)} cells, but the first line names {len(columns)} columns")
        rows.append(row)
    _mark_taken_names(rows)
    return rows


def _mark_taken_names(rows: list[ImportRow]) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        key = row["name"].lower()
        if key and key in first_line:
            row["problems"].append(f"the name is on line {first_line[key]} already")
        first_line.setdefault(key, row["line"])
    names = [name for name in first_line if name]
    taken: set[str] = set()
    for start in range(0, len(names), IMPORT_CHUNK):  # under any database's parameter limit
        taken |= names_taken(names[start : start + IMPORT_CHUNK])
    for row in rows:
        if row["name"].lower() in taken:
            row["problems"].append(f'an identity named "{row["name"]}" already exists')


def start_identity_import(rows: list[ImportRow], file_name: str = "") -> IdentityImport:
    """Keep a previewed file's rows (read_identity_csv) for the admin to confirm."""
    return IdentityImport.objects.create(rows=rows, file_name=file_name[:255])


def confirm_identity_import(batch: IdentityImport, *, only_valid: bool) -> IdentityImport:
    """Start creating the rows of a previewed import. With problems in the file, only
    `only_valid` (the admin's explicit choice) goes on, and then only the good rows are
    created; a bad row never is. Raises InvalidIdentity otherwise, or when nothing is
    left to create, or the import was confirmed already."""
    if batch.state != ImportState.PREVIEW:
        raise InvalidIdentity("this import has been started already")
    bad = len(batch.rows_with_problems)
    if bad and not only_valid:
        raise InvalidIdentity(
            f"{bad} row{pluralize(bad)} of the file {'have' if bad > 1 else 'has'} problems: fix the file "
            "and upload it again, or choose to create only the good rows"
        )
    if not batch.rows_to_create:
        raise InvalidIdentity("no row of the file can be created: fix the file and upload it again")
    won = IdentityImport.objects.filter(pk=batch.pk, state=ImportState.PREVIEW).update(
        state=ImportState.RUNNING, only_valid=only_valid
    )
    if not won:
        raise InvalidIdentity("this import has been started already")
    batch.refresh_from_db()
    return batch


def continue_identity_import(batch: IdentityImport, chunk: int = IMPORT_CHUNK) -> IdentityImport:
    """Create the next `chunk` rows of a confirmed import with create_identity, in one
    transaction, and record how far it has come in the same one; the import is done
    after its last row. The page (or the CLI) calls this until then, so no request
    runs long, whatever the file's length.

    A row that fails now (a name taken since the preview, a CA switched off) rolls its
    whole chunk back; the import stops there with the reason, and the identities of
    earlier chunks stay, with their JWTs. Calls on an import that is not running return
    it as it is; two at once create each row once (the import's row is locked).
    """
    with transaction.atomic():
        current = IdentityImport.objects.select_for_update().get(pk=batch.pk)
        if current.state != ImportState.RUNNING:
            return current
        rows = current.rows_to_create
        cas = {
            ca.id: ca for ca in CertificateAuthority.objects.filter(pk__in={r["ca"] for r in rows if r["ca"]})
        }
        made: list[str] = []
        row: dict[str, Any] = {}
        try:
            with transaction.atomic():
                for row in rows[current.next_row : current.next_row + chunk]:
                    if row["ca"] and row["ca"] not in cas:
                        raise InvalidIdentity(f'the certificate authority "{row["ca_name"]}" is gone', "ca")
                    identity, _ = create_identity(
                        name=row["name"],
                        identity_type=row["type"],
                        role_attributes=row["roles"],
                        ca=cas.get(row["ca"]),
                    )
                    made.append(identity.id)
        except IdentityError as exc:
            current.state = ImportState.STOPPED
            current.stop_reason = f"line {row['line']} ({row['name']}): {exc.message}"
        else:
            current.created_ids = [*current.created_ids, *made]
            current.next_row += len(made)
            if current.next_row >= len(rows):
                current.state = ImportState.DONE
        current.save(update_fields=["state", "stop_reason", "created_ids", "next_row", "updated_at"])
    return current


def import_jwts(batch: IdentityImport) -> Iterator[tuple[str, str]]:
    """(file name, JWT) of each identity the import created whose token is still pending,
    signed now from its Enrollment row. File names are the identities' names made safe
    for a file system; two that come out alike get the identity id too."""
    seen: set[str] = set()
    for start in range(0, len(batch.created_ids), IMPORT_CHUNK):
        pending = (
            Enrollment.objects.pending()
            .filter(
                identity_id__in=batch.created_ids[start : start + IMPORT_CHUNK], identity__is_disabled=False
            )
            .select_related("identity")
            .order_by("identity__name")
        )
        for enrollment in pending:
            stem = re.sub(r"[^A-Za-z0-9._-]+", "_", enrollment.identity.name).strip("._") or "identity"
            if stem.lower() in seen:
                stem = f"{stem}-{enrollment.identity_id}"
            seen.add(stem.lower())
            yield f"{stem}.jwt", enrollment_jwt(enrollment)


def import_identities(
    data: bytes,
    *,
    only_valid: bool = False,
    file_name: str = "",
    on_progress: Callable[[IdentityImport], None] | None = None,
) -> IdentityImport:
    """The CLI's import in one call: read the file, refuse it if a row has problems
    (unless `only_valid`), then create the rows chunk by chunk as the console does,
    telling `on_progress` after each chunk. Raises InvalidIdentity as read_identity_csv
    and confirm_identity_import do; the returned import is DONE or STOPPED."""
    rows = read_identity_csv(data)
    bad = [row for row in rows if row["problems"]]
    if bad and not only_valid:
        first = bad[0]
        raise InvalidIdentity(
            f"{len(bad)} row{pluralize(len(bad))} of the file {'have' if len(bad) > 1 else 'has'} problems, "
            f"the first on line {first['line']}: {'; '.join(first['problems'])}. Nothing was created; "
            "fix the file, or create only the good rows"
        )
    batch = confirm_identity_import(start_identity_import(rows, file_name), only_valid=only_valid)
    while batch.state == ImportState.RUNNING:
        batch = continue_identity_import(batch)
        if on_progress is not None:
            on_progress(batch)
    return batch
