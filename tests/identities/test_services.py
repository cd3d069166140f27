"""Identity use cases beyond what the commands show."""

from __future__ import annotations

import pytest

from identities.errors import IdentityTypeChangeError, InvalidIdentity
from identities.models import Identity
from identities.services import create_identity, update_identity

pytestmark = pytest.mark.django_db


def test_the_type_of_an_identity_cannot_change():
    identity, _ = create_identity(name="fixed", identity_type="device")
    identity.identity_type = "Service"

    with pytest.raises(IdentityTypeChangeError):
        identity.save()

    assert Identity.objects.get().identity_type == "Device"


def test_update_keeps_the_type():
    identity, _ = create_identity(name="before", identity_type="user", role_attributes=["a"])

    update_identity(identity, name="after", role_attributes=["b", " c "])

    stored = Identity.objects.get()
    assert (stored.name, stored.identity_type, stored.role_attributes) == ("after", "User", ["b", "c"])


@pytest.mark.parametrize("name", ["", "   ", "tab\tname", "x" * 256])
def test_bad_names_are_refused(name):
    with pytest.raises(InvalidIdentity):
        create_identity(name=name, identity_type="device")

    assert not Identity.objects.exists()


def test_names_are_trimmed():
    identity, _ = create_identity(name="  spaced  ", identity_type="device")

    assert identity.name == "spaced"
