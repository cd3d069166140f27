"""ottca and ca enrollment, and certificate authentication, over real mutual TLS.

Every CA here is registered after the server started: the running server must pick it
up without a restart.
"""

from __future__ import annotations

import datetime as dt
import json

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from authorities.models import CertificateAuthority
from authorities.services import create_certificate_authority, verify_certificate_authority
from enrollment.models import ApiSession
from identities.models import Authenticator, Enrollment, Identity
from identities.services import create_identity, set_identity_disabled
from tests.helpers import TestCA, https_request, make_ca, write_cert_and_key


def register(test_ca: TestCA, name: str = "Fleet", *, verify: bool = True, **flags) -> CertificateAuthority:
    flags = {"ott_ca_enrollment": True, "auto_ca_enrollment": True, "auth_enabled": True, **flags}
    ca = create_certificate_authority(name=name, certificate_pem=test_ca.pem, **flags)
    if verify:
        proof, _key = test_ca.issue(ca.verification_token, client_auth=False)
        verify_certificate_authority(ca, proof.public_bytes(Encoding.PEM))
    return ca


@pytest.fixture
def fleet() -> TestCA:
    return make_ca("Fleet Issuing CA")


@pytest.fixture
def device(fleet, tmp_path):
    """A device certificate from the fleet CA, without SAN or AKI, as written to disk."""
    cert, key = fleet.issue("sensor-17")
    paths = write_cert_and_key(tmp_path, "sensor-17", cert, key)
    return cert, paths


def post(controller, path, *, client=None, body=None, headers=None):
    context = controller.ssl_context(*client) if client else controller.ssl_context()
    return https_request(controller.url, "POST", path, context=context, body=body, headers=headers or {})


def get(controller, path, *, headers=None):
    return https_request(controller.url, "GET", path, context=controller.ssl_context(), headers=headers or {})


def enroll_ottca(controller, enrollment, client):
    return post(
        controller,
        f"/enroll?method=ottca&token={enrollment.token}",
        client=client,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )


def enroll_ca(controller, client, name=None, prefix=""):
    body = json.dumps({"name": name}) if name is not None else None
    return post(
        controller,
        f"{prefix}/enroll?method=ca",
        client=client,
        body=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )


# ottca -------------------------------------------------------------------------------


def test_ottca_makes_the_device_certificate_the_authenticator(controller, fleet, device):
    ca = register(fleet)
    identity, enrollment = create_identity(name="sensor", identity_type="device", ca=ca)
    _cert, client = device

    reply = enroll_ottca(controller, enrollment, client)

    assert reply.status == 200, reply.body
    assert reply.json() == {"data": {}, "meta": {}}
    authenticator = Authenticator.objects.get()
    assert (authenticator.identity, authenticator.ca) == (identity, ca)
    enrollment.refresh_from_db()
    assert enrollment.consumed_at is not None


def test_ottca_jwt_says_ottca(controller, fleet, pki):
    from identities.services import enrollment_jwt

    ca = register(fleet)
    _identity, enrollment = create_identity(name="sensor", identity_type="device", ca=ca)

    claims = jwt.decode(enrollment_jwt(enrollment), pki.server_cert.public_key(), algorithms=["RS256"])

    assert claims["em"] == "ottca"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("unverified", "is not verified"),
        ("flag off", "has OTT CA enrollment off"),
        ("deleted", "is gone"),
    ],
)
def test_ottca_needs_a_verified_ca_with_ottca_on(controller, fleet, device, change, reason):
    ca = register(fleet)
    _identity, enrollment = create_identity(name="sensor", identity_type="device", ca=ca)
    client = device[1]
    # The CA changed after the token was handed out.
    if change == "unverified":
        CertificateAuthority.objects.filter(pk=ca.pk).update(is_verified=False)
    elif change == "flag off":
        CertificateAuthority.objects.filter(pk=ca.pk).update(is_ott_ca_enrollment_enabled=False)
    else:
        ca.delete()
        # Its certificates no longer pass the TLS handshake at all (Python's ssl cannot
        # let an untrusted certificate through); the token alone must say why.
        client = None

    reply = enroll_ottca(controller, enrollment, client)

    assert (reply.status, reply.error_code) == (400, "ENROLLMENT_CA_NOT_VALID")
    assert reason in reply.json()["error"]["message"]
    assert not Authenticator.objects.exists()
    assert Enrollment.objects.get().consumed_at is None


