"""The console's CSV import: upload, a preview with each row's problems, creation with a
progress bar, one ZIP of JWTs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from identities.models import Identity, IdentityImport, ImportState
from tests.console.layout import NARROW, sideways_overflow
from tests.console.test_ca_views import text_of
from tests.identities.test_import import GOOD


def upload(client: Client, data: bytes, name: str = "fleet.csv"):
    return client.post(reverse("identities:import-upload"), {"file": SimpleUploadedFile(name, data)})


def test_an_unreadable_file_is_explained_under_the_file_input(signed_in: Client) -> None:
    response = upload(signed_in, b"nom,type\nx,device\n")

    assert response.status_code == 200
    field = text_of(response).split('id="div_id_file"', 1)[1]
    assert 'the column "nom" is not one of name,type,role_attributes,ca' in field
    assert not IdentityImport.objects.exists()


def test_the_preview_lists_problems_and_offers_only_the_good_rows(signed_in: Client) -> None:
    response = upload(signed_in, GOOD + b"robot,droid,,\n")
    batch = IdentityImport.objects.get()
    assert response["Location"] == reverse("identities:import", args=[batch.pk])

    page = text_of(signed_in.get(response["Location"]))

    assert "3 rows: 2 can be created, 1 has problems. Nothing has been created yet." in page
    assert '"droid" is not an identity type' in page
    assert "Create only the 2 good rows" in page
    refused = signed_in.post(reverse("identities:import-confirm", args=[batch.pk]), follow=True)
    assert "Nothing was created: 1 row of the file has problems" in text_of(refused)
    assert not Identity.objects.exists()


def test_the_step_answers_json_for_the_page_s_script(signed_in: Client) -> None:
    upload(signed_in, GOOD)
    batch = IdentityImport.objects.get()
    signed_in.post(reverse("identities:import-confirm", args=[batch.pk]))

    response = signed_in.post(
        reverse("identities:import-step", args=[batch.pk]), HTTP_ACCEPT="application/json"
    )

    assert json.loads(response.content) == {"state": "done", "created": 2, "total": 2, "percent": 100}
    zipped = signed_in.get(reverse("identities:import-jwts", args=[batch.pk]))
    assert zipped["Content-Type"] == "application/zip"
    assert "no-cache" in zipped["Cache-Control"]
    assert zipped["Content-Disposition"] == 'attachment; filename="fleet-jwts.zip"'


def test_every_import_page_needs_a_login_and_each_change_its_csrf_token(strict: Client, db: None) -> None:
    upload_response = strict.post(
        reverse("identities:import-upload"), {"file": SimpleUploadedFile("a.csv", GOOD)}
    )
    assert upload_response.status_code == 403
    batch = IdentityImport.objects.create(rows=[], state=ImportState.RUNNING)
    for name in ("import-confirm", "import-step"):
        assert strict.post(reverse(f"identities:{name}", args=[batch.pk])).status_code == 403
    anonymous = Client()
    for name in ("import", "import-jwts"):
        assert anonymous.get(reverse(f"identities:{name}", args=[batch.pk])).status_code == 302
    assert anonymous.get(reverse("identities:import-upload")).status_code == 302


@pytest.mark.browser
def test_in_the_browser_a_fleet_is_previewed_created_with_progress_and_zipped(
    console: Page, tmp_path: Path
) -> None:
    # The most a file may hold: 10,000 rows, one of them bad.
    rows = b"".join(f"sensor-{k},device,plant;floor-{k % 3},\n".encode() for k in range(9_999))
    source = tmp_path / "plant.csv"
    source.write_bytes(b"name,type,role_attributes,ca\n" + rows + b"broken,droid,,\n")
    console.set_viewport_size(NARROW)

    console.goto("/identities/new/")
    console.get_by_role("link", name="Import them from a CSV file").click()
    console.get_by_label("CSV file").set_input_files(source)
    console.get_by_role("button", name="Check the file").click()

    expect(console.get_by_text("10,000 rows: 9,999 can be created, 1 has problems.")).to_be_visible()
    problems = console.get_by_role("table", name="Rows with problems")
    expect(problems).to_contain_text('"droid" is not an identity type')
    expect(problems).to_contain_text("10001")
    assert sideways_overflow(console) <= 0
    assert not Identity.objects.exists()

    console.get_by_role("button", name="Create only the 9,999 good rows").click()
    # The script posts one step after another (500 rows each), then shows the result.
    progress = console.get_by_role("progressbar")
    expect(progress).to_be_visible()
    expect(console.get_by_role("status")).to_have_text(
        "Created 9,999 identities; 1 row with problems was left out.", timeout=120_000
    )
    assert Identity.objects.count() == 9_999
    with console.expect_download() as info:
        console.get_by_role("link", name="Download their JWTs (ZIP)").click()
    archive = zipfile.ZipFile(info.value.path())
    assert len(archive.namelist()) == 9_999
    assert "sensor-7.jwt" in archive.namelist()
    assert sideways_overflow(console) <= 0
