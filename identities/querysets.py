"""Queries the console runs over identities."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, CharField, Exists, OuterRef, QuerySet, Value, When
from django.utils import timezone

from identities.models import Authenticator, Enrollment, EnrollmentState, Identity


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
    now = now or timezone.now()
    own = OuterRef("pk")
    expired = Exists(Enrollment.objects.unconsumed().filter(identity=own, expires_at__lte=now))
    return identities.annotate(
        is_enrolled=Exists(Authenticator.objects.filter(identity=own)),
        has_pending_enrollment=Exists(Enrollment.objects.pending(now).filter(identity=own)),
    ).annotate(
        enrollment_state=Case(
            When(is_enrolled=True, then=Value(EnrollmentState.ENROLLED.value)),
            When(has_pending_enrollment=True, then=Value(EnrollmentState.PENDING.value)),
            When(expired, then=Value(EnrollmentState.EXPIRED.value)),
            default=Value(EnrollmentState.NONE.value),
            output_field=CharField(),
        ),
    )


def holds_internal_serial(serial: str) -> bool:
    """Whether an identity holds the signing CA's certificate with this hex serial: what
    the OCSP responder answers "good" for. A renewed certificate not yet verified is not
    held yet (unknown). One lookup on the indexed serial."""
    return Authenticator.objects.filter(ca__isnull=True, serial=serial.lower()).exists()
