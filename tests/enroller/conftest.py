"""Fixtures for the enroller suite: running the CLI for real and minting enrollments."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from enrollment.enroller.cli import main
from identities.models import Enrollment, Identity
from identities.services import create_identity, enrollment_jwt

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    """What one CLI run left behind."""

    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_subprocess(args: list[str], stdin: str | None = None) -> Run:
    """`python -m enrollment.enroller ARGS` in a fresh interpreter, as on a device."""
    # The CLI needs nothing from the test settings; make sure it does not get them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "enrollment.enroller", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def run_in_process(args: list[str], stdin: str = "") -> Run:
    """The CLI's main() in this process: faster, same code path after argument parsing."""
    out, err = io.StringIO(), io.StringIO()
    code = main(args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


@dataclass
class Pending:
    """An identity with a pending ott enrollment and its JWT on disk."""

    identity: Identity
    enrollment: Enrollment
    jwt: str
    jwt_path: Path


@pytest.fixture
def pending(tmp_path: Path) -> Callable[..., Pending]:
    """Make an identity through the real service and write its enrollment JWT to a file."""
    counter = iter(range(1_000_000))

    def make(name: str | None = None, **kwargs: Any) -> Pending:
        number = next(counter)
        identity, enrollment = create_identity(
            name=name or f"enroller-device-{number}", identity_type="device", **kwargs
        )
        token = enrollment_jwt(enrollment)
        path = tmp_path / f"enrollment-{number}.jwt"
        path.write_text(token + "\n")
        return Pending(identity, enrollment, token, path)

    return make


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_identity_file(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def assert_one_line_error(run: Run, *fragments: str) -> None:
    """A failure: non-zero exit and exactly one "error: ..." line naming the cause."""
    assert run.code != 0, run
    assert len(run.error_lines) == 1, run.stderr
    line = run.error_lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment.lower() in line.lower(), line
