"""Fetching areas through the user's scope. Outside the scope is "not found", in pages and API alike."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from grassroots.accounts.scope import scope_codes

from .codes import ancestor_codes, in_subtree, is_valid_code
from .models import Area


def access_area(user, code: str) -> Area:
    if not is_valid_code(code):
        raise Http404
    area = Area.objects.visible_to(user).filter(code=code).first()
    if area is None:
        raise Http404
    return area


def breadcrumbs(user, area: Area) -> list[Area]:
    """The area's ancestors that the user may see, root first, then the area itself."""
    visible = Area.objects.visible_to(user).filter(code__in=ancestor_codes(area.code)).order_by("code")
    return [*visible, area]


def scope_roots(user) -> list[Area]:
    return list(Area.objects.filter(code__in=scope_codes(user)).order_by("code"))


def search_areas(user, within: Area, query: str, level: int | None = None) -> QuerySet[Area]:
    """Areas in ``within``'s subtree (and the user's scope) whose name or code matches ``query``."""
    qs = Area.objects.visible_to(user).within(within.code)
    query = query.strip()
    if query:
        # A run of digits is a code prefix, answered by the same index range as any subtree.
        qs = qs.filter(
            in_subtree("code", query) if query.isascii() and query.isdigit() else Q(name__icontains=query)
        )
    if level:
        qs = qs.filter(level=level)
    return qs.order_by("level", "code")
