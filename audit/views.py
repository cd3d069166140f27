"""The console's audit page: the trail, filtered and paged."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit.forms import AuditFilterForm
from audit.models import AuditRecord

PAGE_SIZE = 50


@require_safe
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    filters = form.filters()
    records = AuditRecord.objects.matching(**filters)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "filtered": bool(filters),
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number),
    }
    return render(request, "audit/list.html", context)
