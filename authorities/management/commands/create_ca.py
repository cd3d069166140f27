"""`manage.py create_ca NAME --cert FILE ...`: register a third-party CA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from authorities.errors import CertificateAuthorityError
from authorities.services import ca_summary, create_certificate_authority
from kernel.commands import ControllerCommand


class Command(ControllerCommand):
    help = "Register a third-party CA (unverified) and print its verification token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--cert", type=Path, required=True, help="PEM file holding the CA certificate")
        parser.add_argument("--ott-enrollment", action="store_true", help="allow OTT CA (ottca) enrollment")
        parser.add_argument("--auto-enrollment", action="store_true", help="allow auto (ca) enrollment")
        parser.add_argument("--auth", action="store_true", help="allow its certificates to authenticate")
        parser.add_argument(
            "--identity-roles", default="", help="comma-separated roles of auto-enrolled identities"
        )
        parser.add_argument("--identity-name-format", default=None, help="default: [caName]-[commonName]")
        parser.add_argument("--json", action="store_true", help="print the CA as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pem = options["cert"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['cert']}: {exc.strerror}") from exc
        try:
            ca = create_certificate_authority(
                name=options["name"],
                certificate_pem=pem,
                ott_ca_enrollment=options["ott_enrollment"],
                auto_ca_enrollment=options["auto_enrollment"],
                auth_enabled=options["auth"],
                identity_roles=options["identity_roles"].split(","),
                identity_name_format=options["identity_name_format"],
            )
        except CertificateAuthorityError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(ca_summary(ca), indent=2))
            return
        self.stdout.write(f'registered CA "{ca.name}" ({ca.id}), not verified yet')
        self.stdout.write(f"verification token: {ca.verification_token}")
