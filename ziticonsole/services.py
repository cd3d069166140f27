"""Start-up use cases of the controller as a whole."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from audit.models import Action, ObjectType
from audit.services import record
from kernel.errors import DomainError
from kernel.secrets import write_private_file

ADMIN_USERNAME = "admin"


def admin_password_path() -> Path:
    return Path(settings.DATA_DIR) / "admin-password"


# What in DATA_DIR holds a secret: keys, the database (tokens, sessions), the Django
# secret and the generated admin password.
SECRET_FILES = (
    "pki/*.key",
    "controller.sqlite3",
    "controller.sqlite3-wal",
    "controller.sqlite3-shm",
    "secret-key",
    "admin-password",
)


class UnsafeDataDirectory(DomainError):
    """A secret file in the data directory is open to other users."""


def secure_data_directory() -> None:
    """Make DATA_DIR (0700) if missing, tighten it if loose, and check its secret files.

    Run at every start, before anything is written: from then on the process creates
    files 0600 (its umask). A secret file found readable or writable by others was not
    made so by this start, so it is not silently fixed: UnsafeDataDirectory names it and
    the fix, and the start stops.
    """
    data_dir = Path(settings.DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for directory in (data_dir, data_dir / "pki"):
        if directory.is_dir():
            directory.chmod(0o700)  # our own directories; tightening them loses nothing
    for pattern in SECRET_FILES:
        for path in sorted(data_dir.glob(pattern)):
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                raise UnsafeDataDirectory(
                    f"{path} holds a secret and is open to other users (mode {mode:04o}). Check who "
                    f"could have read it, then run: chmod 600 {path}",
                    field=str(path),
                )


class WeakAdminPassword(DomainError):
    """The admin password from the environment fails the console's password rules."""


def _check_password(password: str, user: Any, source: str) -> None:
    """The console's password rules (AUTH_PASSWORD_VALIDATORS), or WeakAdminPassword."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise WeakAdminPassword(" ".join(exc.messages), field=source) from exc


def _write_generated_password(password: str) -> Path:
    path = admin_password_path()
    path.unlink(missing_ok=True)  # a stale file from a deleted database is not the password
    write_private_file(path, f"{password}\n".encode())
    return path


def ensure_admin(password: str | None) -> Path | None:
    """Create the console admin on first start.

    The password is `password` when given; otherwise it is generated and written to a
    mode-0600 file whose path is returned (None when nothing was generated). An existing
    admin is left alone, so restarts never reset a password. A given password must pass
    the same validators as one set in the console (WeakAdminPassword otherwise, and
    nothing is created).
    """
    user_model = get_user_model()
    if user_model.objects.filter(username=ADMIN_USERNAME).exists():
        return None
    if password:
        _check_password(password, user_model(username=ADMIN_USERNAME), "ZITI_ADMIN_PASSWORD")
    generated = not password
    password = password or secrets.token_urlsafe(18)
    try:
        user_model.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
    except IntegrityError:
        return None  # another process created it a moment ago
    if not generated:
        return None
    return _write_generated_password(password)


class UnknownAccount(DomainError):
    """No console account has that name."""


def reset_admin_password(username: str, password: str | None) -> Path | None:
    """Set a console account's password, for an admin locked out of the console.

    `password` must pass the console's password rules (WeakAdminPassword otherwise, and
    nothing changes); None generates one into DATA_DIR/admin-password (mode 0600) and
    returns that path. The account's other sessions end (Django ties a session to the
    password), and its failed-login throttle is lifted. Raises UnknownAccount.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise UnknownAccount(f'there is no console account "{username}"', field="username")
    if password is not None:
        _check_password(password, user, "password")
    chosen = password if password is not None else secrets.token_urlsafe(18)
    user.set_password(chosen)
    with transaction.atomic():
        user.save(update_fields=["password"])
        record(Action.PASSWORD_RESET, ObjectType.ADMIN, str(user.pk), username)
    axes_reset(username=username)
    return None if password is not None else _write_generated_password(chosen)


def change_admin_password(request: HttpRequest, form: PasswordChangeForm) -> None:
    """The signed-in admin's new password (`form` valid), recorded with it; this session
    stays signed in, the account's others end (Django ties sessions to the password)."""
    with transaction.atomic():
        user = form.save()
        record(Action.PASSWORD_CHANGED, ObjectType.ADMIN, str(user.pk), user.get_username())
    update_session_auth_hash(request, user)
