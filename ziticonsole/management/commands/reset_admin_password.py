"""`manage.py reset_admin_password [USERNAME]`: a new console password, for a locked-out admin."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from kernel.commands import ControllerCommand
from kernel.errors import DomainError
from ziticonsole.services import ADMIN_USERNAME, reset_admin_password


class Command(ControllerCommand):
    help = (
        "Set a console account's password (default account: admin). It asks for it twice on a "
        "terminal; --password-file reads it from a file (- for standard input); --generate makes "
        "one into the data directory's admin-password file (mode 0600). Other sessions of the "
        "account end and its login throttle is lifted."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", nargs="?", default=ADMIN_USERNAME)
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--password-file", type=Path, metavar="FILE", help="first line is the password")
        source.add_argument(
            "--generate", action="store_true", help="generate one into DATA_DIR/admin-password"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = None if options["generate"] else self._password(options["password_file"])
        try:
            path = reset_admin_password(options["username"], password)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        # The password itself is never printed: it would end up in a terminal's scrollback.
        where = f"; it is in {path}, readable by you only" if path else ""
        self.stderr.write(f'set a new password for the console account "{options["username"]}"{where}')

    def _password(self, source: Path | None) -> str:
        if source is not None:
            try:
                text = sys.stdin.readline() if str(source) == "-" else source.read_text()
            except OSError as exc:
                raise CommandError(f"cannot read {source}: {exc.strerror}") from exc
            lines = text.splitlines()
            if not lines or not lines[0]:
                raise CommandError(f"{source} holds no password on its first line")
            return lines[0]
        if not sys.stdin.isatty():
            raise CommandError("no terminal to ask on: give --password-file FILE (or -) or --generate")
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Again: "):
            raise CommandError("the two passwords differ; nothing changed")
        return first
