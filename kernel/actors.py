"""Who is acting: the admin, device or command on whose behalf a service function runs.

Set once where a request or command is authenticated (console middleware, API
authentication, the enrollment views, management commands) and read where a change is
recorded, so service functions need no extra argument to know their caller.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["admin", "identity", "device", "command", "anonymous"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    # The admin's username, the identity's name, the command's name, or "" when unknown.
    name: str
    # The admin's user id or the identity's id, when there is one.
    ref: str | None = None
    # The client's address as the middleware settled it (behind the proxy too).
    address: str | None = None
    # "console", "management-api", "client-api", "cli".
    channel: str = ""


_current: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("ziti_actor", default=None)


def current_actor() -> Actor | None:
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Run the block on `actor`'s behalf; the previous actor comes back afterwards."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
