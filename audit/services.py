"""Writing the audit trail: the one module that writes AuditRecord rows.

Service functions of every layer above call `record` inside the transaction of the
change it records, so the change and its record commit together or not at all. A
refusal whose transaction rolled back is recorded after the rollback, by the caller
that saw the refusal.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

from django.db import models, transaction
from django.db.models import Max

from audit.errors import AuditError
from audit.models import Action, AuditRecord, ObjectType, Outcome
from kernel.actors import current_actor
from kernel.allowance import WindowedAllowance
from kernel.queries import insert_row

# A detail key with one of these words in it (`token`, `private_key`) is refused: the
# trail never holds a secret, and a key named for one is how one would slip in.
SECRET_WORDS = frozenset({"token", "jwt", "key", "password", "passphrase", "secret", "pem", "csr"})


def _fits(value: str | None, field: str) -> str:
    column = AuditRecord._meta.get_field(field)
    assert isinstance(column, models.CharField)
    return (value or "")[: column.max_length or None]


def record(
    action: Action,
    object_type: ObjectType,
    object_id: str = "",
    object_name: str = "",
    *,
    outcome: Outcome = Outcome.SUCCEEDED,
    detail: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Record `action` on an object, by the current actor (kernel.actors), now.

    Joins the caller's transaction: a change that rolls back takes its record along,
    and a record that cannot be written rolls the change back. Without an actor (a
    caller that set none) the record says "system". Raises ValueError for a detail key
    that names a secret, before anything is written.
    """
    detail = dict(detail or {})
    for key in detail:
        if SECRET_WORDS.intersection(key.lower().split("_")):
            raise ValueError(f"the audit trail holds no secrets: detail key {key!r} is refused")
    actor = current_actor()
    # No savepoint: inside the change's transaction a failed insert must fail the change
    # anyway, and on the enrollment path a savepoint pair is two more round trips.
    with transaction.atomic(savepoint=False):
        return insert_row(
            AuditRecord(
                actor_kind=actor.kind if actor else "system",
                actor_name=_fits(actor.name if actor else "", "actor_name"),
                actor_ref=_fits(actor.ref if actor else "", "actor_ref"),
                actor_address=_fits(actor.address if actor else "", "actor_address"),
                channel=_fits(actor.channel if actor else "", "channel"),
                action=action,
                outcome=outcome,
                object_type=object_type,
                object_id=_fits(object_id, "object_id"),
                object_name=_fits(object_name, "object_name"),
                detail=detail,
            )
        )


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """What an edit changed, as `detail["changed"]` of its record: field → [was, is]."""
    return {field: [before[field], value] for field, value in after.items() if before[field] != value}


# Refusals anyone can cause (a bad token, a wrong password) are recorded at most this
# often per address and process; the rest are counted into the next one recorded, so a
# flood cannot grow the trail without bound, and the trail still says it happened.
REFUSALS_PER_WINDOW = 20
REFUSAL_WINDOW_S = 60.0
# Wall-clock time, as the records' own timestamps.
_refusals = WindowedAllowance(REFUSALS_PER_WINDOW, REFUSAL_WINDOW_S, clock=time.time)


def record_refusal(
    action: Action,
    object_type: ObjectType,
    object_id: str = "",
    object_name: str = "",
    *,
    detail: Mapping[str, Any] | None = None,
) -> AuditRecord | None:
    """Record a refusal, within the caller's address's budget (REFUSALS_PER_WINDOW per
    REFUSAL_WINDOW_S); None when over it. The first one recorded after a gap says how
    many were left out (`left_out`)."""
    actor = current_actor()
    left_out = _refusals.take((actor.address if actor else None) or "")
    if left_out is None:
        return None
    extra = {"left_out": left_out} if left_out else {}
    return record(
        action,
        object_type,
        object_id,
        object_name,
        outcome=Outcome.REFUSED,
        detail={**(detail or {}), **extra},
    )


def as_exported(entry: AuditRecord) -> dict[str, Any]:
    """One record as a line of the JSON export: flat, named for a SIEM to map."""
    return {
        "id": entry.pk,
        "at": entry.at.astimezone(dt.UTC).isoformat(),
        "action": entry.action,
        "outcome": entry.outcome,
        "actor": {
            "kind": entry.actor_kind,
            "name": entry.actor_name,
            "id": entry.actor_ref,
            "address": entry.actor_address,
            "channel": entry.channel,
        },
        "object": {"type": entry.object_type, "id": entry.object_id, "name": entry.object_name},
        "detail": entry.detail,
    }


def export_trail(since: dt.datetime | None = None, until: dt.datetime | None = None) -> Iterator[str]:
    """The records with since <= at < until, oldest first, each as one line of JSON.

    The export itself is recorded, with its bounds, before any line is read; it is not
    part of its own output. Read in chunks, so a trail of millions never sits in memory.
    Raises AuditError when `since` is not before `until`.
    """
    if since is not None and until is not None and since >= until:
        raise AuditError("the start of the period must be before its end")
    records = AuditRecord.objects.order_by("at", "pk")
    if since is not None:
        records = records.filter(at__gte=since)
    if until is not None:
        records = records.filter(at__lt=until)
    ceiling = AuditRecord.objects.aggregate(ceiling=Max("pk"))["ceiling"] or 0
    bounds = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
    record(Action.TRAIL_EXPORTED, ObjectType.AUDIT_TRAIL, detail=bounds)
    return (
        json.dumps(as_exported(entry), ensure_ascii=False, sort_keys=True)
        for entry in records.filter(pk__lte=ceiling).iterator(chunk_size=2000)
    )
