"""`manage.py ca_jwt NAME [-o FILE]`: the reusable auto-enrollment JWT of a CA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authorities.errors import CertificateAuthorityError
from authorities.management.lookup import ca_by_name
from authorities.pki import address_warning
from authorities.services import ca_enrollment_jwt
from kernel.commands import ControllerCommand
from kernel.files import write_token_file


class Command(ControllerCommand):
    help = "Print (or write) the auto-enrollment JWT of a verified CA with auto enrollment on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("-o", "--output", type=Path, help="write the JWT to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        ca = ca_by_name(options["name"])
        try:
            token = ca_enrollment_jwt(ca)
        except CertificateAuthorityError as exc:
            raise CommandError(f'CA "{ca.name}": {exc.message}') from exc
        if (warning := address_warning()) is not None:
            self.stderr.write(warning)
        output: Path | None = options["output"]
        if output is None:
            self.stdout.write(token)
            return
        write_token_file(output, token)
        self.stderr.write(f'wrote the auto-enrollment JWT of CA "{ca.name}" to {output}')
