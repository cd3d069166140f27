"""kernel.queries: the statements the enrollment path writes out instead of compiling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone

from audit.models import Action, AuditRecord, ObjectType
from identities.models import Enrollment, Identity
from identities.services import create_identity
from kernel.queries import insert_row, quoted_names, unique_or_none

pytestmark = pytest.mark.django_db


def test_insert_row_writes_what_create_writes():
    at = timezone.now() - dt.timedelta(minutes=3)
    fields = {
        "actor_kind": "admin",
        "actor_name": "alice",
        "action": Action.IDENTITY_CREATED,
        "object_type": ObjectType.IDENTITY,
        "object_id": "abc",
        "object_name": "laptop ü",
        "detail": {"roles": ["a", "b"], "n": 3, "nested": {"ok": True}},
        "at": at,
    }
    created = AuditRecord.objects.create(**fields)

    inserted = insert_row(AuditRecord(**fields))

    assert inserted.pk is not None
    assert inserted.pk != created.pk
    assert not inserted._state.adding
    read_back = AuditRecord.objects.get(pk=inserted.pk)
    expected = model_to_dict(AuditRecord.objects.get(pk=created.pk), exclude=["id"])
    assert model_to_dict(read_back, exclude=["id"]) == expected
    assert read_back.at == at
    assert read_back.detail == fields["detail"]


def test_insert_row_applies_field_defaults():
    before = timezone.now()

    record = insert_row(AuditRecord(actor_kind="system", action=Action.IDENTITY_CREATED))

    read_back = AuditRecord.objects.get(pk=record.pk)
    assert read_back.at >= before  # default=timezone.now
    assert read_back.detail == {}  # default=dict
    assert read_back.outcome == "succeeded"


def test_insert_row_refuses_an_instance_that_has_a_primary_key():
    record = AuditRecord.objects.create(actor_kind="system", action=Action.IDENTITY_CREATED)

    with pytest.raises(ValueError, match="already has a primary key"):
        insert_row(record)
    assert AuditRecord.objects.count() == 1


def test_quoted_names_are_the_models_table_and_columns():
    quote = connection.ops.quote_name

    assert quoted_names(Enrollment, "pk", "token", "identity") == (
        quote(Enrollment._meta.db_table),
        quote("id"),
        quote("token"),
        quote("identity_id"),
    )


def test_unique_or_none_finds_the_row_or_none_without_order_by():
    identity, _enrollment = create_identity(name="found", identity_type="device")

    assert unique_or_none(Identity.objects.filter(pk=identity.pk)) == identity
    assert unique_or_none(Identity.objects.filter(pk="missing")) is None
    assert "ORDER BY" not in str(Identity.objects.filter(pk=identity.pk).order_by()[:1].query)
