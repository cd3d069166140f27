"""kernel.allowance: a flood from one address leaves a bounded trace, and says so."""

from __future__ import annotations

from kernel import allowance
from kernel.allowance import WindowedAllowance


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_events_beyond_the_allowance_are_counted_into_the_next_window():
    clock = Clock()
    budget = WindowedAllowance(2, 10.0, clock=clock)

    assert [budget.take("a") for _ in range(5)] == [0, 0, None, None, None]
    assert budget.take("b") == 0  # every key has its own allowance
    clock.now += 9.9
    assert budget.take("a") is None
    clock.now += 0.1
    assert budget.take("a") == 4  # the first let through says how many were left out
    assert budget.take("a") == 0


def test_a_window_starts_with_the_first_event_let_through():
    clock = Clock()
    once = WindowedAllowance(1, 10.0, clock=clock)

    assert once.take("a") == 0
    clock.now += 5
    assert once.take("a") is None
    clock.now += 5
    assert once.take("a") == 1
    clock.now += 9
    assert once.take("a") is None


def test_memory_stays_bounded_however_many_keys(monkeypatch):
    monkeypatch.setattr(allowance, "MAX_KEYS", 3)
    budget = WindowedAllowance(1, 10.0, clock=Clock())
    for key in "abc":
        budget.take(key)
    assert budget.take("a") is None  # a known key is not a reason to forget

    assert budget.take("d") == 0  # a fourth key starts everyone afresh
    assert budget.take("a") == 0
