"""/cas: register, verify by proof of possession (text/plain PEM), the CA's JWT, update
and delete, over authorities.services."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from authorities.models import CertificateAuthority
from tests.helpers import TestCA, make_ca


@pytest.fixture
def fleet() -> TestCA:
    return make_ca("Fleet Issuing CA")


def register(mgmt, fleet: TestCA, **fields) -> str:
    body = {
        "name": "Fleet",
        "certPem": fleet.pem,
        "isAutoCaEnrollmentEnabled": True,
        "isOttCaEnrollmentEnabled": True,
        "isAuthEnabled": True,
        "identityRoles": ["fleet"],
        "identityNameFormat": "[caName]-[commonName]",
        **fields,
    }
    reply = mgmt.post("/cas", body)
    assert reply.status == 201, reply.body
    return str(reply.json()["data"]["id"])


def proof(fleet: TestCA, token: str) -> str:
    certificate, _ = fleet.issue(token, client_auth=False)
    return certificate.public_bytes(Encoding.PEM).decode()


def test_register_verify_and_get_the_jwt(mgmt, fleet, controller):
    pk = register(mgmt, fleet)

    detail = mgmt.get(f"/cas/{pk}").json()["data"]
    ca = CertificateAuthority.objects.get(pk=pk)
    assert detail["fingerprint"] == ca.fingerprint
    assert detail["isVerified"] is False
    assert detail["verificationToken"] == ca.verification_token
    assert detail["identityRoles"] == ["fleet"]
    assert detail["certPem"].startswith("-----BEGIN CERTIFICATE-----")
    assert mgmt.get(f"/cas/{pk}/jwt").error_code == "COULD_NOT_VALIDATE"  # not verified yet

    verified = mgmt.call(
        "POST", f"/cas/{pk}/verify", raw=proof(fleet, detail["verificationToken"]), content_type="text/plain"
    )

    assert verified.status == 200, verified.body
    detail = mgmt.get(f"/cas/{pk}").json()["data"]
    assert detail["isVerified"] is True
    assert "verificationToken" not in detail  # shown only until verified
    token = mgmt.call("GET", f"/cas/{pk}/jwt", headers={"Accept": "application/jwt"})
    assert token.status == 200
    assert token.headers["content-type"] == "application/jwt"
    claims = jwt.decode(token.body, options={"verify_signature": False})
    assert (claims["em"], claims["sub"], claims["iss"]) == ("ca", pk, controller.url)


def test_a_wrong_proof_is_refused_and_the_ca_stays_unverified(mgmt, fleet):
    pk = register(mgmt, fleet)

    wrong_cn = mgmt.call(
        "POST", f"/cas/{pk}/verify", raw=proof(fleet, "not-the-token"), content_type="text/plain"
    )
    as_json = mgmt.post(f"/cas/{pk}/verify", {"certificate": "x"})

    assert (wrong_cn.status, wrong_cn.error_code) == (400, "COULD_NOT_VALIDATE")
    assert wrong_cn.json()["error"]["cause"]["field"] == "certPem"
    assert as_json.status == 400
    assert CertificateAuthority.objects.get(pk=pk).is_verified is False


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"certPem": "not a certificate"}, "certPem"),
        ({"certPem": 5}, "certPem"),
        ({"name": ""}, "name"),
        ({"isAuthEnabled": None}, "isAuthEnabled"),
        ({"identityRoles": None}, None),
    ],
)
def test_a_bad_registration_is_refused_and_stores_nothing(mgmt, fleet, fields, field):
    body = {
        "name": "Fleet",
        "certPem": fleet.pem,
        "isAutoCaEnrollmentEnabled": False,
        "isOttCaEnrollmentEnabled": False,
        "isAuthEnabled": False,
        "identityRoles": [],
        **fields,
    }

    reply = mgmt.post("/cas", body)

    if field is None:  # null roles are no roles, as OpenZiti's nullable lists
        assert reply.status == 201
        return
    assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
    assert reply.json()["error"]["cause"]["field"] == field
    assert not CertificateAuthority.objects.exists()


def test_patch_and_put_change_flags_and_name(mgmt, fleet):
    pk = register(mgmt, fleet)

    assert mgmt.call("PATCH", f"/cas/{pk}", {"isAuthEnabled": False}).status == 200
    ca = CertificateAuthority.objects.get(pk=pk)
    assert (ca.is_auth_enabled, ca.is_ott_ca_enrollment_enabled, ca.name) == (False, True, "Fleet")

    put = mgmt.call(
        "PUT",
        f"/cas/{pk}",
        {
            "name": "Fleet 2",
            "isAutoCaEnrollmentEnabled": False,
            "isOttCaEnrollmentEnabled": False,
            "isAuthEnabled": True,
            "identityRoles": [],
            "identityNameFormat": "[caName]-[requestedName]",
        },
    )
    assert put.status == 200, put.body
    ca.refresh_from_db()
    assert (ca.name, ca.is_auth_enabled, ca.identity_name_format) == (
        "Fleet 2",
        True,
        "[caName]-[requestedName]",
    )
    incomplete = mgmt.call("PUT", f"/cas/{pk}", {"name": "Fleet 3"})
    assert incomplete.error_code == "COULD_NOT_VALIDATE"
    ca.refresh_from_db()
    assert ca.name == "Fleet 2"


def test_delete_and_unknown_ids(mgmt, fleet):
    pk = register(mgmt, fleet)

    assert mgmt.call("DELETE", f"/cas/{pk}").status == 200
    assert not CertificateAuthority.objects.exists()
    for method, path in [("GET", f"/cas/{pk}"), ("GET", f"/cas/{pk}/jwt"), ("POST", f"/cas/{pk}/verify")]:
        assert mgmt.call(method, path).error_code == "NOT_FOUND"


def test_the_list_filters_on_flags(mgmt, fleet):
    register(mgmt, fleet)
    register(mgmt, make_ca("Other"), name="Other", isAuthEnabled=False)

    reply = mgmt.get("/cas?filter=isAuthEnabled%20%3D%20false").json()

    assert [ca["name"] for ca in reply["data"]] == ["Other"]
