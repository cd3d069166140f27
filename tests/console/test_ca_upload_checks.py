"""The Add CA form explains a certificate that cannot issue device certificates, takes
a DER file, and never sends a pasted private key back to the browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from authorities.models import CertificateAuthority
from tests.authorities.test_issuer_checks import NO_USAGE, ca_certificate, pem
from tests.console.test_ca_pages import add_ca
from tests.console.test_ca_views import text_of
from tests.helpers import make_ca


def key_pem_of(test_ca) -> str:
    return test_ca.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_a_pasted_private_key_is_refused_and_not_sent_back(signed_in: Client, db: None) -> None:
    fleet = make_ca()
    key = key_pem_of(fleet)

    response = signed_in.post(
        reverse("authorities:create"), {"name": "Fleet CA", "certificate_pem": fleet.pem + key}
    )

    assert response.status_code == 200
    assert "Treat that key as exposed" in text_of(response)
    assert key.splitlines()[1] not in response.content.decode()
    assert "BEGIN PRIVATE KEY" not in response.content.decode()
    assert not CertificateAuthority.objects.exists()


def test_a_ca_without_key_usage_is_explained_under_the_field(signed_in: Client, db: None) -> None:
    response = signed_in.post(
        reverse("authorities:create"),
        {"name": "Fleet CA", "certificate_pem": pem(ca_certificate(usage=NO_USAGE))},
    )

    field = text_of(response).split('id="div_id_certificate_pem"', 1)[1]
    assert "has no keyUsage extension" in field
    assert not CertificateAuthority.objects.exists()


@pytest.mark.browser
def test_in_the_browser_a_key_is_refused_a_weak_ca_explained_and_a_der_file_taken(
    console: Page, tmp_path: Path
) -> None:
    fleet = make_ca()
    add_ca(console, "Fleet CA", pem=fleet.pem + key_pem_of(fleet))
    expect(console.locator("#div_id_certificate_pem")).to_contain_text("Treat that key as exposed")
    expect(console.get_by_label("Or paste the PEM")).to_have_value("")

    add_ca(console, "Fleet CA", pem=pem(ca_certificate(usage=NO_USAGE)))
    expect(console.locator("#div_id_certificate_pem")).to_contain_text(
        "every device certificate it signs would fail validation"
    )
    assert not CertificateAuthority.objects.exists()

    der = tmp_path / "fleet-ca.cer"
    der.write_bytes(fleet.cert.public_bytes(serialization.Encoding.DER))
    add_ca(console, "Fleet CA", pem_file=der)
    expect(console.get_by_role("status")).to_contain_text("Added CA Fleet CA")
    assert CertificateAuthority.objects.get().certificate == fleet.cert
