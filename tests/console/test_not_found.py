"""A missing page answers 404 in the console's own look."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_a_missing_identity_is_a_404_page_in_the_console(client):
    client.force_login(get_user_model().objects.create_superuser("admin", password="x"))

    response = client.get("/identities/no-such-id/")

    assert response.status_code == 404
    assert b"Back to identities" in response.content
    assert b"Certificate Authorities" in response.content  # the navbar, signed in


def test_an_unknown_address_is_a_404_page_for_anyone(client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert b"There is nothing here" in response.content
    assert b"Log out" not in response.content
