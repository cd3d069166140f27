"""Running `python -m bench` from a test, as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


def run_bench(args: list[str], out: Path) -> tuple[dict[str, Any], str]:
    """The results JSON and the printed report of one run; a failed run fails the test."""
    # The benchmark makes its own data dir; the test suite's settings must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZITI_", "DJANGO_", "DATABASE_URL"))}
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text()), done.stdout
