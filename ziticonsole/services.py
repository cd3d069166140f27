"""Start-up use cases of the controller as a whole."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from kernel.errors import DomainError
from kernel.secrets import write_private_file

ADMIN_USERNAME = "admin"


def admin_password_path() -> Path:
    return Path(settings.DATA_DIR) / "admin-password"


class WeakAdminPassword(DomainError):
    """The admin password from the environment fails the console's password rules."""


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
        try:
            validate_password(password, user_model(username=ADMIN_USERNAME))
        except ValidationError as exc:
            raise WeakAdminPassword(" ".join(exc.messages), field="ZITI_ADMIN_PASSWORD") from exc
    generated = not password
    password = password or secrets.token_urlsafe(18)
    try:
        user_model.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
    except IntegrityError:
        return None  # another process created it a moment ago
    if not generated:
        return None
    path = admin_password_path()
    path.unlink(missing_ok=True)  # a stale file from a deleted database is not the password
    write_private_file(path, f"{password}\n".encode())
    return path
