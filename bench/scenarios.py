"""What the benchmark measures, one function per scenario, against a running server."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import client
from bench.controller import Deployment, ServerProcess
from bench.load import Measurement, run_load
from bench.material import ThirdPartyCA, csr_pems, device_contexts

OTT_PREFIX = "ott"
CONSOLE_PREFIX = "console"
CA_NAME = "BenchFleet"
# Requests after each server start that are not measured: every server thread opens
# its database connection on first use, which is not what the figures are about.
WARM_UP_REQUESTS = 128
WARM_UP_CONCURRENCY = 8


@dataclass(frozen=True)
class OttWork:
    """A token and a CSR for one enrollment."""

    token: str
    csr_pem: str


class OttSupply:
    """Pre-made enrollments, handed out once each: a token redeems only once."""

    def __init__(self, work: list[OttWork]) -> None:
        self.work = work
        self.used = 0

    def take(self, count: int) -> list[OttWork]:
        if self.used + count > len(self.work):
            raise RuntimeError(f"only {len(self.work) - self.used} seeded tokens left, {count} wanted")
        batch = self.work[self.used : self.used + count]
        self.used += count
        return batch


def seed_ott_enrollments(deployment: Deployment, count: int, jwt_dir: Path) -> OttSupply:
    """Seed `count` identities with the seed command and read their tokens from the JWTs.

    Each JWT is checked against the server certificate, as a device would, so a seed
    that signs wrongly fails here rather than as enrollment errors.
    """
    deployment.manage(
        "seed_identities", str(count), "--prefix", OTT_PREFIX, "--jwt-dir", str(jwt_dir), timeout_s=600
    )
    server_cert = x509.load_pem_x509_certificate((deployment.data_dir / "pki" / "server.crt").read_bytes())
    server_key = server_cert.public_key()
    if not isinstance(server_key, rsa.RSAPublicKey):
        raise RuntimeError("the server key is not RSA, so it cannot have signed RS256 JWTs")
    paths = sorted(jwt_dir.glob(f"{OTT_PREFIX}-*.jwt"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    tokens = [jwt.decode(path.read_text().strip(), server_key, algorithms=["RS256"])["jti"] for path in paths]
    if len(tokens) != count:
        raise RuntimeError(f"seed_identities wrote {len(tokens)} JWTs, not {count}")
    return OttSupply([OttWork(token, csr) for token, csr in zip(tokens, csr_pems(count), strict=True)])


def busy_seconds() -> float:
    """CPU time the whole machine has spent not idle, from /proc/stat; 0.0 without it."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def with_cpu(server: ServerProcess, measure: Callable[[], Measurement]) -> dict[str, Any]:
    """The measurement's summary plus the CPU cores server and client used meanwhile.

    On a small machine the load generator competes with the server for the same
    cores; these two figures show how much each took.
    """
    server_before, client_before, machine_before = server.cpu_seconds(), time.process_time(), busy_seconds()
    measurement = measure()
    summary = measurement.summary()
    elapsed = measurement.elapsed_s or 1.0
    summary["server_cpu_cores"] = round((server.cpu_seconds() - server_before) / elapsed, 2)
    summary["client_cpu_cores"] = round((time.process_time() - client_before) / elapsed, 2)
    # Everything else busy meanwhile (database server, other users of the machine).
    machine = (busy_seconds() - machine_before) / elapsed
    summary["other_cpu_cores"] = round(machine - summary["server_cpu_cores"] - summary["client_cpu_cores"], 2)
    return summary


def measure_ott(
    server: ServerProcess, work: Sequence[OttWork], concurrency: int, time_limit_s: float
) -> dict[str, Any]:
    context = server.deployment.client_context()
    return with_cpu(
        server,
        lambda: run_load(
            lambda item: client.enroll_ott(server.port, context, item.token, item.csr_pem),
            work,
            concurrency,
            time_limit_s,
        ),
    )


def measure_floor(server: ServerProcess, count: int, concurrency: int, time_limit_s: float) -> dict[str, Any]:
    context = server.deployment.client_context()
    return with_cpu(
        server,
        lambda: run_load(
            lambda _k: client.floor_round_trip(server.port, context), range(count), concurrency, time_limit_s
        ),
    )


def warm_up(server: ServerProcess) -> None:
    measure_floor(server, WARM_UP_REQUESTS, WARM_UP_CONCURRENCY, time_limit_s=60)


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def workers_run(
    server: ServerProcess, supply: OttSupply, count: int, concurrency: int, time_limit_s: float
) -> dict[str, Any]:
    return {
        "workers": server.workers,
        "floor": measure_floor(server, count, concurrency, time_limit_s),
        "ott_enrollment": measure_ott(server, supply.take(count), concurrency, time_limit_s),
    }


