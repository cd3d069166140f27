"""What one benchmark run does: counts, concurrencies and limits, from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.postgres import DEFAULT_URL, redacted

FULL_CONCURRENCY = (1, 4, 16, 64)
QUICK_CONCURRENCY = (1, 4, 16)


@dataclass(frozen=True)
class BenchConfig:
    concurrency: tuple[int, ...]
    enrollments: int | None  # per concurrency level; None: the default rule
    quick: bool
    auto: int
    auto_concurrency: int
    console_identities: int
    console_repeats: int
    workers: int  # of the server for the main measurements
    server_threads: int
    worker_counts: tuple[int, ...]  # compared at workers_concurrency
    workers_concurrency: int
    time_limit_s: float  # per measurement
    postgres: bool
    postgres_url: str
    out: Path

    def enrollments_at(self, concurrency: int) -> int:
        """A fixed count per level, enough to keep every client busy for a while."""
        if self.enrollments is not None:
            return self.enrollments
        return max(20, 5 * concurrency) if self.quick else max(50, 10 * concurrency)

    @property
    def level_counts(self) -> dict[int, int]:
        return {c: self.enrollments_at(c) for c in self.concurrency}

    @property
    def workers_count(self) -> int:
        return self.enrollments_at(self.workers_concurrency)

    @property
    def ott_tokens_needed(self) -> int:
        return sum(self.level_counts.values()) + self.workers_count * len(self.worker_counts)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["postgres_url"] = redacted(self.postgres_url)
        data["out"] = str(self.out)
        data["enrollments_per_level"] = {str(c): n for c, n in self.level_counts.items()}
        return data


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{number} is not positive")
    return number


def _positive_list(value: str) -> tuple[int, ...]:
    try:
        numbers = tuple(_positive(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{value}" is not a comma-separated list of numbers') from None
    if not numbers:
        raise argparse.ArgumentTypeError("the list is empty")
    return numbers


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the controller: a real `manage.py serve` process on a fresh data dir.",
    )
    p.add_argument("--quick", action="store_true", help="small counts: a fast run, and the smoke test's")
    p.add_argument("--concurrency", type=_positive_list, help="levels, e.g. 1,4,16,64 (quick: 1,4,16)")
    p.add_argument(
        "--enrollments",
        type=_positive,
        help="enrollments per level (default max(50, 10*c); quick max(20, 5*c))",
    )
    p.add_argument("--auto", type=_positive, help="auto enrollments (default 2000; quick 50)")
    p.add_argument("--auto-concurrency", type=_positive, default=16)
    p.add_argument("--console-identities", type=_positive, help="default 100000; quick 2000")
    p.add_argument("--console-repeats", type=_positive, help="timed GETs per page (default 7; quick 3)")
    p.add_argument(
        "--workers", type=_positive, default=os.cpu_count() or 1, help="ZITI_WORKERS of the main server"
    )
    p.add_argument("--server-threads", type=_positive, default=32, help="ZITI_SERVER_THREADS per worker")
    p.add_argument(
        "--worker-counts", type=_positive_list, default=(1, 2), help="ZITI_WORKERS values compared"
    )
    p.add_argument("--workers-concurrency", type=_positive, default=16)
    p.add_argument(
        "--time-limit", type=float, default=300.0, metavar="SECONDS", help="upper bound of each measurement"
    )
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL))
    p.add_argument("--out", type=Path, help="JSON results (default bench-results/<timestamp>.json)")
    return p


def from_args(argv: list[str] | None = None) -> BenchConfig:
    args = parser().parse_args(argv)
    quick = args.quick
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return BenchConfig(
        concurrency=args.concurrency or (QUICK_CONCURRENCY if quick else FULL_CONCURRENCY),
        enrollments=args.enrollments,
        quick=quick,
        auto=args.auto or (50 if quick else 2000),
        auto_concurrency=args.auto_concurrency,
        console_identities=args.console_identities or (2000 if quick else 100_000),
        console_repeats=args.console_repeats or (3 if quick else 7),
        workers=args.workers,
        server_threads=args.server_threads,
        worker_counts=args.worker_counts,
        workers_concurrency=args.workers_concurrency,
        time_limit_s=args.time_limit,
        postgres=not args.no_postgres,
        postgres_url=args.postgres_url,
        out=args.out or Path("bench-results") / f"{stamp}.json",
    )
