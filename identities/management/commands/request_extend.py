"""`manage.py request_extend NAME [--roll-keys]`: ask a device to renew its certificate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from identities.errors import IdentityError
from identities.management.lookup import identity_by_name
from identities.services import request_certificate_extension
from kernel.commands import ControllerCommand


class Command(ControllerCommand):
    help = "Ask an identity's device to renew its certificate at its next authentication."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the identity's name")
        parser.add_argument("--roll-keys", action="store_true", help="and to make a new key")

    def handle(self, *args: Any, **options: Any) -> None:
        identity = identity_by_name(options["name"])
        authenticators = list(identity.authenticators.all())
        if not authenticators:
            raise CommandError(f'"{identity.name}" has no certificate to renew')
        for authenticator in authenticators:
            try:
                request_certificate_extension(authenticator, roll_keys=options["roll_keys"])
            except IdentityError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f'asked "{identity.name}" to renew its certificate')
