"""Fixtures for the management API: an admin account and a client for the real HTTPS
server, authenticated as OpenZiti's tools do (password, then the zt-session header)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from tests.conftest import LiveController
from tests.helpers import Reply, https_request

BASE = "/edge/management/v1"

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "a long and unguessable passphrase"


@pytest.fixture
def admin(db: None) -> AbstractBaseUser:
    return get_user_model().objects.create_superuser(
        username=ADMIN_USERNAME, email="admin@example.com", password=ADMIN_PASSWORD
    )


@dataclass
class ManagementClient:
    controller: LiveController
    session: str | None = None
    cert: tuple[Path, Path] | None = None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: str | bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Accept": "application/json", **(headers or {})}
        if self.session is not None:
            sent["zt-session"] = self.session
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if payload is not None:
            sent["Content-Type"] = content_type
        context = self.controller.ssl_context(*self.cert) if self.cert else self.controller.ssl_context()
        return https_request(
            self.controller.url, method, BASE + path, context=context, body=payload, headers=sent
        )

    def login(self, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> Reply:
        reply = self.call(
            "POST", "/authenticate?method=password", {"username": username, "password": password}
        )
        if reply.status == 200:
            self.session = reply.json()["data"]["token"]
        return reply

    def get(self, path: str) -> Reply:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Reply:
        return self.call("POST", path, body)


@pytest.fixture
def anonymous(controller: LiveController) -> ManagementClient:
    return ManagementClient(controller)


@pytest.fixture
def mgmt(controller: LiveController, admin: AbstractBaseUser) -> ManagementClient:
    """Authenticated as the admin account."""
    client = ManagementClient(controller)
    assert client.login().status == 200
    return client


def create_identity(mgmt: ManagementClient, name: str, **fields: Any) -> str:
    body = {"name": name, "type": "Device", "isAdmin": False, "enrollment": {"ott": True}, **fields}
    reply = mgmt.post("/identities", body)
    assert reply.status == 201, reply.body
    return str(reply.json()["data"]["id"])


class Recorder(ManagementClient):
    """A client that keeps every reply with its request, for checking afterwards."""

    replies: list[tuple[str, str, Reply]]

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        reply = super().call(method, path, body, **kwargs)
        self.replies.append((method, BASE + path, reply))
        return reply


@pytest.fixture
def recorder(controller, admin) -> Recorder:
    client = Recorder(controller)
    client.replies = []
    return client
