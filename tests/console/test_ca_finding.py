"""Finding CAs: the list's sorting, filters and search in the URL."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from authorities.models import CertificateAuthority
from authorities.services import create_certificate_authority
from tests.helpers import make_ca


def listed(client: Client, **query: str) -> list[str]:
    response = client.get(reverse("authorities:list"), query)
    assert response.status_code == 200
    html = response.content.decode()
    if "<tbody>" not in html:
        return []
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'href="/certificate-authorities/\w+/">([^<]+)</a>', body)


@pytest.fixture
def cas(db: None) -> dict[str, CertificateAuthority]:
    now = dt.datetime.now(dt.UTC)
    made = {
        "Bravo": create_certificate_authority(
            name="Bravo", certificate_pem=make_ca("B", days=30).pem, auto_ca_enrollment=True
        ),
        "alpha": create_certificate_authority(
            name="alpha", certificate_pem=make_ca("A", days=900).pem, auth_enabled=True
        ),
        "Charlie": create_certificate_authority(
            name="Charlie", certificate_pem=make_ca("C", days=400, not_before=now).pem
        ),
    }
    CertificateAuthority.objects.filter(name="Charlie").update(is_verified=True)
    return made


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["alpha", "Bravo", "Charlie"]),
        ("-name", ["Charlie", "Bravo", "alpha"]),
        ("expiry", ["Bravo", "Charlie", "alpha"]),
        ("-expiry", ["alpha", "Charlie", "Bravo"]),
        ("state", ["alpha", "Bravo", "Charlie"]),
        ("-state", ["Charlie", "Bravo", "alpha"]),
        ("created", ["Bravo", "alpha", "Charlie"]),
    ],
)
def test_it_sorts(
    signed_in: Client, cas: dict[str, CertificateAuthority], sort: str, expected: list[str]
) -> None:
    assert listed(signed_in, sort=sort) == expected


def test_it_filters_by_verification_and_use(signed_in: Client, cas: dict[str, CertificateAuthority]) -> None:
    assert listed(signed_in, state="verified") == ["Charlie"]
    assert listed(signed_in, state="unverified") == ["alpha", "Bravo"]
    assert listed(signed_in, use="auto") == ["Bravo"]
    assert listed(signed_in, use="auth", state="unverified") == ["alpha"]


def test_it_searches_names_and_fingerprints(signed_in: Client, cas: dict[str, CertificateAuthority]) -> None:
    fingerprint = cas["Bravo"].fingerprint
    colons = ":".join(fingerprint[i : i + 2] for i in range(0, 12, 2)).upper()
    assert listed(signed_in, q="ALP") == ["alpha"]
    assert listed(signed_in, q=colons) == ["Bravo"]


def test_the_list_shows_fingerprint_expiry_and_flags(
    signed_in: Client, cas: dict[str, CertificateAuthority]
) -> None:
    html = signed_in.get(reverse("authorities:list")).content.decode()
    bravo = cas["Bravo"]
    assert bravo.fingerprint in html
    assert f'<time datetime="{bravo.expires_at.isoformat()}"' in html
    assert "Auto enrollment" in html


def test_the_headers_keep_the_filters(signed_in: Client, cas: dict[str, CertificateAuthority]) -> None:
    html = signed_in.get(
        reverse("authorities:list"), {"state": "verified", "sort": "expiry"}
    ).content.decode()
    assert 'href="?state=verified&amp;sort=-expiry"' in html
    assert 'href="?state=verified&amp;sort=name"' in html


@pytest.mark.parametrize(
    "query", [{"sort": "fingerprint"}, {"use": "everything"}, {"state": "maybe"}, {"q": "x" * 999}]
)
def test_a_bad_value_is_ignored_not_an_error(
    signed_in: Client, cas: dict[str, CertificateAuthority], query: dict[str, str]
) -> None:
    assert len(listed(signed_in, **query)) == 3


def test_nothing_matching_says_so(signed_in: Client, cas: dict[str, CertificateAuthority]) -> None:
    html = signed_in.get(reverse("authorities:list"), {"q": "zulu"}).content.decode()
    assert "No certificate authorities match these filters." in html
