"""Bulk provisioning from a CSV file: a preview with each row's problems, creation in
chunks through create_identity, one ZIP of JWTs; the same from the CLI."""

from __future__ import annotations

import io
import time
import zipfile
from io import StringIO
from pathlib import Path

import jwt
import pytest
from django.core.management import CommandError, call_command

from identities.errors import InvalidIdentity
from identities.models import Enrollment, Identity, IdentityImport, ImportState
from identities.services import (
    MAX_IMPORT_ROWS,
    confirm_identity_import,
    continue_identity_import,
    create_identity,
    import_identities,
    import_jwts,
    read_identity_csv,
    start_identity_import,
)
from kernel.responses import zip_stream
from tests.console.test_ca_views import registered_ca, verified

pytestmark = pytest.mark.django_db

GOOD = b"name,type,role_attributes,ca\nlaptop-1,device,sales;laptops,\nalice,User,,\n"


def problems_by_line(data: bytes) -> dict[int, list[str]]:
    return {row["line"]: row["problems"] for row in read_identity_csv(data) if row["problems"]}


def test_the_preview_reads_every_row_and_creates_nothing():
    rows = read_identity_csv(GOOD)

    assert [(r["name"], r["type"], r["roles"], r["ca"], r["problems"]) for r in rows] == [
        ("laptop-1", "Device", ["sales", "laptops"], None, []),
        ("alice", "User", [], None, []),
    ]
    assert not Identity.objects.exists()


def test_the_preview_names_each_row_s_problems_by_the_rules_of_create_identity():
    create_identity(name="Taken", identity_type="Device")
    registered_ca("Unverified CA")
    data = (
        b"name,type,role_attributes,ca\n"
        b"ok,device,,\n"
        b",device,,\n"
        b"robot,droid,,\n"
        b"bell,device,a\x07b,\n"
        b"taken,device,,\n"
        b"twice,device,,\n"
        b"TWICE,device,,\n"
        b"nowhere,device,,No Such CA\n"
        b"early,device,,Unverified CA\n"
        b"long,device,,,extra\n"
    )

    assert problems_by_line(data) == {
        3: ["an identity needs a name"],
        4: ['"droid" is not an identity type; choose one of user, device, service'],
        5: ['the role attribute "a\\x07b" contains a control character'],
        6: ['an identity named "taken" already exists'],
        8: ["the name is on line 7 already"],
        9: ['there is no certificate authority "No Such CA"'],
        10: ['the certificate authority "Unverified CA" is not verified yet'],
        11: ["5 cells, but the first line names 4 columns"],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"name,type\n", "has no rows"),
        (b"nom,type\nx,device\n", 'the column "nom" is not one of'),
        (b"name,name\nx,y\n", "each once"),
        ("name,type\nb\xe9b\xe9,device\n".encode("latin-1"), "not UTF-8 text"),
        (b"name,type\n" + b"d,device\n" * (MAX_IMPORT_ROWS + 1), f"at most {MAX_IMPORT_ROWS}"),
    ],
    ids=["empty", "no rows", "unknown column", "repeated column", "latin-1", "too many rows"],
)
def test_a_file_that_cannot_be_read_is_refused_as_a_whole(data, message):
    with pytest.raises(InvalidIdentity, match=message) as caught:
        read_identity_csv(data)

    assert caught.value.field == "file"


def test_a_file_with_a_bad_row_creates_nothing_unless_the_admin_chooses_the_good_rows():
    batch = start_identity_import(read_identity_csv(GOOD + b"robot,droid,,\n"), "fleet.csv")

    with pytest.raises(InvalidIdentity, match="1 row of the file has problems"):
        confirm_identity_import(batch, only_valid=False)
    assert not Identity.objects.exists()

    batch = confirm_identity_import(batch, only_valid=True)
    batch = continue_identity_import(batch)

    assert batch.state == ImportState.DONE
    assert sorted(Identity.objects.values_list("name", flat=True)) == ["alice", "laptop-1"]
    assert sorted(Identity.objects.values_list("pk", flat=True)) == sorted(batch.created_ids)


def test_rows_are_created_a_chunk_at_a_time_and_once_only():
    data = b"name,type\n" + b"".join(f"d-{k},device\n".encode() for k in range(5))
    batch = confirm_identity_import(start_identity_import(read_identity_csv(data)), only_valid=False)

    batch = continue_identity_import(batch, chunk=2)
    assert (batch.state, batch.next_row, Identity.objects.count()) == (ImportState.RUNNING, 2, 2)
    for _ in range(5):  # more steps than needed: the extra ones change nothing
        batch = continue_identity_import(batch, chunk=2)

    assert (batch.state, batch.next_row, Identity.objects.count()) == (ImportState.DONE, 5, 5)
    with pytest.raises(InvalidIdentity, match="started already"):
        confirm_identity_import(batch, only_valid=False)


