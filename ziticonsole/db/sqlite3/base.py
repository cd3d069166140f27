"""SQLite, with write transactions queued inside the process.

SQLite has one writer at a time. Under IMMEDIATE transactions a writer that finds the
lock taken sleeps in SQLite's busy handler, in steps of up to 100 ms, and retries: when
a fleet enrolls at once, an unlucky thread loses round after round while the lock sits
free between short transactions, and its request takes seconds. Threads of one process
therefore wait for each other on a lock that wakes them in turn; only the few server
processes still meet in the busy handler.
"""

from __future__ import annotations

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_writer = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer = False

    def _start_transaction_under_autocommit(self) -> None:
        # Give up after SQLite's own busy timeout, with SQLite's own error: a leaked lock
        # must not hang every writer forever.
        if not _writer.acquire(timeout=self.settings_dict["OPTIONS"].get("timeout", 5)):
            raise OperationalError("database is locked (waited for another write transaction)")
        self._holds_writer = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # a private hook django-stubs omits
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
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
