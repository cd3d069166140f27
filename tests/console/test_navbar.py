"""The navbar: brand, sections, the signed-in user, and a CA link only where CA pages exist."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import URLResolver, include, path

from ziticonsole.urls import urlpatterns as project_urlpatterns


def _authorities_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("certificate authorities")


def _urlconf(*, with_ca_pages: bool) -> ModuleType:
    """The project's URLconf, with or without a stand-in for the CA console."""
    module = ModuleType(f"urls_{'with' if with_ca_pages else 'without'}_ca_pages")
    patterns = [
        p for p in project_urlpatterns if not (isinstance(p, URLResolver) and p.namespace == "authorities")
    ]
    if with_ca_pages:
        patterns.append(
            path("authorities/", include(([path("", _authorities_page, name="list")], "authorities")))
        )
    module.urlpatterns = patterns  # type: ignore[attr-defined]
    return module


@pytest.fixture
def signed_in(client: Client, admin: AbstractBaseUser) -> Client:
    client.force_login(admin)
    return client


def test_the_navbar_names_the_console_and_the_user(signed_in: Client) -> None:
    html = signed_in.get("/identities/").content.decode()
    assert re.search(r"Ziti Controller\s*</a>", html)
    assert re.search(
        r'<a class="nav-link active"\s+aria-current="page"\s+href="/identities/">Identities</a>', html
    )
    assert '<span class="visually-hidden">Signed in as</span> admin' in html
    assert '<form method="post" action="/logout/">' in html


@pytest.mark.parametrize("with_ca_pages", [True, False])
def test_the_ca_link_is_there_only_with_ca_pages(
    signed_in: Client, settings: object, with_ca_pages: bool
) -> None:
    settings.ROOT_URLCONF = _urlconf(with_ca_pages=with_ca_pages)  # type: ignore[attr-defined]
    html = signed_in.get("/identities/").content.decode()
    assert ('href="/authorities/">Certificate Authorities</a>' in html) is with_ca_pages
