"""Turning command-line arguments into identities, with a clear sentence when they miss."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import CommandError, CommandParser, OutputWrapper
from django.utils import timezone

from identities.models import Enrollment, Identity
from identities.services import enrollment_jwt
from kernel.files import write_token_file


def identity_by_name(name: str) -> Identity:
    """The identity with this name (or, failing that, this id)."""
    identity = Identity.objects.filter(name=name).first() or Identity.objects.filter(pk=name).first()
    if identity is None:
        raise CommandError(f'no identity is named "{name}"')
    return identity


def positive_hours(value: str) -> int:
    hours = int(value)
    if hours <= 0:
        raise ValueError(value)
    return hours


def expiry_in(hours: int | None) -> dt.datetime | None:
    return None if hours is None else timezone.now() + dt.timedelta(hours=hours)


def refuse_existing(output: Path | None) -> None:
    if output is not None and output.exists():
        raise CommandError(f"{output} already exists; not overwriting it")


def hand_out(
    enrollment: Enrollment, output: Path | None, stdout: OutputWrapper, stderr: OutputWrapper
) -> None:
    """The new token's JWT, on stdout or into `output` (mode 0600)."""
    token = enrollment_jwt(enrollment)
    if output is None:
        stdout.write(token)
        return
    write_token_file(output, token)
    until = f"{enrollment.expires_at:%Y-%m-%d %H:%M} UTC"
    stderr.write(f'new token for "{enrollment.identity.name}" in {output}, valid until {until}')


def add_new_token_arguments(parser: CommandParser) -> None:
    """--hours and --output, as every command that hands out a new token takes them."""
    parser.add_argument(
        "--hours",
        type=positive_hours,
        default=None,
        help="token lifetime (default: ZITI_ENROLLMENT_DURATION)",
    )
    parser.add_argument("-o", "--output", type=Path, help="write the JWT to this file instead of stdout")
