"""WCAG 2.1 AA checks with axe-core in the real browser, for any console page.

axe-core comes bundled in the pinned axe-playwright-python, so nothing is fetched at
test time. Other suites check their own pages with assert_accessible(page, path).
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

AXE = Axe()
# The rules of WCAG 2.0 and 2.1, levels A and AA: colour contrast among them.
WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def violations(page: Page) -> list[str]:
    """What axe-core finds on the page as it stands: one line per rule and element."""
    found = AXE.run(page, options=WCAG_AA).response["violations"]
    lines = []
    for violation in found:
        for node in violation["nodes"]:
            detail = "; ".join(check["message"] for check in node.get("any", []) + node.get("all", []))
            lines.append(f"{violation['id']}: {' '.join(node['target'])}: {detail}")
    return lines


def _report(page: Page) -> list[str]:
    scheme = page.evaluate("document.documentElement.dataset.bsTheme")
    return [f"{page.url} ({scheme} theme) {line}" for line in violations(page)]


def assert_accessible(page: Page, *paths: str) -> None:
    """Open each of `paths` (none: check the page as it is) and fail, listing them all,
    on any WCAG AA violation."""
    found = []
    for path in paths:
        page.goto(path)
        found += _report(page)
    if not paths:
        found = _report(page)
    assert found == [], "WCAG AA violations:\n" + "\n".join(found)
