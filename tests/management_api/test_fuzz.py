"""Property-based requests over our own OpenAPI document, against the real server.

schemathesis generates requests for every operation of the management document (valid
bodies and parameters, and broken ones) and checks each reply: never a 5xx, a status
the document lists, its content type, and a body that fits the document's schema.
Bounded: FUZZ_EXAMPLES per operation and a deadline for the whole run (ZITI_FUZZ_* to
change them), so that it stays well inside the suite's time on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import time

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from identities.services import create_identity
from tests.management_api.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, BASE
from ziticonsole.management_urls import management_patterns

EXAMPLES = int(os.environ.get("ZITI_FUZZ_EXAMPLES", "15"))
BUDGET_SECONDS = float(os.environ.get("ZITI_FUZZ_SECONDS", "110"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
_started: list[float] = []  # when the first operation's run began


def _management_document() -> dict:
    """The document /specs serves, made as it makes it (the schema must exist before
    the tests are collected; test_specs.py checks that it is the one served)."""
    generator = SchemaGenerator(patterns=management_patterns)
    return generator.get_schema(request=None, public=True)  # type: ignore[no-any-return]


document = schemathesis.openapi.from_dict(_management_document())


@pytest.fixture(autouse=True)
def something_to_find(controller, admin) -> None:
    # Identities of each type, each with a pending token.
    for name, kind in [("laptop", "User"), ("sensor", "Device"), ("billing", "Service")]:
        create_identity(name=name, identity_type=kind, role_attributes=["fuzz"])


@pytest.fixture
def session(controller) -> requests.Session:
    """A requests session that trusts the controller's CA bundle."""
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE from the environment would win over `verify`
    http.verify = str(controller.ca_bundle_path)
    return http


@pytest.fixture
def token(controller, session) -> str:
    return _login(controller, session)


def _login(controller, http: requests.Session) -> str:
    reply = http.post(
        f"{controller.url}{BASE}/authenticate?method=password",
        json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    reply.raise_for_status()
    return str(reply.json()["data"]["token"])


@document.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_breaks_the_server_or_the_document(case, controller, session, token):
    if not _started:
        _started.append(time.monotonic())
    if time.monotonic() - _started[0] > BUDGET_SECONDS:
        pytest.skip(f"the fuzz budget of {BUDGET_SECONDS:.0f} s is spent")
    if case.method == "DELETE" and case.path.endswith("/current-api-session"):
        token = _login(controller, session)  # each example ends the session it is given
    headers = {"zt-session": token} if "zt-session" not in (case.headers or {}) else {}
    case.call_and_validate(
        base_url=controller.url,
        session=session,
        headers=headers,
        checks=CHECKS,
        verify=str(controller.ca_bundle_path),
    )
