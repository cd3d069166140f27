"""An existing database migrates forward with its identities, tokens, certificates and CAs.

tests/fixtures/main-0001.sqlite3 was written by the services of main before the
enrollment records moved to identities/ (tests/fixtures/make_main_db.py says how).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "main-0001.sqlite3"

# The tables that exist before and after, and the one that moves.
KEPT = [
    "authorities_certificateauthority",
    "identities_identity",
    "identities_authenticator",
    "enrollment_apisession",
]
ENROLLMENTS_BEFORE, ENROLLMENTS_AFTER = "enrollment_enrollment", "identities_enrollment"

CHECK_WITH_THE_ORM = """
import json
from django.contrib.contenttypes.models import ContentType
from authorities.models import CaUse, CertificateAuthority
from enrollment.models import ApiSession
from identities.models import Enrollment, Identity
from identities.querysets import with_enrollment_state

ca = CertificateAuthority.objects.get()
print(json.dumps({
    "states": dict(with_enrollment_state(Identity.objects.all()).values_list("name", "enrollment_state")),
    "pending_ottca": Enrollment.objects.pending().filter(ca=ca).count(),
    "ca_usable_for": [use.name for use in CaUse if ca.refusal(use) is None],
    "ca_parses": ca.certificate.serial_number > 0,
    "sessions_of": list(ApiSession.objects.values_list("identity__name", flat=True)),
    "enrollment_content_type": list(
        ContentType.objects.filter(model="enrollment").values_list("app_label", flat=True)
    ),
}))
"""


def _rows(path: Path, table: str, columns: list[str] | None = None) -> list[tuple]:
    selected = ", ".join(columns) if columns else "*"
    with sqlite3.connect(path) as db:
        rows = sorted(db.execute(f"SELECT {selected} FROM {table}").fetchall())  # noqa: S608 - our table names
    db.close()
    return rows


def _columns(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as db:
        names = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    db.close()
    return names


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    return names


def _manage(database: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ziticonsole.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "ZITI_DATA_DIR": str(tmp_path / "data"),
        "DJANGO_SECRET_KEY": "test",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_database_of_main_migrates_forward_intact(tmp_path):
    database = tmp_path / "controller.sqlite3"
    shutil.copyfile(FIXTURE, database)
    before = {table: _rows(database, table) for table in KEPT}
    columns = {table: _columns(database, table) for table in KEPT}
    enrollments = _rows(database, ENROLLMENTS_BEFORE)
    # The fixture holds what it should.
    assert len(enrollments) == 3
    assert all(before.values())

    migrated = _manage(database, tmp_path, "migrate", "--no-input")

    assert migrated.returncode == 0, migrated.stderr
    # Columns added since keep the old ones as they were.
    assert {table: _rows(database, table, columns[table]) for table in KEPT} == before
    # The key hash of every certificate enrolled before the lifecycle work is filled in.
    hashes = _rows(database, "identities_authenticator", ["public_key_sha256"])
    assert hashes
    assert all(len(value) == 64 for (value,) in hashes)
    assert _rows(database, ENROLLMENTS_AFTER) == enrollments
    assert ENROLLMENTS_BEFORE not in _tables(database)
    checked = _manage(database, tmp_path, "shell", "-c", CHECK_WITH_THE_ORM)
    assert checked.returncode == 0, checked.stderr
    # The shell may chat before the one line the check prints.
    assert json.loads(checked.stdout.strip().splitlines()[-1]) == {
        "states": {
            "laptop": "pending",
            "sensor-ottca": "pending",
            "phone": "enrolled",
            "Fleet-sensor-7": "enrolled",
        },
        "pending_ottca": 1,
        "ca_usable_for": ["OTT_ENROLLMENT", "AUTO_ENROLLMENT", "AUTHENTICATION"],
        "ca_parses": True,
        "sessions_of": ["Fleet-sensor-7"],
        "enrollment_content_type": ["identities"],
    }


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_enrollment_rows_on_this_database(django_db_blocker):
    """The same move on whichever database the suite runs on (SQLite or PostgreSQL)."""
    before = [("identities", "0001_initial"), ("enrollment", "0001_initial"), ("authorities", "0001_initial")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        identity = old.get_model("identities", "Identity").objects.create(
            id="id1", name="laptop", identity_type="Device"
        )
        old.get_model("enrollment", "Enrollment").objects.create(
            id="en1", identity=identity, method="ott", token="t" * 43, expires_at=timezone.now()
        )

        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        new = executor.loader.project_state(latest).apps

        moved = new.get_model("identities", "Enrollment").objects.get()
        assert (moved.id, moved.token, moved.identity_id) == ("en1", "t" * 43, "id1")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
