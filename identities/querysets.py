"""Queries the console runs over identities."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, CharField, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

import kernel.lookups  # noqa: F401  (registers has_element and element_icontains)
from identities.models import Authenticator, Enrollment, EnrollmentState, Identity

# How the identity list sorts: the columns for each choice; the last one breaks ties, so
# the order is stable from page to page. "-" before a choice reverses its first column.
IDENTITY_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "type": ("identity_type", "name"),
    "state": ("enrollment_rank", "name"),
    "created": ("created_at", "id"),
}
DEFAULT_IDENTITY_SORT = "name"


def _state_tests(now: dt.datetime) -> tuple[Exists, Exists, Exists]:
    """EXISTS tests of an identity (the outer row): it holds a certificate; it has a
    pending token; it has an unconsumed token that expired."""
    own = OuterRef("pk")
    return (
        Exists(Authenticator.objects.filter(identity=own)),
        Exists(Enrollment.objects.pending(now).filter(identity=own)),
        Exists(Enrollment.objects.unconsumed().filter(identity=own, expires_at__lte=now)),
    )


def with_enrollment_state(
    identities: QuerySet[Identity], now: dt.datetime | None = None
) -> QuerySet[Identity]:
    """Annotate each identity with where it stands in enrollment.

    Adds `is_enrolled`, `has_pending_enrollment` and `enrollment_state` (an
    EnrollmentState value). Each is an EXISTS subquery inside the one SELECT, so a page
    of identities costs one query however many rows it holds.

    An identity with a certificate reads as enrolled even while a new token is
    pending; `has_pending_enrollment` still says whether there is a JWT to hand out.
    """
    enrolled, pending, expired = _state_tests(now or timezone.now())
    return identities.annotate(is_enrolled=enrolled, has_pending_enrollment=pending).annotate(
        enrollment_state=Case(
            When(is_enrolled=True, then=Value(EnrollmentState.ENROLLED.value)),
            When(has_pending_enrollment=True, then=Value(EnrollmentState.PENDING.value)),
            When(expired, then=Value(EnrollmentState.EXPIRED.value)),
            default=Value(EnrollmentState.NONE.value),
            output_field=CharField(),
        ),
    )


def in_enrollment_state(identities: QuerySet[Identity], state: str, now: dt.datetime) -> QuerySet[Identity]:
    """The identities whose enrollment_state (as with_enrollment_state says) is `state`.

    As (NOT) EXISTS conditions rather than a test of the CASE, so the database can plan
    them as semi- and anti-joins.
    """
    enrolled, pending, expired = _state_tests(now)
    condition = {
        EnrollmentState.ENROLLED: enrolled,
        EnrollmentState.PENDING: ~enrolled & pending,
        EnrollmentState.EXPIRED: ~enrolled & ~pending & expired,
        EnrollmentState.NONE: ~enrolled & ~pending & ~expired,
    }[EnrollmentState(state)]
    return identities.filter(condition)


def holds_internal_serial(serial: str) -> bool:
    """Whether an identity holds the signing CA's certificate with this hex serial: what
    the OCSP responder answers "good" for. A renewed certificate not yet verified is not
    held yet (unknown). One lookup on the indexed serial."""
    return Authenticator.objects.filter(ca__isnull=True, serial=serial.lower()).exists()


def _ordering(sort: str) -> list[str]:
    descending = sort.startswith("-")
    first, *rest = IDENTITY_SORTS[sort.lstrip("-")]
    if not descending:
        return [first, *rest]
    # The tiebreaker of "created" (the id) turns too, so equal times page the same way back.
    return [f"-{first}", *(f"-{c}" if first == "created_at" else c for c in rest)]


def listed_identities(
    *,
    q: str | None = None,
    identity_type: str | None = None,
    state: str | None = None,
    ca: str | None = None,
    role: str | None = None,
    expiring: int | None = None,
    sort: str = DEFAULT_IDENTITY_SORT,
    now: dt.datetime | None = None,
) -> QuerySet[Identity]:
    """The identities the console list shows, filtered and in the order asked.

    `q` matches a part of the name or of a role attribute, ignoring case; `role` one
    whole role attribute; `ca` identities enrolled with, or holding a token for, that
    third-party CA; `expiring` identities with a certificate ending within that many
    days. Raises KeyError for a sort that is not one of IDENTITY_SORTS (the form offers
    only those).
    """
    now = now or timezone.now()
    identities = Identity.objects.all()
    if q:
        identities = identities.filter(Q(name__icontains=q) | Q(role_attributes__element_icontains=q))
    if identity_type:
        identities = identities.filter(identity_type=identity_type)
    if role:
        identities = identities.filter(role_attributes__has_element=role)
    own = OuterRef("pk")
    if ca:
        identities = identities.filter(
            Exists(Authenticator.objects.filter(identity=own, ca_id=ca))
            | Exists(Enrollment.objects.filter(identity=own, ca_id=ca))
        )
    if expiring is not None:
        horizon = now + dt.timedelta(days=expiring)
        identities = identities.filter(
            Exists(Authenticator.objects.filter(identity=own, not_after__lte=horizon))
        )
    if state:
        identities = in_enrollment_state(identities, state, now)
    if sort.lstrip("-") == "state":
        identities = with_enrollment_state(identities, now).annotate(
            enrollment_rank=Case(
                *(When(enrollment_state=s.value, then=Value(rank)) for rank, s in enumerate(EnrollmentState)),
                output_field=IntegerField(),
            )
        )
    return identities.order_by(*_ordering(sort))
