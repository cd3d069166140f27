"""`manage.py proxy_certificate NAME --out DIR`: credentials a TLS-terminating proxy proves itself with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authorities.services import write_proxy_credentials
from kernel.commands import ControllerCommand


class Command(ControllerCommand):
    help = (
        "Issue a client certificate and key for a proxy in front of the controller (nginx's "
        "proxy_ssl_certificate); the app believes the client certificates forwarded by its holder."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="what the proxy is called, e.g. its host name")
        parser.add_argument("--out", type=Path, required=True, help="directory for NAME.crt and NAME.key")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cert_path, key_path = write_proxy_credentials(options["out"], options["name"])
        except FileExistsError as exc:
            raise CommandError(f"{exc} already exists; not overwriting it") from exc
        self.stdout.write(f"Proxy certificate: {cert_path}\nProxy key (mode 0600): {key_path}")
