"""`python -m bench --console-only` with a handful of identities: the filtered and sorted
list pages are timed and their query plans recorded. It asserts nothing about speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.scenarios import FILTERED_PAGES

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_console_alone_times_every_list_page_and_explains_the_filtered_ones(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZITI_", "DJANGO_", "DATABASE_URL"))}
    args = ["--console-only", "--no-postgres", "--console-identities", "30", "--console-repeats", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    sqlite = json.loads(out.read_text())["databases"]["sqlite"]
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
    assert "type Device, newest first" in done.stdout  # the printed table
