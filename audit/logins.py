"""Console logins and logouts, recorded from Django's auth signals."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audit.models import Action, ObjectType
from audit.services import record, record_refusal
from kernel.actors import Actor, acting_as
from kernel.api import MANAGEMENT_API_PREFIX


def _address(request: HttpRequest | None) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def _channel(request: HttpRequest | None) -> str:
    """Where the login came in: the management API's authenticate, or the console."""
    on_api = request is not None and request.path.startswith(MANAGEMENT_API_PREFIX)
    return "management-api" if on_api else "console"


@receiver(user_logged_in)
def _logged_in(sender: object, request: HttpRequest | None, user: Any, **_: object) -> None:
    actor = Actor(
        "admin", user.get_username(), ref=str(user.pk), address=_address(request), channel=_channel(request)
    )
    with acting_as(actor):
        record(Action.LOGIN_SUCCEEDED, ObjectType.ADMIN, str(user.pk), user.get_username())


@receiver(user_logged_out)
def _logged_out(sender: object, request: HttpRequest | None, user: Any, **_: object) -> None:
    if user is None:
        return  # nobody was logged in: nothing happened
    actor = Actor(
        "admin", user.get_username(), ref=str(user.pk), address=_address(request), channel=_channel(request)
    )
    with acting_as(actor):
        record(Action.LOGOUT, ObjectType.ADMIN, str(user.pk), user.get_username())


@receiver(user_login_failed)
def _login_failed(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **_: object
) -> None:
    # Django has already masked the password in `credentials`; only the username is kept.
    username = str(credentials.get("username", ""))
    with acting_as(Actor("anonymous", username, address=_address(request), channel=_channel(request))):
        record_refusal(Action.LOGIN_FAILED, ObjectType.ADMIN, object_name=username)
