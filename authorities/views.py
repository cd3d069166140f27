"""Console pages for third-party CAs: validate the input, call authorities.services, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audit.models import AuditRecord, ObjectType
from authorities import services
from authorities.errors import CertificateAuthorityError
from authorities.forms import (
    CaListForm,
    CertificateAuthorityCreateForm,
    CertificateAuthorityEditForm,
    VerificationForm,
)
from authorities.listing import listed_certificate_authorities
from authorities.models import CertificateAuthority
from kernel.listing import sort_headers
from kernel.responses import jwt_download


def _certificate_facts(ca: CertificateAuthority) -> dict[str, Any]:
    """What the detail page shows of the CA certificate, read from the stored PEM."""
    cert = ca.certificate
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        # The CA was within its dates when added; it may have expired since.
        "is_expired": cert.not_valid_after_utc <= timezone.now(),
    }


def _detail_page(
    request: HttpRequest, ca: CertificateAuthority, verification_form: VerificationForm | None = None
) -> HttpResponse:
    context: dict[str, Any] = {
        "ca": ca,
        "certificate": _certificate_facts(ca),
        "history": AuditRecord.objects.history_of(ObjectType.CA, ca.pk),
    }
    if not ca.is_verified:
        context["recipe"] = services.verification_recipe(ca)
        context["verification_form"] = verification_form or VerificationForm()
    return render(request, "authorities/detail.html", context)


# The list's sortable columns: (sort key, header); None for one that does not sort.
LIST_COLUMNS = [
    ("name", "Name"),
    ("state", "Verification"),
    (None, "Fingerprint"),
    ("expiry", "Expires"),
    (None, "Enabled for"),
    ("created", "Created"),
]


@require_safe
def ca_list(request: HttpRequest) -> HttpResponse:
    form = CaListForm(request.GET)
    filters, sort = form.listing()
    context = {
        "cas": listed_certificate_authorities(**filters, sort=sort),
        "any_ca": bool(filters) or CertificateAuthority.objects.exists(),
        "filtered": bool(filters),
        "form": form,
        "sort": sort,
        "headers": sort_headers(LIST_COLUMNS, sort),
    }
    return render(request, "authorities/list.html", context)


@require_http_methods(["GET", "POST"])
def ca_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = CertificateAuthorityCreateForm(request.POST, request.FILES)
    else:
        form = CertificateAuthorityCreateForm()
    if form.is_bound and form.is_valid():
        try:
            ca = services.create_certificate_authority(
                certificate_pem=form.cleaned_data["certificate"], **form.service_arguments()
            )
        except CertificateAuthorityError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Added CA {ca.name}. Verify it to prove that you hold its key.")
            return redirect("authorities:detail", pk=ca.pk)
    return render(request, "authorities/create.html", {"form": form})


@require_safe
def ca_detail(request: HttpRequest, pk: str) -> HttpResponse:
    return _detail_page(request, get_object_or_404(CertificateAuthority, pk=pk))


@require_POST
def ca_verify(request: HttpRequest, pk: str) -> HttpResponse:
    ca = get_object_or_404(CertificateAuthority, pk=pk)
    form = VerificationForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.verify_certificate_authority(ca, form.cleaned_data["certificate"])
        except CertificateAuthorityError as error:
            ca.refresh_from_db()
            if ca.is_verified:
                # Verified meanwhile (another tab, another admin): the page has no form
                # left to show the error under.
                messages.error(request, f"CA {ca.name} is verified already: {error}.")
                return redirect("authorities:detail", pk=ca.pk)
            form.add_service_error(error)
        else:
            messages.success(request, f"Verified CA {ca.name}.")
            return redirect("authorities:detail", pk=ca.pk)
    return _detail_page(request, ca, form)


@require_http_methods(["GET", "POST"])
def ca_edit(request: HttpRequest, pk: str) -> HttpResponse:
    ca = get_object_or_404(CertificateAuthority, pk=pk)
    if request.method == "POST":
        form = CertificateAuthorityEditForm(request.POST)
        if form.is_valid():
            try:
                services.update_certificate_authority(ca, **form.service_arguments())
            except CertificateAuthorityError as error:
                form.add_service_error(error)
            else:
                messages.success(request, f"Saved CA {ca.name}.")
                return redirect("authorities:detail", pk=ca.pk)
    else:
        form = CertificateAuthorityEditForm(
            initial={
                "name": ca.name,
                "is_ott_ca_enrollment_enabled": ca.is_ott_ca_enrollment_enabled,
                "is_auto_ca_enrollment_enabled": ca.is_auto_ca_enrollment_enabled,
                "is_auth_enabled": ca.is_auth_enabled,
                "identity_roles": ca.identity_roles,
                "identity_name_format": ca.identity_name_format,
            }
        )
    return render(request, "authorities/edit.html", {"ca": ca, "form": form})


# A cache must not keep handing out the JWT after auto enrollment is turned off.
@never_cache
@require_safe
def ca_jwt(request: HttpRequest, pk: str) -> HttpResponse:
    ca = get_object_or_404(CertificateAuthority, pk=pk)
    try:
        token = services.ca_enrollment_jwt(ca)
    except CertificateAuthorityError as error:
        raise Http404(str(error)) from error
    return jwt_download(token, ca.name)


@require_http_methods(["GET", "POST"])
def ca_delete(request: HttpRequest, pk: str) -> HttpResponse:
    ca = get_object_or_404(CertificateAuthority, pk=pk)
    if request.method == "POST":
        services.delete_certificate_authority(ca)
        messages.success(request, f"Deleted CA {ca.name}.")
        return redirect("authorities:list")
    context = {
        "ca": ca,
        "authenticator_count": ca.authenticators.count(),
        # Rows of identities/, counted through the relations it declares on the CA:
        # authorities sits below identities and never imports it.
        "pending_enrollment_count": ca.enrollments.pending().count(),
    }
    return render(request, "authorities/confirm_delete.html", context)
