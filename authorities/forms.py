"""Console forms for third-party CAs. They check the shape of input only; whether a
certificate is a usable CA, or proves possession, is for authorities.services to say."""

from __future__ import annotations

from typing import Any

from django import forms

from authorities.errors import PrivateKeyRefused
from authorities.listing import CA_SORTS, DEFAULT_CA_SORT
from authorities.models import DEFAULT_IDENTITY_NAME_FORMAT
from authorities.services import NAME_FORMAT_PLACEHOLDERS
from kernel.certificates import MAX_PEM_BYTES
from kernel.errors import DomainError
from kernel.forms import FilterForm, RoleAttributesField, ServiceErrorsForm
from kernel.names import MAX_NAME_LENGTH

PEM_PLACEHOLDER = "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----"


class _ServiceErrorsForm(ServiceErrorsForm):
    # The input a services error about "certificate" belongs under, if the form has one.
    certificate_field: str | None = None

    def field_for(self, field: str | None) -> str | None:
        return self.certificate_field if field == "certificate" else field

    def add_service_error(self, error: DomainError) -> None:
        if isinstance(error, PrivateKeyRefused) and "certificate_pem" in self.data:
            # The page must not carry the pasted key back to the browser.
            self.data = {key: value for key, value in self.data.items() if key != "certificate_pem"}
        super().add_service_error(error)


class CertificateUploadForm(_ServiceErrorsForm):
    """One PEM certificate, as a file or pasted: exactly one of the two.

    After validation, cleaned_data["certificate"] holds what was given, as bytes or text,
    and `certificate_field` names the input it came from, so that an error the services
    raise about the certificate lands under the input the admin used.
    """

    certificate_file = forms.FileField(
        label="Certificate file",
        required=False,
        help_text="PEM or DER (.cer).",
        widget=forms.FileInput(attrs={"accept": ".pem,.crt,.cer,.der,application/x-pem-file"}),
    )
    certificate_pem = forms.CharField(
        label="Or paste the PEM",
        required=False,
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "class": "font-monospace small",
                "spellcheck": "false",
                "placeholder": PEM_PLACEHOLDER,
            }
        ),
    )
    certificate_field = "certificate_pem"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("certificate_file")
        pasted = (cleaned.get("certificate_pem") or "").strip()
        if upload and pasted:
            raise forms.ValidationError("Upload a file or paste the PEM, not both.", code="both")
        if not upload and not pasted:
            if not self.has_error("certificate_file"):
                raise forms.ValidationError("Upload a PEM file or paste the PEM.", code="missing")
            return cleaned
        if upload:
            # One byte over the limit is enough for the services to say "too large";
            # reading the whole of a huge upload would only cost memory.
            cleaned["certificate"] = upload.read(MAX_PEM_BYTES + 1)
            self.certificate_field = "certificate_file"
        else:
            cleaned["certificate"] = pasted
            self.certificate_field = "certificate_pem"
        return cleaned


class CertificateAuthoritySettingsForm(_ServiceErrorsForm):
    """Name, flags, roles and name format: what an admin may set and change on a CA."""

    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    is_ott_ca_enrollment_enabled = forms.BooleanField(
        label="OTT CA enrollment",
        required=False,
        help_text="Identities created for this CA enroll with a one-time token and a certificate it issued.",
    )
    is_auto_ca_enrollment_enabled = forms.BooleanField(
        label="Auto enrollment",
        required=False,
        help_text="Any device with a certificate from this CA may enroll itself with the CA's JWT.",
    )
    is_auth_enabled = forms.BooleanField(
        label="Authentication",
        required=False,
        help_text="Certificates from this CA may authenticate their identities.",
    )
    identity_roles = RoleAttributesField(
        label="Identity roles",
        help_text="Comma-separated role attributes given to identities that enroll automatically.",
    )
    identity_name_format = forms.CharField(
        max_length=MAX_NAME_LENGTH,
        required=False,
        initial=DEFAULT_IDENTITY_NAME_FORMAT,
        help_text=(
            "How auto-enrolled identities are named. Placeholders: "
            + ", ".join(NAME_FORMAT_PLACEHOLDERS)
            + f". Empty means {DEFAULT_IDENTITY_NAME_FORMAT}."
        ),
    )

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned values under the keyword names the services take."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "ott_ca_enrollment": data["is_ott_ca_enrollment_enabled"],
            "auto_ca_enrollment": data["is_auto_ca_enrollment_enabled"],
            "auth_enabled": data["is_auth_enabled"],
            "identity_roles": data["identity_roles"],
            "identity_name_format": data["identity_name_format"],
        }


class CertificateAuthorityCreateForm(CertificateAuthoritySettingsForm, CertificateUploadForm):
    field_order = [
        "name",
        "certificate_file",
        "certificate_pem",
        "is_ott_ca_enrollment_enabled",
        "is_auto_ca_enrollment_enabled",
        "is_auth_enabled",
        "identity_roles",
        "identity_name_format",
    ]


class CertificateAuthorityEditForm(CertificateAuthoritySettingsForm):
    """Everything but the certificate, which a CA keeps for life."""


class VerificationForm(CertificateUploadForm):
    """The proof-of-possession certificate: CN = the token, signed by the CA's key."""


class CaListForm(FilterForm):
    """The CA list's search, filters and sort, as its URL carries them."""

    q = forms.CharField(label="Search by name or fingerprint", required=False, max_length=MAX_NAME_LENGTH)
    state = forms.ChoiceField(
        label="Verification",
        required=False,
        choices=[("", "Any"), ("verified", "Verified"), ("unverified", "Unverified")],
    )
    use = forms.ChoiceField(
        label="Enabled for",
        required=False,
        choices=[
            ("", "Anything"),
            ("ott", "OTT CA enrollment"),
            ("auto", "Auto enrollment"),
            ("auth", "Authentication"),
        ],
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, key) for name in CA_SORTS for key in (name, f"-{name}")],
        widget=forms.HiddenInput,
    )

    def listing(self) -> tuple[dict[str, Any], str]:
        """The filters for listed_certificate_authorities and the sort, default filled in."""
        filters = self.filters()
        return filters, filters.pop("sort", DEFAULT_CA_SORT)
