"""The controller under test: `manage.py serve` as its own process, and its commands."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ziticonsole.probe import NotServing, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tree_cpu_seconds(root: int) -> float:
    """CPU time used so far by process `root` and its live children (one level deep).

    Read from /proc, because the kernel credits children to their parent only once
    they have exited; 0.0 where there is no /proc.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name, which may itself hold spaces or ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process exited meanwhile
        pid, parent = int(stat.parent.name), int(fields[1])
        if root in (pid, parent):
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def stop_process_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM lets a supervisor stop its workers; SIGKILL to its group only if that hangs."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


@dataclass(frozen=True)
class Deployment:
    """One data directory (keys, SQLite or nothing) and the database the server uses."""

    data_dir: Path
    database_url: str | None  # None: SQLite in the data dir
    admin_password: str

    def env(self, **extra: str) -> dict[str, str]:
        # Nothing of the caller's own controller configuration may leak in.
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("ZITI_", "DJANGO_", "DATABASE_URL"))
        }
        env = {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "ziticonsole.settings",
            "ZITI_DATA_DIR": str(self.data_dir),
            "ZITI_ADMIN_PASSWORD": self.admin_password,
            "ZITI_LOG_LEVEL": "WARNING",
            **extra,
        }
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    @property
    def server_ca(self) -> Path:
        """What a client trusts to reach the server: the controller's root CA."""
        return self.data_dir / "pki" / "root-ca.crt"

    @property
    def server_cert(self) -> Path:
        """The controller's TLS leaf (its key signs the JWTs): what a proxy in front presents."""
        return self.data_dir / "pki" / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.data_dir / "pki" / "server.key"

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.server_ca))

    def manage(self, *args: str, timeout_s: float = 120.0) -> str:
        """Run a management command against this deployment; its stdout."""
        return self._run(["manage.py", *args], f"manage.py {args[0]}", timeout_s)

    def python(self, module: str, *args: str, timeout_s: float = 120.0) -> str:
        """Run `python -m module` with this deployment's settings; its stdout."""
        return self._run(["-m", module, *args], module, timeout_s)

    def _run(self, args: list[str], what: str, timeout_s: float) -> str:
        done = subprocess.run(  # noqa: S603 - our own interpreter, manage.py or module
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr.strip()[-1000:]}")
        return done.stdout


class ServerProcess:
    """`manage.py serve` with ZITI_WORKERS processes of ZITI_SERVER_THREADS threads, on a free port."""

    def __init__(
        self, deployment: Deployment, workers: int, threads: int, *, proxy_socket: bool = False
    ) -> None:
        self.deployment = deployment
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        # Where the server also speaks plain HTTP to a proxy in front (ZITI_PROXY_SOCKET),
        # when asked to; a server that does not know the setting just ignores it.
        self.proxy_socket = deployment.data_dir / f"app-{self.port}.sock" if proxy_socket else None
        # A file, not a pipe: a pipe nobody reads would block the server once full.
        self.log_path = deployment.data_dir / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.deployment.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve"],
                cwd=ROOT,
                env=self.deployment.env(
                    ZITI_CTRL_PORT=str(self.port),
                    ZITI_WORKERS=str(self.workers),
                    ZITI_SERVER_THREADS=str(self.threads),
                    **({"ZITI_PROXY_SOCKET": str(self.proxy_socket)} if self.proxy_socket else {}),
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so a hung server can be killed with its workers.
                start_new_session=True,
            )
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far: the supervisor and its live workers."""
        return 0.0 if self.process is None else tree_cpu_seconds(self.process.pid)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _wait_until_serving(self) -> None:
        assert self.process is not None
        try:
            wait_until_serving(self.port, self.process, START_TIMEOUT_S)
        except NotServing as exc:
            raise RuntimeError(f"{exc}: {self.log_tail()}") from exc

    def stop(self) -> None:
        stop_process_group(self.process)
