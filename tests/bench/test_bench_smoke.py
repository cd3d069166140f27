"""`python -m bench --quick` end to end, with tiny counts: every section, no errors.

It checks that the benchmark runs and measures what it says; it asserts nothing
about speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from numbers import Number
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent

MEASUREMENT_FIELDS = (
    "ok",
    "errors",
    "elapsed_s",
    "rate_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "server_cpu_cores",
    "client_cpu_cores",
)


def run_bench(out: Path) -> dict[str, Any]:
    # The benchmark makes its own data dir; the test suite's settings must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZITI_", "DJANGO_", "DATABASE_URL"))}
    args = [
        "--quick",
        "--no-postgres",
        "--enrollments",
        "5",
        "--auto",
        "5",
        "--console-identities",
        "50",
        "--console-repeats",
        "2",
        "--time-limit",
        "30",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())


def assert_measured(summary: dict[str, Any], count: int) -> None:
    for name in MEASUREMENT_FIELDS:
        assert isinstance(summary[name], Number), (name, summary)
    assert summary["ok"] == count, summary
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["rate_per_s"] > 0


def test_the_quick_benchmark_measures_every_section_without_errors(tmp_path: Path):
    results = run_bench(tmp_path / "results.json")

    assert results["databases"]["postgresql"]["status"] == "skipped"
    sqlite = results["databases"]["sqlite"]
    assert sqlite["status"] == "ok", sqlite.get("reason")

    assert [m["concurrency"] for m in sqlite["ott_enrollment"]] == [1, 4, 16]
    for ott, floor, ratio in zip(
        sqlite["ott_enrollment"], sqlite["floor"], sqlite["enrollment_vs_floor"], strict=True
    ):
        assert_measured(ott, 5)
        assert_measured(floor, 5)
        assert ratio["enrollment_over_floor"] > 0

    assert_measured(sqlite["auto_enrollment"], 5)

    console = sqlite["console"]
    assert console["identities_seeded"] == 50
    for page in console["pages"].values():
        assert page["median_ms"] > 0
    counts = console["query_count"]
    # 5 x 3 levels + 5 x 2 worker runs of ott identities, 5 auto-enrolled, then 50 more.
    assert counts["before_seeding"]["identities_total"] == 30
    assert counts["after_seeding"]["identities_total"] == 80
    for moment in counts.values():
        assert moment["default_page"]["queries"] > 0
        assert moment["search"]["queries"] > 0

    workers = sqlite["workers"]
    assert [run["workers"] for run in workers["runs"]] == [1, 2]
    for run in workers["runs"]:
        assert_measured(run["ott_enrollment"], 5)
        assert_measured(run["floor"], 5)
    assert workers["gain"]["ott_enrollment"] > 0
    assert workers["gain"]["floor"] > 0