def test_a_row_that_fails_after_the_preview_stops_the_import_at_its_chunk():
    data = b"name,type\n" + b"".join(f"d-{k},device\n".encode() for k in range(4))
    batch = confirm_identity_import(start_identity_import(read_identity_csv(data)), only_valid=False)
    batch = continue_identity_import(batch, chunk=2)
    create_identity(name="D-3", identity_type="Device")  # someone else, meanwhile

    batch = continue_identity_import(batch, chunk=2)

    assert batch.state == ImportState.STOPPED
    assert batch.stop_reason == 'line 5 (d-3): an identity named "d-3" already exists'
    # The failed chunk rolled back whole: d-2 is not there either.
    assert sorted(Identity.objects.values_list("name", flat=True)) == ["D-3", "d-0", "d-1"]
    assert len(batch.created_ids) == 2


def test_the_zip_holds_a_jwt_per_pending_identity_signed_now(pki):
    fleet, key = registered_ca("Fleet CA", ott_ca_enrollment=True)
    verified(fleet, key)
    data = GOOD + b"sensor/7,device,plant,fleet ca\n"
    batch = import_identities(data)

    archive = zipfile.ZipFile(io.BytesIO(b"".join(zip_stream(import_jwts(batch)))))

    assert sorted(archive.namelist()) == ["alice.jwt", "laptop-1.jwt", "sensor_7.jwt"]
    claims = jwt.decode(archive.read("sensor_7.jwt"), pki.server_cert.public_key(), algorithms=["RS256"])
    enrollment = Enrollment.objects.get(identity__name="sensor/7")
    assert (claims["em"], claims["jti"], claims["sub"]) == ("ottca", enrollment.token, enrollment.identity_id)
    assert IdentityImport.objects.get().rows[2]["roles"] == ["plant"]


def test_the_import_keeps_no_token(pki):
    batch = import_identities(GOOD)

    stored = str(IdentityImport.objects.filter(pk=batch.pk).values_list("rows", "created_ids").get())
    for token in Enrollment.objects.values_list("token", flat=True):
        assert token not in stored


def run(*args: str) -> str:
    err = StringIO()
    call_command("import_identities", *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def test_the_cli_imports_with_a_progress_bar_and_writes_a_private_zip(tmp_path: Path, pki):
    source = tmp_path / "fleet.csv"
    source.write_bytes(GOOD)
    target = tmp_path / "out.zip"

    said = run(str(source), "--jwt-zip", str(target))

    assert "created 2 identities; their JWTs are in" in said
    assert "2/2" in said  # tqdm's bar
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(zipfile.ZipFile(target).namelist()) == ["alice.jwt", "laptop-1.jwt"]


def test_the_cli_refuses_a_file_with_a_bad_row_and_creates_nothing(tmp_path: Path, pki):
    source = tmp_path / "fleet.csv"
    source.write_bytes(GOOD + b"robot,droid,,\n")

    with pytest.raises(CommandError, match=r'1 row of the file has problems, the first on line 4: "droid"'):
        run(str(source), "--jwt-zip", str(tmp_path / "out.zip"))
    assert not Identity.objects.exists()
    assert not (tmp_path / "out.zip").exists()

    said = run(str(source), "--only-valid")
    assert "created 2 identities, left out 1 rows with problems" in said


def test_the_cli_never_writes_over_a_zip(tmp_path: Path, pki):
    source, target = tmp_path / "fleet.csv", tmp_path / "out.zip"
    source.write_bytes(GOOD)
    target.write_bytes(b"keep")

    with pytest.raises(CommandError, match="already exists"):
        run(str(source), "--jwt-zip", str(target))
    assert target.read_bytes() == b"keep"
    assert not Identity.objects.exists()


def test_ten_thousand_rows_import_and_zip(tmp_path: Path, pki):
    source, target = tmp_path / "fleet.csv", tmp_path / "out.zip"
    source.write_bytes(
        b"name,type,role_attributes\n" + b"".join(f"dev-{k},device,fleet\n".encode() for k in range(10_000))
    )

    started = time.monotonic()
    run(str(source), "--jwt-zip", str(target))
    elapsed = time.monotonic() - started

    assert Identity.objects.count() == 10_000
    assert len(zipfile.ZipFile(target).namelist()) == 10_000
    print(f"10,000 rows imported and zipped in {elapsed:.1f} s")


def test_problems_name_the_line_an_editor_shows_blank_lines_and_all():
    data = b'name,type\n\nok,device\n"two\nlines",droid\n\nlast,droid\n'

    assert list(problems_by_line(data)) == [5, 7]
