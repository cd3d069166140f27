"""`manage.py create_identity TYPE NAME`: create an identity and hand out its enrollment JWT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authorities.management.lookup import ca_by_name
from authorities.pki import address_warning
from identities.errors import IdentityError
from identities.services import create_identity, enrollment_jwt
from kernel.commands import ControllerCommand
from kernel.files import write_token_file


def _positive_minutes(value: str) -> int:
    minutes = int(value)
    if minutes <= 0:
        raise ValueError(value)
    return minutes


class Command(ControllerCommand):
    help = "Create an identity and print (or write) its one-time enrollment JWT."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("type", help="user, device or service (fixed once created)")
        parser.add_argument("name", help="unique identity name")
        parser.add_argument("-o", "--output", type=Path, help="write the JWT to this file instead of stdout")
        parser.add_argument("--role-attributes", default="", help="comma-separated role attributes")
        parser.add_argument(
            "--duration",
            type=_positive_minutes,
            default=None,
            metavar="MINUTES",
            help="token lifetime in minutes (default: ZITI_ENROLLMENT_DURATION)",
        )
        parser.add_argument(
            "--ca", metavar="CA_NAME", help="enroll with a certificate from this third-party CA (ottca)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path | None = options["output"]
        if output is not None and output.exists():
            raise CommandError(f"{output} already exists; not overwriting it")
        ca = ca_by_name(options["ca"]) if options["ca"] else None
        try:
            identity, enrollment = create_identity(
                name=options["name"],
                identity_type=options["type"],
                role_attributes=options["role_attributes"].split(","),
                enrollment_minutes=options["duration"],
                ca=ca,
            )
        except IdentityError as exc:
            raise CommandError(str(exc)) from exc
        token = enrollment_jwt(enrollment)
        if (warning := address_warning()) is not None:
            self.stderr.write(warning)
        if output is None:
            self.stdout.write(token)
            return
        write_token_file(output, token)
        self.stderr.write(
            f'created {identity.identity_type.lower()} "{identity.name}" ({identity.id}); JWT in {output}'
        )
