"""What one benchmark run does: counts, concurrencies and limits, from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.postgres import DEFAULT_URL, redacted
from bench.serving import Plan


@dataclass(frozen=True)
class BenchConfig:
    enrollments: int | None  # per Python-client measurement; None: the default rule
    quick: bool
    serving_only: bool  # the wrk headline alone, without the Python-client scenarios
    console_only: bool  # the console at scale alone: seeding, its pages, its queries
    wrk_clients: int  # the headline's client count
    wrk_many_clients: int  # the zero-error check's
    wrk_duration_s: int  # wrk -d of each headline run
    wrk_many_duration_s: int
    wrk_max_tokens: int  # per ott run: bounds the seeding
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
        """A fixed count per measurement, enough to keep every client busy for a while."""
        if self.enrollments is not None:
            return self.enrollments
        return max(20, 5 * concurrency) if self.quick else max(50, 10 * concurrency)

    @property
    def workers_count(self) -> int:
        return self.enrollments_at(self.workers_concurrency)

    @property
    def python_tokens_needed(self) -> int:
        """Tokens of the Python-client measurements (the workers comparison)."""
        return self.workers_count * len(self.worker_counts)

    @property
    def serving_plan(self) -> Plan:
        return Plan(
            clients=self.wrk_clients,
            many_clients=self.wrk_many_clients,
            duration_s=self.wrk_duration_s,
            many_duration_s=self.wrk_many_duration_s,
            max_tokens_per_run=self.wrk_max_tokens,
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["postgres_url"] = redacted(self.postgres_url)
        data["out"] = str(self.out)
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
    p.add_argument(
        "--serving-only", action="store_true", help="only the wrk headline: TLS limit and serving paths"
    )
    p.add_argument(
        "--console-only",
        action="store_true",
        help="only the console at scale: seed --console-identities, time the list pages, count queries",
    )
    p.add_argument("--wrk-clients", type=_positive, default=16, help="wrk connections of the headline")
    p.add_argument(
        "--wrk-many-clients", type=_positive, default=256, help="wrk connections of the zero-error check"
    )
    p.add_argument(
        "--wrk-duration", type=_positive, help="seconds of each headline wrk run (default 10; quick 3)"
    )
    p.add_argument(
        "--wrk-many-duration", type=_positive, help="seconds of the zero-error run (default 10; quick 3)"
    )
    p.add_argument(
        "--wrk-max-tokens",
        type=_positive,
        help="tokens per wrk ott run at the most (default 20000; quick 1500)",
    )
    p.add_argument(
        "--enrollments",
        type=_positive,
        help="Python-client enrollments per measurement (default max(50, 10*c); quick max(20, 5*c))",
    )
    p.add_argument("--auto", type=_positive, help="auto enrollments (default 2000; quick 50)")
    p.add_argument("--auto-concurrency", type=_positive, default=16)
    p.add_argument("--console-identities", type=_positive, help="default 100000; quick 2000")
    p.add_argument("--console-repeats", type=_positive, help="timed GETs per page (default 7; quick 3)")
    p.add_argument("--workers", type=_positive, default=2, help="ZITI_WORKERS of the main server (default 2)")
    p.add_argument("--server-threads", type=_positive, default=8, help="ZITI_SERVER_THREADS per worker")
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
        enrollments=args.enrollments,
        quick=quick,
        serving_only=args.serving_only,
        console_only=args.console_only,
        wrk_clients=args.wrk_clients,
        wrk_many_clients=args.wrk_many_clients,
        wrk_duration_s=args.wrk_duration or (3 if quick else 10),
        wrk_many_duration_s=args.wrk_many_duration or (3 if quick else 10),
        wrk_max_tokens=args.wrk_max_tokens or (1500 if quick else 20_000),
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
