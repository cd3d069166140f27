"""Query helpers the apps share."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import QuerySet

T = TypeVar("T")


def unique_or_none(queryset: QuerySet[T]) -> T | None:  # type: ignore[type-var]  # values_list querysets too
    """The one row a filter on a unique key matches, or None.

    Unlike `first()`, without ORDER BY: a unique key needs none, and compiling a model's
    default ordering was a third of such a lookup's cost on the enrollment path.
    """
    rows = list(queryset.order_by()[:1])
    return rows[0] if rows else None
