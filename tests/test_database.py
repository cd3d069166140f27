"""How the controller talks to its database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from identities.models import Identity
from identities.services import create_identity


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
@pytest.mark.django_db
def test_postgresql_parameters_are_bound_server_side():
    assert connection.features.uses_server_side_binding
    identity, _enrollment = create_identity(name="bound o'neil; --", identity_type="device")
    since = timezone.now() - dt.timedelta(minutes=1)

    # Text, times and lists of parameters all arrive as values, not as SQL.
    found = Identity.objects.filter(name__in=[identity.name, "other"], created_at__gt=since)
    assert list(found) == [identity]
