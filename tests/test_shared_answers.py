"""Answers the same for every client (the CA bundle, /version) are replayed from the
event loop; nothing that depends on the client, a cookie or a body ever is."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.web import http as twisted_http
from twisted.web.test.requesthelper import DummyChannel

from tests.servers import ServerProcess, free_port, serving
from ziticonsole.server import SHARED_MAX_AGE_S, SharedAnswers

OK = "200 OK"
PUBLIC = [("Content-Type", "application/json"), ("Cache-Control", "public, max-age=60"), ("Vary", "Accept")]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(method: bytes = b"GET", uri: bytes = b"/version", **headers: bytes) -> twisted_http.Request:
    made = twisted_http.Request(DummyChannel())
    made.method, made.uri = method, uri
    for name, value in headers.items():
        made.requestHeaders.addRawHeader(name.replace("_", "-").encode(), value)
    return made


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def answers(clock: Clock) -> SharedAnswers:
    return SharedAnswers(clock)


def test_a_public_answer_is_replayed_until_its_max_age(answers: SharedAnswers, clock: Clock):
    key = SharedAnswers.key(request(host=b"localhost", accept=b"application/json"))
    answers.keep(key, OK, PUBLIC, b"{}")

    clock.now += 59
    replay = answers.lookup(key)
    assert replay is not None
    assert replay.body == b"{}"
    assert ("Age", "59") in replay.replayed(clock.now)

    clock.now += 1
    assert answers.lookup(key) is None


def test_no_answer_is_replayed_longer_than_the_server_allows(answers: SharedAnswers, clock: Clock):
    key = SharedAnswers.key(request())
    answers.keep(key, OK, [("Cache-Control", "public, max-age=86400")], b"x")

    clock.now += SHARED_MAX_AGE_S
    assert answers.lookup(key) is None


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        ("404 Not Found", PUBLIC),
        (OK, [("Content-Type", "application/json")]),  # no Cache-Control: the view did not say
        (OK, [("Cache-Control", "private, max-age=60")]),
        (OK, [("Cache-Control", "public, no-store, max-age=60")]),
        (OK, [("Cache-Control", "public")]),  # no max-age
        (OK, [("Cache-Control", "public, max-age=soon")]),
        (OK, [*PUBLIC, ("Set-Cookie", "sessionid=x")]),
        (OK, [("Cache-Control", "public, max-age=60"), ("Vary", "Accept, Authorization")]),
    ],
)
def test_an_answer_that_may_differ_per_client_is_not_kept(answers: SharedAnswers, status, headers):
    key = SharedAnswers.key(request())
    answers.keep(key, status, headers, b"x")

    assert answers.lookup(key) is None


@pytest.mark.parametrize(
    "made",
    [
        request(method=b"POST"),
        request(method=b"HEAD"),
        request(content_length=b"5"),
        request(transfer_encoding=b"chunked"),
    ],
)
def test_a_request_with_a_body_or_another_method_is_never_shared(made: twisted_http.Request):
    assert SharedAnswers.key(made) is None


def test_the_host_and_the_negotiated_headers_are_part_of_the_key(answers: SharedAnswers):
    kept = SharedAnswers.key(request(host=b"localhost", accept=b"application/json"))
    answers.keep(kept, OK, PUBLIC, b"{}")

    for other in (
        request(host=b"evil.example", accept=b"application/json"),
        request(host=b"localhost", accept=b"application/x-pem-file"),
        request(host=b"localhost", accept=b"application/json", accept_encoding=b"gzip"),
        request(host=b"localhost", accept=b"application/json", cookie=b"sessionid=x"),
        request(uri=b"/version?x=1", host=b"localhost", accept=b"application/json"),
    ):
        assert answers.lookup(SharedAnswers.key(other)) is None
    assert answers.lookup(kept) is not None


def test_a_flood_of_query_strings_does_not_grow_the_cache(answers: SharedAnswers):
    for n in range(1000):
        answers.keep(SharedAnswers.key(request(uri=b"/version?n=%d" % n)), OK, PUBLIC, b"{}")

    assert len(answers.answers) <= 64


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    data_dir = tmp_path_factory.mktemp("shared") / "var"
    with serving(data_dir, free_port(), ZITI_WORKERS="1") as running:
        yield running, data_dir


def get(
    server: tuple[ServerProcess, Path], path: str, method: str = "GET", **headers: str
) -> http.client.HTTPResponse:
    process, data_dir = server
    context = ssl.create_default_context(cafile=str(data_dir / "pki" / "root-ca.crt"))
    connection = http.client.HTTPSConnection("localhost", process.port, context=context, timeout=10)
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.mark.parametrize("path", ["/version", "/edge/client/v1/version", "/.well-known/est/cacerts"])
def test_the_server_replays_the_answers_every_device_gets_alike(server, path: str):
    first, second = get(server, path, Accept="*/*"), get(server, path, Accept="*/*")

    assert (first.status, second.status) == (200, 200)
    assert first.getheader("Age") is None  # Django answered
    assert second.getheader("Age") == "0"  # the event loop did
    assert second.getheader("Content-Type") == first.getheader("Content-Type")
    assert second.getheader("Strict-Transport-Security") == first.getheader("Strict-Transport-Security")


def test_a_replay_does_not_skip_the_host_check_or_the_method(server):
    get(server, "/version")
    assert get(server, "/version", Host="evil.example").status == 400
    assert get(server, "/version", method="POST").status == 405


def test_an_answer_for_one_client_is_never_replayed(server):
    get(server, "/edge/client/v1/current-identity")
    again = get(server, "/edge/client/v1/current-identity")

    assert again.status == 401
    assert again.getheader("Age") is None
