"""`manage.py export_root_key FILE`: take the root CA key offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authorities.errors import KeyUnavailable
from authorities.services import take_root_key_offline
from kernel.commands import ControllerCommand


class Command(ControllerCommand):
    help = (
        "Move the root CA key out of the data directory into FILE (mode 0600), for safekeeping "
        "offline. The controller runs without it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="where to write the key; never overwritten")

    def handle(self, *args: Any, **options: Any) -> None:
        destination: Path = options["file"]
        try:
            source = take_root_key_offline(destination)
        except FileExistsError as exc:
            raise CommandError(f"{destination} already exists; not overwriting it") from exc
        except KeyUnavailable as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Root CA key written to {destination} (mode 0600) and removed from {source.parent}.\n"
            "Keep it offline. The controller needs it back (at "
            f"{source}) only to re-issue the server certificate (a new address, or near its end) "
            "or to make a new signing CA."
        )