def test_ottca_refuses_a_certificate_of_another_ca(controller, fleet, tmp_path):
    ca = register(fleet)
    other = make_ca("Other CA")
    register(other, "Other")
    cert, key = other.issue("imposter")
    _identity, enrollment = create_identity(name="sensor", identity_type="device", ca=ca)

    reply = enroll_ottca(controller, enrollment, write_cert_and_key(tmp_path, "imposter", cert, key))

    assert (reply.status, reply.error_code) == (400, "CERT_FAILED_VALIDATION")
    assert Enrollment.objects.get().consumed_at is None


def test_ottca_without_a_client_certificate_fails_validation(controller, fleet):
    ca = register(fleet)
    _identity, enrollment = create_identity(name="sensor", identity_type="device", ca=ca)

    reply = enroll_ottca(controller, enrollment, None)

    assert (reply.status, reply.error_code) == (400, "CERT_FAILED_VALIDATION")


def test_ottca_refuses_a_certificate_without_client_auth(controller, fleet, tmp_path):
    ca = register(fleet)
    cert, key = fleet.issue("server-ish", client_auth=False)
    _identity, enrollment = create_identity(name="sensor", identity_type="device", ca=ca)

    reply = enroll_ottca(controller, enrollment, write_cert_and_key(tmp_path, "s", cert, key))

    assert (reply.status, reply.error_code) == (400, "CERT_FAILED_VALIDATION")


def test_ottca_refuses_an_expired_device_certificate(controller, fleet, tmp_path):
    ca = register(fleet)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    cert, key = fleet.issue("old-sensor", not_before=old, days=30)
    _identity, enrollment = create_identity(name="sensor", identity_type="device", ca=ca)

    reply = enroll_ottca(controller, enrollment, write_cert_and_key(tmp_path, "old", cert, key))

    assert (reply.status, reply.error_code) == (400, "CERT_FAILED_VALIDATION")
    assert "expired" in reply.json()["error"]["message"]


def test_ottca_with_an_ott_token_is_the_wrong_method(controller, fleet, device):
    register(fleet)
    _identity, enrollment = create_identity(name="sensor", identity_type="device")

    reply = enroll_ottca(controller, enrollment, device[1])

    assert (reply.status, reply.error_code) == (400, "INVALID_ENROLL_METHOD")


def test_a_certificate_belongs_to_one_identity_only(controller, fleet, device):
    ca = register(fleet)
    _first, first_enrollment = create_identity(name="first", identity_type="device", ca=ca)
    _second, second_enrollment = create_identity(name="second", identity_type="device", ca=ca)
    assert enroll_ottca(controller, first_enrollment, device[1]).status == 200

    reply = enroll_ottca(controller, second_enrollment, device[1])

    assert (reply.status, reply.error_code) == (409, "CERT_IN_USE")
    assert Enrollment.objects.get(pk=second_enrollment.pk).consumed_at is None
    assert enroll_ca(controller, device[1]).error_code == "CERT_IN_USE"
    assert Identity.objects.count() == 2


# ca (auto) ---------------------------------------------------------------------------


def test_auto_enrollment_creates_a_device_identity(controller, fleet, device):
    ca = register(fleet, identity_roles=["sensors", "floor-3"])

    reply = enroll_ca(controller, device[1])

    assert reply.status == 200, reply.body
    assert reply.json() == {"data": {}, "meta": {}}
    identity = Identity.objects.get()
    assert identity.name == "Fleet-sensor-17"
    assert identity.identity_type == "Device"
    assert identity.role_attributes == ["sensors", "floor-3"]
    assert identity.authenticators.get().ca == ca


@pytest.mark.parametrize("prefix", ["", "/edge/client/v1"])
def test_auto_enrollment_without_a_body(controller, fleet, device, prefix):
    register(fleet)

    reply = post(controller, f"{prefix}/enroll?method=ca", client=device[1])

    assert reply.status == 200, reply.body


