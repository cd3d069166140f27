"""What the console's sortable lists share: the header links, a bounded count."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.core.paginator import Paginator


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


class BoundedPaginator(Paginator):
    """A paginator that counts at most `bound` + 1 rows.

    For filters no index answers (a scan of every row per count): past the bound the
    scan stops, the page says "more than `bound`", and pages reach that far; sorting the
    other way round or narrowing the filter reaches the rest.
    """

    def __init__(self, object_list: Any, per_page: int, bound: int) -> None:
        super().__init__(object_list, per_page)
        self.bound = bound

    @cached_property
    def count(self) -> int:
        # A queryset's slice counts as SELECT COUNT(*) FROM (... LIMIT bound + 1).
        head: Any = self.object_list[: self.bound + 1]
        return int(head.count())

    @property
    def is_bounded(self) -> bool:
        """Whether there are more rows than were counted."""
        return self.count > self.bound
