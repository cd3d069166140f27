"""What every management command of the controller shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from kernel.actors import Actor, acting_as


def require_started() -> None:
    """Refuse to run before the controller's first start, touching nothing.

    Before it, the data directory or the database schema is missing; a command would
    otherwise fail deep inside with "no such table", or leave a stray directory behind.
    """
    data_dir = Path(settings.DATA_DIR)
    hint = (
        f"the controller has not been started with the data directory {data_dir} yet: start it "
        "once (make run, or manage.py serve), or set ZITI_DATA_DIR to the directory it uses"
    )
    if not (data_dir / "pki").is_dir():
        raise CommandError(hint)
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3") and not Path(database["NAME"]).exists():
        raise CommandError(hint)  # connecting would create an empty database
    try:
        tables = connection.introspection.table_names()
    except Exception as exc:  # any database error means: not reachable as configured
        raise CommandError(
            f"cannot reach the database ({type(exc).__name__}: {exc}); check DATABASE_URL"
        ) from exc
    if "django_migrations" not in tables:  # the first start migrates; the kernel names no app
        raise CommandError(hint)


class ControllerCommand(BaseCommand):
    """A command on the controller's data: it runs only after the first start."""

    def execute(self, *args: Any, **options: Any) -> Any:
        require_started()
        # What the command changes is recorded as the command's: its name, from the CLI.
        with acting_as(Actor("command", type(self).__module__.rsplit(".", 1)[-1], channel="cli")):
            return super().execute(*args, **options)