def test_the_name_format_and_requested_name(controller, fleet, device):
    ca = register(fleet, identity_name_format="[requestedName]@[caName]/[commonName]/[caId]")

    enroll_ca(controller, device[1], name="kitchen")

    assert Identity.objects.get().name == f"kitchen@Fleet/sensor-17/{ca.id}"


def test_identity_id_placeholder(controller, fleet, device):
    register(fleet, identity_name_format="dev-[identityId]")

    enroll_ca(controller, device[1])

    identity = Identity.objects.get()
    assert identity.name == f"dev-{identity.id}"


def test_name_collisions_get_a_counter(controller, fleet, tmp_path):
    register(fleet)
    create_identity(name="Fleet-twin", identity_type="user")
    for n in range(2):
        cert, key = fleet.issue("twin")
        assert enroll_ca(controller, write_cert_and_key(tmp_path, f"twin{n}", cert, key)).status == 200

    assert sorted(Identity.objects.values_list("name", flat=True)) == [
        "Fleet-twin",
        "Fleet-twin-2",
        "Fleet-twin-3",
    ]


def test_auto_enrollment_with_no_valid_ca(controller, fleet, device):
    register(fleet, auto_ca_enrollment=False)

    reply = enroll_ca(controller, device[1])

    assert (reply.status, reply.error_code) == (400, "ENROLLMENT_NO_VALID_CAS")
    assert not Identity.objects.exists()


def test_auto_enrollment_with_an_unverified_ca(controller, fleet, device):
    register(fleet, verify=False)

    reply = enroll_ca(controller, device[1])

    assert (reply.status, reply.error_code) == (400, "ENROLLMENT_NO_VALID_CAS")


def test_auto_enrollment_with_a_certificate_of_a_ca_without_auto(controller, fleet, tmp_path):
    register(fleet)
    other = make_ca("Manual CA")
    register(other, "Manual", auto_ca_enrollment=False)
    cert, key = other.issue("stranger")

    reply = enroll_ca(controller, write_cert_and_key(tmp_path, "x", cert, key))

    assert (reply.status, reply.error_code) == (400, "CERT_FAILED_VALIDATION")
    assert not Identity.objects.exists()


def test_auto_enrollment_refuses_an_expired_certificate(controller, fleet, tmp_path):
    register(fleet)
    cert, key = fleet.issue("old", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=40), days=30)

    reply = enroll_ca(controller, write_cert_and_key(tmp_path, "old", cert, key))

    assert (reply.status, reply.error_code) == (400, "CERT_FAILED_VALIDATION")
    assert not Identity.objects.exists()


def test_auto_enrollment_refuses_a_non_string_name(controller, fleet, device):
    register(fleet)

    reply = post(
        controller,
        "/enroll?method=ca",
        client=device[1],
        body='{"name": 5}',
        headers={"Content-Type": "application/json"},
    )

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
    assert not Identity.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        ("[1]", "application/json", "COULD_NOT_VALIDATE"),
        ("{bad", "application/json", "COULD_NOT_PARSE_BODY"),
        ("x", "text/plain", "INVALID_CONTENT_TYPE"),
        ("x", "application/xml", "INVALID_CONTENT_TYPE"),
    ],
)
def test_auto_enrollment_refuses_a_malformed_body(controller, fleet, device, body, content_type, code):
    register(fleet)

    reply = post(
        controller, "/enroll?method=ca", client=device[1], body=body, headers={"Content-Type": content_type}
    )

    assert (reply.status, reply.error_code) == (400, code)
    assert not Identity.objects.exists()


# the CA JWT --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/edge/client/v1"])
def test_the_ca_jwt_is_reusable_and_names_the_ca(controller, fleet, pki, prefix):
    ca = register(fleet)

    reply = get(controller, f"{prefix}/cas/{ca.id}/jwt")

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/jwt"
    claims = jwt.decode(reply.body.decode(), pki.server_cert.public_key(), algorithms=["RS256"])
    assert claims == {"em": "ca", "iss": controller.url, "sub": ca.id, "jti": ca.id, "name": "Fleet"}


