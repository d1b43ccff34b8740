from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .access import access_area, breadcrumbs, scope_roots, search_areas
from .choices import Level
from .stats import child_counts, summary

SEARCH_LIMIT = 50


@login_required
def root(request: HttpRequest) -> HttpResponse:
    roots = scope_roots(request.user)
    if len(roots) == 1:
        return redirect("areas:node", code=roots[0].code)
    return render(request, "areas/root.html", {"roots": roots})


@login_required
def node(request: HttpRequest, code: str) -> HttpResponse:
    area = access_area(request.user, code)
    children = area.children.order_by("code")
    page = Paginator(children, settings.GRASSROOTS["PAGE_SIZE"]).get_page(request.GET.get("page"))
    counts = child_counts(area, list(page.object_list))
    rows = [(child, counts[child.code]) for child in page.object_list]
    return render(
        request,
        "areas/node.html",
        {
            "area": area,
            "crumbs": breadcrumbs(request.user, area),
            "summary": summary(area),
            "page": page,
            "rows": rows,
            "Level": Level,
        },
    )


@login_required
def search(request: HttpRequest, code: str) -> HttpResponse:
    area = access_area(request.user, code)
    query = request.GET.get("q", "").strip()
    results = list(search_areas(request.user, area, query)[:SEARCH_LIMIT]) if query else []
    template = "areas/_search_results.html" if request.headers.get("HX-Request") else "areas/search.html"
    return render(
        request,
        template,
        {
            "area": area,
            "query": query,
            "results": results,
            "limit": SEARCH_LIMIT,
            "crumbs": breadcrumbs(request.user, area),
        },
    )
