"""Console pages for identities: validate the input, call identities.services, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from identities import services
from identities.errors import IdentityError
from identities.forms import IdentityCreateForm, IdentityEditForm
from identities.models import Identity
from identities.querysets import with_enrollment_state
from kernel.responses import jwt_download

PAGE_SIZE = 50
# The sizes offered; anything else in ?per_page= falls back to PAGE_SIZE.
PAGE_SIZES = (10, 25, 50, 100, 200)


def _identity_with_state(pk: str) -> Identity:
    return get_object_or_404(with_enrollment_state(Identity.objects.all()), pk=pk)


@require_safe
def identity_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    identities = Identity.objects.order_by("name")
    if query:
        identities = identities.filter(name__icontains=query)
    # get_page() turns a missing, malformed or too large page number into a valid page.
    per_page = _per_page(request.GET.get("per_page"))
    page = Paginator(identities, per_page).get_page(request.GET.get("page"))
    # States for this page's rows only: over the whole table PostgreSQL plans the EXISTS
    # checks as hashed scans of every enrollment, once per page view.
    page.object_list = list(with_enrollment_state(identities.filter(pk__in=[i.pk for i in page])))
    context = {
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number),
        "query": query,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
    }
    return render(request, "identities/list.html", context)


def _per_page(value: str | None) -> int:
    try:
        size = int(value or PAGE_SIZE)
    except ValueError:
        return PAGE_SIZE
    return size if size in PAGE_SIZES else PAGE_SIZE


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
    context = {
        "identity": identity,
        "form": form,
        "enrollments": identity.enrollments.select_related("ca"),
        "authenticators": identity.authenticators.select_related("ca"),
    }
    return render(request, "identities/detail.html", context)


@require_POST
def identity_set_disabled(request: HttpRequest, pk: str, disabled: bool) -> HttpResponse:
    identity = services.set_identity_disabled(get_object_or_404(Identity, pk=pk), disabled)
    if disabled:
        messages.success(request, f"Disabled identity {identity.name}: it can no longer authenticate.")
    else:
        messages.success(request, f"Enabled identity {identity.name}.")
    return redirect("identities:detail", pk=identity.pk)


# The JWT is a bearer credential until redeemed: no cache may keep a copy.
@never_cache
@require_safe
def identity_jwt(request: HttpRequest, pk: str) -> HttpResponse:
    identity = get_object_or_404(Identity, pk=pk)
    enrollment = identity.enrollments.pending().select_related("identity").first()
    if enrollment is None:
        raise Http404("this identity has no pending enrollment")
    return jwt_download(services.enrollment_jwt(enrollment), identity.name)


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
