"""Console pages of the project as a whole."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

THROTTLED = "Too many failed logins for this account or from this address. Wait a few minutes and try again."


def login_throttled(request: HttpRequest, credentials: dict[str, Any] | None = None, *_: Any) -> HttpResponse:
    """The login page again, saying why, with 429: django-axes calls this on a lockout.

    The same words whether or not the account exists, so the answer tells nothing.
    """
    context = {"form": AuthenticationForm(request), "throttled": THROTTLED}
    return render(request, "registration/login.html", context, status=429)
