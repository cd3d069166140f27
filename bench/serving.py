"""The headline (issue 8, the serving layer): each serving path against the TLS limit, with wrk.

- TLS limit: bare nginx with the controller's certificate answering a static 200 to both
  requests of a unit: what full handshakes alone cost on this machine.
- embedded: `manage.py serve` terminating TLS itself.
- nginx: nginx terminating TLS in front of the app's plain-HTTP Unix socket
  (ZITI_PROXY_SOCKET).

For each path: the floor (CA bundle + /version, both replayed without Django), the app
floor (the same with a /version no cache answers: Django dispatches it and the view does
no work, the least any enrollment can cost) and ott enrollments at the headline's client
count, then a short ott run at many clients that must see zero errors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import nginx, wrk
from bench.controller import ServerProcess
from bench.scenarios import OttSupply, busy_seconds, ratio

PROXY_SOCKET_WAIT_S = 10.0
# Tokens for an ott run: what the TLS limit's rate would use in the run, with a margin,
# plus one per client in flight at the end. Enrollment cannot outrun full handshakes.
TOKEN_MARGIN = 1.2

# Issue 8's targets for the benchmark at 16 clients (figures, not timed tests).
EMBEDDED_OTT_MIN_RATIO = 0.5
NGINX_OTT_MIN_RATIO = 0.8
P99_MAX_MS = 100.0


@dataclass(frozen=True)
class Plan:
    clients: int  # the headline's client count
    many_clients: int  # the zero-error check's
    duration_s: int  # wrk -d of the headline runs
    many_duration_s: int
    max_tokens_per_run: int

    def tokens_for(self, tls_units_per_s: float, clients: int, duration_s: int) -> int:
        wanted = math.ceil(tls_units_per_s * duration_s * TOKEN_MARGIN) + clients
        return max(clients * 2, min(wanted, self.max_tokens_per_run))

    def ott_runs(self) -> list[tuple[int, int]]:
        """(clients, seconds) of the ott runs of one serving path."""
        return [(self.clients, self.duration_s), (self.many_clients, self.many_duration_s)]

    def tokens_needed(self, tls_units_per_s: float, paths: int = 2) -> int:
        return paths * sum(self.tokens_for(tls_units_per_s, c, d) for c, d in self.ott_runs())


CpuReader = Callable[[], float]


def measured(measure: Callable[[], dict[str, Any]], server_cpu: dict[str, CpuReader]) -> dict[str, Any]:
    """A wrk run plus the CPU each serving process (app, nginx) spent per unit meanwhile."""
    before = {name: read() for name, read in server_cpu.items()}
    machine_before = busy_seconds()
    result = measure()
    spent = {name: read() - before[name] for name, read in server_cpu.items()}
    units = result["units"]
    result["server_cpu_ms_per_unit"] = round(sum(spent.values()) * 1000 / units, 2) if units else None
    result["server_cpu_ms_per_unit_by_process"] = {
        name: (round(s * 1000 / units, 2) if units else None) for name, s in spent.items()
    }
    duration = result["duration_s"] or 1.0
    result["server_cpu_cores"] = round(sum(spent.values()) / duration, 2)
    # Everything else busy meanwhile: the database, other users of this machine.
    machine = (busy_seconds() - machine_before) / duration
    result["other_cpu_cores"] = round(machine - result["server_cpu_cores"] - result["client_cpu_cores"], 2)
    return result


class ServingBench:
    """The wrk measurements of one database run."""

    def __init__(self, plan: Plan, shim: Path | None, say: Callable[[str], None]) -> None:
        self.plan, self.shim, self.say = plan, shim, say

    def _wrk(self, port: int, mode: str, clients: int, seconds: int, work: wrk.Work = ()) -> dict[str, Any]:
        return wrk.run(port, mode, clients, seconds, work=work, shim=self.shim)

    def tls_limit(self, server: ServerProcess) -> dict[str, Any]:
        plan = self.plan
        self.say(f"TLS limit: bare nginx, static 200, wrk c={plan.clients} for {plan.duration_s} s")
        with nginx.tls_limit(server.deployment) as bare:
            result = measured(
                lambda: self._wrk(bare.port, "static", plan.clients, plan.duration_s),
                {"nginx": bare.cpu_seconds},
            )
            result["server_resumes_sessions"] = wrk.server_resumes_sessions(bare.port)
        return {"path": "TLS limit", "kind": "static", **result}

    def path_runs(
        self,
        path: str,
        port: int,
        server_cpu: dict[str, CpuReader],
        supply: OttSupply,
        tls_units_per_s: float,
    ) -> list[dict[str, Any]]:
        plan = self.plan
        resumes = wrk.server_resumes_sessions(port)
        self.say(f"{path}: floor, app floor and ott at c={plan.clients}, ott at c={plan.many_clients}")
        runs = [
            {
                "path": path,
                "kind": kind,
                **measured(lambda: self._wrk(port, mode, plan.clients, plan.duration_s), server_cpu),  # noqa: B023
            }
            for kind, mode in (("floor", "floor"), ("app floor", "app"))
        ]
        for clients, seconds in plan.ott_runs():
            work = [
                (w.token, w.csr_pem) for w in supply.take(plan.tokens_for(tls_units_per_s, clients, seconds))
            ]
            runs.append(
                {
                    "path": path,
                    "kind": "ott",
                    "tokens": len(work),
                    **measured(lambda: self._wrk(port, "ott", clients, seconds, work), server_cpu),  # noqa: B023
                }
            )
        for run in runs:
            run["server_resumes_sessions"] = resumes
        return runs

    def run(self, server: ServerProcess, supply: OttSupply, tls: dict[str, Any]) -> dict[str, Any]:
        """Both serving paths; the nginx one skipped, with the reason, where the app cannot be proxied."""
        rate = tls["units_per_s"]
        runs = [tls]
        runs += self.path_runs("embedded", server.port, {"app": server.cpu_seconds}, supply, rate)
        skipped: dict[str, str] = {}
        reason = proxy_unavailable(server)
        if reason is None:
            assert server.proxy_socket is not None
            with nginx.proxy(server.deployment, server.proxy_socket) as front:
                cpu = {"app": server.cpu_seconds, "nginx": front.cpu_seconds}
                runs += self.path_runs("nginx", front.port, cpu, supply, rate)
                if any(run["errors"] for run in runs if run["path"] == "nginx"):
                    # nginx says why it answered 502 (the app's side of the socket).
                    skipped_log = front.log_tail(1500)
                    for run in runs:
                        if run["path"] == "nginx" and run["errors"]:
                            run["nginx_error_log_tail"] = skipped_log
        else:
            self.say(f"nginx path skipped: {reason}")
            skipped["nginx"] = reason
        for run in runs:
            run["ratio_to_tls_limit"] = ratio(run["units_per_s"], rate)
        return {
            "clients": self.plan.clients,
            "many_clients": self.plan.many_clients,
            "duration_s": self.plan.duration_s,
            "full_handshakes_forced": self.shim is not None,
            "runs": runs,
            "skipped": skipped,
            "targets": targets(runs, self.plan, skipped),
        }


def proxy_unavailable(server: ServerProcess) -> str | None:
    """Why nginx cannot be put in front of this server, or None when it can."""
    if not nginx.available():
        return f"{nginx.NGINX} is not installed"
    if server.proxy_socket is None:
        return "the server was started without ZITI_PROXY_SOCKET"
    deadline = time.monotonic() + PROXY_SOCKET_WAIT_S
    while not server.proxy_socket.exists():
        if time.monotonic() > deadline:
            return (
                f"the server does not listen on ZITI_PROXY_SOCKET ({server.proxy_socket} never appeared): "
                "this app predates the serving layer that speaks plain HTTP to a proxy"
            )
        time.sleep(0.1)
    return None


def _find(runs: list[dict[str, Any]], path: str, kind: str, clients: int) -> dict[str, Any] | None:
    return next(
        (r for r in runs if (r["path"], r["kind"], r["clients"]) == (path, kind, clients)),
        None,
    )


def targets(runs: list[dict[str, Any]], plan: Plan, skipped: dict[str, str]) -> list[dict[str, Any]]:
    """Issue 8's targets, each met, not met, or not measured (with the reason)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, path: str, run: dict[str, Any] | None, value: Any, met: bool | None) -> None:
        if run is None:
            note = f"{path} path not measured" if path in skipped else "not run"
            checks.append({"target": name, "value": None, "met": None, "note": note})
        else:
            checks.append({"target": name, "value": value, "met": met})

    for path, minimum in (("embedded", EMBEDDED_OTT_MIN_RATIO), ("nginx", NGINX_OTT_MIN_RATIO)):
        ott = _find(runs, path, "ott", plan.clients)
        value = ott["ratio_to_tls_limit"] if ott else None
        check(
            f"{path} ott >= {minimum} of the TLS limit at {plan.clients} clients",
            path,
            ott,
            value,
            value is not None and value >= minimum,
        )
    for path in ("embedded", "nginx"):
        ott = _find(runs, path, "ott", plan.clients)
        p99 = ott["p99_ms"] if ott else None
        check(
            f"{path} ott p99 < {P99_MAX_MS:.0f} ms at {plan.clients} clients",
            path,
            ott,
            p99,
            p99 is not None and p99 < P99_MAX_MS,
        )
    for path in ("embedded", "nginx"):
        many = _find(runs, path, "ott", plan.many_clients)
        errors = many["errors"] if many else None
        check(f"{path} ott: zero errors at {plan.many_clients} clients", path, many, errors, errors == 0)
    return checks
