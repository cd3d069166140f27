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


def _tokens_left(run: Row) -> Any:
    """Tokens an ott run did not redeem; "ran out" when a wrk thread used its slice up."""
    if "tokens" not in run:
        return None
    return "ran out" if run["ran_out"] else run["tokens"] - run["units"]


def _met(value: bool | None) -> str:
    return {True: "met", False: "NOT MET", None: "not measured"}[value]


SERVING_COLUMNS: list[Column] = [
    ("path", lambda r: r["path"]),
    ("second request", lambda r: r["kind"]),
    ("clients", lambda r: r["clients"]),
    ("units/s", lambda r: r["units_per_s"]),
    ("x TLS limit", lambda r: r["ratio_to_tls_limit"]),
    ("p50 ms", lambda r: r["p50_ms"]),
    ("p99 ms", lambda r: r["p99_ms"]),
    ("errors", lambda r: r["errors"]),
    ("server CPU ms/unit", lambda r: r["server_cpu_ms_per_unit"]),
    ("server cores", lambda r: r["server_cpu_cores"]),
    ("client cores", lambda r: r["client_cpu_cores"]),
    ("other cores", lambda r: r["other_cpu_cores"]),
    ("units", lambda r: r["units"]),
    ("tokens left", lambda r: _tokens_left(r)),
]


def _serving_lines(name: str, serving: Row) -> list[str]:
    if serving.get("status") != "ok":
        return [f"{name}: serving paths {serving.get('status')}: {serving.get('reason', '')}"]
    lines = [
        f"{name}: units/s by serving path, wrk, {serving['duration_s']} s per run",
        table(SERVING_COLUMNS, serving["runs"]),
    ]
    for path, reason in serving["skipped"].items():
        lines.append(f"  {path} path not measured: {reason}")
    for run in serving["runs"]:
        if run["errors"]:
            what = f"{run['path']} {run['kind']} c={run['clients']}"
            lines.append(f"  {what}: errors {run['error_kinds']}, non-200 {run['non_200']}")
        if run.get("server_resumes_sessions") and not serving["full_handshakes_forced"]:
            lines.append(f"  {run['path']}: the server resumes TLS sessions and wrk was not stopped from it")
    lines.append("targets (issue 8):")
    lines += [
        f"  {_met(t['met']):<12} {t['target']}: {_cell(t['value'])}"
        + (f" ({t['note']})" if t.get("note") else "")
        for t in serving["targets"]
    ]
    return lines


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
        f"Main server ZITI_WORKERS={options['workers']}, ZITI_SERVER_THREADS={options['server_threads']}.",
    ]
    parts += [
        f"{name}: {db['status']}: {db.get('reason', '')}"
        for name, db in results["databases"].items()
        if db.get("status") != "ok"
    ]
    if not measured:
        return "\n".join(parts)
    serving_only = not any("console" in db for _name, db in measured)
    console_only = not any("auto_enrollment" in db for _name, db in measured) and not serving_only
    auto = [
        {"db": name, **db["auto_enrollment"]} for name, db in measured if not (serving_only or console_only)
    ]
    console = [
        {
            "db": name,
            "identities": db["console"]["query_count"]["after_seeding"]["identities_total"],
            "page": page,
            **timing,
        }
        for name, db in measured
        if not serving_only
        for page, timing in db["console"]["pages"].items()
    ]
    queries = [
        {"db": name, "when": when, **counts}
        for name, db in measured
        if not serving_only
        for when, counts in db["console"]["query_count"].items()
    ]
    if console_only:
        return "\n".join([*parts, *_console_lines(console, queries)])
    parts += [
        "",
        "Serving paths (wrk, a C client; every request a new TLS connection with a full handshake"
        + ("" if results.get("full_handshakes_forced") else ", NOT forced: no C compiler for the shim")
        + ").",
        "A unit is the C SDK's two connections: GET /.well-known/est/cacerts, then the second request",
        "(static: nginx's static 200; floor: GET /version; app floor: GET /version?unit=N, which no",
        "cache answers, so Django does, with a view that does no work; ott: POST /enroll?method=ott).",
        "The server replays the CA bundle and /version from its event loop (a shared cache, Age set).",
        "units/s: 200 answers to the second request per second of wrk's run. p50/p99: per request",
        "(one connection: handshake and exchange), both kinds mixed; a unit takes two in a row.",
        "server CPU: the app's process tree, plus nginx's on the nginx path; client cores: wrk's CPU / wall.",
    ]
    for name, db in measured:
        parts += ["", *_serving_lines(name, db.get("serving", {"status": "missing"}))]
    if serving_only:
        return "\n".join(parts)
    parts += [
        "",
        "auto enrollment (POST /enroll?method=ca, a new mutual-TLS connection per device)",
        table(AUTO_COLUMNS, auto),
        *_console_lines(console, queries),
        "",
        f"workers (Python client: floor and ott enrollment at concurrency {options['workers_concurrency']}, "
        "every request on a new TLS connection)",
        table(WORKERS_COLUMNS, _workers_rows(results)),
    ]
    return "\n".join(parts)


def _console_lines(console: list[dict[str, Any]], queries: list[dict[str, Any]]) -> list[str]:
    return [
        "",
        "console, logged in, one keep-alive connection (time to the last byte of the page)",
        table(CONSOLE_COLUMNS, console),
        "",
        "queries per console request (in-process, Django test client)",
        table(QUERY_COLUMNS, queries),
    ]


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
