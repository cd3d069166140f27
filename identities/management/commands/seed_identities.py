"""`manage.py seed_identities N`: many Device identities with pending tokens, fast.

For load tests and demos: `seed_identities 100000` takes seconds, not the minutes that
100,000 calls of create_identity would.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from identities.errors import IdentityError
from identities.models import Enrollment
from identities.services import enrollment_jwt, seed_identities, seed_identity_names
from kernel.commands import ControllerCommand
from kernel.secrets import write_private_file

# Below this many JWTs a process pool costs more than the ~1 ms RSA signature each saves.
POOL_THRESHOLD = 500


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{value}" is not a whole number') from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{number} is not a positive number")
    return number


def _write_jwts(directory: Path, enrollments: Sequence[Enrollment]) -> int:
    for enrollment in enrollments:
        # 0600 and never over an existing file: until redeemed, a JWT is a credential.
        write_private_file(
            directory / f"{enrollment.identity.name}.jwt", (enrollment_jwt(enrollment) + "\n").encode()
        )
    return len(enrollments)


def _write_jwts_in_parallel(directory: Path, enrollments: list[Enrollment], jobs: int) -> None:
    if jobs <= 1 or len(enrollments) < POOL_THRESHOLD:
        _write_jwts(directory, enrollments)
        return
    # Forked workers only sign and write files, then leave through os._exit: they never
    # use, nor close, the database connection they inherit.
    chunk = -(-len(enrollments) // jobs)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(_write_jwts, directory, enrollments[start : start + chunk])
            for start in range(0, len(enrollments), chunk)
        ]
        for future in futures:
            future.result()


class Command(ControllerCommand):
    help = "Create N Device identities PREFIX-1 ... PREFIX-N, each with a pending one-time token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=_positive_int, metavar="N", help="how many identities")
        parser.add_argument("--prefix", default="seed", help="name prefix (default: seed)")
        parser.add_argument(
            "--jwt-dir", type=Path, help="write each enrollment JWT to DIR/<name>.jwt (mode 0600)"
        )
        parser.add_argument(
            "--duration",
            type=_positive_int,
            default=None,
            metavar="MINUTES",
            help="token lifetime in minutes (default: ZITI_ENROLLMENT_DURATION)",
        )
        parser.add_argument("--batch-size", type=_positive_int, default=2000, help="rows per INSERT")
        parser.add_argument(
            "--jobs",
            type=_positive_int,
            default=os.cpu_count() or 1,
            help="processes signing JWTs (default: one per CPU)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        jwt_dir: Path | None = options["jwt_dir"]
        try:
            names = seed_identity_names(count, options["prefix"])
        except IdentityError as exc:
            raise CommandError(str(exc)) from exc
        if jwt_dir is not None:
            self._refuse_existing_files(jwt_dir, names)
        try:
            enrollments = seed_identities(
                count,
                prefix=options["prefix"],
                enrollment_minutes=options["duration"],
                batch_size=options["batch_size"],
            )
        except IdentityError as exc:
            raise CommandError(f"nothing created: {exc}") from exc
        self.stderr.write(f"created {count} device identities {names[0]} ... {names[-1]}")
        if jwt_dir is None:
            return
        try:
            _write_jwts_in_parallel(jwt_dir, enrollments, options["jobs"])
        except FileExistsError as exc:
            raise CommandError(
                f"{exc.filename} appeared meanwhile; the identities exist, some JWTs were not written"
            ) from exc
        self.stderr.write(f"wrote {count} JWTs to {jwt_dir}")

    def _refuse_existing_files(self, jwt_dir: Path, names: list[str]) -> None:
        if jwt_dir.exists() and not jwt_dir.is_dir():
            raise CommandError(f"{jwt_dir} is not a directory; nothing created")
        # One directory listing instead of a stat per name.
        present = {entry.name for entry in jwt_dir.iterdir()} if jwt_dir.is_dir() else set()
        existing = [jwt_dir / f"{name}.jwt" for name in names if f"{name}.jwt" in present]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise CommandError(f"{existing[0]}{more} already exist(s); not overwriting, nothing created")
