"""Lookups on a JSON list of strings (role attributes), on SQLite and PostgreSQL alike.

Django's own `contains` on a JSONField does not run on SQLite, and `icontains` matches the
list's JSON text (quotes, escapes) rather than its elements. Both lookups below compare
elements, with the value passed as a query parameter: the SQL they build holds only the
compiled column and placeholders (hence the S608 exemptions).
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.lookups import Lookup
from django.db.models.sql.compiler import SQLCompiler


def like_pattern(text: str) -> str:
    """`%text%` for LIKE, with LIKE's wildcards in `text` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@models.JSONField.register_lookup
class HasElement(Lookup):
    """`role_attributes__has_element="sales"`: the list holds exactly that string."""

    lookup_name = "has_element"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        return ("%s", [json.dumps([value]) if connection.vendor == "postgresql" else value])

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            # jsonb containment; a GIN index on the column could serve it.
            return f"{lhs} @> {rhs}::jsonb", [*lhs_params, *rhs_params]
        return (
            f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.value = {rhs})",  # noqa: S608
            [*lhs_params, *rhs_params],
        )


@models.JSONField.register_lookup
class ElementContains(Lookup):
    """`role_attributes__element_icontains="sal"`: some element contains it, ignoring case."""

    lookup_name = "element_icontains"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        return ("%s", [like_pattern(str(value))])

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            # First the list's JSON text, cheaply: a row whose text lacks the term (written
            # as JSON writes it) has no element with it. At a million rows this is what
            # keeps the search near the cost of searching names alone.
            in_text = like_pattern(json.dumps(str(self.rhs), ensure_ascii=False)[1:-1])
            return (
                f"({lhs}::text ILIKE %s AND EXISTS (SELECT 1 FROM jsonb_array_elements_text({lhs})"  # noqa: S608
                f" AS element(value) WHERE element.value ILIKE {rhs}))",
                [*lhs_params, in_text, *lhs_params, *rhs_params],
            )
        # SQLite's LIKE ignores case (for ASCII letters, as its lower() does).
        return (
            f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.value LIKE {rhs} ESCAPE '\\')",  # noqa: S608
            [*lhs_params, *rhs_params],
        )
