"""Pages of the coverage audit (格不漏户、户不漏人): the table per node and the records behind a count.

Any staff role sees the audit of its subtree; a node outside it is "not found". Lists show masked
values only (names, masked ID numbers, household numbers, places), never decrypted ones.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from grassroots.areas.access import access_area, breadcrumbs, scope_roots

from .coverage import (
    CHECKS,
    OFFENDER_KIND,
    SHORT_LABELS,
    Check,
    child_level,
    coverage_table,
    describe,
    direct_label,
    offenders,
    with_places,
)


@login_required
def root(request: HttpRequest) -> HttpResponse:
    """The audit of the caller's scope: their node, or the first of several."""
    roots = scope_roots(request.user)
    if not roots:
        raise Http404
    return redirect("coverage:node", code=roots[0].code)


@login_required
def node(request: HttpRequest, code: str) -> HttpResponse:
    area = access_area(request.user, code)
    table = coverage_table(area)
    return render(
        request,
        "registry/coverage.html",
        {
            "area": area,
            "crumbs": breadcrumbs(request.user, area),
            "table": table,
            "checks": [(Check(check), SHORT_LABELS[Check(check)], describe(check)) for check in CHECKS],
        },
    )


@login_required
def offender_list(request: HttpRequest, code: str, check: str, direct: bool = False) -> HttpResponse:
    if check not in CHECKS:
        raise Http404
    area = access_area(request.user, code)
    records = offenders(request.user, area, check, direct=direct)
    conf: dict[str, Any] = settings.GRASSROOTS
    page = Paginator(records, conf["PAGE_SIZE"]).get_page(request.GET.get("page"))
    page.object_list = with_places(area, list(page.object_list), check)
    kind = OFFENDER_KIND[Check(check)]
    if check == Check.DUPLICATE_PERSONS:
        _number_persons(page.object_list)
    return render(
        request,
        "registry/coverage_offenders.html",
        {
            "area": area,
            "crumbs": breadcrumbs(request.user, area),
            "check": Check(check),
            "kind": kind,
            "page": page,
            "direct": direct,
            "direct_label": direct_label(child_level(area)) if direct else "",
            "description": describe(check),
        },
    )


def _number_persons(residents) -> None:
    """Number the persons on one page (1, 2, …) so that the records of one person read as a group,
    without showing anything derived from the ID number."""
    previous, number = None, 0
    for resident in residents:
        if resident.id_number_hash != previous:
            previous, number = resident.id_number_hash, number + 1
        resident.person = number
