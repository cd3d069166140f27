"""The console through Django's test client: access control, CSRF, the JWT endpoint and
the cost of the identity list."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from identities.forms import PAGE_SIZE
from identities.models import Identity, IdentityType
from tests.console.conftest import IdentityFactory
from tests.helpers import form_csrf_token

STATES = ("pending", "enrolled", "expired", "none")


@pytest.fixture
def identity(make_identity: IdentityFactory) -> Identity:
    return make_identity("lobby-kiosk")


def console_requests(identity: Identity) -> list[tuple[str, str]]:
    pk = identity.pk
    return [
        ("get", reverse("identities:list")),
        ("get", reverse("identities:create")),
        ("post", reverse("identities:create")),
        ("get", reverse("identities:detail", args=[pk])),
        ("post", reverse("identities:detail", args=[pk])),
        ("get", reverse("identities:jwt", args=[pk])),
        ("get", reverse("identities:delete", args=[pk])),
        ("post", reverse("identities:delete", args=[pk])),
        ("post", reverse("identities:disable", args=[pk])),
        ("post", reverse("identities:enable", args=[pk])),
        ("get", reverse("home")),
    ]


def row_count(html: str) -> int:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr>")


class TestAccess:
    def test_every_console_page_sends_anonymous_visitors_to_log_in(
        self, client: Client, identity: Identity
    ) -> None:
        for method, url in console_requests(identity):
            if method == "post":
                response = client.post(url, {"name": "renamed", "identity_type": "User"})
            else:
                response = client.get(url)
            assert response.status_code == 302, (method, url)
            assert response["Location"] == f"{reverse('login')}?next={url}", (method, url)
        identity.refresh_from_db()
        assert (identity.name, identity.is_disabled) == ("lobby-kiosk", False)
        assert Identity.objects.count() == 1

    def test_the_login_page_itself_is_public(self, client: Client) -> None:
        assert client.get(reverse("login")).status_code == 200

    def test_logout_is_post_only(self, signed_in: Client) -> None:
        assert signed_in.get(reverse("logout")).status_code == 405
        response = signed_in.post(reverse("logout"))
        assert response["Location"] == reverse("login")
        assert signed_in.get(reverse("identities:list")).status_code == 302


class TestCsrf:
    def test_posts_without_a_csrf_token_are_rejected(self, strict: Client, identity: Identity) -> None:
        pk = identity.pk
        attempts = [
            (reverse("identities:create"), {"name": "intruder", "identity_type": "Device"}),
            (reverse("identities:detail", args=[pk]), {"name": "hijacked", "role_attributes": "x"}),
            (reverse("identities:disable", args=[pk]), {}),
            (reverse("identities:delete", args=[pk]), {}),
            (reverse("logout"), {}),
        ]
        for url, data in attempts:
            assert strict.post(url, data).status_code == 403, url
        identity.refresh_from_db()
        assert (identity.name, identity.is_disabled) == ("lobby-kiosk", False)
        assert list(Identity.objects.values_list("name", flat=True)) == ["lobby-kiosk"]
        assert strict.get(reverse("identities:list")).status_code == 200  # still signed in

    def test_the_same_post_with_the_pages_token_goes_through(
        self, strict: Client, identity: Identity
    ) -> None:
        page = strict.get(reverse("identities:delete", args=[identity.pk]))
        token = form_csrf_token(page.content.decode())
        response = strict.post(
            reverse("identities:delete", args=[identity.pk]), {"csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302
        assert not Identity.objects.exists()


class TestJwtDownload:
    def test_a_pending_identity_gets_its_jwt_as_an_attachment(
        self, signed_in: Client, identity: Identity
    ) -> None:
        response = signed_in.get(reverse("identities:jwt", args=[identity.pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/jwt"
        assert response["Content-Disposition"] == 'attachment; filename="lobby-kiosk.jwt"'
        assert "no-store" in response["Cache-Control"]
        assert response.content.count(b".") == 2  # header.payload.signature

    @pytest.mark.parametrize(
        ("name", "disposition"),
        [
            ('say "hi"', r'attachment; filename="say \"hi\".jwt"'),
            ("café door", "attachment; filename*=utf-8''caf%C3%A9%20door.jwt"),
        ],
    )
    def test_the_file_name_is_quoted_safely(
        self, signed_in: Client, make_identity: IdentityFactory, name: str, disposition: str
    ) -> None:
        identity = make_identity(name)
        response = signed_in.get(reverse("identities:jwt", args=[identity.pk]))
        assert response["Content-Disposition"] == disposition

    @pytest.mark.parametrize("state", ["enrolled", "expired", "none"])
    def test_an_identity_without_a_pending_token_has_no_jwt(
        self, signed_in: Client, make_identity: IdentityFactory, state: str
    ) -> None:
        identity = make_identity("lobby-kiosk", state=state)
        assert signed_in.get(reverse("identities:jwt", args=[identity.pk])).status_code == 404

    def test_an_unknown_identity_has_no_jwt(self, signed_in: Client, db: None) -> None:
        assert signed_in.get(reverse("identities:jwt", args=["nosuchid00"])).status_code == 404


class TestIdentityList:
    def test_the_number_of_queries_does_not_grow_with_the_identities(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        def add(count: int, start: int) -> None:
            for n in range(start, start + count):
                make_identity(f"node-{n:03}", state=STATES[n % len(STATES)])

        add(5, 0)
        with CaptureQueriesContext(connection) as few:
            response = signed_in.get(reverse("identities:list"))
        assert row_count(response.content.decode()) == 5

        add(55, 5)
        with CaptureQueriesContext(connection) as many:
            response = signed_in.get(reverse("identities:list"))
        assert row_count(response.content.decode()) == PAGE_SIZE

        assert len(many) == len(few), [q["sql"] for q in many]

    def test_the_number_of_queries_does_not_grow_with_the_page_size(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        for n in range(210):
            make_identity(f"node-{n:03}", state=STATES[n % len(STATES)])
        counts = {}
        for size in (10, 200):
            with CaptureQueriesContext(connection) as captured:
                response = signed_in.get(reverse("identities:list"), {"per_page": size})
            assert row_count(response.content.decode()) == size
            counts[size] = len(captured)

        assert counts[10] == counts[200]

    @pytest.mark.parametrize("per_page", ["7", "5000", "many", ""])
    def test_an_unoffered_page_size_falls_back_to_the_default(
        self, signed_in: Client, make_identity: IdentityFactory, per_page: str
    ) -> None:
        for n in range(PAGE_SIZE + 5):
            make_identity(f"node-{n:03}")
        response = signed_in.get(reverse("identities:list"), {"per_page": per_page})
        assert row_count(response.content.decode()) == PAGE_SIZE

    def test_the_page_size_links_keep_the_search_and_start_on_page_one(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        for n in range(PAGE_SIZE + 5):
            make_identity(f"node-{n:03}")
        html = signed_in.get(reverse("identities:list"), {"q": "node", "page": "2"}).content.decode()
        assert 'href="?q=node&amp;per_page=100"' in html

    def test_it_pages_and_keeps_the_search_term(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        for n in range(PAGE_SIZE + 10):
            make_identity(f"node-{n:03}")
        make_identity("printer")
        response = signed_in.get(reverse("identities:list"), {"q": "NODE", "page": "2"})
        html = response.content.decode()
        assert row_count(html) == 10
        assert "node-059" in html
        assert "printer" not in html
        assert 'href="?q=NODE&amp;page=1"' in html

    def test_a_search_without_matches_says_so(self, signed_in: Client, identity: Identity) -> None:
        html = signed_in.get(reverse("identities:list"), {"q": "toaster"}).content.decode()
        assert "No identities match “toaster”" in html
        assert "No identities yet" not in html

    def test_a_page_number_out_of_range_shows_the_last_page(
        self, signed_in: Client, identity: Identity
    ) -> None:
        response = signed_in.get(reverse("identities:list"), {"page": "99"})
        assert response.status_code == 200
        assert "lobby-kiosk" in response.content.decode()


class TestCreate:
    def test_a_name_the_service_refuses_is_shown_on_the_form(self, signed_in: Client, db: None) -> None:
        response = signed_in.post(
            reverse("identities:create"), {"name": "bell\x07ring", "identity_type": IdentityType.USER}
        )
        assert response.status_code == 200
        assert "an identity name may not contain control characters" in response.content.decode()
        assert not Identity.objects.exists()

    def test_an_unknown_type_is_refused(self, signed_in: Client, db: None) -> None:
        response = signed_in.post(reverse("identities:create"), {"name": "robot", "identity_type": "Robot"})
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not Identity.objects.exists()


class TestDetail:
    def test_an_edit_cannot_change_the_type(self, signed_in: Client, identity: Identity) -> None:
        response = signed_in.post(
            reverse("identities:detail", args=[identity.pk]),
            {"name": "lobby-kiosk-2", "role_attributes": " lobby , , kiosks ", "identity_type": "Service"},
        )
        assert response.status_code == 302
        identity.refresh_from_db()
        assert identity.name == "lobby-kiosk-2"
        assert identity.role_attributes == ["lobby", "kiosks"]
        assert identity.identity_type == IdentityType.DEVICE

    def test_a_rename_to_a_taken_name_keeps_the_old_name_on_the_page(
        self, signed_in: Client, identity: Identity, make_identity: IdentityFactory
    ) -> None:
        make_identity("front-door")
        response = signed_in.post(
            reverse("identities:detail", args=[identity.pk]), {"name": "front-door", "role_attributes": ""}
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "an identity named &quot;front-door&quot; already exists" in html
        assert re.search(r"<h1[^>]*>lobby-kiosk</h1>", html)
        identity.refresh_from_db()
        assert identity.name == "lobby-kiosk"

    def test_disabling_takes_a_post(self, signed_in: Client, identity: Identity) -> None:
        assert signed_in.get(reverse("identities:disable", args=[identity.pk])).status_code == 405
        identity.refresh_from_db()
        assert not identity.is_disabled

    def test_an_unknown_identity_is_404(self, signed_in: Client, db: None) -> None:
        for name in ("detail", "delete"):
            assert signed_in.get(reverse(f"identities:{name}", args=["nosuchid00"])).status_code == 404

    def test_the_page_lists_the_certificates_of_an_enrolled_identity(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        identity = make_identity("lobby-kiosk", state="enrolled")
        authenticator = identity.authenticators.get()
        html = signed_in.get(reverse("identities:detail", args=[identity.pk])).content.decode()
        assert authenticator.fingerprint in html
        assert authenticator.serial in html
        assert authenticator.not_after.isoformat() in html
        assert "PRIVATE KEY" not in html


class TestDelete:
    def test_get_only_asks(self, signed_in: Client, identity: Identity) -> None:
        response = signed_in.get(reverse("identities:delete", args=[identity.pk]))
        assert response.status_code == 200
        assert "Delete identity lobby-kiosk?" in response.content.decode()
        assert Identity.objects.filter(pk=identity.pk).exists()

    def test_post_deletes_with_the_enrollments(self, signed_in: Client, identity: Identity) -> None:
        response = signed_in.post(reverse("identities:delete", args=[identity.pk]), follow=True)
        assert response.redirect_chain == [(reverse("identities:list"), 302)]
        assert "Deleted identity lobby-kiosk." in response.content.decode()
        assert not Identity.objects.exists()
        assert not identity.enrollments.exists()


def test_expiry_is_judged_at_request_time(signed_in: Client, identity: Identity) -> None:
    """The same token turns from downloadable to 404 once its time has passed."""
    url = reverse("identities:jwt", args=[identity.pk])
    assert signed_in.get(url).status_code == 200
    identity.enrollments.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert signed_in.get(url).status_code == 404
