"""The identity file: {"ztAPI": ..., "id": {"key", "cert", "ca"}} (wire-protocol.md).

It holds a private key, so it is created with mode 0600, never over an existing file,
and appears complete or not at all: the content goes to a temporary file in the same
directory that is then hard-linked into place (link() refuses an existing name).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path

from .errors import OutputError, OutputExists

FILE_MODE = 0o600
# File systems without hard links (FAT, some network mounts) answer with one of these.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}


def render(zt_api: str, key_pem: str, cert_pem: str, ca_pem: str) -> bytes:
    """The file's bytes; raw PEM values, as the C SDK writes them."""
    document = {"ztAPI": zt_api, "id": {"key": key_pem, "cert": cert_pem, "ca": ca_pem}}
    return (json.dumps(document, indent=2) + "\n").encode()


def ensure_can_create(path: Path) -> None:
    """Fail before any network work if the file exists or its directory is unusable."""
    if os.path.lexists(path):  # a dangling symlink counts: we would write through it
        raise OutputExists(f"the output file {path} already exists; refusing to overwrite it")
    directory = path.parent
    if not directory.is_dir():
        raise OutputError(f"cannot write {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the directory {directory} is not writable")


def write_new(path: Path, data: bytes) -> None:
    """Create `path` (mode 0600) holding `data`, atomically and exclusively."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        fill(fd, data, path)
        _link_into_place(Path(tmp), path, data)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def fill(fd: int, data: bytes, path: Path) -> None:
    """Write `data` to the open file `fd` (mode 0600), synced to disk, then close it."""
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _link_into_place(tmp: Path, path: Path, data: bytes) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError as exc:
        # Someone created it while we enrolled; theirs stays, ours is discarded.
        raise OutputExists(
            f"the output file {path} appeared during enrollment; refusing to overwrite it"
        ) from exc
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        _write_exclusive(path, data)


def _write_exclusive(path: Path, data: bytes) -> None:
    """Fallback without hard links: O_EXCL creation, removed again if writing fails."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError as exc:
        raise OutputExists(
            f"the output file {path} appeared during enrollment; refusing to overwrite it"
        ) from exc
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        fill(fd, data, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
