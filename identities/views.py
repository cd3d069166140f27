"""Console pages for identities: validate the input, call identities.services, render."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audit.models import AuditRecord, ObjectType
from authorities.models import RevokedCertificate
from identities import services
from identities.errors import IdentityError, NoTokenToHandOut
from identities.forms import (
    PAGE_SIZES,
    BulkAction,
    BulkActionForm,
    ConfirmImportForm,
    DisableForm,
    IdentityCreateForm,
    IdentityEditForm,
    IdentityImportForm,
    IdentityListForm,
    NewTokenForm,
    RequestExtendForm,
    RevokeForm,
)
from identities.models import Authenticator, Enrollment, Identity, IdentityImport
from identities.qr import qr_svg
from identities.querysets import listed_identities, with_enrollment_state
from kernel.errors import DomainError
from kernel.listing import BoundedPaginator, sort_headers
from kernel.responses import jwt_download, zip_download

# Filters that no index answers: counting their matches reads every identity, so the
# count stops at COUNT_BOUND (the page says "more than"); at a million that is seconds.
SCANNING_FILTERS = frozenset({"q", "state", "role", "ca", "expiring"})
COUNT_BOUND = 10_000

# The list's sortable columns: (sort key, header); None for one that does not sort.
LIST_COLUMNS = [
    ("name", "Name"),
    ("type", "Type"),
    (None, "Role attributes"),
    ("state", "Enrollment"),
    ("created", "Created"),
]


def _identity_with_state(pk: str) -> Identity:
    return get_object_or_404(with_enrollment_state(Identity.objects.all()), pk=pk)


@require_safe
def identity_list(request: HttpRequest) -> HttpResponse:
    form = IdentityListForm(request.GET)
    filters, sort, per_page = form.listing()
    identities = listed_identities(**filters, sort=sort)
    # Ids only for the page (an index can answer); get_page() turns a missing, malformed
    # or too large page number into a valid page.
    ids_in_order = identities.values_list("pk", flat=True)
    if SCANNING_FILTERS.intersection(filters):
        paginator: Paginator = BoundedPaginator(ids_in_order, per_page, COUNT_BOUND)
    else:
        paginator = Paginator(ids_in_order, per_page)
    page = paginator.get_page(request.GET.get("page"))
    # States for this page's rows only: over the whole table PostgreSQL plans the EXISTS
    # checks as hashed scans of every enrollment, once per page view.
    ids = list(page.object_list)
    rows = {i.pk: i for i in with_enrollment_state(Identity.objects.filter(pk__in=ids).order_by())}
    context = {
        "identities": [rows[pk] for pk in ids if pk in rows],
        "form": form,
        "filtered": bool(filters),
        "expiring": filters.get("expiring"),
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number),
        "headers": sort_headers(LIST_COLUMNS, sort),
        "sort": sort,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "bulk_form": BulkActionForm(),
    }
    return render(request, "identities/list.html", context)


@require_http_methods(["GET", "POST"])
def identity_create(request: HttpRequest) -> HttpResponse:
    form = IdentityCreateForm(request.POST) if request.method == "POST" else IdentityCreateForm()
    if form.is_bound and form.is_valid():
        try:
            identity, _ = services.create_identity(
                name=form.cleaned_data["name"],
                identity_type=form.cleaned_data["identity_type"],
                role_attributes=form.cleaned_data["role_attributes"],
                ca=form.cleaned_data["ca"],
            )
        except IdentityError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Created identity {identity.name}. Its enrollment JWT is ready.")
            return redirect("identities:detail", pk=identity.pk)
    return render(request, "identities/create.html", {"form": form})


@require_http_methods(["GET", "POST"])
def identity_detail(request: HttpRequest, pk: str) -> HttpResponse:
    identity = _identity_with_state(pk)
    if request.method == "POST":
        form = IdentityEditForm(request.POST)
        if form.is_valid():
            try:
                services.update_identity(
                    identity,
                    name=form.cleaned_data["name"],
                    role_attributes=form.cleaned_data["role_attributes"],
                )
            except IdentityError as error:
                form.add_service_error(error)
            else:
                messages.success(request, f"Saved identity {identity.name}.")
                return redirect("identities:detail", pk=identity.pk)
    else:
        form = IdentityEditForm(initial={"name": identity.name, "role_attributes": identity.role_attributes})
    authenticators = list(identity.authenticators.select_related("ca"))
    revoked = set(
        RevokedCertificate.objects.filter(serial__in=[a.serial for a in authenticators]).values_list(
            "serial", flat=True
        )
    )
    for authenticator in authenticators:
        authenticator.is_revoked = authenticator.serial in revoked  # type: ignore[attr-defined]
    jwt_on_offer = identity.has_pending_enrollment and not identity.is_disabled  # type: ignore[attr-defined]
    pending = identity.enrollments.pending().select_related("identity").first() if jwt_on_offer else None
    context = {
        "identity": identity,
        "form": form,
        "enrollments": identity.enrollments.select_related("ca"),
        "authenticators": authenticators,
        "jwt_on_offer": jwt_on_offer,
        "jwt_qr": qr_svg(services.enrollment_jwt(pending)) if pending is not None else None,
        "new_token_form": NewTokenForm(),
        "revoke_form": RevokeForm(),
        "cert_days": settings.ZITI_IDENTITY_CERT_DAYS,
        "history": AuditRecord.objects.history_of(ObjectType.IDENTITY, identity.pk),
    }
    return render(request, "identities/detail.html", context)


@require_POST
def identity_set_disabled(request: HttpRequest, pk: str, disabled: bool) -> HttpResponse:
    form = DisableForm(request.POST)
    revoke = form.is_valid() and form.cleaned_data["revoke"]
    identity = services.set_identity_disabled(get_object_or_404(Identity, pk=pk), disabled, revoke=revoke)
    if disabled:
        also = " Its certificates are revoked." if revoke else ""
        messages.success(
            request, f"Disabled identity {identity.name}: it can no longer enroll or authenticate.{also}"
        )
    else:
        messages.success(request, f"Enabled identity {identity.name}.")
    return redirect("identities:detail", pk=identity.pk)


@require_POST
def identity_reissue(request: HttpRequest, pk: str) -> HttpResponse:
    identity = get_object_or_404(Identity, pk=pk)
    form = NewTokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how many hours the new token is valid for (1 or more).")
        return redirect("identities:detail", pk=identity.pk)
    expires_at = timezone.now() + dt.timedelta(hours=form.cleaned_data["hours"])
    try:
        services.reissue_enrollment(identity, expires_at=expires_at)
    except IdentityError as error:
        messages.error(request, f"Could not reissue the token: {error.message}.")
    else:
        messages.success(
            request, f"Issued a new enrollment token for {identity.name}; the old one no longer works."
        )
    return redirect("identities:detail", pk=identity.pk)


@require_http_methods(["GET", "POST"])
def identity_reset(request: HttpRequest, pk: str) -> HttpResponse:
    identity = _identity_with_state(pk)
    form = NewTokenForm(request.POST) if request.method == "POST" else NewTokenForm()
    if form.is_bound and form.is_valid():
        expires_at = timezone.now() + dt.timedelta(hours=form.cleaned_data["hours"])
        try:
            services.reset_enrollment(identity, expires_at=expires_at)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                f"Reset the enrollment of {identity.name}: its certificate no longer works, "
                "and a new enrollment token is ready.",
            )
            return redirect("identities:detail", pk=identity.pk)
    context = {
        "identity": identity,
        "form": form,
        "authenticators": identity.authenticators.select_related("ca"),
    }
    return render(request, "identities/confirm_reset.html", context)


def _authenticator(pk: str, authenticator_pk: int) -> Authenticator:
    return get_object_or_404(
        Authenticator.objects.select_related("identity"), pk=authenticator_pk, identity_id=pk
    )


@require_POST
def authenticator_revoke(request: HttpRequest, pk: str, authenticator_pk: int) -> HttpResponse:
    authenticator = _authenticator(pk, authenticator_pk)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the revocation reasons offered.")
        return redirect("identities:detail", pk=pk)
    try:
        revoked = services.revoke_identity_certificate(authenticator, form.cleaned_data["reason"])
    except DomainError as error:
        messages.error(request, f"Could not revoke the certificate: {error.message}.")
    else:
        messages.success(
            request,
            f"Revoked the certificate with serial {revoked.serial} ({revoked.get_reason_display()}): "
            "it no longer authenticates, and the CRL and OCSP say so.",
        )
    return redirect("identities:detail", pk=pk)


@require_POST
def authenticator_request_extend(request: HttpRequest, pk: str, authenticator_pk: int) -> HttpResponse:
    authenticator = _authenticator(pk, authenticator_pk)
    form = RequestExtendForm(request.POST)
    roll_keys = form.is_valid() and form.cleaned_data["roll_keys"]
    try:
        services.request_certificate_extension(authenticator, roll_keys=roll_keys)
    except DomainError as error:
        messages.error(request, f"Could not ask for a renewal: {error.message}.")
    else:
        messages.success(request, "Asked the device to renew its certificate at its next authentication.")
    return redirect("identities:detail", pk=pk)


# The JWT is a bearer credential until redeemed: no cache may keep a copy.
@never_cache
@require_safe
def identity_jwt(request: HttpRequest, pk: str) -> HttpResponse:
    identity = get_object_or_404(Identity, pk=pk)
    try:
        token = services.download_enrollment_jwt(identity)
    except NoTokenToHandOut as error:
        raise Http404(error.message) from error
    return jwt_download(token, identity.name)


@require_http_methods(["GET", "POST"])
def identity_delete(request: HttpRequest, pk: str) -> HttpResponse:
    identity = _identity_with_state(pk)
    if request.method == "POST":
        services.delete_identity(identity)
        messages.success(request, f"Deleted identity {identity.name}.")
        return redirect("identities:list")
    context = {
        "identity": identity,
        "authenticator_count": identity.authenticators.count(),
    }
    return render(request, "identities/confirm_delete.html", context)


@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    form = (
        IdentityImportForm(request.POST, request.FILES) if request.method == "POST" else IdentityImportForm()
    )
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # One byte past the limit is enough for the service to say "too large".
            rows = services.read_identity_csv(upload.read(services.MAX_IMPORT_BYTES + 1))
        except IdentityError as error:
            form.add_service_error(error)
        else:
            batch = services.start_identity_import(rows, upload.name or "")
            return redirect("identities:import", pk=batch.pk)
    context = {"form": form, "header": services.IMPORT_HEADER, "max_rows": services.MAX_IMPORT_ROWS}
    return render(request, "identities/import_upload.html", context)


# How many rows with problems the preview lists; the count covers them all.
PREVIEW_PROBLEMS = 200


@require_safe
def import_detail(request: HttpRequest, pk: str) -> HttpResponse:
    batch = get_object_or_404(IdentityImport, pk=pk)
    problems = batch.rows_with_problems
    context = {
        "batch": batch,
        "problems": problems[:PREVIEW_PROBLEMS],
        "problem_count": len(problems),
        "good": batch.rows_to_create[:10],
        "chunk": services.IMPORT_CHUNK,
    }
    return render(request, "identities/import_detail.html", context)


@require_POST
def import_confirm(request: HttpRequest, pk: str) -> HttpResponse:
    batch = get_object_or_404(IdentityImport, pk=pk)
    form = ConfirmImportForm(request.POST)
    only_valid = form.is_valid() and form.cleaned_data["only_valid"]
    try:
        services.confirm_identity_import(batch, only_valid=only_valid)
    except IdentityError as error:
        messages.error(request, f"Nothing was created: {error.message}.")
    return redirect("identities:import", pk=batch.pk)


@require_POST
def import_step(request: HttpRequest, pk: str) -> HttpResponse:
    """One chunk of a running import: JSON for the page's script, else back to the page."""
    batch = services.continue_identity_import(get_object_or_404(IdentityImport, pk=pk))
    if "application/json" not in request.headers.get("Accept", ""):
        return redirect("identities:import", pk=batch.pk)
    return JsonResponse(
        {"state": batch.state, "created": batch.next_row, "total": batch.total, "percent": batch.percent}
    )


