"""One rule for what a CA may do: each use, against each condition that forbids it."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from authorities.errors import CertificateAuthorityError
from authorities.models import CaUse, CertificateAuthority
from authorities.services import ca_enrollment_jwt, create_certificate_authority, verify_certificate_authority
from enrollment.errors import EnrollmentNoValidCas, InvalidAuth
from enrollment.services import enroll_with_ca
from enrollment.sessions import authenticate_with_certificate
from identities.errors import InvalidIdentity
from identities.services import create_identity
from tests.helpers import TestCA, make_ca

pytestmark = pytest.mark.django_db

CONDITIONS = ["unverified", "flag off", "deleted"]


@pytest.fixture
def fleet() -> TestCA:
    return make_ca("Fleet Issuing CA")


def usable_ca(fleet: TestCA) -> CertificateAuthority:
    ca = create_certificate_authority(
        name="Fleet",
        certificate_pem=fleet.pem,
        ott_ca_enrollment=True,
        auto_ca_enrollment=True,
        auth_enabled=True,
    )
    proof, _key = fleet.issue(ca.verification_token, client_auth=False)
    return verify_certificate_authority(ca, proof.public_bytes(Encoding.PEM))


def forbid(ca: CertificateAuthority, use: CaUse, condition: str) -> str:
    """Make `ca` unusable for `use` behind the object's back; return the reason expected."""
    rows = CertificateAuthority.objects.filter(pk=ca.pk)
    if condition == "unverified":
        rows.update(is_verified=False)
        return "is not verified yet"
    if condition == "flag off":
        rows.update(**{use.flag: False})
        return f"has {use.label} off"
    rows.delete()
    return "is gone"


@pytest.mark.parametrize("use", list(CaUse))
def test_a_verified_ca_with_the_use_on_may_be_used(fleet, use):
    ca = usable_ca(fleet)

    assert ca.refusal(use) is None
    assert list(CertificateAuthority.objects.usable_for(use)) == [ca]


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("use", list(CaUse))
def test_the_rule_refuses_and_says_why(fleet, use, condition):
    ca = usable_ca(fleet)

    reason = forbid(ca, use, condition)

    assert ca.refusal(use) == reason
    assert not CertificateAuthority.objects.usable_for(use).exists()


@pytest.mark.parametrize("condition", ["unverified", "flag off"])
def test_a_ca_with_one_use_off_keeps_the_others(fleet, condition):
    ca = usable_ca(fleet)

    forbid(ca, CaUse.AUTHENTICATION, condition)

    usable = {use for use in CaUse if ca.refusal(use) is None}
    assert usable == (set() if condition == "unverified" else {CaUse.OTT_ENROLLMENT, CaUse.AUTO_ENROLLMENT})


@pytest.mark.parametrize("condition", CONDITIONS)
def test_ott_enrollment_tokens_are_refused_for_a_ca_that_may_not(fleet, condition):
    ca = usable_ca(fleet)
    reason = forbid(ca, CaUse.OTT_ENROLLMENT, condition)

    with pytest.raises(InvalidIdentity, match=reason) as caught:
        create_identity(name="sensor", identity_type="device", ca=ca)

    assert caught.value.field == "ca"


@pytest.mark.parametrize("condition", CONDITIONS)
def test_auto_enrollment_is_refused_for_a_ca_that_may_not(fleet, condition):
    ca = usable_ca(fleet)
    reason = forbid(ca, CaUse.AUTO_ENROLLMENT, condition)

    with pytest.raises(CertificateAuthorityError, match=reason):
        ca_enrollment_jwt(ca)
    with pytest.raises(EnrollmentNoValidCas):
        enroll_with_ca(fleet.issue("sensor-1")[0], None)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_authentication_is_refused_for_a_ca_that_may_not(fleet, condition):
    ca = usable_ca(fleet)
    certificate = fleet.issue("sensor-1")[0]
    enroll_with_ca(certificate, None)
    authenticate_with_certificate(certificate)

    reason = forbid(ca, CaUse.AUTHENTICATION, condition)

    # A deleted CA takes its authenticators along: the certificate belongs to no one.
    expected = "does not belong to any identity" if condition == "deleted" else reason
    with pytest.raises(InvalidAuth, match=expected):
        authenticate_with_certificate(certificate)
