"""`wrk` as the load generator: a C client that is not the bottleneck where Python would be.

One run is `wrk -c N -t min(N, 2) -d SECONDS --latency -s bench/lua/unit.lua`, every
request with `Connection: close`, so every request is a new TCP connection and a full
TLS handshake. A unit is the C SDK's two connections (CA bundle, then the second
request); see bench/lua/unit.lua for how they are issued and counted.

Units/s is exact: the 200 answers to the second request (told from the CA bundle's by
content type), divided by wrk's own run duration. Latencies are wrk's, per request: one
new connection, handshake and exchange, both kinds mixed; a unit takes two in a row.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WRK = shutil.which("wrk") or "/usr/bin/wrk"
LUA_DIR = Path(__file__).resolve().parent / "lua"
SCRIPT = LUA_DIR / "unit.lua"
SHIM_SOURCE = LUA_DIR / "wrk_shim.c"
MARKER = "BENCH_JSON "
# A request slower than this is a timeout error; far above any healthy p99, so that at
# 256 clients queueing shows as latency, and only a stuck request as an error.
REQUEST_TIMEOUT_S = 30
# For floor and TLS-limit runs, which need no tokens: the count bound per thread.
MAX_UNITS_PER_THREAD = 1_000_000
# Beyond -d: wrk's start-up and the requests it abandons at the end.
GRACE_S = 15.0

Work = Sequence[tuple[str, str]]  # (token, CSR PEM) for ott


class WrkUnavailable(Exception):
    pass


def available() -> bool:
    return Path(WRK).exists()


def threads_for(clients: int) -> int:
    return min(clients, 2)


def build_shim(directory: Path) -> Path | None:
    """Compile wrk's LD_PRELOAD shim (bench/lua/wrk_shim.c); None without a compiler.

    It stops wrk resuming TLS sessions, which it does against a server that allows it
    (checked against nginx with a session cache: all but the first connection of each
    slot resumed), so a server that issues tickets would be measured on cheap
    handshakes. And it stops wrk spinning while a handshake waits for the server, which
    took up to a core from the server measured beside it.
    """
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    shim = directory / "wrk_shim.so"
    done = subprocess.run(  # noqa: S603 - the system compiler on our own source
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(shim), str(SHIM_SOURCE), "-ldl"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return shim if done.returncode == 0 else None


def server_resumes_sessions(port: int) -> bool | None:
    """Whether the server on `port` lets a client resume a TLS session; None if unknown.

    With the shim, wrk never offers to resume, so this is a fact about the server only;
    without it, a True here means wrk's figures for that server had cheap handshakes.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    session = None
    try:
        for _ in range(2):
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                context.wrap_socket(raw, session=session) as tls,
            ):
                # TLS 1.3 tickets come after the handshake: one exchange to receive them.
                tls.sendall(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                while tls.recv(65536):
                    pass
                if session is not None:
                    return tls.session_reused
                session = tls.session
    except (OSError, ssl.SSLError):
        return None
    return None


def write_work(prefix: Path, work: Work, threads: int) -> None:
    """Thread k's slice in `prefix.k`: items k, k+T, ...; every token in exactly one slice."""
    for k in range(threads):
        with Path(f"{prefix}.{k}").open("w") as out:
            for token, csr in work[k::threads]:
                out.write(f"{token}\t{csr.strip().replace(chr(10), '|')}\n")


def _wait(process: subprocess.Popen[bytes], deadline: float) -> tuple[int, float]:
    """Reap wrk with its rusage: (exit status, user + system CPU seconds)."""
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            # Popen must not wait for a process already reaped.
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            process.send_signal(signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.05)


def run(
    port: int,
    mode: str,
    clients: int,
    duration_s: int,
    *,
    work: Work = (),
    shim: Path | None = None,
) -> dict[str, Any]:
    """One wrk run against https://127.0.0.1:port; the figures of bench/lua/unit.lua plus CPU.

    `mode` is static, floor or ott; ott needs `work`, and the run stops when it is used up.
    """
    if not available():
        raise WrkUnavailable(f"{WRK} is not installed")
    threads = threads_for(clients)
    with tempfile.TemporaryDirectory(prefix="ziti-bench-wrk-") as tmp:
        args = [mode, str(MAX_UNITS_PER_THREAD)]
        if mode == "ott":
            write_work(Path(tmp) / "work", work, threads)
            args = [mode, str(len(work)), str(Path(tmp) / "work")]
        env = {**os.environ, **({"LD_PRELOAD": str(shim)} if shim else {})}
        command = [
            WRK,
            f"-c{clients}",
            f"-t{threads}",
            f"-d{duration_s}s",
            f"--timeout={REQUEST_TIMEOUT_S}s",
            "--latency",
            "-s",
            str(SCRIPT),
            f"https://127.0.0.1:{port}",
            "--",
            *args,
        ]
        out_path = Path(tmp) / "stdout"
        with out_path.open("wb") as out:
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)  # noqa: S603
            status, cpu_s = _wait(process, time.monotonic() + duration_s + GRACE_S)
            wall_s = time.perf_counter() - started
        output = out_path.read_text(errors="replace")
    lines = [line for line in output.splitlines() if line.startswith(MARKER)]
    if status != 0 or not lines:
        raise RuntimeError(f"wrk failed ({status}): {output[-1500:]}")
    return summarize(json.loads(lines[-1][len(MARKER) :]), clients, threads, cpu_s, wall_s, shim)


def summarize(
    raw: dict[str, Any], clients: int, threads: int, cpu_s: float, wall_s: float, shim: Path | None
) -> dict[str, Any]:
    duration_s = raw["duration_us"] / 1e6
    socket_errors = raw["errors"]
    non_200 = {code: int(n) for code, n in sorted(raw["non_200"].items())}
    errors = {
        "connect": socket_errors["connect"],
        "read": socket_errors["read"],
        "write": socket_errors["write"],
        "timeout": socket_errors["timeout"],
        "status": sum(non_200.values()),  # every non-200 answer, not only wrk's > 399
        "bad_body": raw["bad_body"],
    }
    latency = raw["latency_us"]
    return {
        "clients": clients,
        "wrk_threads": threads,
        "duration_s": round(duration_s, 3),
        "requests": raw["requests"],
        "units": raw["second_ok"],
        "cacerts_ok": raw["cacerts_ok"],
        "units_per_s": round(raw["second_ok"] / duration_s, 2) if duration_s else 0.0,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "non_200": non_200,
        # A slice used up before -d: the rate is then a lower bound.
        "ran_out": raw["threads_ran_out"] > 0,
        "p50_ms": round(latency["p50"] / 1000, 2),
        "p90_ms": round(latency["p90"] / 1000, 2),
        "p99_ms": round(latency["p99"] / 1000, 2),
        "max_ms": round(latency["max"] / 1000, 2),
        "client_cpu_s": round(cpu_s, 3),
        # wrk's CPU time over wrk's wall time: the cores the load generator itself took.
        "client_cpu_cores": round(cpu_s / wall_s, 3) if wall_s else None,
        "full_handshakes_forced": shim is not None,
    }