def workers_gain(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rate with the most workers over the rate with the fewest."""
    if len(runs) < 2:
        return {}
    fewest, most = min(runs, key=lambda r: r["workers"]), max(runs, key=lambda r: r["workers"])
    return {
        "from_workers": fewest["workers"],
        "to_workers": most["workers"],
        "ott_enrollment": ratio(most["ott_enrollment"]["rate_per_s"], fewest["ott_enrollment"]["rate_per_s"]),
        "floor": ratio(most["floor"]["rate_per_s"], fewest["floor"]["rate_per_s"]),
    }


def register_auto_enrollment_ca(deployment: Deployment, workdir: Path) -> ThirdPartyCA:
    """Register and verify a CA with auto enrollment, as an admin does from the CLI."""
    ca = ThirdPartyCA.create("Bench Fleet CA")
    ca_path, proof_path = workdir / "fleet-ca.pem", workdir / "fleet-verify.pem"
    ca_path.write_bytes(ca.pem)
    created = json.loads(
        deployment.manage(
            "create_ca", CA_NAME, "--cert", str(ca_path), "--auto-enrollment", "--auth", "--json"
        )
    )
    proof_path.write_bytes(ca.verification_pem(created["verificationToken"]))
    deployment.manage("verify_ca", CA_NAME, "--cert", str(proof_path))
    return ca


def auto_enrollment(
    server: ServerProcess, count: int, concurrency: int, time_limit_s: float, workdir: Path
) -> dict[str, Any]:
    """`count` devices of one verified CA enroll with method ca, each on a new mTLS connection."""
    ca = register_auto_enrollment_ca(server.deployment, workdir)
    contexts = device_contexts(ca, count, workdir / "devices", server.deployment.server_ca)
    summary = with_cpu(
        server,
        lambda: run_load(
            lambda context: client.enroll_ca(server.port, context), contexts, concurrency, time_limit_s
        ),
    )
    return {**summary, "total_s": summary["elapsed_s"]}


def _time_page(
    session: client.ConsoleSession, path: str, repeats: int, expected: str | None
) -> dict[str, Any]:
    session.timed_get(path)  # warm-up: caches and the connection, not the page, would show
    timings = []
    size = 0
    for _ in range(repeats):
        seconds, reply = session.timed_get(path)
        if expected is not None and expected.encode() not in reply.body:
            raise client.RequestFailed(f"GET {path}: {expected!r} is not on the page")
        timings.append(seconds * 1000)
        size = len(reply.body)
    return {
        "path": path,
        "repeats": repeats,
        "median_ms": round(statistics.median(timings), 2),
        "min_ms": round(min(timings), 2),
        "max_ms": round(max(timings), 2),
        "bytes": size,
    }


# The list filtered and sorted (issue 12): what an index serves, and what it cannot
# (a role attribute no identity has, the time-dependent enrollment state).
FILTERED_PAGES = {
    "type Device, newest first": "/identities/?identity_type=Device&sort=-created",
    "sorted by type": "/identities/?sort=type",
    "type Device, by name, page 100": "/identities/?identity_type=Device&page=100",
    "role attribute (none has it)": "/identities/?role=nobody-has-this",
    "state pending, by name": "/identities/?state=pending",
}


def console_pages(server: ServerProcess, count: int, repeats: int) -> dict[str, Any]:
    """Log in like a browser, then time list and search pages on one keep-alive connection."""
    selective = f"{CONSOLE_PREFIX}-{max(1, count // 3)}"
    # (path, text the page must show): a search must show what it searched for.
    paths = {
        "list first page": ("/identities/", None),
        "search, few matches": (f"/identities/?q={selective}", selective),
        "search, many matches": ("/identities/?q=9", "9"),
        "list last page": ("/identities/?page=999999", None),
        **{name: (path, None) for name, path in FILTERED_PAGES.items()},
    }
    session = client.ConsoleSession(server.port, server.deployment.client_context())
    try:
        session.log_in("admin", server.deployment.admin_password)
        return {
            name: _time_page(session, path, repeats, expected) for name, (path, expected) in paths.items()
        }
    finally:
        session.close()


def query_counts(deployment: Deployment, search: str, *, plans: bool = False) -> dict[str, Any]:
    """Queries per list page; with `plans`, also the database's plan of each page query of
    the filtered pages."""
    args = ["--search", search, "--sizes", "10,50,200"]
    if plans:
        args += ["--plans", ",".join(FILTERED_PAGES.values())]
    result: dict[str, Any] = json.loads(deployment.python("bench.query_count", *args))
    return result


def console_at_scale(server: ServerProcess, count: int, repeats: int) -> dict[str, Any]:
    """Seed `count` identities, then time the console and count its queries.

    The query count is taken before and after seeding too, so it shows whether it
    grows with the number of identities, and with the page size where the list takes one.
    """
    deployment = server.deployment
    before = query_counts(deployment, "1")
    seeded = _timed_manage(deployment, "seed_identities", str(count), "--prefix", CONSOLE_PREFIX)
    after = query_counts(deployment, "1", plans=True)
    return {
        "identities_seeded": count,
        "seed_command_s": seeded,
        "pages": console_pages(server, count, repeats),
        "query_count": {"before_seeding": before, "after_seeding": after},
    }


def _timed_manage(deployment: Deployment, *args: str) -> float:
    started = time.perf_counter()
    deployment.manage(*args, timeout_s=900)
    return round(time.perf_counter() - started, 2)
