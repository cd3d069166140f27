"""Secrets and keys kept in files that only their owner can read."""

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


def write_private_file(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Create `path` with mode 0600 holding `data`, atomically.

    The data is written to a temporary file first and then hard-linked into place, so
    no reader ever sees a partial file, and an existing file is never overwritten
    (FileExistsError). With `replace`, an existing file is swapped for the new one in one
    rename, so it is never missing either (a key being re-encrypted, say).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
            return
        os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def read_or_create_secret(path: Path, length: int = 50) -> str:
    """Return the secret in `path`, generating it on first use."""
    if not path.exists():
        # Another process may create it first; then its secret is the one to use.
        with contextlib.suppress(FileExistsError):
            write_private_file(path, secrets.token_urlsafe(length).encode())
    return path.read_text().strip()