# The JWTs are bearer credentials until redeemed: no cache may keep a copy.
@never_cache
@require_safe
def import_jwts(request: HttpRequest, pk: str) -> HttpResponseBase:
    batch = get_object_or_404(IdentityImport, pk=pk)
    if not batch.created_ids:
        raise Http404("this import has created no identity")
    stem = batch.file_name.rsplit(".", 1)[0] or "identities"
    return zip_download(services.import_jwts(batch), f"{stem}-jwts")


# How many of the selected names the confirmation page lists; it counts them all.
NAMES_SHOWN = 20


def _back_to_list(request: HttpRequest, next_url: str | None) -> HttpResponse:
    """To the list the admin came from (with its filters), if it is ours; else the list."""
    ours = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=True)
    if next_url and ours and next_url.startswith(reverse("identities:list")):
        return redirect(next_url)
    return redirect("identities:list")


@require_POST
def identity_bulk(request: HttpRequest) -> HttpResponseBase:
    """Disable, enable, delete or download the JWTs of the selected identities: first a
    page that names how many for the admin to confirm, then the action."""
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nothing was changed: {problems}")
        return _back_to_list(request, request.POST.get("next"))
    action = BulkAction(form.cleaned_data["action"])
    identities = list(Identity.objects.filter(pk__in=form.cleaned_data["ids"]).order_by("name"))
    next_url = form.cleaned_data["next"]
    if not identities:
        messages.error(request, "Nothing was changed: the selected identities no longer exist.")
        return _back_to_list(request, next_url)
    if not form.cleaned_data["confirmed"]:
        without_token = [] if action != BulkAction.DOWNLOAD_JWTS else _without_token(identities)
        context = {
            "action": action,
            "identities": identities[:NAMES_SHOWN],
            "more": max(0, len(identities) - NAMES_SHOWN),
            "count": len(identities),
            "without_token": without_token,
            "jwt_count": len(identities) - len(without_token),
            "form": BulkActionForm(
                initial={
                    "action": action,
                    "ids": [i.pk for i in identities],
                    "confirmed": True,
                    "next": next_url,
                }
            ),
            "next_url": next_url or reverse("identities:list"),
        }
        return render(request, "identities/confirm_bulk.html", context)
    count = len(identities)
    noun = f"identit{pluralize(count, 'y,ies')}"
    if action == BulkAction.DOWNLOAD_JWTS:
        tokens, _skipped = services.download_enrollment_jwts(identities)
        return _jwt_zip(tokens)
    if action == BulkAction.DELETE:
        services.delete_identities(identities)
        messages.success(request, f"Deleted {count} {noun}.")
    else:
        services.set_identities_disabled(identities, action == BulkAction.DISABLE)
        done = "Disabled" if action == BulkAction.DISABLE else "Enabled"
        messages.success(request, f"{done} {count} {noun}.")
    return _back_to_list(request, next_url)


def _without_token(identities: list[Identity]) -> list[Identity]:
    """Those of `identities` with no JWT to hand out (none pending, or disabled)."""
    pending = set(
        Identity.objects.filter(pk__in=[i.pk for i in identities], is_disabled=False)
        .filter(Exists(Enrollment.objects.pending().filter(identity=OuterRef("pk"))))
        .values_list("pk", flat=True)
    )
    return [i for i in identities if i.pk not in pending]


def _jwt_zip(tokens: dict[str, str]) -> HttpResponseBase:
    files = ((f"{name}.jwt", token + "\n") for name, token in tokens.items())
    response = zip_download(files, f"enrollment-jwts-{timezone.now():%Y%m%d-%H%M%S}")
    # The JWTs are bearer credentials until redeemed: no cache may keep a copy.
    add_never_cache_headers(response)
    return response
