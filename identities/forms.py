"""Console forms for identities. They check the shape of input only; the rules live in
identities.services, which the views call with the cleaned data."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from authorities.models import CaUse, CertificateAuthority, RevocationReason
from identities.models import EnrollmentState, IdentityType
from identities.querysets import DEFAULT_IDENTITY_SORT, IDENTITY_SORTS
from kernel.forms import FilterForm, RoleAttributesField, ServiceErrorsForm
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


# The sizes offered; anything else in ?per_page= falls back to PAGE_SIZE.
PAGE_SIZE = 50
PAGE_SIZES = (10, 25, 50, 100, 200)
SORT_CHOICES = [(key, key) for name in IDENTITY_SORTS for key in (name, f"-{name}")]


class IdentityListForm(FilterForm):
    """The identity list's search, filters, sort and page size, as its URL carries them."""

    q = forms.CharField(required=False, max_length=MAX_NAME_LENGTH, label="Search by name or role attribute")
    identity_type = forms.ChoiceField(
        label="Type", required=False, choices=[("", "Any type"), *IdentityType.choices]
    )
    state = forms.ChoiceField(
        label="Enrollment", required=False, choices=[("", "Any state"), *EnrollmentState.choices]
    )
    ca = forms.ModelChoiceField(
        label="Certificate authority",
        queryset=CertificateAuthority.objects.only("id", "name").order_by("name"),
        required=False,
        empty_label="Any CA",
    )
    role = forms.CharField(label="Role attribute", required=False, max_length=MAX_NAME_LENGTH)
    expiring = forms.IntegerField(
        label="Certificate expires in (days)", required=False, min_value=0, max_value=3650
    )
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(size, size) for size in PAGE_SIZES], widget=forms.HiddenInput
    )

    def listing(self) -> tuple[dict[str, Any], str, int]:
        """The filters for listed_identities, the sort and the page size, defaults filled in."""
        filters = self.filters()
        per_page = filters.pop("per_page", PAGE_SIZE)
        sort = filters.pop("sort", DEFAULT_IDENTITY_SORT)
        if "ca" in filters:
            filters["ca"] = filters["ca"].pk
        return filters, sort, per_page


class BulkAction(models.TextChoices):
    DISABLE = "disable", "Disable"
    ENABLE = "enable", "Enable"
    DELETE = "delete", "Delete"
    DOWNLOAD_JWTS = "jwts", "Download JWTs"


# More than the largest page (a bulk action starts from the selected rows of one page),
# and below Django's limit on the number of form fields.
MAX_BULK_IDS = 500


class IdentityIdsField(forms.Field):
    """The ids of the selected rows, from repeated `ids` inputs."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        ids = list(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))
        if not ids:
            raise forms.ValidationError("Select at least one identity first.")
        if len(ids) > MAX_BULK_IDS:
            raise forms.ValidationError(f"Select at most {MAX_BULK_IDS} identities at a time.")
        if any(len(pk) > 32 or not pk.isalnum() for pk in ids):
            raise forms.ValidationError("That is not a selection of identities.")
        return ids


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(choices=BulkAction.choices, widget=forms.HiddenInput)
    ids = IdentityIdsField()
    # Unset, the action is only shown, with its count, for the admin to confirm.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # The list (with its filters) to come back to; checked before it is followed.
    next = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
