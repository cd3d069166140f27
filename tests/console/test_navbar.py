"""The navbar: brand, sections and the signed-in user."""

from __future__ import annotations

import re

from django.test import Client


def test_the_navbar_names_the_console_and_the_user(signed_in: Client) -> None:
    html = signed_in.get("/identities/").content.decode()
    assert re.search(r"Ziti Controller\s*</a>", html)
    assert re.search(
        r'<a class="nav-link active"\s+aria-current="page"\s+href="/identities/">Identities</a>', html
    )
    assert '<span class="visually-hidden">Signed in as</span> admin' in html
    assert '<form method="post" action="/logout/">' in html


def test_the_navbar_marks_the_certificate_authorities_section(signed_in: Client) -> None:
    html = signed_in.get("/certificate-authorities/").content.decode()
    assert re.search(
        r'<a class="nav-link active"\s+aria-current="page"\s+href="/certificate-authorities/">'
        r"Certificate Authorities</a>",
        html,
    )
    assert re.search(r'<a class="nav-link"\s+href="/identities/">Identities</a>', html)
