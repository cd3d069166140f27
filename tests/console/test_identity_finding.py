"""Finding identities: sorting, filters and search in the URL, through Django's client."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from authorities.models import CertificateAuthority
from identities.models import Identity
from identities.services import create_identity
from tests.console.conftest import IdentityFactory
from tests.helpers import make_ca

STATES = ("pending", "enrolled", "expired", "none")


def names(response: object) -> list[str]:
    """The identity names of the list's rows, in order."""
    html = response.content.decode()  # type: ignore[attr-defined]
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'href="/identities/\w+/">([^<]+)</a>', body)


def listed(client: Client, **query: str) -> list[str]:
    response = client.get(reverse("identities:list"), query)
    assert response.status_code == 200
    if b"<tbody>" not in response.content:
        return []
    return names(response)


@pytest.fixture
def fleet(make_identity: IdentityFactory) -> None:
    make_identity("delta", state="enrolled", identity_type="User", role_attributes=("sales", "emea"))
    make_identity("alpha", state="pending", identity_type="Service", role_attributes=("presales",))
    make_identity("charlie", state="expired", identity_type="Device", role_attributes=("Sales",))
    make_identity("bravo", state="none", identity_type="Device")


class TestSorting:
    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("", ["alpha", "bravo", "charlie", "delta"]),
            ("name", ["alpha", "bravo", "charlie", "delta"]),
            ("-name", ["delta", "charlie", "bravo", "alpha"]),
            # Device, Service, User; names break the tie.
            ("type", ["bravo", "charlie", "alpha", "delta"]),
            ("-type", ["delta", "alpha", "bravo", "charlie"]),
            # Pending, expired, enrolled, not enrolled.
            ("state", ["alpha", "charlie", "delta", "bravo"]),
            ("-state", ["bravo", "delta", "charlie", "alpha"]),
            ("created", ["delta", "alpha", "charlie", "bravo"]),
            ("-created", ["bravo", "charlie", "alpha", "delta"]),
        ],
    )
    def test_it_sorts_by_each_column(
        self, signed_in: Client, fleet: None, sort: str, expected: list[str]
    ) -> None:
        assert listed(signed_in, sort=sort) == expected

    def test_identities_created_at_the_same_moment_keep_one_order_across_pages(
        self, signed_in: Client, time_machine: object
    ) -> None:
        time_machine.move_to("2026-05-01T12:00:00Z", tick=False)  # type: ignore[attr-defined]
        for n in range(25):
            create_identity(name=f"node-{n}", identity_type="Device")
        ids = sorted(Identity.objects.values_list("pk", flat=True))
        by_id = dict(Identity.objects.values_list("pk", "name"))
        pages = [listed(signed_in, sort="created", per_page="10", page=str(p)) for p in (1, 2, 3)]
        assert [name for page in pages for name in page] == [by_id[pk] for pk in ids]

    def test_the_headers_link_to_their_sort_and_turn_the_current_one_round(
        self, signed_in: Client, fleet: None
    ) -> None:
        html = signed_in.get(reverse("identities:list"), {"sort": "type", "q": "a"}).content.decode()
        assert 'href="?sort=name&amp;q=a"' in html
        assert 'href="?sort=-type&amp;q=a"' in html
        assert re.search(r'<th scope="col" aria-sort="ascending"[^>]*>\s*<a[^>]*href="\?sort=-type', html)

    def test_the_pages_keep_the_sort_and_the_filters(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        for n in range(12):
            make_identity(f"node-{n:02}", role_attributes=("lab",))
        html = signed_in.get(
            reverse("identities:list"), {"sort": "-name", "role": "lab", "per_page": "10"}
        ).content.decode()
        assert 'href="?sort=-name&amp;role=lab&amp;per_page=10&amp;page=2"' in html

    def test_the_query_count_does_not_grow_with_the_page_size_when_sorted_and_filtered(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        for n in range(210):
            make_identity(f"node-{n:03}", state=STATES[n % len(STATES)], role_attributes=("lab",))
        counts = {}
        for size in (10, 200):
            with CaptureQueriesContext(connection) as captured:
                rows = listed(
                    signed_in, sort="-state", role="lab", identity_type="Device", per_page=str(size)
                )
            assert len(rows) == size
            counts[size] = len(captured)
        assert counts[10] == counts[200]


class TestFilters:
    def test_the_search_matches_role_attributes_too(self, signed_in: Client, fleet: None) -> None:
        assert listed(signed_in, q="sales") == ["alpha", "charlie", "delta"]
        assert listed(signed_in, q="EME") == ["delta"]
        assert listed(signed_in, q="brav") == ["bravo"]

    def test_the_search_takes_wildcards_literally(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        make_identity("plain", role_attributes=("abc",))
        make_identity("percent", role_attributes=("100%_sure",))
        assert listed(signed_in, q="%") == ["percent"]
        assert listed(signed_in, q="_") == ["percent"]

    def test_a_role_attribute_filter_matches_whole_attributes(self, signed_in: Client, fleet: None) -> None:
        assert listed(signed_in, role="sales") == ["delta"]
        assert listed(signed_in, role="Sales") == ["charlie"]
        assert listed(signed_in, role="sale") == []

    @pytest.mark.parametrize(
        ("identity_type", "expected"),
        [("Device", ["bravo", "charlie"]), ("User", ["delta"]), ("Service", ["alpha"])],
    )
    def test_it_filters_by_type(
        self, signed_in: Client, fleet: None, identity_type: str, expected: list[str]
    ) -> None:
        assert listed(signed_in, identity_type=identity_type) == expected

    @pytest.mark.parametrize(
        ("state", "expected"),
        [("pending", ["alpha"]), ("enrolled", ["delta"]), ("expired", ["charlie"]), ("none", ["bravo"])],
    )
    def test_it_filters_by_enrollment_state(
        self, signed_in: Client, fleet: None, state: str, expected: list[str]
    ) -> None:
        assert listed(signed_in, state=state) == expected

    def test_it_filters_by_the_ca_of_a_token(self, signed_in: Client, fleet: None) -> None:
        ca = CertificateAuthority.objects.create(
            name="Fleet",
            certificate_pem=make_ca().pem,
            fingerprint="f" * 40,
            is_verified=True,
            is_ott_ca_enrollment_enabled=True,
        )
        create_identity(name="echo", identity_type="Device", ca=ca)
        assert listed(signed_in, ca=ca.pk) == ["echo"]

    def test_filters_combine(self, signed_in: Client, fleet: None) -> None:
        assert listed(signed_in, q="sales", identity_type="Device") == ["charlie"]
        assert listed(signed_in, q="sales", state="enrolled", sort="-name") == ["delta"]

    @pytest.mark.parametrize(
        "query",
        [
            {"sort": "password"},
            {"sort": "-"},
            {"identity_type": "Robot"},
            {"state": "haunted"},
            {"ca": "no-such-ca"},
            {"expiring": "-1"},
            {"expiring": "lots"},
            {"per_page": "100000"},
            {"page": "0"},
            {"q": "x" * 5000},
        ],
    )
    def test_a_bad_value_is_ignored_not_an_error(
        self, signed_in: Client, fleet: None, query: dict[str, str]
    ) -> None:
        response = signed_in.get(reverse("identities:list"), query)
        assert response.status_code == 200

    def test_a_bad_sort_falls_back_to_names(self, signed_in: Client, fleet: None) -> None:
        assert listed(signed_in, sort="password") == ["alpha", "bravo", "charlie", "delta"]

    def test_nothing_matching_says_so_and_offers_the_whole_list(self, signed_in: Client, fleet: None) -> None:
        html = signed_in.get(reverse("identities:list"), {"role": "nobody"}).content.decode()
        assert "No identities match these filters." in html
        assert "Show all identities" in html


class TestBoundedCount:
    def test_a_filter_no_index_answers_counts_only_up_to_the_bound(
        self, signed_in: Client, make_identity: IdentityFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from identities import views

        monkeypatch.setattr(views, "COUNT_BOUND", 12)
        for n in range(15):
            make_identity(f"node-{n:02}", role_attributes=("lab",))
        html = signed_in.get(reverse("identities:list"), {"role": "lab", "per_page": "10"}).content.decode()
        assert "More than 12 identities matching the filters" in html
        assert 'href="?role=lab&amp;per_page=10&amp;page=2"' in html
        second = listed(signed_in, role="lab", page="2", per_page="10")
        assert second == ["node-10", "node-11", "node-12"]  # counted as far as the bound and one more

    def test_a_filter_an_index_answers_counts_them_all(
        self, signed_in: Client, make_identity: IdentityFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from identities import views

        monkeypatch.setattr(views, "COUNT_BOUND", 12)
        for n in range(15):
            make_identity(f"node-{n:02}")
        html = signed_in.get(reverse("identities:list"), {"identity_type": "Device"}).content.decode()
        assert "15 identities matching the filters" in html
