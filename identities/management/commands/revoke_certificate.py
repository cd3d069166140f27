"""`manage.py revoke_certificate NAME`: revoke the certificate(s) an identity holds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from authorities.models import RevocationReason
from identities.management.lookup import identity_by_name
from identities.services import revoke_identity_certificate
from kernel.commands import ControllerCommand
from kernel.errors import DomainError


class Command(ControllerCommand):
    help = "Revoke an identity's certificate (RFC 5280 reason code); it never authenticates again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the identity's name")
        parser.add_argument(
            "--reason",
            default=RevocationReason.UNSPECIFIED.value,
            help=f"one of {', '.join(r.value for r in RevocationReason)} (default unspecified)",
        )
        parser.add_argument(
            "--serial", help="only the certificate with this hex serial (default: every one it holds)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        identity = identity_by_name(options["name"])
        authenticators = identity.authenticators.all()
        if options["serial"]:
            authenticators = authenticators.filter(serial=options["serial"].lower().removeprefix("0x"))
        if not authenticators:
            raise CommandError(f'"{identity.name}" holds no such certificate')
        for authenticator in authenticators:
            try:
                revoked = revoke_identity_certificate(authenticator, options["reason"])
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(f'revoked serial {revoked.serial} of "{identity.name}" ({revoked.reason})')
