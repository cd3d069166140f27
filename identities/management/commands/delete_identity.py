"""`manage.py delete_identity NAME`: remove an identity; its pending tokens die with it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from identities.models import Identity
from identities.services import delete_identity
from kernel.commands import ControllerCommand


class Command(ControllerCommand):
    help = "Delete an identity with its authenticators and pending enrollments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        identity = Identity.objects.filter(name=options["name"]).first()
        if identity is None:
            raise CommandError(f'no identity is named "{options["name"]}"')
        delete_identity(identity)
        self.stdout.write(f'deleted identity "{identity.name}"')
