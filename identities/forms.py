"""Console forms for identities. They check the shape of input only; the rules live in
identities.services, which the views call with the cleaned data."""

from __future__ import annotations

from django import forms

from authorities.models import CaUse, CertificateAuthority, RevocationReason
from identities.models import IdentityType
from kernel.forms import RoleAttributesField, ServiceErrorsForm
from kernel.names import MAX_NAME_LENGTH


class IdentityCreateForm(ServiceErrorsForm):
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
        queryset=CertificateAuthority.objects.usable_for(CaUse.OTT_ENROLLMENT),
        required=False,
        empty_label="None: a certificate from the internal PKI",
        help_text=(
            "With a CA, the device enrolls with a certificate that CA issued (OTT CA enrollment). "
            "Only verified CAs with OTT CA enrollment on are offered."
        ),
    )


class IdentityEditForm(ServiceErrorsForm):
    """Name and role attributes only: an identity's type never changes."""

    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    role_attributes = RoleAttributesField()


class NewTokenForm(ServiceErrorsForm):
    """How long a reissued or reset token lives; the service checks the rest."""

    hours = forms.IntegerField(
        label="Valid for (hours)",
        min_value=1,
        max_value=24 * 365,
        initial=24,
        help_text="The new one-time token expires this many hours from now.",
    )

    def field_for(self, field: str | None) -> str | None:
        return "hours" if field == "expires_at" else field


class RevokeForm(ServiceErrorsForm):
    reason = forms.ChoiceField(
        label="Reason", choices=RevocationReason.choices, initial=RevocationReason.UNSPECIFIED
    )


class DisableForm(forms.Form):
    revoke = forms.BooleanField(required=False, label="Also revoke its certificates")


class RequestExtendForm(forms.Form):
    roll_keys = forms.BooleanField(required=False, label="With a new key")


class IdentityImportForm(ServiceErrorsForm):
    file = forms.FileField(
        label="CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="UTF-8, its first line naming the columns: name,type,role_attributes,ca.",
    )


class ConfirmImportForm(forms.Form):
    only_valid = forms.BooleanField(required=False)
