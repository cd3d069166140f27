"""The same limits everywhere: the services enforce them, so the console, the CLI and
the management API refuse the same values with the same words."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from authorities.errors import CertificateAuthorityError
from authorities.models import CertificateAuthority
from authorities.services import create_certificate_authority, update_certificate_authority
from identities.errors import IdentityNameTaken, InvalidIdentity
from identities.models import Identity
from identities.services import create_enrolled_device, create_identity, update_identity
from kernel.names import MAX_ROLE_ATTRIBUTE_LENGTH, MAX_ROLE_ATTRIBUTES
from tests.helpers import make_ca

pytestmark = pytest.mark.django_db

BAD_ROLES = [
    (["a" * (MAX_ROLE_ATTRIBUTE_LENGTH + 1)], f"at most {MAX_ROLE_ATTRIBUTE_LENGTH} are allowed"),
    (["a\nb\x07c"], 'the role attribute "a\\nb\\x07c" contains a control character'),
    ([f"r{k}" for k in range(MAX_ROLE_ATTRIBUTES + 1)], f"at most {MAX_ROLE_ATTRIBUTES} role attributes"),
]


@pytest.mark.parametrize(("roles", "message"), BAD_ROLES, ids=["too long", "control characters", "too many"])
def test_role_attributes_that_break_the_rules_are_refused_on_create_and_update(roles, message):
    with pytest.raises(InvalidIdentity, match=message.replace("\\", "\\\\")) as caught:
        create_identity(name="laptop", identity_type="Device", role_attributes=roles)
    assert caught.value.field == "role_attributes"
    assert not Identity.objects.exists()

    identity, _ = create_identity(name="laptop", identity_type="Device", role_attributes=["sales"])
    with pytest.raises(InvalidIdentity, match="role attribute"):
        update_identity(identity, name="laptop", role_attributes=roles)
    identity.refresh_from_db()
    assert identity.role_attributes == ["sales"]


def test_the_longest_allowed_role_attribute_is_kept():
    longest = "a" * MAX_ROLE_ATTRIBUTE_LENGTH

    identity, _ = create_identity(name="laptop", identity_type="Device", role_attributes=[longest])

    assert identity.role_attributes == [longest]


@pytest.mark.parametrize(("roles", "message"), BAD_ROLES[:2], ids=["too long", "control characters"])
def test_a_ca_s_identity_roles_follow_the_same_rules(roles, message):
    with pytest.raises(CertificateAuthorityError) as caught:
        create_certificate_authority(name="Fleet", certificate_pem=make_ca().pem, identity_roles=roles)

    assert caught.value.field == "identity_roles"
    assert not CertificateAuthority.objects.exists()


def test_names_are_unique_whatever_their_case():
    create_identity(name="laptop", identity_type="Device")

    with pytest.raises(IdentityNameTaken, match='an identity named "LAPTOP" already exists'):
        create_identity(name="LAPTOP", identity_type="Device")
    other, _ = create_identity(name="phone", identity_type="Device")
    with pytest.raises(IdentityNameTaken):
        update_identity(other, name="Laptop", role_attributes=[])
    assert sorted(Identity.objects.values_list("name", flat=True)) == ["laptop", "phone"]


def test_an_identity_may_change_the_case_of_its_own_name():
    identity, _ = create_identity(name="laptop", identity_type="Device")

    update_identity(identity, name="Laptop", role_attributes=[])

    assert Identity.objects.get().name == "Laptop"


def test_the_database_itself_refuses_a_name_differing_only_in_case():
    Identity.objects.create(name="laptop", identity_type="Device")

    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(name="LAPTOP", identity_type="Device")


def test_auto_enrollment_counts_a_name_taken_in_another_case_as_taken():
    fleet = make_ca()
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)
    create_identity(name="FLEET-sensor", identity_type="Device")
    cert, _ = fleet.issue("sensor")

    identity = create_enrolled_device(
        identity_id="autoid1", name="Fleet-sensor", role_attributes=[], certificate=cert, ca=ca
    )

    assert identity.name == "Fleet-sensor-2"


def test_the_cli_refuses_what_the_console_refuses(pki):
    call_command("create_identity", "device", "laptop", stdout=StringIO(), stderr=StringIO())

    with pytest.raises(CommandError, match='"Laptop" already exists'):
        call_command("create_identity", "device", "Laptop", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="contains a control character"):
        call_command(
            "create_identity",
            "device",
            "phone",
            "--role-attributes",
            "a\x07b",
            stdout=StringIO(),
            stderr=StringIO(),
        )


@pytest.mark.parametrize(
    ("name_format", "message"),
    [
        ("[bogus]", "[bogus] is not a placeholder"),
        ("fleet-device", "needs at least one placeholder"),
        ("[caName]-[commonname]", "[commonname] is not a placeholder"),
        ("a\tb-[caName]", "control characters"),
    ],
)
def test_a_name_format_must_use_known_placeholders(name_format, message):
    with pytest.raises(
        CertificateAuthorityError, match=message.replace("[", r"\[").replace("]", r"\]")
    ) as caught:
        create_certificate_authority(
            name="Fleet", certificate_pem=make_ca().pem, identity_name_format=name_format
        )
    assert caught.value.field == "identity_name_format"
    assert not CertificateAuthority.objects.exists()

    ca = create_certificate_authority(name="Fleet", certificate_pem=make_ca().pem)
    with pytest.raises(CertificateAuthorityError, match=r"placeholder|control"):
        update_certificate_authority(
            ca,
            name="Fleet",
            ott_ca_enrollment=False,
            auto_ca_enrollment=False,
            auth_enabled=False,
            identity_roles=[],
            identity_name_format=name_format,
        )
    ca.refresh_from_db()
    assert ca.identity_name_format == "[caName]-[commonName]"


def test_a_format_with_one_known_placeholder_is_kept():
    ca = create_certificate_authority(
        name="Fleet", certificate_pem=make_ca().pem, identity_name_format="sensor-[commonName]"
    )

    assert ca.identity_name_format == "sensor-[commonName]"


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_names_that_differ_only_in_case_and_keeps_the_oldest():
    before = [("identities", "0005_authenticator_serial_index")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps.get_model("identities", "Identity")
        start = timezone.now()
        for offset, (pk, name) in enumerate(
            [("a1", "laptop"), ("a2", "LAPTOP"), ("a3", "Laptop-2"), ("a4", "Laptop")]
        ):
            old.objects.create(
                id=pk,
                name=name,
                identity_type="Device",
                created_at=start + timezone.timedelta(seconds=offset),
            )

        executor = MigrationExecutor(connection)
        executor.migrate(latest)

        names = dict(Identity.objects.values_list("id", "name"))
        assert names == {"a1": "laptop", "a2": "LAPTOP-3", "a3": "Laptop-2", "a4": "Laptop-4"}
    finally:
        Identity.objects.all().delete()
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
