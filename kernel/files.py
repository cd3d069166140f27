"""Files the management commands hand out."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from kernel.secrets import write_private_file


def write_token_file(path: Path, token: str) -> None:
    """Write an enrollment JWT: atomically, mode 0600 (whoever reads it can enroll),
    and never over an existing file."""
    try:
        write_private_file(path, (token + "\n").encode())
    except FileExistsError as exc:
        raise CommandError(f"{path} already exists; not overwriting it") from exc
