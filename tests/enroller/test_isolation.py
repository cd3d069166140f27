"""The enroller runs on devices: only the standard library, cryptography and PyJWT."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import REPO_ROOT, run_subprocess

PACKAGE = REPO_ROOT / "enrollment" / "enroller"
ALLOWED_THIRD_PARTY = {"cryptography", "jwt"}
# Top-level packages of this project and the server-side stack.
FORBIDDEN = ("django", "rest_framework", "cheroot", "asn1crypto", "authorities", "identities", "ziticonsole")

CHECK_MODULES = textwrap.dedent(
    """
    import sys
    forbidden = {forbidden!r}
    loaded = sorted(
        m for m in sys.modules
        if m.split(".")[0] in forbidden
        or (m.startswith("enrollment.") and not m.startswith("enrollment.enroller"))
    )
    assert not loaded, loaded
    """
)


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )


def test_importing_the_cli_pulls_in_no_django():
    result = python(
        "import enrollment.enroller.cli, sys;"
        " assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)"
    )
    assert result.returncode == 0, result.stderr


def test_no_module_of_the_package_imports_server_code():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__main__")
    code = "".join(f"import enrollment.enroller.{m}\n" for m in modules) + CHECK_MODULES.format(
        forbidden=set(FORBIDDEN)
    )
    result = python(code)
    assert result.returncode == 0, result.stderr


def test_a_whole_enrollment_loads_no_server_code(controller, pending, tmp_path: Path):
    # Lazy imports in rarely taken branches would slip past an import-only check.
    device = pending()
    runner = (
        "import runpy, sys\n"
        "sys.argv = ['enroller'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('enrollment.enroller', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
    ) + CHECK_MODULES.format(forbidden=set(FORBIDDEN))
    result = python(runner, "--jwt", str(device.jwt_path), "--out", str(tmp_path / "id.json"), "-v")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "id.json").exists()


def test_source_imports_only_stdlib_cryptography_and_jwt():
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                continue  # relative: inside the package
            if isinstance(node, ast.ImportFrom):
                roots = [(node.module or "").split(".")[0]]
            elif isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            else:
                continue
            for root in roots:
                allowed = (
                    root in sys.stdlib_module_names or root in ALLOWED_THIRD_PARTY or root == "__future__"
                )
                assert allowed, f"{path.name}:{node.lineno} imports {root}"


def test_help_runs_as_a_module():
    run = run_subprocess(["--help"])
    assert run.code == 0
    assert "--jwt" in run.stdout
    assert "exit codes:" in run.stdout
