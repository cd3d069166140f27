"""What an ott redemption asks of the database: every fleet enrollment pays for it.

Pinned so that a change that adds a round trip, or an ORDER BY a lookup by unique key
never needs, shows up here rather than as a slower benchmark.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollment.services import redeem_ott
from identities.models import Authenticator
from identities.services import create_identity
from tests.helpers import csr_pem


@pytest.mark.django_db(transaction=True)
def test_an_ott_redemption_is_one_lookup_and_one_short_write_transaction():
    _identity, enrollment = create_identity(name="counted", identity_type="device")
    csr = csr_pem()

    with CaptureQueriesContext(connection) as captured:
        redeem_ott(enrollment.token, csr)

    statements = [q["sql"].split(None, 1)[0].upper() for q in captured.captured_queries]
    # The token's lookup; then in one transaction: the identity's row (locked on
    # PostgreSQL), the token consumed, the certificate recorded, the audit record.
    # SQLite's BEGIN shows among the queries; PostgreSQL's is the driver's own.
    writes = [s for s in statements if s not in ("BEGIN", "COMMIT")]
    assert writes == ["SELECT", "SELECT", "UPDATE", "INSERT", "INSERT"], statements
    assert not any("ORDER BY" in q["sql"] for q in captured.captured_queries)
    assert not any("SAVEPOINT" in q["sql"] for q in captured.captured_queries)
    assert Authenticator.objects.filter(identity=enrollment.identity).count() == 1
