"""One benchmark run: every scenario on SQLite, then on PostgreSQL when it is reachable."""

from __future__ import annotations

import datetime as dt
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import scenarios, wrk
from bench.config import BenchConfig
from bench.controller import Deployment, ServerProcess
from bench.postgres import (
    PostgresUnavailable,
    create_bench_database,
    database_name,
    drop_bench_database,
    redacted,
)
from bench.serving import ServingBench


def progress(message: str) -> None:
    print(f"{dt.datetime.now():%H:%M:%S} {message}", file=sys.stderr, flush=True)


class DatabaseRun:
    """All scenarios against one database, each server on the same data directory."""

    def __init__(
        self, config: BenchConfig, label: str, database_url: str | None, workdir: Path, shim: Path | None
    ) -> None:
        self.config, self.label, self.workdir = config, label, workdir
        self.deployment = Deployment(
            data_dir=workdir / "var", database_url=database_url, admin_password=secrets.token_urlsafe(24)
        )
        self.server: ServerProcess | None = None
        self.supply: scenarios.OttSupply | None = None
        self.shim = shim
        self.serving_bench = ServingBench(config.serving_plan, shim, self.say)
        self.tls: dict[str, Any] | None = None
        self.seeded = 0

    def say(self, message: str) -> None:
        progress(f"[{self.label}] {message}")

    @property
    def wrk_skipped(self) -> str | None:
        if not wrk.available():
            return f"{wrk.WRK} is not installed"
        return None

    @contextmanager
    def serving(self, workers: int, *, proxy_socket: bool = False) -> Iterator[ServerProcess]:
        self.say(f"starting manage.py serve with ZITI_WORKERS={workers}")
        with ServerProcess(
            self.deployment, workers, self.config.server_threads, proxy_socket=proxy_socket
        ) as server:
            self.server = server
            scenarios.warm_up(server)
            if self.supply is None and not self.config.console_only:
                # After the first start: serve has migrated the database and made the PKI,
                # whose server certificate the TLS limit's nginx presents.
                count = self.config.python_tokens_needed
                if self.wrk_skipped is None:
                    self.tls = self.serving_bench.tls_limit(server)
                    count += self.config.serving_plan.tokens_needed(self.tls["units_per_s"])
                self.say(f"seeding {count} identities with JWTs for ott enrollment")
                self.supply = scenarios.seed_ott_enrollments(self.deployment, count, self.workdir / "jwt")
                self.seeded = count
            yield server

    def run(self) -> dict[str, Any]:
        config = self.config
        result: dict[str, Any] = {"status": "running", "server_threads": config.server_threads}
        if config.console_only:
            with self.serving(config.workers) as server:
                result["server_workers"] = config.workers
                self.console_scenario(server, result)
            return {**result, "status": "ok"}
        worker_runs = []
        # The main server last, so it can also serve its own workers measurement.
        order = [w for w in dict.fromkeys(config.worker_counts) if w != config.workers] + [config.workers]
        if config.serving_only:
            order = [config.workers]
        for workers in order:
            main = workers == config.workers
            with self.serving(workers, proxy_socket=main) as server:
                assert self.supply is not None
                if main:
                    result["serving"] = self.serving_paths(server)
                if config.serving_only:
                    continue
                if workers in config.worker_counts:
                    self.say(f"workers={workers}: floor and ott enrollment at c={config.workers_concurrency}")
                    worker_runs.append(
                        scenarios.workers_run(
                            server,
                            self.supply,
                            config.workers_count,
                            config.workers_concurrency,
                            config.time_limit_s,
                        )
                    )
                if workers == config.workers:
                    result["server_workers"] = workers
                    self.main_scenarios(server, result)
        result["workers"] = {
            "concurrency": config.workers_concurrency,
            "count": config.workers_count,
            "runs": sorted(worker_runs, key=lambda r: r["workers"]),
            "gain": scenarios.workers_gain(worker_runs),
        }
        result["ott_tokens_seeded"] = self.seeded
        result["status"] = "ok"
        return result

    def serving_paths(self, server: ServerProcess) -> dict[str, Any]:
        """The headline: wrk against the TLS limit and each serving path."""
        if self.wrk_skipped is not None:
            self.say(f"serving paths skipped: {self.wrk_skipped}")
            return {"status": "skipped", "reason": self.wrk_skipped}
        assert self.supply is not None
        assert self.tls is not None
        return {"status": "ok", **self.serving_bench.run(server, self.supply, self.tls)}

    def main_scenarios(self, server: ServerProcess, result: dict[str, Any]) -> None:
        config = self.config
        self.say(f"auto enrollment of {config.auto} devices at c={config.auto_concurrency}")
        result["auto_enrollment"] = scenarios.auto_enrollment(
            server, config.auto, config.auto_concurrency, config.time_limit_s, self.workdir
        )
        self.console_scenario(server, result)

    def console_scenario(self, server: ServerProcess, result: dict[str, Any]) -> None:
        config = self.config
        self.say(f"console with {config.console_identities} more identities")
        result["console"] = scenarios.console_at_scale(
            server, config.console_identities, config.console_repeats
        )


def run_database(
    config: BenchConfig, label: str, database_url: str | None, shim: Path | None
) -> dict[str, Any]:
    """Every scenario on one database; a failure is recorded, not raised."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ziti-bench-{label}-"))
    database_run = DatabaseRun(config, label, database_url, workdir, shim)
    started = time.perf_counter()
    try:
        result = database_run.run()
    except Exception as exc:
        database_run.say(f"FAILED: {exc}")
        result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        if database_run.server is not None:
            result["server_log_tail"] = database_run.server.log_tail()
    finally:
        # Keys, JWTs and device keys of this run: nobody needs them afterwards.
        shutil.rmtree(workdir, ignore_errors=True)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def run_postgres(config: BenchConfig, shim: Path | None) -> dict[str, Any]:
    if not config.postgres:
        return {"status": "skipped", "reason": "--no-postgres"}
    try:
        url = create_bench_database(config.postgres_url)
    except PostgresUnavailable as exc:
        progress(f"[postgresql] skipped: {exc}")
        return {"status": "skipped", "reason": f"PostgreSQL unreachable: {exc}"}
    progress(f"[postgresql] fresh database {redacted(url)}")
    try:
        result = run_database(config, "postgresql", url, shim)
    finally:
        # Every server of the run has stopped by now, so nothing holds the database.
        drop_error = drop_bench_database(config.postgres_url)
    if drop_error:
        progress(f"[postgresql] could not drop {database_name()}: {drop_error}")
        result["drop_error"] = drop_error
    return result


def host_facts() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "note": "client and server processes share these CPUs",
        "load_average_at_start": os.getloadavg(),
    }


def run(config: BenchConfig) -> dict[str, Any]:
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    results: dict[str, Any] = {
        "benchmark": "ziti identity controller",
        "started_at": started.isoformat(timespec="seconds"),
        "host": host_facts(),
        "options": config.as_json(),
        "databases": {},
    }
    with tempfile.TemporaryDirectory(prefix="ziti-bench-shim-") as shim_dir:
        shim = wrk.build_shim(Path(shim_dir)) if wrk.available() else None
        if wrk.available() and shim is None:
            progress("no C compiler: wrk may resume TLS sessions where a server allows it")
        results["full_handshakes_forced"] = shim is not None
        results["databases"]["sqlite"] = run_database(config, "sqlite", None, shim)
        results["databases"]["postgresql"] = run_postgres(config, shim)
    results["host"]["load_average_at_end"] = os.getloadavg()
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["wall_s"] = round(time.perf_counter() - clock, 1)
    return results
