"""Running one operation many times at a fixed concurrency, bounded in count and time."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")

MAX_ERROR_SAMPLES = 5
NETSTAT = Path("/proc/net/netstat")


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped because a listen queue was full.

    System-wide, so other processes' drops count too; None where Linux does not say.
    A dropped SYN costs the client a retransmission a second later.
    """
    try:
        lines = [line.split() for line in NETSTAT.read_text().splitlines() if line.startswith("TcpExt:")]
        return int(dict(zip(lines[0], lines[1], strict=True))["ListenOverflows"])
    except (OSError, IndexError, KeyError, ValueError):
        return None


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: a value that was actually observed."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Measurement:
    concurrency: int
    planned: int
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    listen_overflows: int | None = None

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_s)

        def ms(p: float) -> float | None:
            value = percentile(ordered, p)
            return None if value is None else round(value * 1000, 2)

        return {
            "concurrency": self.concurrency,
            "planned": self.planned,
            "ok": self.ok,
            "errors": self.errors,
            # Fewer than planned when the time limit cut the run short.
            "attempted": self.ok + self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "rate_per_s": round(self.ok / self.elapsed_s, 2) if self.elapsed_s else 0.0,
            "p50_ms": ms(50),
            "p95_ms": ms(95),
            "p99_ms": ms(99),
            "error_samples": self.error_samples,
            "listen_overflows": self.listen_overflows,
        }


class _Run(Generic[Item]):
    def __init__(self, items: Sequence[Item], concurrency: int, time_limit_s: float) -> None:
        self.items = items
        self.next_index = 0
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + time_limit_s
        self.measurement = Measurement(concurrency=concurrency, planned=len(items))

    def take(self) -> Item | None:
        with self.lock:
            if self.next_index >= len(self.items) or time.monotonic() >= self.deadline:
                return None
            self.next_index += 1
            return self.items[self.next_index - 1]

    def record_success(self, latency_s: float) -> None:
        with self.lock:
            self.measurement.latencies_s.append(latency_s)

    def record_error(self, error: Exception) -> None:
        with self.lock:
            self.measurement.errors += 1
            if len(self.measurement.error_samples) < MAX_ERROR_SAMPLES:
                self.measurement.error_samples.append(f"{type(error).__name__}: {error}"[:300])

    def client(self, operation: Callable[[Item], None], start: threading.Barrier) -> None:
        start.wait()
        while (item := self.take()) is not None:
            began = time.perf_counter()
            try:
                operation(item)
            except Exception as exc:  # every failure is a data point, not a crash
                self.record_error(exc)
            else:
                self.record_success(time.perf_counter() - began)


def run_load(
    operation: Callable[[Item], None], items: Sequence[Item], concurrency: int, time_limit_s: float
) -> Measurement:
    """Apply `operation` to each item from `concurrency` client threads.

    Stops at the last item or, when `time_limit_s` has passed, after the requests in
    flight; an exception from `operation` is counted as an error.
    """
    run: _Run[Item] = _Run(items, concurrency, time_limit_s)
    threads_count = max(1, min(concurrency, len(items)))
    # The clock starts when every client is ready, so thread start-up is not measured
    # and the concurrency is what it says from the first request on.
    start = threading.Barrier(threads_count + 1)
    threads = [
        threading.Thread(target=run.client, args=(operation, start), name=f"bench-client-{k}", daemon=True)
        for k in range(threads_count)
    ]
    for thread in threads:
        thread.start()
    overflows_before = listen_overflows()
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        # A request cannot outlive its own timeout, so this join is bounded too.
        thread.join()
    run.measurement.elapsed_s = time.perf_counter() - began
    overflows_after = listen_overflows()
    if overflows_before is not None and overflows_after is not None:
        run.measurement.listen_overflows = overflows_after - overflows_before
    return run.measurement
