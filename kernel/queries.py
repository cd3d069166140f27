"""Query helpers the apps share."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Field, Model, QuerySet

T = TypeVar("T")
M = TypeVar("M", bound=Model)

# The INSERT statement of a model, the fields it sets and the field it returns.
Insert = tuple[str, list["Field[Any, Any]"], "Field[Any, Any] | None"]
_inserts: dict[tuple[type[Model], str], Insert] = {}  # by (model, database alias)


def unique_or_none(queryset: QuerySet[T]) -> T | None:  # type: ignore[type-var]  # values_list querysets too
    """The one row a filter on a unique key matches, or None.

    Unlike `first()`, without ORDER BY: a unique key needs none, and compiling a model's
    default ordering was a third of such a lookup's cost on the enrollment path.
    """
    rows = list(queryset.order_by()[:1])
    return rows[0] if rows else None


def quoted_names(model: type[Model], *fields: str, using: str = "default") -> tuple[str, ...]:
    """The quoted table of `model`, then the quoted columns of `fields`: for a statement
    written out, so that it names what the model names."""
    quote = connections[using].ops.quote_name
    columns = []
    for name in fields:
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        assert isinstance(field, Field), f"{model.__name__}.{name} is not a column"
        columns.append(quote(field.column))
    return (quote(model._meta.db_table), *columns)


def _insert_statement(model: type[Model], using: str) -> Insert:
    prepared = _inserts.get((model, using))
    if prepared is None:
        meta, connection = model._meta, connections[using]
        quote = connection.ops.quote_name
        returned = meta.pk if getattr(meta.pk, "db_returning", False) else None
        fields = [field for field in meta.local_concrete_fields if field is not returned]
        columns = ", ".join(quote(field.column) for field in fields)
        # Quoted names from the model's own metadata; every value is a parameter.
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
        if returned is not None:
            sql += f" RETURNING {quote(returned.column)}"
        prepared = _inserts[(model, using)] = (sql, fields, returned)
    return prepared


def insert_row(instance: M) -> M:
    """Write `instance` as a new row, as `save(force_insert=True)` does, and return it.

    The statement is built once per model instead of by the query compiler each time:
    on the enrollment path the compiler cost more than the insert itself. For models that
    Model.save() would write in one INSERT: no parent model, no save signals, a primary
    key the database assigns. Field defaults, auto_now_add and JSON go through the fields
    as Model.save() sends them.
    """
    model = type(instance)
    using = router.db_for_write(model, instance=instance)
    sql, fields, returned = _insert_statement(model, using)
    if returned is not None and getattr(instance, returned.attname) is not None:
        raise ValueError(f"insert_row: this {model.__name__} already has a primary key")
    connection = connections[using]
    params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returned is not None:
            setattr(instance, returned.attname, cursor.fetchone()[0])
    instance._state.adding = False
    instance._state.db = using
    return instance
