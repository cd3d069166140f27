"""/identities and friends: the fields, paths and status codes of management.yml, over
the same service functions as the console."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.x509 import load_pem_x509_certificate

from authorities.pki import load_pki
from authorities.services import create_certificate_authority
from identities.models import Enrollment, Identity
from tests.helpers import https_request, make_ca
from tests.lifecycle import enroll_device
from tests.management_api.conftest import create_identity


def test_create_with_an_ott_enrollment_then_read_its_jwt(mgmt, controller):
    reply = mgmt.post(
        "/identities",
        {
            "name": "laptop",
            "type": "User",
            "isAdmin": True,
            "roleAttributes": ["sales", "emea"],
            "externalId": "u-1001",
            "tags": {"owner": "ana", "floor": 3, "managed": True, "note": None},
            "enrollment": {"ott": True},
        },
    )

    assert reply.status == 201
    created = reply.json()["data"]
    assert created["_links"]["self"]["href"] == f"./identities/{created['id']}"
    detail = mgmt.get(f"/identities/{created['id']}").json()["data"]
    assert (detail["name"], detail["typeId"], detail["type"]["name"]) == ("laptop", "User", "User")
    assert detail["isAdmin"] is True
    assert detail["roleAttributes"] == ["sales", "emea"]
    assert detail["externalId"] == "u-1001"
    assert detail["tags"] == {"owner": "ana", "floor": 3, "managed": True, "note": None}
    ott = detail["enrollment"]["ott"]
    enrollment = Enrollment.objects.get(identity_id=created["id"])
    assert (ott["id"], ott["token"]) == (enrollment.id, enrollment.token)
    # The JWT a `ziti edge create identity -o x.jwt` writes: signed by the server key.
    claims = jwt.decode(
        ott["jwt"], load_pki().server_cert.public_key(), algorithms=["RS256"], options={"verify_aud": False}
    )
    assert (claims["em"], claims["sub"], claims["jti"]) == ("ott", created["id"], enrollment.token)
    assert claims["iss"] == controller.url


def test_create_with_an_ottca_enrollment(mgmt):
    ca = create_certificate_authority(name="Fleet", certificate_pem=make_ca().pem, ott_ca_enrollment=True)
    ca.is_verified = True
    ca.save()

    pk = create_identity(mgmt, "sensor", enrollment={"ottca": ca.id})

    detail = mgmt.get(f"/identities/{pk}").json()["data"]
    assert detail["enrollment"]["ottca"]["caId"] == ca.id
    assert (
        jwt.decode(detail["enrollment"]["ottca"]["jwt"], options={"verify_signature": False})["em"] == "ottca"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "Device", "isAdmin": False}, "name"),
        ({"name": "x", "isAdmin": False}, "type"),
        ({"name": "x", "type": "Router", "isAdmin": False}, "type"),
        ({"name": "x", "type": "Device"}, "isAdmin"),
        ({"name": "x", "type": "Device", "isAdmin": "yes"}, "isAdmin"),
        ({"name": 12, "type": "Device", "isAdmin": False}, "name"),
        ({"name": "x", "type": "Device", "isAdmin": False, "roleAttributes": "sales"}, "roleAttributes"),
        ({"name": "x", "type": "Device", "isAdmin": False, "tags": {"a": [1]}}, "tags"),
        ({"name": "   ", "type": "Device", "isAdmin": False}, "name"),
        ({"name": "a\nb", "type": "Device", "isAdmin": False}, "name"),
        (
            {"name": "x", "type": "Device", "isAdmin": False, "enrollment": {"ottca": "nope"}},
            "enrollment.ottca",
        ),
    ],
)
def test_a_bad_create_is_could_not_validate_with_its_field_and_creates_nothing(mgmt, body, field):
    reply = mgmt.post("/identities", body)

    assert reply.status == 400, reply.body
    assert reply.error_code == "COULD_NOT_VALIDATE"
    assert reply.json()["error"]["cause"]["field"] == field
    assert not Identity.objects.exists()


def test_an_ottca_enrollment_needs_a_verified_ca_allowing_it(mgmt):
    ca = create_certificate_authority(name="Fleet", certificate_pem=make_ca().pem, ott_ca_enrollment=True)

    reply = mgmt.post(
        "/identities", {"name": "x", "type": "Device", "isAdmin": False, "enrollment": {"ottca": ca.id}}
    )

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
    assert reply.json()["error"]["cause"] == {
        "field": "enrollment.ottca",
        "reason": 'the certificate authority "Fleet" is not verified yet',
    }
    assert not Identity.objects.exists()


def test_a_taken_name_or_external_id_is_refused(mgmt):
    create_identity(mgmt, "laptop", externalId="e-1")

    taken_name = mgmt.post("/identities", {"name": "laptop", "type": "Device", "isAdmin": False})
    taken_id = mgmt.post(
        "/identities", {"name": "other", "type": "Device", "isAdmin": False, "externalId": "e-1"}
    )

    assert taken_name.json()["error"]["cause"]["field"] == "name"
    assert taken_id.json()["error"]["cause"]["field"] == "externalId"
    assert Identity.objects.count() == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"])
def test_a_body_that_is_no_json_object_is_refused(mgmt, body):
    reply = mgmt.call("POST", "/identities", raw=body)

    assert reply.status == 400
    assert reply.error_code in ("COULD_NOT_PARSE_BODY", "COULD_NOT_VALIDATE")
    assert not Identity.objects.exists()


def test_put_replaces_and_patch_keeps_what_it_leaves_out(mgmt):
    pk = create_identity(mgmt, "laptop", roleAttributes=["a"], externalId="e-1", tags={"k": "v"})

    patched = mgmt.call("PATCH", f"/identities/{pk}", {"roleAttributes": ["b"]})
    assert patched.status == 200
    assert patched.json() == {"data": {}, "meta": {}}
    identity = Identity.objects.get(pk=pk)
    assert (identity.role_attributes, identity.external_id, identity.tags) == (["b"], "e-1", {"k": "v"})

    put = mgmt.call("PUT", f"/identities/{pk}", {"name": "laptop-2", "type": "Device", "isAdmin": True})
    assert put.status == 200
    identity.refresh_from_db()
    assert (identity.name, identity.is_admin, identity.role_attributes) == ("laptop-2", True, [])
    assert (identity.external_id, identity.tags) == (None, {})


def test_an_update_that_changes_the_type_is_refused(mgmt):
    pk = create_identity(mgmt, "laptop")

    put = mgmt.call("PUT", f"/identities/{pk}", {"name": "laptop", "type": "Service", "isAdmin": False})
    patch = mgmt.call("PATCH", f"/identities/{pk}", {"type": "User", "name": "renamed"})

    for reply in (put, patch):
        assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
        assert reply.json()["error"]["cause"]["field"] == "type"
    assert Identity.objects.get(pk=pk).name == "laptop"


def test_delete_removes_the_identity(mgmt):
    pk = create_identity(mgmt, "laptop")

    assert mgmt.call("DELETE", f"/identities/{pk}").status == 200
    assert not Identity.objects.filter(pk=pk).exists()
    assert mgmt.get(f"/identities/{pk}").error_code == "NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/identities/nope"),
        ("PUT", "/identities/nope"),
        ("PATCH", "/identities/nope"),
        ("DELETE", "/identities/nope"),
        ("POST", "/identities/nope/enable"),
        ("GET", "/identities/nope/authenticators"),
        ("GET", "/identities/nope/enrollments"),
        ("GET", "/identity-types/Router"),
        ("GET", "/no-such-resource"),
    ],
)
def test_unknown_ids_are_not_found(mgmt, method, path):
    reply = mgmt.call(method, path, {"name": "x", "type": "Device", "isAdmin": False})

    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")


def test_disable_and_enable(mgmt, tmp_path):
    pk = create_identity(mgmt, "laptop")

    assert mgmt.post(f"/identities/{pk}/disable", {"durationMinutes": 0}).status == 200
    detail = mgmt.get(f"/identities/{pk}").json()["data"]
    assert detail["disabled"] is True
    assert detail["enrollment"] == {}  # a disabled identity's token is not offered
    assert mgmt.post(f"/identities/{pk}/enable").status == 200
    assert mgmt.get(f"/identities/{pk}").json()["data"]["disabled"] is False


@pytest.mark.parametrize("body", [{}, {"durationMinutes": 60}, {"durationMinutes": "0"}])
def test_a_disable_it_cannot_honour_is_refused(mgmt, body):
    pk = create_identity(mgmt, "laptop")

    reply = mgmt.post(f"/identities/{pk}/disable", body)

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
    assert reply.json()["error"]["cause"]["field"] == "durationMinutes"
    assert not Identity.objects.get(pk=pk).is_disabled


def test_an_enrolled_identity_lists_its_authenticators_and_enrollments(mgmt, tmp_path):
    device = enroll_device("sensor", tmp_path)

    detail = mgmt.get(f"/identities/{device.identity.pk}").json()["data"]
    authenticators = mgmt.get(f"/identities/{device.identity.pk}/authenticators").json()
    enrollments = mgmt.get(f"/identities/{device.identity.pk}/enrollments").json()

    fingerprint = device.authenticator.fingerprint
    assert detail["authenticators"] == {
        "cert": {"id": str(device.authenticator.pk), "fingerprint": fingerprint}
    }
    assert detail["enrollment"] == {}
    assert [a["fingerprint"] for a in authenticators["data"]] == [fingerprint]
    certificate = load_pem_x509_certificate(authenticators["data"][0]["certPem"].encode())
    assert certificate == device.certificate
    assert enrollments["data"] == []  # its token was redeemed


def test_identity_types_are_openzitis_that_we_serve(mgmt):
    reply = mgmt.get("/identity-types").json()

    assert [t["name"] for t in reply["data"]] == ["User", "Device", "Service"]
    assert reply["meta"]["pagination"] == {"limit": 10, "offset": 0, "totalCount": 3}
    assert mgmt.get("/identity-types/Device").json()["data"]["id"] == "Device"


def test_identity_role_attributes_lists_each_once(mgmt):
    create_identity(mgmt, "a", roleAttributes=["sales", "emea"])
    create_identity(mgmt, "b", roleAttributes=["sales", "apac"])

    reply = mgmt.get("/identity-role-attributes").json()

    assert reply["data"] == ["apac", "emea", "sales"]
    assert mgmt.get("/identity-role-attributes?filter=x").error_code == "INVALID_FILTER"


def test_an_oversized_body_gets_the_envelope_not_a_page(mgmt):
    body = json.dumps({"name": "x" * 2_000_000, "type": "Device", "isAdmin": False})

    reply = mgmt.call("POST", "/identities", raw=body)

    assert (reply.status, reply.error_code) == (413, "REQUEST_TOO_LARGE")
    assert not Identity.objects.exists()


def test_has_api_session_says_whether_the_identity_is_logged_in(mgmt, controller, tmp_path):
    device = enroll_device("sensor", tmp_path)
    assert mgmt.get(f"/identities/{device.identity.pk}").json()["data"]["hasApiSession"] is False

    opened = https_request(
        controller.url,
        "POST",
        "/authenticate?method=cert",
        context=controller.ssl_context(device.cert_path, device.key_path),
    )

    assert opened.status == 200
    assert mgmt.get(f"/identities/{device.identity.pk}").json()["data"]["hasApiSession"] is True
