"""`manage.py export_audit [--since DATE] [--until DATE] [--output FILE]`: the audit trail
as JSON lines, one record a line, oldest first, for shipping to a SIEM."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.template.defaultfilters import pluralize
from django.utils.dateparse import parse_date, parse_datetime

from audit.errors import AuditError
from audit.services import export_trail
from kernel.commands import ControllerCommand


def moment(value: str) -> dt.datetime:
    """An ISO date (midnight UTC) or date and time; a time without a zone is UTC."""
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(value)
        parsed = dt.datetime.combine(day, dt.time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class Command(ControllerCommand):
    help = "Export the audit trail as JSON lines (since <= time < until)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="first moment, ISO 8601 (2026-03-01 or 2026-03-01T12:00Z)")
        parser.add_argument("--until", help="end of the period, not included, ISO 8601")
        parser.add_argument("--output", type=Path, help="write here instead of stdout")

    def _moment(self, option: str, value: str | None) -> dt.datetime | None:
        if value is None:
            return None
        try:
            return moment(value)
        except ValueError as exc:
            raise CommandError(f"--{option}: {value!r} is not a date or date and time (ISO 8601)") from exc

    def handle(self, *args: Any, **options: Any) -> None:
        since = self._moment("since", options["since"])
        until = self._moment("until", options["until"])
        output: Path | None = options["output"]
        if output is not None and output.exists():
            raise CommandError(f"{output} already exists; not overwriting it")
        try:
            lines = export_trail(since, until)
        except AuditError as exc:
            raise CommandError(exc.message) from exc
        count = 0
        if output is None:
            for line in lines:
                self.stdout.write(line)
                count += 1
        else:
            with output.open("x", encoding="utf-8") as stream:
                for line in lines:
                    stream.write(line + "\n")
                    count += 1
        self.stderr.write(f"exported {count} audit record{pluralize(count)} to {output or 'stdout'}")
