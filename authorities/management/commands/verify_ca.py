"""`manage.py verify_ca NAME --cert FILE`: prove possession of a CA's key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authorities.errors import CertificateAuthorityError
from authorities.management.lookup import ca_by_name
from authorities.services import verify_certificate_authority
from kernel.commands import ControllerCommand


class Command(ControllerCommand):
    help = "Verify a CA with a certificate whose CN is its verification token, signed by the CA."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--cert", type=Path, required=True, help="PEM verification certificate")

    def handle(self, *args: Any, **options: Any) -> None:
        ca = ca_by_name(options["name"])
        if ca.is_verified:
            self.stdout.write(f'CA "{ca.name}" is already verified; nothing to do')
            return
        try:
            pem = options["cert"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['cert']}: {exc.strerror}") from exc
        try:
            verify_certificate_authority(ca, pem)
        except CertificateAuthorityError as exc:
            raise CommandError(f'CA "{ca.name}" not verified: {exc}') from exc
        self.stdout.write(f'CA "{ca.name}" is verified')
