"""`python -m bench --quick` end to end, with tiny counts: every section, no errors.

It checks that the benchmark runs and measures what it says; it asserts nothing
about speed. It needs wrk and nginx (.ci/run installs them); without them it skips,
except in CI, where that is a failure.
"""

from __future__ import annotations

import os
from numbers import Number
from pathlib import Path
from typing import Any

import pytest

from bench import nginx, wrk
from tests.bench.running import run_bench

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


WRK_FIELDS = (
    "units",
    "units_per_s",
    "ratio_to_tls_limit",
    "p50_ms",
    "p99_ms",
    "errors",
    "server_cpu_ms_per_unit",
    "client_cpu_cores",
)


def tools_available() -> None:
    missing = [tool for tool, ok in (("wrk", wrk.available()), ("nginx", nginx.available())) if not ok]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} required in CI (.ci/run installs them)")
        pytest.skip(f"{', '.join(missing)} not installed")


def run_quick_bench(out: Path) -> dict[str, Any]:
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
        # wrk runs bounded in time (2 s each) and in tokens.
        "--wrk-duration",
        "2",
        "--wrk-many-duration",
        "2",
        "--wrk-max-tokens",
        "400",
    ]
    results, _report = run_bench(args, out)
    return results


def assert_measured(summary: dict[str, Any], count: int) -> None:
    for name in MEASUREMENT_FIELDS:
        assert isinstance(summary[name], Number), (name, summary)
    assert summary["ok"] == count, summary
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["rate_per_s"] > 0


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tools_available()
    return run_quick_bench(tmp_path_factory.mktemp("bench") / "results.json")


def assert_wrk_measured(run: dict[str, Any]) -> None:
    for name in WRK_FIELDS:
        assert isinstance(run[name], Number), (name, run)
    assert run["units"] > 0, run
    assert isinstance(run["errors"], int)
    # At the headline's 16 clients any error is a bug; at 256 errors are a figure (a target).
    if run["clients"] <= 16:
        assert run["errors"] == 0, (run["error_kinds"], run["non_200"], run.get("nginx_error_log_tail"))
    assert run["full_handshakes_forced"], "wrk's shim was not built"


# Each serving path's wrk runs, (second request, clients), in order.
PATH_RUNS = [("floor", 16), ("app floor", 16), ("ott", 16), ("ott", 256)]


def serving_runs(results: dict[str, Any], path: str) -> list[dict[str, Any]]:
    serving = results["databases"]["sqlite"]["serving"]
    assert serving["status"] == "ok", serving.get("reason")
    return [run for run in serving["runs"] if run["path"] == path]


def test_the_tls_limit_and_the_embedded_server_are_measured_with_wrk(results):
    (tls,) = serving_runs(results, "TLS limit")
    assert_wrk_measured(tls)
    assert tls["ratio_to_tls_limit"] == 1
    assert tls["server_resumes_sessions"] is False  # nginx with cache and tickets off

    embedded = serving_runs(results, "embedded")
    assert [(r["kind"], r["clients"]) for r in embedded] == [
        ("floor", 16),
        ("app floor", 16),
        ("ott", 16),
        ("ott", 256),
    ]
    for run in embedded:
        assert_wrk_measured(run)
    for ott in embedded[2:]:
        # Every token redeemed at most once: never more enrollments than tokens handed out.
        assert ott["units"] <= ott["tokens"]
    targets = results["databases"]["sqlite"]["serving"]["targets"]
    assert all(t["met"] in (True, False) for t in targets if t["target"].startswith("embedded"))


def test_the_nginx_path_is_measured_with_wrk(results):
    serving = results["databases"]["sqlite"]["serving"]
    if "nginx" in serving["skipped"]:
        pytest.skip(f"nginx path: {serving['skipped']['nginx']}")
    runs = serving_runs(results, "nginx")
    assert [(r["kind"], r["clients"]) for r in runs] == [
        ("floor", 16),
        ("app floor", 16),
        ("ott", 16),
        ("ott", 256),
    ]
    for run in runs:
        assert_wrk_measured(run)
        assert set(run["server_cpu_ms_per_unit_by_process"]) == {"app", "nginx"}


def test_the_quick_benchmark_measures_every_python_client_section_without_errors(results):
    assert results["databases"]["postgresql"]["status"] == "skipped"
    sqlite = results["databases"]["sqlite"]
    assert sqlite["status"] == "ok", sqlite.get("reason")

    assert_measured(sqlite["auto_enrollment"], 5)

    console = sqlite["console"]
    assert console["identities_seeded"] == 50
    for page in console["pages"].values():
        assert page["median_ms"] > 0
    counts = console["query_count"]
    # The ott identities seeded (for wrk and for 5 x 2 worker runs), 5 auto-enrolled, then 50 more.
    seeded = sqlite["ott_tokens_seeded"]
    assert seeded >= 10
    assert counts["before_seeding"]["identities_total"] == seeded + 5
    assert counts["after_seeding"]["identities_total"] == seeded + 55
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
