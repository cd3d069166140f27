"""The benchmark's load runner: every item once, failures counted, bounded in time."""

from __future__ import annotations

import threading
import time

from bench.load import percentile, run_load


def test_every_item_is_used_exactly_once_across_the_clients():
    seen: list[int] = []
    lock = threading.Lock()

    def operation(item: int) -> None:
        with lock:
            seen.append(item)

    measurement = run_load(operation, list(range(100)), concurrency=8, time_limit_s=60)

    assert sorted(seen) == list(range(100))
    assert (measurement.ok, measurement.errors) == (100, 0)


def test_failures_are_counted_with_a_sample_of_their_messages():
    def operation(item: int) -> None:
        if item % 2:
            raise ValueError(f"odd {item}")

    summary = run_load(operation, list(range(20)), concurrency=4, time_limit_s=60).summary()

    assert (summary["ok"], summary["errors"], summary["attempted"]) == (10, 10, 20)
    assert 0 < len(summary["error_samples"]) <= 5
    assert all(sample.startswith("ValueError: odd ") for sample in summary["error_samples"])


def test_the_time_limit_stops_handing_out_work():
    summary = run_load(lambda _item: time.sleep(0.05), list(range(10_000)), 2, time_limit_s=0.2).summary()

    assert 0 < summary["attempted"] < 10_000
    assert summary["planned"] == 10_000


def test_percentiles_are_observed_values():
    values = [float(v) for v in range(1, 101)]

    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
