"""Lists: limit, offset, the pagination meta, and OpenZiti's filter language."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from identities.models import Identity
from identities.services import create_identity
from tests.management_api.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, BASE


@pytest.fixture
def fleet(db):
    """Five identities with known names, types, roles and creation times."""
    base = timezone.now() - dt.timedelta(days=10)
    rows = [
        ("alpha", "User", ["sales", "emea"], True, "ext-a"),
        ("bravo", "Device", ["sales"], False, None),
        ("charlie", "Device", ["ops"], False, None),
        ("delta", "Service", [], False, "ext-d"),
        ("echo", "Device", ['quote"d', "sales-emea"], False, None),
    ]
    for day, (name, kind, roles, is_admin, external_id) in enumerate(rows):
        identity, _ = create_identity(
            name=name, identity_type=kind, role_attributes=roles, is_admin=is_admin, external_id=external_id
        )
        Identity.objects.filter(pk=identity.pk).update(created_at=base + dt.timedelta(days=day))


def names(mgmt, query: str = "") -> list[str]:
    reply = mgmt.get(f"/identities?{query}")
    assert reply.status == 200, reply.body
    return [row["name"] for row in reply.json()["data"]]


def filtered(mgmt, expression: str) -> list[str]:
    return names(mgmt, "filter=" + quote(expression))


def test_the_envelope_has_pagination_and_filterable_fields(mgmt, fleet):
    reply = mgmt.get("/identities?limit=2&offset=1").json()

    assert [row["name"] for row in reply["data"]] == ["bravo", "charlie"]
    assert reply["meta"]["pagination"] == {"limit": 2, "offset": 1, "totalCount": 5}
    assert "roleAttributes" in reply["meta"]["filterableFields"]


def test_the_default_limit_is_ten(mgmt, db):
    for n in range(12):
        create_identity(name=f"n{n:02d}", identity_type="Device")

    reply = mgmt.get("/identities").json()

    assert len(reply["data"]) == 10
    assert reply["meta"]["pagination"] == {"limit": 10, "offset": 0, "totalCount": 12}


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "offset=-1"])
def test_out_of_range_paging_is_could_not_validate(mgmt, fleet, query):
    reply = mgmt.get(f"/identities?{query}")

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
    assert reply.json()["error"]["cause"]["field"] == query.split("=")[0]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('name = "bravo"', ["bravo"]),
        ('name != "bravo"', ["alpha", "charlie", "delta", "echo"]),
        ('name contains "lph"', ["alpha"]),
        ('name icontains "HAR"', ["charlie"]),
        ('name < "c"', ["alpha", "bravo"]),
        ('name >= "delta"', ["delta", "echo"]),
        ('type = "Device" and not name = "echo"', ["bravo", "charlie"]),
        ('type = "User" or type = "Service"', ["alpha", "delta"]),
        ('(type = "User" or type = "Service") and isAdmin = true', ["alpha"]),
        ("isAdmin = false and externalId != null", ["delta"]),
        ("externalId = null", ["bravo", "charlie", "echo"]),
        ('id in ["nope"]', []),
        ('name in ["alpha", "echo"]', ["alpha", "echo"]),
        ('type not in ["Device"]', ["alpha", "delta"]),
        ('anyOf(roleAttributes) = "sales"', ["alpha", "bravo"]),
        ('anyOf(roleAttributes) = "emea"', ["alpha"]),
        ('anyOf(roleAttributes) = "quote\\"d"', ["echo"]),
        ('anyOf(roleAttributes) != "sales"', ["charlie", "delta", "echo"]),
        ('anyOf(roleAttributes) in ["ops", "emea"]', ["alpha", "charlie"]),
        ("createdAt > datetime(2000-01-01T00:00:00Z)", ["alpha", "bravo", "charlie", "delta", "echo"]),
        ("createdAt < datetime(2000-01-01T00:00:00Z)", []),
        ('type = "Device" sort by name desc', ["echo", "charlie", "bravo"]),
        ("sort by createdAt desc limit 2", ["echo", "delta"]),
        ("sort by type, name skip 1 limit 2", ["charlie", "echo"]),
        ('name = "x" or true = true', None),
    ],
)
def test_the_filter_language(mgmt, fleet, expression, expected):
    if expected is None:
        reply = mgmt.get("/identities?filter=" + quote(expression))
        assert reply.error_code == "INVALID_FILTER"
        return
    assert filtered(mgmt, expression) == expected


def test_a_filter_value_is_data_never_sql(mgmt, fleet):
    assert filtered(mgmt, "name = \"x' OR '1'='1\"") == []
    assert filtered(mgmt, 'name contains "%"') == []
    assert Identity.objects.count() == 5


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ('name = "bravo" and', 15),
        ("name = ", 5),
        ('nmae = "x"', 0),
        ('isAdmin = "yes"', 10),
        ("name = true", 7),
        ("createdAt > datetime(yesterday)", 21),
        ("createdAt > datetime(2021-13-01)", 21),
        ('roleAttributes = "sales"', 0),
        ('anyOf(name) = "x"', 0),
        ("name contains 3", 14),
        ("sort by roleAttributes", 8),
        ('name = "unterminated', 7),
        ("name = null", 7),
        ("(((", 2),
        ("(" * 51 + 'name = "x"' + ")" * 51, 50),
        ("not " * 1000 + 'name = "x"', 0),
        ("skip 99999999999999999999", 5),
        ('type = "x" ' + "a" * 5000, 4096),
    ],
)
def test_a_bad_filter_is_invalid_filter_with_the_position(mgmt, fleet, expression, position):
    reply = mgmt.get("/identities?filter=" + quote(expression))

    assert (reply.status, reply.error_code) == (400, "INVALID_FILTER")
    assert reply.json()["error"]["cause"]["position"] == position


def test_every_list_takes_limit_offset_and_filter(mgmt, fleet):
    for path, expression in [
        ("/cas", 'name contains "x"'),
        ("/enrollments", 'method = "ott"'),
        ("/authenticators", 'fingerprint = "x"'),
        ("/identity-types", ""),
    ]:
        reply = mgmt.get(f"{path}?limit=1&offset=0&filter={quote(expression)}")
        assert reply.status == 200, (path, reply.body)
        assert reply.json()["meta"]["pagination"]["limit"] == 1


def test_enrollments_filter_by_identity(mgmt, fleet):
    alpha = Identity.objects.get(name="alpha")

    reply = mgmt.get("/enrollments?filter=" + quote(f'identityId = "{alpha.id}"')).json()

    assert [row["identityId"] for row in reply["data"]] == [alpha.id]
    assert reply["meta"]["pagination"]["totalCount"] == 1


@pytest.mark.parametrize("query", ["offset=99999999999999999999", "filter=%00"])
def test_what_no_database_could_take_is_refused_not_a_500(mgmt, fleet, query):
    reply = mgmt.get(f"/identities?{query}")

    assert reply.status == 400
    assert reply.error_code in ("COULD_NOT_VALIDATE", "INVALID_FILTER")


def test_a_nul_in_an_id_or_a_body_is_refused(mgmt, fleet):
    assert mgmt.get("/identities/a%00b").error_code == "NOT_FOUND"
    created = mgmt.post("/identities", {"name": "a\x00b", "type": "Device", "isAdmin": False})
    tagged = mgmt.post(
        "/identities", {"name": "ok", "type": "Device", "isAdmin": False, "tags": {"k": "\x00"}}
    )
    assert [created.error_code, tagged.error_code] == ["COULD_NOT_VALIDATE", "COULD_NOT_VALIDATE"]
    assert Identity.objects.count() == 5


def test_a_page_costs_the_same_queries_whatever_its_size(admin):
    for n in range(40):
        create_identity(name=f"n{n:02d}", identity_type="Device", role_attributes=["r"])
    client = Client()
    login = client.post(
        f"{BASE}/authenticate?method=password",
        {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        content_type="application/json",
    )
    session = login.json()["data"]["token"]

    def queries(limit: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            reply = client.get(f"{BASE}/identities?limit={limit}", HTTP_ZT_SESSION=session)
        assert len(reply.json()["data"]) == limit
        return len(captured)

    assert queries(5) == queries(40)
