"""``/api/v1/coverage``: the coverage audit (格不漏户、户不漏人) as JSON, scoped like the pages."""

from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from grassroots.areas.access import access_area
from grassroots.areas.models import Area
from grassroots.core.pagination import BoundedPagination

from .coverage import (
    CHECKS,
    OFFENDER_KIND,
    SHORT_LABELS,
    Check,
    CoverageRow,
    CoverageTable,
    coverage_table,
    describe,
    offenders,
    with_places,
)

router = Router(tags=["coverage"])


class CoverageFiguresOut(Schema):
    households_outside_grid: int = Field(..., description="Active households placed at no grid.")
    residents_outside_household: int = Field(..., description="Active residents without a household.")
    duplicate_persons: int = Field(
        ...,
        description="Persons with an active record here and more than one active record in the registry.",
    )
    empty_households: int = Field(..., description="Active households without an active member.")
    grids_without_worker: int = Field(..., description="Grids without an active grid worker.")
    grids_over_norm: int = Field(..., description="Grids far above the household norm.")
    grids_under_norm: int = Field(..., description="Grids far below the household norm.")
    households: int = Field(..., description="Active households.")
    residents: int = Field(..., description="Active residents.")
    grids: int


class CoverageRowOut(Schema):
    code: str | None = Field(..., description="The child's code; null for the row of what is in no child.")
    name: str
    level: int | None
    gaps: int = Field(..., description="Sum of the checks.")
    figures: CoverageFiguresOut


class CoverageCheckOut(Schema):
    key: Check
    label: str
    short_label: str
    description: str
    lists: Literal["household", "resident", "grid"] = Field(..., description="What the drill-down lists.")


class CoverageNormsOut(Schema):
    urban: int = Field(..., description="Households per grid of an urban community.")
    urban_low: int = Field(..., description="Urban grids with fewer households are far below the norm.")
    urban_high: int = Field(..., description="Urban grids with more households are far above the norm.")
    village_high: int = Field(..., description="Village grids with more households are far above the norm.")


class CoverageOut(Schema):
    code: str
    name: str
    level: int
    checks: list[CoverageCheckOut]
    children: list[CoverageRowOut] = Field(..., description="One row per child, in code order.")
    direct: CoverageRowOut | None = Field(
        ..., description="What lies at the node itself but in none of its children, if anything."
    )
    total: CoverageRowOut = Field(
        ...,
        description="The node's figures: the sum of the rows above, except duplicate_persons, which "
        "counts a person once however many rows they appear in.",
    )
    all_clear: bool
    norms: CoverageNormsOut


class CoverageOffenderOut(Schema):
    kind: Literal["household", "resident", "grid"]
    id: str = Field(..., description="Household or resident id, or grid code.")
    name: str = Field(..., description="Resident name, household number or grid name.")
    area_code: str
    place: str = Field(..., description="Where it lies below the audited node.")
    household_number: str | None = None
    id_number_masked: str | None = None
    address: str | None = None
    records: int | None = Field(None, description="Duplicates: active records of this person in all.")
    households: int | None = Field(None, description="Grids: active households.")
    workers: int | None = Field(None, description="Grids: active grid workers.")
    norm_low: int | None = None
    norm_high: int | None = None


def _row(row: CoverageRow) -> dict:
    return {
        "code": row.area.code if row.area else None,
        "name": row.label,
        "level": row.area.level if row.area else None,
        "gaps": row.gaps,
        "figures": row.figures,
    }


def _table(table: CoverageTable) -> dict:
    node, norms = table.node, table.norms
    return {
        "code": node.code,
        "name": node.display_name,
        "level": node.level,
        "checks": [
            {
                "key": check,
                "label": str(Check(check).label),
                "short_label": str(SHORT_LABELS[Check(check)]),
                "description": describe(check, norms),
                "lists": OFFENDER_KIND[Check(check)],
            }
            for check in CHECKS
        ],
        "children": [_row(row) for row in table.rows],
        "direct": _row(table.direct) if table.direct else None,
        "total": _row(table.total),
        "all_clear": table.all_clear,
        "norms": {
            "urban": norms.urban,
            "urban_low": norms.urban_low,
            "urban_high": norms.urban_high,
            "village_high": norms.village_high,
        },
    }


@router.get("/{code}", response=CoverageOut, summary="The coverage audit of an area, per child")
def coverage(request: HttpRequest, code: str):
    return _table(coverage_table(access_area(request.user, code)))


@router.get(
    "/{code}/{check}",
    response=list[CoverageOffenderOut],
    summary="The records behind one count of the coverage audit (masked values only)",
)
@paginate(BoundedPagination)
def offender_list(request: HttpRequest, code: str, check: Check, direct: bool = False):
    area = access_area(request.user, code)
    return _OffenderPage(area, check, offenders(request.user, area, check, direct=direct))


def _offender(record, kind: str) -> dict:
    if kind == "household":
        return {
            "kind": kind,
            "id": str(record.pk),
            "name": record.number,
            "area_code": record.area_id,
            "place": record.place,
            "household_number": record.number,
            "address": record.address,
        }
    if kind == "resident":
        return {
            "kind": kind,
            "id": str(record.pk),
            "name": record.name,
            "area_code": record.area_id,
            "place": record.place,
            "household_number": record.household.number if record.household else None,
            "id_number_masked": record.id_number_masked,
            "records": getattr(record, "records", None),
        }
    return {
        "kind": kind,
        "id": record.code,
        "name": record.display_name,
        "area_code": record.code,
        "place": record.place,
        "households": record.active_households,
        "workers": record.workers or 0,
        "norm_low": record.norm_low,
        "norm_high": record.norm_high,
    }


class _OffenderPage:
    """Offenders as the paginator slices them, with places named for just the slice (one query)."""

    def __init__(self, area: Area, check: str, queryset):
        self.area, self.check, self.queryset = area, check, queryset
        self.kind = OFFENDER_KIND[Check(check)]

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item: slice) -> list[dict]:
        page = with_places(self.area, list(self.queryset[item]), self.check)
        return [_offender(record, self.kind) for record in page]
