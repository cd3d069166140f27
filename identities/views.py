"""Console pages for identities. Placeholder until the console lands."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from enrollment.services import enrollment_jwt
from identities.models import Identity


def identity_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("identities")


def identity_create(request: HttpRequest) -> HttpResponse:
    return HttpResponse("create")


def identity_detail(request: HttpRequest, pk: str) -> HttpResponse:
    return HttpResponse(get_object_or_404(Identity, pk=pk).name)


def identity_jwt(request: HttpRequest, pk: str) -> HttpResponse:
    identity = get_object_or_404(Identity, pk=pk)
    return HttpResponse(enrollment_jwt(identity.enrollments.pending().get()))


def identity_delete(request: HttpRequest, pk: str) -> HttpResponse:
    return HttpResponse("delete")