def test_the_ca_jwt_needs_a_verified_ca_with_auto_on(controller, fleet):
    unverified = register(fleet, verify=False)
    manual = register(make_ca("Manual"), "Manual", auto_ca_enrollment=False)

    assert get(controller, f"/cas/{unverified.id}/jwt").error_code == "ENROLLMENT_CA_NOT_VALID"
    assert get(controller, f"/cas/{manual.id}/jwt").error_code == "ENROLLMENT_CA_NOT_VALID"
    assert get(controller, "/cas/nope/jwt").status == 404


# authentication ----------------------------------------------------------------------


def authenticate(controller, client, prefix=""):
    return post(
        controller,
        f"{prefix}/authenticate?method=cert",
        client=client,
        headers={"Content-Type": "application/json"},
        body="{}",
    )


@pytest.mark.parametrize("prefix", ["", "/edge/client/v1"])
def test_a_third_party_certificate_authenticates(controller, fleet, device, prefix):
    register(fleet)
    enroll_ca(controller, device[1])

    reply = authenticate(controller, device[1], prefix)

    assert reply.status == 200, reply.body
    data = reply.json()["data"]
    identity = Identity.objects.get()
    assert reply.headers["zt-session"] == data["token"]
    assert data["identityId"] == identity.id
    assert data["identity"]["id"] == identity.id
    assert data["identity"]["name"] == identity.name
    assert data["expirationSeconds"] == 1800
    assert data["authQueries"] == []
    assert data["expiresAt"].endswith("Z")
    session = ApiSession.objects.get()
    assert session.token_hash != data["token"]  # stored hashed

    current = get(controller, f"{prefix}/current-api-session", headers={"zt-session": data["token"]})
    assert current.status == 200
    assert current.json()["data"]["id"] == data["id"]
    assert "token" not in current.json()["data"]
    me = get(controller, f"{prefix}/current-identity", headers={"zt-session": data["token"]})
    assert me.json()["data"]["name"] == identity.name


@pytest.mark.parametrize("change", ["auth off", "unverified", "identity disabled", "identity deleted"])
def test_third_party_authentication_is_refused_when(controller, fleet, device, change):
    ca = register(fleet)
    enroll_ca(controller, device[1])
    identity = Identity.objects.get()
    if change == "auth off":
        CertificateAuthority.objects.filter(pk=ca.pk).update(is_auth_enabled=False)
    elif change == "unverified":
        CertificateAuthority.objects.filter(pk=ca.pk).update(is_verified=False)
    elif change == "identity disabled":
        set_identity_disabled(identity, True)
    else:
        identity.delete()

    reply = authenticate(controller, device[1])

    assert (reply.status, reply.error_code) == (401, "INVALID_AUTH")
    assert not ApiSession.objects.exists()


def test_a_deleted_ca_takes_its_certificates_trust_along(controller, fleet, device):
    ca = register(fleet)
    enroll_ca(controller, device[1])

    ca.delete()

    assert not Authenticator.objects.exists()
    # The running server stops trusting the CA at once, and says so in the API's words.
    reply = authenticate(controller, device[1])
    assert (reply.status, reply.error_code) == (401, "INVALID_AUTH")
    assert (enroll_ca(controller, device[1]).status, Identity.objects.count()) == (400, 1)
    assert not ApiSession.objects.exists()


def test_authentication_without_a_certificate(controller):
    reply = authenticate(controller, None)

    assert (reply.status, reply.error_code) == (401, "INVALID_AUTH")


def test_authentication_with_an_unknown_certificate(controller, fleet, device):
    register(fleet)

    reply = authenticate(controller, device[1])

    assert (reply.status, reply.error_code) == (401, "INVALID_AUTH")


def test_sessions_expire_after_30_idle_minutes(controller, fleet, device, time_machine):
    register(fleet)
    enroll_ca(controller, device[1])
    token = authenticate(controller, device[1]).json()["data"]["token"]
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=29))
    assert get(controller, "/current-api-session", headers={"zt-session": token}).status == 200
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=29))
    assert get(controller, "/current-api-session", headers={"zt-session": token}).status == 200

    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31))

    reply = get(controller, "/current-api-session", headers={"zt-session": token})
    assert (reply.status, reply.error_code) == (401, "UNAUTHORIZED")


