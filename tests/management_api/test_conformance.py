"""Every response conforms to the schema management.yml gives it.

management-definitions.json holds the definitions this API needs, written from
openziti/edge-api's management.yml into JSON Schema, and for each operation we serve
the definition of each status code the spec lists. A scenario calls every operation,
with successes and refusals, against the real server; each reply is then checked:
its status must be one the spec lists for the operation (or a deviation named below,
with its reason), and its body must validate against that status's definition.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from jsonschema import Draft4Validator, FormatChecker

from identities.models import Enrollment
from tests.helpers import Reply, make_ca
from tests.lifecycle import enroll_device
from tests.management_api.conftest import BASE, Recorder, create_identity

SPEC = json.loads((Path(__file__).parent / "management-definitions.json").read_text())

# Statuses we answer that management.yml does not list for the operation.
DEVIATIONS = {
    # A body that fails validation: go-swagger refuses it too, though the spec lists no 400 here.
    ("POST /identities/{id}/disable", "400"): "apiErrorEnvelope",
    ("POST /authenticators/{id}/re-enroll", "400"): "apiErrorEnvelope",
    ("POST /authenticators/{id}/request-extend", "400"): "apiErrorEnvelope",
    # A CA that may not auto-enroll (unverified, or auto enrollment off) has no JWT here.
    ("GET /cas/{id}/jwt", "400"): "apiErrorEnvelope",
    # Unknown ids on operations whose spec forgot its 404.
    ("POST /enrollments/{id}/refresh", "404"): "apiErrorEnvelope",
}

_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(dt.datetime.fromisoformat(value).tzinfo)


def _template(path: str) -> str:
    """/edge/management/v1/identities/abc/disable?x=1 -> /identities/{id}/disable"""
    route = path.removeprefix(BASE).split("?", 1)[0] or "/"
    for operation in SPEC["responses"]:
        pattern = re.escape(operation.split(" ", 1)[1]).replace(re.escape("{id}"), "[^/]+")
        if re.fullmatch(pattern, route):
            return operation.split(" ", 1)[1]
    raise AssertionError(f"{route} is no path of management.yml")


def problems(method: str, path: str, reply: Reply) -> list[str]:
    operation = f"{method} {_template(path)}"
    listed = SPEC["responses"][operation]
    status = str(reply.status)
    if status in listed:
        definition = listed[status]
    elif (operation, status) in DEVIATIONS:
        definition = DEVIATIONS[(operation, status)]
    else:
        return [f"{operation} answered {status}; management.yml lists {sorted(listed)}"]
    if definition is None:
        return []
    schema = {"$ref": f"#/definitions/{definition}", "definitions": SPEC["definitions"]}
    validator = Draft4Validator(schema, format_checker=_formats)
    return [
        f"{operation} {status}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(reply.json())
    ]


def later() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).isoformat()


def scenario(api: Recorder, tmp_path: Path) -> None:
    """Every operation we serve, as a script would call them, with some refusals."""
    api.get("/")
    api.get("/version")
    api.call("POST", "/authenticate?method=password", {"username": "admin", "password": "wrong"})
    api.call("POST", "/authenticate?method=password", {"username": 1})
    api.get("/identities")  # 401
    api.login()
    api.get("/current-api-session")

    laptop = create_identity(api, "laptop", roleAttributes=["sales"], externalId="x-1", tags={"a": "b"})
    api.post("/identities", {"name": "laptop", "type": "Device", "isAdmin": False})  # 400
    api.get("/identities?limit=5&filter=" + "anyOf(roleAttributes)%20%3D%20%22sales%22")
    api.get("/identities?filter=name%20%3D")  # 400 INVALID_FILTER
    api.get(f"/identities/{laptop}")
    api.get("/identities/nope")
    api.call("PUT", f"/identities/{laptop}", {"name": "laptop", "type": "Device", "isAdmin": True})
    api.get(f"/identities/{laptop}")  # an admin identity
    api.call("PATCH", f"/identities/{laptop}", {"roleAttributes": ["ops"]})
    api.call("PATCH", f"/identities/{laptop}", {"type": "User"})  # 400
    api.post(f"/identities/{laptop}/disable", {"durationMinutes": 0})
    api.post(f"/identities/{laptop}/disable", {"durationMinutes": 5})  # 400
    api.post(f"/identities/{laptop}/enable")
    api.get(f"/identities/{laptop}/authenticators")
    api.get(f"/identities/{laptop}/enrollments")
    api.get("/identity-role-attributes")
    api.get("/identity-types")
    api.get("/identity-types/Device")
    api.get("/identity-types/Router")

    fleet = make_ca("Conformance CA")
    created = api.post(
        "/cas",
        {
            "name": "Fleet",
            "certPem": fleet.pem,
            "isAutoCaEnrollmentEnabled": True,
            "isOttCaEnrollmentEnabled": True,
            "isAuthEnabled": True,
            "identityRoles": [],
        },
    )
    ca = created.json()["data"]["id"]
    api.post("/cas", {"name": "Bad", "certPem": "nope"})  # 400
    api.get("/cas")
    token = api.get(f"/cas/{ca}").json()["data"]["verificationToken"]
    api.get(f"/cas/{ca}/jwt")  # 400: not verified
    proof, _ = fleet.issue(token, client_auth=False)
    api.call(
        "POST", f"/cas/{ca}/verify", raw=proof.public_bytes(Encoding.PEM).decode(), content_type="text/plain"
    )
    api.call("POST", f"/cas/{ca}/verify", raw="garbage", content_type="text/plain")  # 400
    api.get(f"/cas/{ca}")
    api.call("GET", f"/cas/{ca}/jwt", headers={"Accept": "application/jwt"})
    api.call("PATCH", f"/cas/{ca}", {"isAuthEnabled": False})
    api.call(
        "PUT",
        f"/cas/{ca}",
        {
            "name": "Fleet",
            "isAutoCaEnrollmentEnabled": True,
            "isOttCaEnrollmentEnabled": True,
            "isAuthEnabled": True,
            "identityRoles": [],
            "identityNameFormat": "[caName]-[commonName]",
        },
    )
    api.get("/cas/nope")

    enrollment = Enrollment.objects.get(identity_id=laptop)
    api.get("/enrollments")
    api.get(f"/enrollments/{enrollment.id}")
    api.post(f"/enrollments/{enrollment.id}/refresh", {"expiresAt": later()})
    api.post(f"/enrollments/{enrollment.id}/refresh", {"expiresAt": "then"})  # 400
    api.call("DELETE", f"/enrollments/{enrollment.id}")
    api.post("/enrollments", {"method": "ottca", "identityId": laptop, "caId": ca, "expiresAt": later()})
    api.get(f"/identities/{laptop}")  # with its ottca token
    api.get(f"/identities/{laptop}/enrollments")
    api.post("/enrollments", {"method": "ott", "identityId": laptop, "expiresAt": later()})  # 400: pending
    api.get("/enrollments/nope")

    device = enroll_device("sensor", tmp_path)
    authenticator = device.authenticator.pk
    api.get(f"/identities/{device.identity.pk}")  # enrolled: authenticators.cert
    api.get("/authenticators")
    api.get(f"/authenticators/{authenticator}")
    api.post(f"/authenticators/{authenticator}/request-extend", {"rollKeys": False})
    api.post(f"/authenticators/{authenticator}/re-enroll", {"expiresAt": later()})
    api.get(f"/authenticators/{authenticator}")  # 404: re-enroll removed it
    second = enroll_device("sensor-2", tmp_path)
    api.call("DELETE", f"/authenticators/{second.authenticator.pk}")

    api.call("DELETE", f"/cas/{ca}")
    api.call("DELETE", f"/identities/{laptop}")
    api.call("DELETE", "/current-api-session")
    api.get("/current-api-session")  # 401


def test_every_response_conforms_to_management_yml(recorder, tmp_path):
    scenario(recorder, tmp_path)

    found = [problem for method, path, reply in recorder.replies for problem in problems(method, path, reply)]
    assert found == []


def test_the_scenario_calls_every_operation_we_serve(recorder, tmp_path):
    scenario(recorder, tmp_path)

    called = {f"{method} {_template(path)}" for method, path, _ in recorder.replies}
    assert called == set(SPEC["responses"])


def test_the_check_sees_a_missing_field():
    broken = Reply(status=200, headers={}, body=json.dumps({"data": {"name": "x"}, "meta": {}}).encode())

    assert problems("GET", f"{BASE}/identities/abc", broken) != []
    assert problems("GET", f"{BASE}/identities/abc", Reply(status=302, headers={}, body=b"")) != []
