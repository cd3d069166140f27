"""SQLite write transactions queue on an in-process lock and a lock file, and never leak them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction

from identities.models import Identity
from identities.services import create_identity

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the writer lock exists for SQLite only"
)


def in_thread(work) -> None:
    """Run `work` in a thread of its own (its own connection), failing instead of hanging."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the writer lock was never released"
    if errors:
        raise errors[0]


@pytest.mark.django_db(transaction=True)
def test_concurrent_write_transactions_all_commit():
    def create(n: int) -> None:
        try:
            create_identity(name=f"parallel-{n}", identity_type="device")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, range(64)))

    assert Identity.objects.count() == 64


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_lets_the_next_writer_in():
    def fail_inside_a_transaction() -> None:
        with transaction.atomic():
            Identity.objects.create(name="doomed", identity_type="Device")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        in_thread(fail_inside_a_transaction)
    in_thread(lambda: create_identity(name="next", identity_type="device"))

    assert list(Identity.objects.values_list("name", flat=True)) == ["next"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_write_releases_the_lock():
    def duplicate() -> None:
        create_identity(name="twin", identity_type="device")
        create_identity(name="twin", identity_type="device")  # IntegrityError inside atomic

    with pytest.raises(ValueError, match="already exists"):
        in_thread(duplicate)
    in_thread(lambda: create_identity(name="after", identity_type="device"))

    assert Identity.objects.count() == 2


HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.mark.django_db(transaction=True)
def test_a_writer_waits_for_another_process_holding_the_lock_file():
    """Server processes queue on the lock file beside the database, not in SQLite's sleeps."""
    lock_path = f"{connection.settings_dict['NAME']}-writer.lock"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, lock_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        done = threading.Event()

        def write() -> None:
            try:
                create_identity(name="queued", identity_type="device")
                done.set()
            finally:
                connections.close_all()

        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(timeout=0.5), "the write went ahead while another process held the lock"
        assert not Identity.objects.filter(name="queued").exists()
        holder.communicate("go\n", timeout=10)  # the other process ends, and its lock with it
        writer.join(timeout=30)
        assert done.is_set()
    assert Identity.objects.filter(name="queued").exists()
    assert stat.S_IMODE(os.stat(lock_path).st_mode) == 0o600
