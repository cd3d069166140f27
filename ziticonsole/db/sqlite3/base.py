"""SQLite, with write transactions queued in turn, within the process and across processes.

SQLite has one writer at a time. Under IMMEDIATE transactions a writer that finds the
lock taken sleeps in SQLite's busy handler, in steps of up to 100 ms, and retries: when
a fleet enrolls at once, an unlucky writer loses round after round while the lock sits
free between short transactions, and its request takes seconds. Measured with two
server processes enrolling at full speed, a BEGIN waited 2.6 ms on average in those
sleeps while the database lock sat free, and each process's writers queued behind it.

So writers queue instead: threads of one process on a lock that wakes them in turn,
then one thread per process on an exclusive flock(2) of a file beside the database,
which the kernel hands on the moment it is released (and frees if its process dies).
SQLite's own lock is then free whenever BEGIN asks for it.
"""

from __future__ import annotations

import fcntl
import os
import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_writer = threading.Lock()
_files_lock = threading.Lock()
_lock_files: dict[str, int] = {}  # database path -> this process's descriptor of its lock file


def _lock_file(database: str) -> int | None:
    """This process's descriptor of the database's writer lock file; None for an in-memory one."""
    if database == ":memory:" or database.startswith("file:") or "mode=memory" in database:
        return None
    with _files_lock:
        fd = _lock_files.get(database)
        if fd is None:
            # Opened per process, not inherited: flock(2) locks belong to the open file.
            fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            _lock_files[database] = fd
        return fd


def forget_lock_files() -> None:
    """In a forked child: the parent's descriptors share the parent's locks, so close
    them (the parent's locks stay the parent's) and open anew when needed."""
    for fd in _lock_files.values():
        os.close(fd)
    _lock_files.clear()


os.register_at_fork(after_in_child=forget_lock_files)


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer = False
    _locked_fd: int | None = None

    def _start_transaction_under_autocommit(self) -> None:
        # Give up after SQLite's own busy timeout, with SQLite's own error: a leaked lock
        # must not hang every writer forever.
        if not _writer.acquire(timeout=self.settings_dict["OPTIONS"].get("timeout", 5)):
            raise OperationalError("database is locked (waited for another write transaction)")
        self._holds_writer = True
        try:
            fd = _lock_file(str(self.settings_dict["NAME"]))
            if fd is not None:
                # Blocks without the GIL; at most one thread per process waits here.
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._locked_fd = fd
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # a private hook django-stubs omits
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
            if self._locked_fd is not None:
                fd, self._locked_fd = self._locked_fd, None
                fcntl.flock(fd, fcntl.LOCK_UN)
            _writer.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # a private hook django-stubs omits
        finally:
            self._release_writer()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # a private hook django-stubs omits
        finally:
            self._release_writer()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # a private hook django-stubs omits
        finally:
            self._release_writer()
