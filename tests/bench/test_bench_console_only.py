"""`python -m bench --console-only` with a handful of identities: the filtered and sorted
list pages are timed and their query plans recorded. It asserts nothing about speed."""

from __future__ import annotations

from pathlib import Path

from bench.scenarios import FILTERED_PAGES
from tests.bench.running import run_bench


def test_the_console_alone_times_every_list_page_and_explains_the_filtered_ones(tmp_path: Path) -> None:
    args = ["--console-only", "--no-postgres", "--console-identities", "30", "--console-repeats", "1"]
    results, report = run_bench(args, tmp_path / "results.json")

    sqlite = results["databases"]["sqlite"]
    assert sqlite["status"] == "ok", sqlite.get("reason")
    assert "auto_enrollment" not in sqlite
    console = sqlite["console"]
    assert console["identities_seeded"] == 30
    assert set(FILTERED_PAGES) <= set(console["pages"])
    assert all(page["median_ms"] > 0 for page in console["pages"].values())
    plans = console["query_count"]["after_seeding"]["plans"]
    assert set(plans) == set(FILTERED_PAGES.values())
    for queries in plans.values():
        assert queries, "every filtered page reads identities"
        assert all(query["plan"] for query in queries)
    assert "type Device, newest first" in report  # the printed table
