"""create_identity and delete_identity management commands."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from identities.models import Enrollment, Identity

pytestmark = pytest.mark.django_db


def create(*args: str) -> str:
    out = StringIO()
    call_command("create_identity", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def decode(token: str, pki) -> dict:
    return jwt.decode(token, pki.server_cert.public_key(), algorithms=["RS256"])


def test_it_prints_an_rs256_jwt_signed_with_the_server_key(pki, settings):
    token = create("device", "sensor-1")

    identity = Identity.objects.get(name="sensor-1")
    enrollment = Enrollment.objects.get(identity=identity)
    claims = decode(token, pki)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert claims == {
        "em": "ott",
        "iss": f"https://{settings.ZITI_CTRL_ADDRESS}:{settings.ZITI_CTRL_PORT}",
        "sub": identity.id,
        "jti": enrollment.token,
        "exp": int(enrollment.expires_at.timestamp()),
        "name": "sensor-1",
    }
    assert identity.identity_type == "Device"


def test_the_token_lives_24_hours_by_default(pki):
    before = timezone.now()
    create("user", "alice")

    expires_at = Enrollment.objects.get().expires_at
    assert dt.timedelta(hours=24) <= expires_at - before < dt.timedelta(hours=24, minutes=1)


def test_duration_and_role_attributes_are_honoured(pki):
    before = timezone.now()
    create("service", "billing", "--duration", "30", "--role-attributes", "db, payments,,db")

    identity = Identity.objects.get()
    assert identity.identity_type == "Service"
    assert identity.role_attributes == ["db", "payments"]
    assert Enrollment.objects.get().expires_at - before < dt.timedelta(minutes=31)


def test_it_writes_the_jwt_to_a_file(pki, tmp_path):
    target = tmp_path / "laptop.jwt"
    create("device", "laptop", "-o", str(target))

    assert decode(target.read_text().strip(), pki)["name"] == "laptop"


def test_it_never_overwrites_a_file(pki, tmp_path):
    target = tmp_path / "taken.jwt"
    target.write_text("keep me")

    with pytest.raises(CommandError, match="already exists"):
        create("device", "laptop", "-o", str(target))

    assert target.read_text() == "keep me"
    assert not Identity.objects.exists()


def test_a_duplicate_name_is_refused_and_creates_nothing(pki):
    create("device", "twin")

    with pytest.raises(CommandError, match='"twin" already exists'):
        create("user", "twin")

    assert Identity.objects.count() == 1
    assert Enrollment.objects.count() == 1


@pytest.mark.parametrize("bad_type", ["router", "", "devices"])
def test_a_bad_type_is_refused_and_creates_nothing(pki, bad_type):
    with pytest.raises(CommandError, match="not an identity type"):
        create(bad_type, "thing")

    assert not Identity.objects.exists()


@pytest.mark.parametrize("duration", ["0", "-5", "soon"])
def test_a_bad_duration_is_refused(pki, duration):
    with pytest.raises(CommandError):
        create("device", "thing", "--duration", duration)

    assert not Identity.objects.exists()


def test_delete_identity_removes_it_and_its_tokens(pki):
    create("device", "gone")

    call_command("delete_identity", "gone", stdout=StringIO())

    assert not Identity.objects.exists()
    assert not Enrollment.objects.exists()


def test_deleting_an_unknown_identity_is_a_clear_error(pki):
    with pytest.raises(CommandError, match='no identity is named "ghost"'):
        call_command("delete_identity", "ghost", stdout=StringIO())


def test_the_commands_exit_non_zero_from_the_shell(pki, tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    env = {
        "PATH": "/usr/bin:/bin",
        "ZITI_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "ziticonsole.settings",
    }
    root = settings.BASE_DIR
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=root, env=env, check=True)
    # The JWT needs the server key: bootstrap as `serve` would.
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from authorities.pki import bootstrap_pki; bootstrap_pki()",
        ],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    first = subprocess.run(
        [sys.executable, "manage.py", "create_identity", "device", "x"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    second = subprocess.run(
        [sys.executable, "manage.py", "create_identity", "device", "x"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )

    assert first.returncode == 0
    assert first.stdout.count(".") == 2
    assert second.returncode != 0
    assert "already exists" in second.stderr
