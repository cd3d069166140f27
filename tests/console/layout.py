"""Layout checks any console browser test can use: no sideways scroll at a width."""

from __future__ import annotations

from playwright.sync_api import Page

NARROW = {"width": 400, "height": 800}


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its window (0: no sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def assert_no_sideways_scroll(page: Page, path: str) -> None:
    page.goto(path)
    overflow = sideways_overflow(page)
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {page.viewport_size}"
