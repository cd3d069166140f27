"""The results as plain-text tables, and as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Row = dict[str, Any]
Column = tuple[str, Callable[[Row], Any]]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cell_of(row: Row, get: Callable[[Row], Any]) -> str:
    try:
        return _cell(get(row))
    except KeyError:
        return ""  # a summary row, such as the workers gain, has only some columns


def table(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """Columns sized to fit; the first left-aligned, the others right-aligned."""
    headers = [header for header, _ in columns]
    cells = [[_cell_of(row, get) for _, get in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _measured(results: dict[str, Any]) -> list[tuple[str, Row]]:
    return [(name, db) for name, db in results["databases"].items() if db.get("status") == "ok"]


def _sum(*values: int | None) -> int | None:
    """None when any is unknown: a partial count would look like a real one."""
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _enrollment_rows(results: dict[str, Any]) -> list[Row]:
    return [
        {"db": name, "ott": ott, "floor": floor, "ratio": ratio["enrollment_over_floor"]}
        for name, db in _measured(results)
        for ott, floor, ratio in zip(
            db["ott_enrollment"], db["floor"], db["enrollment_vs_floor"], strict=True
        )
    ]


ENROLLMENT_COLUMNS: list[Column] = [
    ("database", lambda r: r["db"]),
    ("conc", lambda r: r["ott"]["concurrency"]),
    ("enrolled", lambda r: r["ott"]["ok"]),
    ("enroll/s", lambda r: r["ott"]["rate_per_s"]),
    ("p50 ms", lambda r: r["ott"]["p50_ms"]),
    ("p95 ms", lambda r: r["ott"]["p95_ms"]),
    ("p99 ms", lambda r: r["ott"]["p99_ms"]),
    ("errors", lambda r: r["ott"]["errors"]),
    ("floor/s", lambda r: r["floor"]["rate_per_s"]),
    ("floor p50", lambda r: r["floor"]["p50_ms"]),
    ("floor p99", lambda r: r["floor"]["p99_ms"]),
    ("floor err", lambda r: r["floor"]["errors"]),
    ("enroll/floor", lambda r: r["ratio"]),
    ("server cores", lambda r: r["ott"]["server_cpu_cores"]),
    ("client cores", lambda r: r["ott"]["client_cpu_cores"]),
    ("other cores", lambda r: r["ott"]["other_cpu_cores"]),
    ("listen drops", lambda r: _sum(r["ott"]["listen_overflows"], r["floor"]["listen_overflows"])),
]

AUTO_COLUMNS: list[Column] = [
    ("database", lambda r: r["db"]),
    ("devices", lambda r: r["planned"]),
    ("conc", lambda r: r["concurrency"]),
    ("enrolled", lambda r: r["ok"]),
    ("total s", lambda r: r["total_s"]),
    ("rate/s", lambda r: r["rate_per_s"]),
    ("p50 ms", lambda r: r["p50_ms"]),
    ("p95 ms", lambda r: r["p95_ms"]),
    ("p99 ms", lambda r: r["p99_ms"]),
    ("errors", lambda r: r["errors"]),
    ("server cores", lambda r: r["server_cpu_cores"]),
    ("client cores", lambda r: r["client_cpu_cores"]),
    ("other cores", lambda r: r["other_cpu_cores"]),
    ("listen drops", lambda r: r["listen_overflows"]),
]

CONSOLE_COLUMNS: list[Column] = [
    ("database", lambda r: r["db"]),
    ("identities", lambda r: r["identities"]),
    ("page", lambda r: r["page"]),
    ("median ms", lambda r: r["median_ms"]),
    ("min ms", lambda r: r["min_ms"]),
    ("max ms", lambda r: r["max_ms"]),
]


def _by_page_size(counts: Row) -> str:
    sizes = counts["by_page_size"]
    return ", ".join(f"{k}: {v['queries']}" for k, v in sizes.items()) or "no page-size parameter"


QUERY_COLUMNS: list[Column] = [
    ("database", lambda r: r["db"]),
    ("when", lambda r: r["when"].replace("_", " ")),
    ("identities", lambda r: r["identities_total"]),
    ("list page rows", lambda r: r["default_page"]["rows"]),
    ("list page queries", lambda r: r["default_page"]["queries"]),
    ("search queries", lambda r: r["search"]["queries"]),
    ("queries by page size", _by_page_size),
]

WORKERS_COLUMNS: list[Column] = [
    ("database", lambda r: r["db"]),
    ("workers", lambda r: r["workers"]),
    ("enroll/s", lambda r: r["ott_enrollment"]["rate_per_s"]),
    ("p50 ms", lambda r: r["ott_enrollment"]["p50_ms"]),
    ("errors", lambda r: r["ott_enrollment"]["errors"]),
    ("server cores", lambda r: r["ott_enrollment"]["server_cpu_cores"]),
    ("client cores", lambda r: r["ott_enrollment"]["client_cpu_cores"]),
    ("other cores", lambda r: r["ott_enrollment"]["other_cpu_cores"]),
    ("floor/s", lambda r: r["floor"]["rate_per_s"]),
    ("floor err", lambda r: r["floor"]["errors"]),
    ("floor server cores", lambda r: r["floor"]["server_cpu_cores"]),
]


def _workers_rows(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name, db in _measured(results):
        rows += [{"db": name, **run} for run in db["workers"]["runs"]]
        gain = db["workers"]["gain"]
        if gain:
            rows.append(
                {
                    "db": f"{name} gain",
                    "workers": f"{gain['from_workers']} -> {gain['to_workers']}",
                    "ott_enrollment": {"rate_per_s": f"x{gain['ott_enrollment']}"},
                    "floor": {"rate_per_s": f"x{gain['floor']}"},
                }
            )
    return rows


def render(results: dict[str, Any]) -> str:
    options, host = results["options"], results["host"]
    measured = _measured(results)
    parts = [
        f"Controller benchmark {results['started_at']}: {host['cpus']} CPUs shared by client and server, "
        f"Python {host['python']}, load average {host['load_average_at_start'][0]:.1f} at start",
        f"Main server ZITI_WORKERS={options['workers']}, ZITI_SERVER_THREADS={options['server_threads']}; "
        "every enrollment request on a new TLS connection.",
    ]
    parts += [
        f"{name}: {db['status']}: {db.get('reason', '')}"
        for name, db in results["databases"].items()
        if db.get("status") != "ok"
    ]
    if not measured:
        return "\n".join(parts)
    auto = [{"db": name, **db["auto_enrollment"]} for name, db in measured]
    console = [
        {
            "db": name,
            "identities": db["console"]["query_count"]["after_seeding"]["identities_total"],
            "page": page,
            **timing,
        }
        for name, db in measured
        for page, timing in db["console"]["pages"].items()
    ]
    queries = [
        {"db": name, "when": when, **counts}
        for name, db in measured
        for when, counts in db["console"]["query_count"].items()
    ]
    parts += [
        "",
        "ott enrollment (GET cacerts + POST /enroll?method=ott, two new TLS connections) vs floor "
        "(GET cacerts + GET /version, same pattern)",
        "listen drops: connections the kernel dropped because the accept queue was full",
        table(ENROLLMENT_COLUMNS, _enrollment_rows(results)),
        "",
        "auto enrollment (POST /enroll?method=ca, a new mutual-TLS connection per device)",
        table(AUTO_COLUMNS, auto),
        "",
        "console, logged in, one keep-alive connection (time to the last byte of the page)",
        table(CONSOLE_COLUMNS, console),
        "",
        "queries per console request (in-process, Django test client)",
        table(QUERY_COLUMNS, queries),
        "",
        f"workers (floor and ott enrollment at concurrency {options['workers_concurrency']})",
        table(WORKERS_COLUMNS, _workers_rows(results)),
    ]
    return "\n".join(parts)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
