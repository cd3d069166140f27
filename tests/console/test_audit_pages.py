"""The audit page and the histories on identity and CA pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from audit.models import Action, AuditRecord
from authorities.services import create_certificate_authority, update_certificate_authority
from identities.services import create_identity, set_identity_disabled, update_identity
from kernel.actors import Actor, acting_as
from tests.console.conftest import IdentityFactory
from tests.helpers import make_ca

BOB = Actor("admin", "bob", ref="2", address="192.0.2.20", channel="console")


def rows(html: str) -> int:
    return html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")


class TestAuditPage:
    def test_it_needs_a_login(self, client: Client, db: None) -> None:
        assert client.get(reverse("audit:list")).status_code == 302

    def test_it_filters_by_object_actor_action_and_outcome(self, signed_in: Client) -> None:
        kiosk, _ = create_identity(name="kiosk", identity_type="Device")
        with acting_as(BOB):
            create_identity(name="printer", identity_type="Device")
            set_identity_disabled(kiosk, True)
        Client().post(reverse("login"), {"username": "mallory", "password": "guess"})

        def count(**query: str) -> int:
            return rows(signed_in.get(reverse("audit:list"), query).content.decode())

        assert count(object=kiosk.pk) == 2
        assert count(object="PRINT") == 1
        assert count(actor="bob") == 2
        assert count(action=Action.IDENTITY_DISABLED) == 1
        assert count(outcome="refused") == 1
        assert count(object_type="identity", actor="bob", action=Action.IDENTITY_CREATED) == 1

    def test_it_filters_by_day(self, signed_in: Client, time_machine: object) -> None:
        time_machine.move_to("2026-04-01T23:30:00Z", tick=False)  # type: ignore[attr-defined]
        create_identity(name="first", identity_type="Device")
        time_machine.move_to("2026-04-02T00:30:00Z", tick=False)  # type: ignore[attr-defined]
        create_identity(name="second", identity_type="Device")
        html = signed_in.get(reverse("audit:list"), {"since": "2026-04-02", "until": "2026-04-02"}).content
        assert rows(html.decode()) == 1
        assert b"second" in html
        html = signed_in.get(reverse("audit:list"), {"until": "2026-04-01"}).content
        assert rows(html.decode()) == 1
        assert b"first" in html

    @pytest.mark.parametrize(
        "query",
        [
            {"since": "yesterday"},
            {"since": "2026-04-03", "until": "2026-04-01"},
            {"action": "identity.exploded"},
            {"page": "9999"},
            {"object": "x" * 5000},
        ],
    )
    def test_bad_filters_answer_a_page_not_an_error(self, signed_in: Client, query: dict[str, str]) -> None:
        create_identity(name="kiosk", identity_type="Device")
        response = signed_in.get(reverse("audit:list"), query)
        assert response.status_code == 200

    def test_an_impossible_period_says_so(self, signed_in: Client) -> None:
        html = signed_in.get(reverse("audit:list"), {"since": "2026-04-03", "until": "2026-04-01"}).content
        assert b"The end of the period is before its start." in html

    def test_the_pages_keep_the_filters(self, signed_in: Client) -> None:
        for n in range(55):
            create_identity(name=f"node-{n}", identity_type="Device")
        html = signed_in.get(reverse("audit:list"), {"action": Action.IDENTITY_CREATED}).content.decode()
        assert 'href="?action=identity.created&amp;page=2"' in html

    def test_the_navbar_links_it(self, signed_in: Client) -> None:
        html = signed_in.get(reverse("audit:list")).content.decode()
        assert re.search(r'<a class="nav-link active"\s+aria-current="page"\s+href="/audit/">Audit</a>', html)


@pytest.mark.browser
def test_the_audit_page_filters_in_the_browser(console: Page, make_identity: IdentityFactory) -> None:
    kiosk = make_identity("kiosk")
    make_identity("printer")
    console.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(console.get_by_role("heading", name="Audit trail")).to_be_visible()
    # Two identities created and the admin's login.
    expect(console.get_by_role("row")).to_have_count(4)

    console.get_by_label("Action").select_option(label="Identity created")
    console.get_by_label("Object", exact=True).fill("kiosk")
    console.get_by_role("button", name="Filter").click()
    expect(console).to_have_url(re.compile(r"action=identity.created"))
    expect(console.get_by_role("row")).to_have_count(2)
    row = console.get_by_role("row").nth(1)
    expect(row).to_contain_text("Identity created")
    expect(row.get_by_role("link", name="kiosk")).to_have_attribute(
        "href", f"/audit/?object_type=identity&object={kiosk.pk}"
    )
    console.reload()  # the filters live in the URL
    expect(console.get_by_label("Object", exact=True)).to_have_value("kiosk")
    expect(console.get_by_role("row")).to_have_count(2)


@pytest.mark.browser
def test_an_identity_page_shows_its_own_history(console: Page, make_identity: IdentityFactory) -> None:
    kiosk = make_identity("kiosk")
    make_identity("printer")
    update_identity(kiosk, name="lobby-kiosk", role_attributes=["lobby"])
    console.goto(f"/identities/{kiosk.pk}/")
    console.get_by_role("button", name="Disable").click()
    expect(console.get_by_role("status")).to_contain_text("Disabled identity lobby-kiosk")

    history = console.get_by_role("region", name="History")
    expect(history.get_by_role("row")).to_have_count(4)  # header, disabled, edited, created
    newest = history.get_by_role("row").nth(1)
    expect(newest).to_contain_text("Identity disabled")
    expect(newest).to_contain_text("admin admin")
    expect(history.get_by_role("row").nth(2)).to_contain_text("name: kiosk → lobby-kiosk")
    expect(history).not_to_contain_text("printer")


@pytest.mark.browser
def test_a_ca_page_shows_its_own_history(console: Page) -> None:
    ca = create_certificate_authority(name="Fleet", certificate_pem=make_ca("Fleet CA").pem)
    create_certificate_authority(name="Other", certificate_pem=make_ca("Other CA").pem)
    with acting_as(BOB):
        update_certificate_authority(
            ca,
            name="Fleet",
            ott_ca_enrollment=True,
            auto_ca_enrollment=False,
            auth_enabled=False,
            identity_roles=[],
            identity_name_format=None,
        )
    console.goto(f"/certificate-authorities/{ca.pk}/")
    history = console.get_by_role("region", name="History")
    expect(history.get_by_role("row")).to_have_count(3)
    expect(history.get_by_role("row").nth(1)).to_contain_text("CA changed")
    expect(history.get_by_role("row").nth(1)).to_contain_text("admin bob")
    expect(history.get_by_role("row").nth(1)).to_contain_text("ott ca enrollment: no → yes")
    expect(history.get_by_role("row").nth(2)).to_contain_text("CA created")
    assert AuditRecord.objects.filter(object_name="Other").count() == 1
