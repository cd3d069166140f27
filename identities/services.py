"""Use cases for identities: one function each, shared by console, API and commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from authorities.models import CertificateAuthority
from enrollment.models import Enrollment, EnrollmentMethod
from identities.errors import IdentityNameTaken, InvalidIdentity
from identities.models import Identity, IdentityType

MAX_NAME_LENGTH = 255


def normalise_role_attributes(values: Iterable[str]) -> list[str]:
    """Trimmed, non-empty, without duplicates, in the order given."""
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def parse_identity_type(value: str) -> IdentityType:
    """Accept `device`, `Device`, ...; raise InvalidIdentity for anything else."""
    for choice in IdentityType:
        if value.strip().lower() == choice.value.lower():
            return choice
    names = ", ".join(c.value.lower() for c in IdentityType)
    raise InvalidIdentity(f'"{value}" is not an identity type; choose one of {names}')


def _validated_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidIdentity("an identity needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidIdentity(f"an identity name may have at most {MAX_NAME_LENGTH} characters")
    if not name.isprintable():
        raise InvalidIdentity("an identity name may not contain control characters")
    return name


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
    third-party CA instead of a CSR.

    Atomic: either both rows exist afterwards or neither does. Raises IdentityNameTaken
    for a duplicate name and InvalidIdentity for a bad name, type or duration.
    """
    name = _validated_name(name)
    kind = identity_type if isinstance(identity_type, IdentityType) else parse_identity_type(identity_type)
    minutes = settings.ZITI_ENROLLMENT_DURATION if enrollment_minutes is None else enrollment_minutes
    if minutes <= 0:
        raise InvalidIdentity("the enrollment duration must be a positive number of minutes")
    try:
        with transaction.atomic():
            identity = Identity.objects.create(
                name=name,
                identity_type=kind,
                role_attributes=normalise_role_attributes(role_attributes),
            )
            enrollment = Enrollment.objects.create(
                identity=identity,
                method=EnrollmentMethod.OTTCA if ca is not None else EnrollmentMethod.OTT,
                ca=ca,
                expires_at=timezone.now() + dt.timedelta(minutes=minutes),
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
    identity.role_attributes = normalise_role_attributes(role_attributes)
    try:
        with transaction.atomic():
            identity.save(update_fields=["name", "role_attributes", "updated_at"])
    except IntegrityError as exc:
        raise IdentityNameTaken(identity.name) from exc
    return identity


def set_identity_disabled(identity: Identity, disabled: bool) -> Identity:
    """Disable or enable an identity: a disabled identity cannot authenticate."""
    identity.is_disabled = disabled
    identity.save(update_fields=["is_disabled", "updated_at"])
    return identity


def delete_identity(identity: Identity) -> None:
    """Delete an identity with its authenticators and enrollments, in one transaction."""
    with transaction.atomic():
        identity.delete()
