"""Console forms for identities. They check the shape of input only; the rules live in
identities.services, which the views call with the cleaned data."""

from __future__ import annotations

from typing import Any

from django import forms

from authorities.models import CertificateAuthority
from identities.models import IdentityType
from ziticonsole.names import MAX_NAME_LENGTH

ROLE_ATTRIBUTES_HELP = "Comma-separated, for example: sales, laptops. Policies select identities by these."


class RoleAttributesField(forms.CharField):
    """Role attributes typed as one comma-separated line, cleaned to a list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", ROLE_ATTRIBUTES_HELP)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [part.strip() for part in text.split(",") if part.strip()]

    def prepare_value(self, value: Any) -> Any:
        # The initial value is the identity's list; show it the way it is typed.
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value


class IdentityCreateForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    identity_type = forms.ChoiceField(
        label="Type",
        choices=IdentityType.choices,
        initial=IdentityType.DEVICE,
        widget=forms.RadioSelect,
        help_text="Fixed once the identity exists.",
    )
    role_attributes = RoleAttributesField()
    # Only CAs a device could enroll with right now: verified, with OTT CA enrollment on.
    ca = forms.ModelChoiceField(
        label="Certificate authority",
        queryset=CertificateAuthority.objects.verified().filter(is_ott_ca_enrollment_enabled=True),
        required=False,
        empty_label="None: a certificate from the internal PKI",
        help_text=(
            "With a CA, the device enrolls with a certificate that CA issued (OTT CA enrollment). "
            "Only verified CAs with OTT CA enrollment on are offered."
        ),
    )


class IdentityEditForm(forms.Form):
    """Name and role attributes only: an identity's type never changes."""

    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    role_attributes = RoleAttributesField()
