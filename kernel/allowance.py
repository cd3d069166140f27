"""How often one address may leave a trace (a log line, an audit record) before the rest
are only counted: the one rule for every flood an outsider can cause."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_KEYS = 10_000  # bounded memory however many addresses misbehave


class WindowedAllowance:
    """At most `per_window` events per key in each window of `window_s` seconds.

    A window starts with the first event let through after the previous one ended.
    Events beyond the allowance are counted, and `take` hands the count to the next
    event let through, so what was left out is still said. At most MAX_KEYS keys are
    kept: a sweep over many addresses starts everyone afresh rather than grow memory.
    """

    def __init__(
        self, per_window: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_window, self.window_s = per_window, window_s
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (window start, let through in it, left out since the last let through)
        self._windows: dict[str, tuple[float, int, int]] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def take(self, key: str) -> int | None:
        """None when `key` is over its allowance (counted); else how many were left out."""
        now = self._clock()
        with self._lock:
            if len(self._windows) >= MAX_KEYS and key not in self._windows:
                self._windows.clear()
            start, used, left_out = self._windows.get(key, (now, 0, 0))
            if now - start >= self.window_s:
                start, used = now, 0
            if used >= self.per_window:
                self._windows[key] = (start, used, left_out + 1)
                return None
            self._windows[key] = (start, used + 1, 0)
            return left_out
