"""`manage.py import_identities FILE.csv --jwt-zip OUT.zip`: create identities in bulk."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from identities.errors import IdentityError
from identities.models import IdentityImport, ImportState
from identities.services import IMPORT_HEADER, import_identities, import_jwts
from kernel.commands import ControllerCommand
from kernel.responses import zip_stream
from kernel.secrets import write_private_file


class Command(ControllerCommand):
    help = (
        f"Create the identities of a CSV file ({IMPORT_HEADER}), as the console's import does, "
        "and write their enrollment JWTs into one ZIP (mode 0600). A file with any bad row creates "
        "nothing, unless --only-valid says to create the good rows only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="UTF-8 CSV; the first line names the columns")
        parser.add_argument("--jwt-zip", type=Path, metavar="OUT.zip", help="write the JWTs into this ZIP")
        parser.add_argument(
            "--only-valid", action="store_true", help="create the rows without problems, leave out the rest"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source: Path = options["file"]
        target: Path | None = options["jwt_zip"]
        if target is not None and target.exists():
            raise CommandError(f"{target} already exists; not overwriting it")
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {source}: {exc.strerror}") from exc
        # Django's stderr wrapper ends every write with a newline; the bar needs its \r.
        stream = getattr(self.stderr, "_out", sys.stderr)
        with tqdm(desc="identities", unit=" created", file=stream, dynamic_ncols=True) as bar:

            def progress(batch: IdentityImport) -> None:
                bar.total = batch.total
                bar.update(batch.next_row - bar.n)

            try:
                batch = import_identities(
                    data, only_valid=options["only_valid"], file_name=source.name, on_progress=progress
                )
            except IdentityError as exc:
                raise CommandError(exc.message) from exc
        left_out = len(batch.rows_with_problems)
        summary = f"created {len(batch.created_ids)} identities"
        if left_out:
            summary += f", left out {left_out} rows with problems"
        if target is not None and batch.created_ids:
            write_private_file(target, b"".join(zip_stream(import_jwts(batch))))
            summary += f"; their JWTs are in {target}"
        self.stderr.write(summary)
        if batch.state == ImportState.STOPPED:
            raise CommandError(f"stopped at {batch.stop_reason}; the identities before it exist")
