# No ``from __future__ import annotations`` here: django-ninja reads the parameter annotations of a
# @paginate-wrapped view in the wrapper's module, where a string like "Query[SearchFilter]" cannot be
# resolved (GET /search and /openapi.json failed with PydanticUserError).
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from grassroots.core.pagination import BoundedPagination

from .access import access_area, breadcrumbs, scope_roots, search_areas
from .choices import Level
from .models import Area
from .stats import child_counts, summary

router = Router(tags=["areas"])

MAX_TREE_DEPTH = 3


class AreaOut(Schema):
    code: str = Field(..., description="National division code; a code's prefix is its ancestry.")
    name: str
    display_name: str
    level: int = Field(
        ...,
        description="1 province, 2 city, 3 district/county, 4 street/township, "
        "5 community/village, 6 grid, 7 micro-grid.",
    )
    level_name: str
    kind: str
    parent_code: str | None

    @staticmethod
    def resolve_level_name(obj: Area) -> str:
        return str(Level(obj.level).label)

    @staticmethod
    def resolve_parent_code(obj: Area) -> str | None:
        return obj.parent_id


class CountsOut(Schema):
    children: int
    grids: int
    workers: int


class AreaChildOut(AreaOut):
    counts: CountsOut


class LevelCount(Schema):
    level: int
    level_name: str
    count: int


class AreaDetailOut(AreaOut):
    households_estimate: int | None
    center: list[float] | None = Field(
        None, description="[longitude, latitude] of the label point, if known."
    )
    breadcrumbs: list[AreaOut] = Field(
        ..., description="Ancestors visible to the caller, root first, then the area."
    )
    descendants: list[LevelCount]
    workers: int


class TreeNodeOut(AreaOut):
    children: list["TreeNodeOut"] = []

    @staticmethod
    def resolve_children(obj: Area) -> list[Area]:
        # The levels ``tree`` fetched, not the reverse relation (which would be the whole next level).
        return obj.children_list


class SearchFilter(Schema):
    q: str = Field("", description="Part of a name, or the leading digits of a code.", max_length=60)
    within: str | None = Field(
        None, description="Code of the subtree to search; default: all of the caller's scope."
    )
    level: Level | None = None


@router.get("", response=list[AreaOut], summary="The roots of the caller's scope")
def list_roots(request: HttpRequest) -> list[Area]:
    return scope_roots(request.user)


@router.get("/search", response=list[AreaOut], summary="Search a subtree by name or code prefix")
@paginate(BoundedPagination)
def search(request: HttpRequest, filters: Query[SearchFilter]):
    roots = [access_area(request.user, filters.within)] if filters.within else scope_roots(request.user)
    result = Area.objects.none()
    for root in roots:
        result = result | search_areas(request.user, root, filters.q, filters.level)
    return result.order_by("level", "code")


@router.get(
    "/{code}", response=AreaDetailOut, summary="One area, with its breadcrumbs and what lies below it"
)
def detail(request: HttpRequest, code: str):
    area = access_area(request.user, code)
    totals = summary(area)
    area.breadcrumbs = breadcrumbs(request.user, area)
    area.descendants = [
        {"level": int(level), "level_name": str(level.label), "count": n} for level, n in totals.levels()
    ]
    area.workers = totals.workers
    area.center = [area.center_lng, area.center_lat] if area.center_lng is not None else None
    return area


@router.get("/{code}/children", response=list[AreaChildOut], summary="Children of an area, with counts")
@paginate(BoundedPagination)
def children(request: HttpRequest, code: str):
    area = access_area(request.user, code)
    return _ChildPage(area)


@router.get("/{code}/tree", response=TreeNodeOut, summary="The subtree of an area, a few levels deep")
def tree(request: HttpRequest, code: str, depth: int = Query(1, ge=1, le=MAX_TREE_DEPTH)):
    area = access_area(request.user, code)
    nodes = (
        Area.objects.visible_to(request.user)
        .within(area.code)
        .filter(level__gt=area.level, level__lte=area.level + depth)
        .order_by("code")
    )
    by_code = {area.code: area}
    area.children_list = []
    for node in nodes:  # sorted by code, so a parent always precedes its children
        node.children_list = []
        by_code[node.code] = node
        by_code[node.parent_id].children_list.append(node)
    return area


class _ChildPage:
    """Children of an area as the paginator slices them, with counts for just the slice."""

    def __init__(self, area: Area):
        self.area = area
        self.queryset = area.children.order_by("code")

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item: slice) -> list[Area]:
        page = list(self.queryset[item])
        counts = child_counts(self.area, page)
        for child in page:
            child.counts = counts[child.code]
        return page
