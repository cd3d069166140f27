"""Our own OpenAPI documents: served, generated from the code, and covering every route."""

from __future__ import annotations

import json
import re

import pytest
import requests
import schemathesis
from django.urls import URLPattern, URLResolver
from schemathesis.core.failures import Failure, FailureGroup

from tests.helpers import Reply, https_request
from tests.management_api.conftest import BASE
from tests.management_api.test_conformance import _template, scenario
from ziticonsole.management_urls import client_patterns, management_patterns

METHODS = ("get", "post", "put", "patch", "delete")


def served(patterns: list[URLPattern | URLResolver], prefix: str = "/") -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route: `<str:pk>` reads as `{id}`, as in
    OpenZiti's paths (drf-spectacular names a primary key `id`)."""
    routes: set[tuple[str, str]] = set()
    for pattern in patterns:
        route = prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern)).replace("{pk}", "{id}")
        if isinstance(pattern, URLResolver):
            routes |= served(pattern.url_patterns, route)
            continue
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        routes |= {(method, route) for method in METHODS if hasattr(view, method)}
    return routes


def documented(document: dict) -> set[tuple[str, str]]:
    return {
        (method, path) for path, item in document["paths"].items() for method in item if method in METHODS
    }


def fetch(controller, path: str) -> dict:
    reply = https_request(controller.url, "GET", path, context=controller.ssl_context())
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    return json.loads(reply.body)


@pytest.mark.parametrize(
    ("path", "patterns"),
    [("/edge/management/v1/specs", management_patterns), ("/edge/client/v1/specs", client_patterns)],
)
def test_every_route_we_serve_is_in_our_document(controller, path, patterns):
    document = fetch(controller, path)

    assert document["openapi"].startswith("3.")
    assert documented(document) == served(patterns)


def test_the_management_document_says_how_to_authenticate(controller):
    document = fetch(controller, "/edge/management/v1/specs")

    scheme = document["components"]["securitySchemes"]["ztSession"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "zt-session"}
    listed = document["paths"]["/edge/management/v1/identities"]["get"]
    assert {"ztSession": []} in listed["security"]
    assert {p["name"] for p in listed["parameters"]} >= {"limit", "offset", "filter"}
    assert document["paths"]["/edge/management/v1/authenticate"]["post"].get("security") in (None, [], [{}])


def test_the_check_sees_a_route_missing_from_the_document(controller):
    document = fetch(controller, "/edge/management/v1/specs")
    del document["paths"]["/edge/management/v1/cas/{id}/jwt"]

    assert documented(document) != served(management_patterns)


def as_response(method: str, url: str, reply: Reply) -> schemathesis.Response:
    return schemathesis.Response(
        status_code=reply.status,
        headers={name.title(): [value] for name, value in reply.headers.items()},
        content=reply.body,
        request=requests.Request(method, url).prepare(),
        elapsed=0.0,
        message="",
        encoding="utf-8",
        http_version="1.1",
        verify=True,
    )


def test_every_reply_of_the_scenario_fits_our_document(recorder, controller, tmp_path):
    """Real resources, which random ids seldom reach, against our own document too."""
    scenario(recorder, tmp_path)
    document = schemathesis.openapi.from_dict(fetch(controller, "/edge/management/v1/specs"))

    failures = []
    for method, path, reply in recorder.replies:
        if reply.headers.get("content-type") != "application/json":
            continue  # the CA's JWT: test_cas.py reads it
        operation = document[BASE + _template(path)]
        try:
            operation[method].validate_response(as_response(method, controller.url + path, reply))
        except (FailureGroup, Failure) as exc:
            failures.append(f"{method} {path} {reply.status}: {exc}")
    assert failures == []
