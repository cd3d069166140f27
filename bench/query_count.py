"""Queries per console list page, counted in-process with Django's test client.

Run as `python -m bench.query_count` with the deployment's settings in the environment
(DJANGO_SETTINGS_MODULE, ZITI_DATA_DIR, DATABASE_URL); prints JSON. It reads the same
database as the server under test and only adds a session row for its login.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import django

# Parameter names a paginated list may take its page size from, tried in order.
PAGE_SIZE_PARAMETERS = ("per_page", "page_size")


def _page_rows(response: Any) -> int | None:
    """Rows of the Page in the template context, whatever the view calls it."""
    from django.core.paginator import Page

    for context in response.context or []:
        for value in context.flatten().values():
            if isinstance(value, Page):
                return len(value.object_list)
    return None


def _get(client: Any, path: str) -> tuple[int | None, int, list[str]]:
    """(rows on the page, query count, the queries) for one GET of `path`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, secure=True)
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: HTTP {response.status_code}")
    return _page_rows(response), len(captured), [q["sql"][:160] for q in captured.captured_queries]


def _page_size_parameter(client: Any, default_rows: int | None) -> str | None:
    """The query parameter the list takes its page size from, if any.

    Found by asking for a size other than the default and counting the rows, which
    needs more identities than that size: the benchmark always has them.
    """
    wanted = 20 if default_rows == 10 else 10
    for name in PAGE_SIZE_PARAMETERS:
        rows, _count, _queries = _get(client, f"/identities/?{name}={wanted}")
        if rows == wanted:
            return name
    return None


def query_plans(client: Any, path: str) -> list[dict[str, Any]]:
    """The database's plan (EXPLAIN) of each query of one GET of `path` that reads identities."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(path, secure=True)
    plans = []
    prefix = connection.ops.explain_query_prefix()
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.startswith("SELECT") or "identities_identity" not in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"{prefix} {sql}")
            rows = cursor.fetchall()
        plans.append({"sql": sql, "plan": [" ".join(str(c) for c in row) for row in rows]})
    return plans


def count_queries(
    sizes: list[int], search: str, plan_paths: tuple[str, ...] | list[str] = ()
) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from identities.models import Identity

    # Instruments template rendering so that response.context holds the page.
    setup_test_environment()
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    _get(client, "/identities/")  # warm-up: first-request work is not the page's cost
    default_rows, default_count, default_queries = _get(client, "/identities/")
    search_rows, search_count, _ = _get(client, f"/identities/?q={search}")
    parameter = _page_size_parameter(client, default_rows)
    by_size = {}
    if parameter is not None:
        for size in sizes:
            rows, count, _ = _get(client, f"/identities/?{parameter}={size}")
            by_size[str(size)] = {"rows": rows, "queries": count}
    return {
        "identities_total": Identity.objects.count(),
        "default_page": {"rows": default_rows, "queries": default_count, "sql": default_queries},
        "search": {"q": search, "rows": search_rows, "queries": search_count},
        "page_size_parameter": parameter,
        "by_page_size": by_size,
        "plans": {path: query_plans(client, path) for path in plan_paths},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,50,200", help="page sizes to try, if the list takes one")
    parser.add_argument("--search", default="1", help="the q= of the search page")
    parser.add_argument("--plans", default="", help="comma-separated list paths to EXPLAIN the queries of")
    args = parser.parse_args(argv)
    django.setup()
    paths = [p for p in args.plans.split(",") if p]
    result = count_queries([int(s) for s in args.sizes.split(",")], args.search, paths)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