def test_authenticating_again_clears_this_identitys_dead_sessions(controller, fleet, device, time_machine):
    register(fleet)
    enroll_ca(controller, device[1])
    authenticate(controller, device[1])
    authenticate(controller, device[1])
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31))

    fresh = authenticate(controller, device[1]).json()["data"]["id"]

    assert list(ApiSession.objects.values_list("id", flat=True)) == [fresh]


def test_a_session_of_a_disabled_identity_stops_working(controller, fleet, device):
    register(fleet)
    enroll_ca(controller, device[1])
    token = authenticate(controller, device[1]).json()["data"]["token"]

    set_identity_disabled(Identity.objects.get(), True)

    assert get(controller, "/current-identity", headers={"zt-session": token}).status == 401
    assert get(controller, "/current-identity", headers={"zt-session": "forged"}).status == 401
    assert get(controller, "/current-identity").status == 401


@pytest.mark.django_db
def test_the_counter_keeps_counting_past_many_collisions(fleet):
    from enrollment.services import enroll_with_ca

    register(fleet)
    for name in ["Fleet-twin", *(f"Fleet-twin-{n}" for n in range(2, 46))]:
        create_identity(name=name, identity_type="device")

    identity = enroll_with_ca(fleet.issue("twin")[0], None)

    assert identity.name == "Fleet-twin-46"


@pytest.mark.parametrize(
    ("requested_name", "problem"),
    [
        ("x" * 300, "may have at most 255 characters"),
        ("bell\x07and\nnewline", "may not contain control characters"),
    ],
)
def test_auto_enrolled_names_obey_the_identity_name_rule(controller, fleet, device, requested_name, problem):
    register(fleet, identity_name_format="[caName]-[requestedName]")

    reply = enroll_ca(controller, device[1], name=requested_name)

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
    message = reply.json()["error"]["message"]
    assert "identity name format" in message
    assert problem in message
    assert not Identity.objects.exists()
    assert not Authenticator.objects.exists()


@pytest.mark.django_db
def test_a_counter_that_makes_a_name_too_long_is_refused_too(fleet):
    from enrollment.errors import CouldNotValidate
    from enrollment.services import enroll_with_ca

    register(fleet, identity_name_format="[requestedName]")
    create_identity(name="y" * 255, identity_type="device")

    with pytest.raises(CouldNotValidate, match="at most 255 characters"):
        enroll_with_ca(fleet.issue("twin")[0], "y" * 255)
    assert Identity.objects.count() == 1


@pytest.fixture
def ca_true_device(fleet, tmp_path):
    """A leaf that claims to be a CA, with EKU clientAuth, issued by the fleet CA."""
    cert, key = fleet.issue("rogue-sub-ca", is_ca=True)
    return cert, write_cert_and_key(tmp_path, "rogue", cert, key)


def assert_refused_as_a_ca_certificate(reply) -> None:
    assert (reply.status, reply.error_code) == (400, "CERT_FAILED_VALIDATION")
    assert "a device must present an end-entity certificate" in reply.json()["error"]["message"]


def test_ottca_refuses_a_ca_certificate_as_the_device_certificate(controller, fleet, ca_true_device):
    ca = register(fleet)
    _identity, enrollment = create_identity(name="rogue", identity_type="device", ca=ca)

    assert_refused_as_a_ca_certificate(enroll_ottca(controller, enrollment, ca_true_device[1]))
    assert not Authenticator.objects.exists()


def test_auto_enrollment_refuses_a_ca_certificate(controller, fleet, ca_true_device):
    register(fleet)

    assert_refused_as_a_ca_certificate(enroll_ca(controller, ca_true_device[1]))
    assert not Identity.objects.exists()


def test_authentication_refuses_a_ca_certificate_even_one_recorded_before(controller, fleet, ca_true_device):
    from identities.services import _new_authenticator, _record_authenticator

    ca = register(fleet)
    identity, _enrollment = create_identity(name="legacy", identity_type="device")
    _record_authenticator(
        _new_authenticator(identity, ca_true_device[0], ca)
    )  # as an older controller accepted it

    assert_refused_as_a_ca_certificate(authenticate(controller, ca_true_device[1]))
    assert not ApiSession.objects.exists()
