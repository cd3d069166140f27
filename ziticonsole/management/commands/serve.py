"""`manage.py serve`: migrate, bootstrap the PKI and the admin, then serve HTTPS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from authorities.errors import KeyUnavailable
from authorities.pki import bootstrap_pki, record_controller_url
from kernel.secrets import read_or_create_secret
from ziticonsole import runner
from ziticonsole.services import (
    UnsafeDataDirectory,
    WeakAdminPassword,
    ensure_admin,
    secure_data_directory,
)


class Command(BaseCommand):
    help = "Prepare the data directory on first start and serve the console and API over HTTPS."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-migrate", action="store_true", help="skip database migrations")

    def handle(self, *args: Any, **options: Any) -> None:
        # Everything this process creates (database, keys, secrets) is for its owner only.
        os.umask(0o077)
        try:
            secure_data_directory()
        except UnsafeDataDirectory as exc:
            raise CommandError(exc.message) from exc
        if not settings.SECRET_KEY_FROM_ENV:
            # The first start keeps the secret for every later process and worker.
            settings.SECRET_KEY = read_or_create_secret(Path(settings.DATA_DIR) / "secret-key")
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        try:
            bootstrap_pki()
        except KeyUnavailable as exc:
            raise CommandError(exc.message) from exc
        try:
            password_file = ensure_admin(os.environ.get("ZITI_ADMIN_PASSWORD"))
        except WeakAdminPassword as exc:
            raise CommandError(
                f"ZITI_ADMIN_PASSWORD is too weak: {exc.message} Set a stronger one, or unset it to have "
                "a password generated."
            ) from exc
        url = record_controller_url()
        self.stdout.write(f"Ziti controller console and API: {url}/")
        if password_file is not None:
            self.stdout.write(f"Console login: admin, password in {password_file} (created now, mode 0600)")
        self.stdout.flush()
        status = runner.serve(settings.ZITI_CTRL_BIND, settings.ZITI_CTRL_LISTEN_PORT, settings.ZITI_WORKERS)
        if status:
            raise SystemExit(status)
