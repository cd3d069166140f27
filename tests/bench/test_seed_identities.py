"""seed_identities: many Device identities with pending tokens, in one go."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from identities.errors import IdentityNameTaken, InvalidIdentity
from identities.models import Enrollment, Identity
from identities.services import create_identity, seed_identities

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    err = StringIO()
    call_command("seed_identities", *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def test_it_creates_device_identities_with_pending_ott_enrollments():
    before = timezone.now()

    seed("25", "--prefix", "fleet", "--batch-size", "7")

    identities = Identity.objects.all()
    assert sorted(i.name for i in identities) == sorted(f"fleet-{k}" for k in range(1, 26))
    assert {i.identity_type for i in identities} == {"Device"}
    enrollments = Enrollment.objects.pending()
    assert enrollments.count() == 25
    assert {e.method for e in enrollments} == {"ott"}
    assert set(enrollments.values_list("identity__name", flat=True)) == {i.name for i in identities}
    for enrollment in enrollments:
        assert dt.timedelta(hours=24) <= enrollment.expires_at - before < dt.timedelta(hours=24, minutes=1)


def test_every_identity_gets_its_own_id_and_token():
    enrollments = seed_identities(300, prefix="many", batch_size=64)

    ids = set(Identity.objects.values_list("id", flat=True))
    tokens = set(Enrollment.objects.values_list("token", flat=True))
    assert len(ids) == len(tokens) == 300
    assert {e.identity_id for e in enrollments} == ids
    assert all(len(i) == 10 for i in ids)


def test_the_default_prefix_and_a_chosen_duration():
    before = timezone.now()

    seed("3", "--duration", "30")

    assert set(Identity.objects.values_list("name", flat=True)) == {"seed-1", "seed-2", "seed-3"}
    for expires_at in Enrollment.objects.values_list("expires_at", flat=True):
        assert dt.timedelta(minutes=29) < expires_at - before < dt.timedelta(minutes=31)


def decode(path: Path, pki) -> dict:
    return jwt.decode(path.read_text().strip(), pki.server_cert.public_key(), algorithms=["RS256"])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_jwts_verify_against_the_server_certificate(pki, tmp_path, jobs, monkeypatch):
    # A low threshold sends even a small run through the process pool.
    monkeypatch.setattr("identities.management.commands.seed_identities.POOL_THRESHOLD", 2)
    jwt_dir = tmp_path / "jwts"

    seed("6", "--prefix", "dev", "--jwt-dir", str(jwt_dir), "--jobs", jobs)

    files = sorted(jwt_dir.iterdir())
    assert [f.name for f in files] == sorted(f"dev-{k}.jwt" for k in range(1, 7))
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600
        claims = decode(path, pki)
        enrollment = Enrollment.objects.select_related("identity").get(token=claims["jti"])
        assert claims["em"] == "ott"
        assert claims["sub"] == enrollment.identity_id
        assert claims["name"] == enrollment.identity.name == path.stem
        assert claims["exp"] == int(enrollment.expires_at.timestamp())


def test_a_taken_name_creates_nothing():
    create_identity(name="dev-7", identity_type="user")

    with pytest.raises(CommandError, match='"dev-7" already exists'):
        seed("10", "--prefix", "dev")

    assert list(Identity.objects.values_list("name", flat=True)) == ["dev-7"]
    assert Enrollment.objects.count() == 1


def test_the_service_refuses_a_taken_name_too():
    seed_identities(2, prefix="twice")

    with pytest.raises(IdentityNameTaken):
        seed_identities(3, prefix="twice")

    assert Identity.objects.count() == 2


def test_an_existing_jwt_file_creates_nothing(tmp_path):
    jwt_dir = tmp_path / "jwts"
    jwt_dir.mkdir()
    (jwt_dir / "dev-2.jwt").write_text("keep me")

    with pytest.raises(CommandError, match=r"dev-2\.jwt already exist"):
        seed("3", "--prefix", "dev", "--jwt-dir", str(jwt_dir))

    assert (jwt_dir / "dev-2.jwt").read_text() == "keep me"
    assert [p.name for p in jwt_dir.iterdir()] == ["dev-2.jwt"]
    assert not Identity.objects.exists()


@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("0", "0 is not a positive number"),
        ("-5", "-5 is not a positive number"),
        ("many", "not a whole number"),
    ],
)
def test_a_bad_count_is_a_clear_error(count, message):
    with pytest.raises(CommandError, match=message):
        seed(count)

    assert not Identity.objects.exists()


@pytest.mark.parametrize("prefix", ["", "   ", "tab\tprefix", "x" * 254])
def test_a_bad_prefix_is_refused(prefix):
    with pytest.raises(CommandError):
        seed("3", "--prefix", prefix)

    assert not Identity.objects.exists()


def test_the_service_refuses_a_count_below_one():
    with pytest.raises(InvalidIdentity, match="positive"):
        seed_identities(0, prefix="none")
