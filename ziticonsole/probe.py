"""Waiting for a controller process to answer, for the tools that start one."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import time


class NotServing(RuntimeError):
    pass


def wait_until_serving(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Return once https://127.0.0.1:PORT/version answers 200; raise NotServing if the
    process exits first or the time runs out."""
    # Unverified on purpose: this only proves the port is up; whoever uses the server
    # afterwards verifies it against the PKI.
    probe = ssl._create_unverified_context()  # noqa: S323
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotServing(f"serve exited with status {process.returncode}")
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=probe, timeout=5)
        try:
            connection.request("GET", "/version")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    raise NotServing(f"serve did not answer within {timeout:.0f} s")
