"""What the console's sortable lists share: the header links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def sort_headers(columns: Sequence[tuple[str | None, str]], sort: str) -> list[dict[str, Any]]:
    """Each column's header, from (sort key or None, label): a link that sorts by it, or
    turns the order round when it is the current one; `aria_sort` for the current one."""
    headers = []
    descending = sort.startswith("-")
    for key, label in columns:
        current = key is not None and sort.lstrip("-") == key
        headers.append(
            {
                "key": key,
                "label": label,
                "next": f"-{key}" if current and not descending else key,
                "aria_sort": ("descending" if descending else "ascending") if current else None,
            }
        )
    return headers
