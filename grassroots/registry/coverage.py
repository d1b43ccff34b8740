"""The coverage audit (格不漏户、户不漏人): every household in a grid, every person in a household.

For any node of the tree the audit counts what is missing or doubtful below it:

``households_outside_grid``
    Active households whose area is above the grid level (placed only at their community).
``residents_outside_household``
    Active residents with no household.
``duplicate_persons``
    Persons (distinct ``id_number_hash``) with an active record in the subtree and more than one
    active record in the whole registry. One person, one active record: a person registered in two
    places is a gap for both places, so the other record may lie outside the subtree, even outside
    the viewer's scope (only this record is ever listed).
``empty_households``
    Active households without an active member.
``grids_without_worker``
    Grids with no active user holding the grid-worker role at the grid or one of its micro-grids.
``grids_over_norm`` / ``grids_under_norm``
    Grids whose active households lie far from the planning norm, see :class:`Norms`.

and, for context, the active ``households``, active ``residents`` and ``grids`` of the subtree.

Everything is set-based. :func:`coverage_table` answers all children of a node with five grouped
queries (households, empty households, residents, duplicate persons, grids: rows are rolled up to
the child by the prefix of their area code, ``Substr(area_id, 1, child_length)``), plus the list of
children and the node's distinct duplicate persons. :func:`run_checks` answers one node with the
same five queries, ungrouped, and :func:`run_checks_raw_sql` with a single SQL statement (the floor
for benchmarks; both agree).

Every figure but ``duplicate_persons`` is additive: a node's figure is the sum of its children's plus
whatever sits directly at the node (households placed only at a community, for instance). A person
registered in two children counts once in each child and once in the node.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextChoices,
    Value,
    When,
)
from django.db.models.functions import Concat, Length, Substr
from django.db.models.lookups import GreaterThan, LessThan
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.accounts.scope import ScopedQuerySet
from grassroots.areas.choices import Kind, Level
from grassroots.areas.codes import LENGTH_BY_LEVEL, MAX_LENGTH, child_length, is_valid_code
from grassroots.areas.models import Area, AreaQuerySet

from .choices import HouseholdStatus, ResidentStatus
from .models import Household, Resident

GRID_LENGTH = LENGTH_BY_LEVEL[Level.GRID]

#: A grid is "far below" its norm under this share of it, "far above" over this multiple of it.
UNDER_NORM_FACTOR = 0.5
OVER_NORM_FACTOR = 1.5
BAND_UNDER, BAND_OVER = -1, 1


class Check(TextChoices):
    """What the audit looks for. The value is the key in figures, URLs and the API."""

    HOUSEHOLDS_OUTSIDE_GRID = "households_outside_grid", _("Households outside any grid")
    RESIDENTS_OUTSIDE_HOUSEHOLD = "residents_outside_household", _("Residents outside any household")
    DUPLICATE_PERSONS = "duplicate_persons", _("Persons registered twice")
    EMPTY_HOUSEHOLDS = "empty_households", _("Households with nobody living in them")
    GRIDS_WITHOUT_WORKER = "grids_without_worker", _("Grids without a grid worker")
    GRIDS_OVER_NORM = "grids_over_norm", _("Grids far above the household norm")
    GRIDS_UNDER_NORM = "grids_under_norm", _("Grids far below the household norm")


class Total(TextChoices):
    """Context figures shown beside the checks."""

    HOUSEHOLDS = "households", _("Households")
    RESIDENTS = "residents", _("Residents")
    GRIDS = "grids", _("Grids")


CHECKS: tuple[str, ...] = tuple(Check.values)
TOTALS: tuple[str, ...] = tuple(Total.values)
FIGURES: tuple[str, ...] = CHECKS + TOTALS

#: Short column headings (the full label is the check's label).
SHORT_LABELS = {
    Check.HOUSEHOLDS_OUTSIDE_GRID: _("Outside grid"),
    Check.RESIDENTS_OUTSIDE_HOUSEHOLD: _("No household"),
    Check.DUPLICATE_PERSONS: _("Registered twice"),
    Check.EMPTY_HOUSEHOLDS: _("Empty households"),
    Check.GRIDS_WITHOUT_WORKER: _("No grid worker"),
    Check.GRIDS_OVER_NORM: _("Grids too big"),
    Check.GRIDS_UNDER_NORM: _("Grids too small"),
}

#: What each check lists when drilled into: households, residents or grids.
OFFENDER_KIND = {
    Check.HOUSEHOLDS_OUTSIDE_GRID: "household",
    Check.EMPTY_HOUSEHOLDS: "household",
    Check.RESIDENTS_OUTSIDE_HOUSEHOLD: "resident",
    Check.DUPLICATE_PERSONS: "resident",
    Check.GRIDS_WITHOUT_WORKER: "grid",
    Check.GRIDS_OVER_NORM: "grid",
    Check.GRIDS_UNDER_NORM: "grid",
}


# --- the household norm -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Norms:
    """When a grid is far from the household norm.

    A grid of an urban community (any community that is not a village) should hold about
    ``URBAN_GRID_HOUSEHOLDS`` active households: it is flagged under ``UNDER_NORM_FACTOR`` or over
    ``OVER_NORM_FACTOR`` times that. A village is one grid unless it passes
    ``VILLAGE_GRID_MAX_HOUSEHOLDS``, so a small village grid is normal: village grids are flagged only
    over ``OVER_NORM_FACTOR`` times the maximum. Bounds are whole numbers, compared strictly.
    """

    urban: int
    village_max: int

    @classmethod
    def from_settings(cls) -> Norms:
        conf: dict[str, Any] = settings.GRASSROOTS
        return cls(
            urban=int(conf["URBAN_GRID_HOUSEHOLDS"]), village_max=int(conf["VILLAGE_GRID_MAX_HOUSEHOLDS"])
        )

    @property
    def urban_low(self) -> int:
        """Urban grids with fewer households than this are far below the norm."""
        return math.ceil(self.urban * UNDER_NORM_FACTOR)

    @property
    def urban_high(self) -> int:
        """Urban grids with more households than this are far above the norm."""
        return math.floor(self.urban * OVER_NORM_FACTOR)

    @property
    def village_high(self) -> int:
        """Village grids with more households than this are far above the norm."""
        return math.floor(self.village_max * OVER_NORM_FACTOR)


def describe(check: str, norms: Norms | None = None) -> str:
    """What a check counts, in a sentence for people (with the norm's figures)."""
    norms = norms or Norms.from_settings()
    texts = {
        Check.HOUSEHOLDS_OUTSIDE_GRID: _(
            "Households living here that are placed only at their community, not yet in a grid."
        ),
        Check.RESIDENTS_OUTSIDE_HOUSEHOLD: _("People living here who belong to no household."),
        Check.DUPLICATE_PERSONS: _(
            "People with more than one record marked as living here, anywhere in the registry (the "
            "other record may be elsewhere). A person registered in two sub-areas counts in both rows "
            "and once in the total."
        ),
        Check.EMPTY_HOUSEHOLDS: _("Open households in which nobody is recorded as living."),
        Check.GRIDS_WITHOUT_WORKER: _("Grids where no active account holds the grid worker role."),
        Check.GRIDS_OVER_NORM: _(
            "Grids of urban communities with more than %(urban_high)d households (norm %(urban)d), "
            "village grids with more than %(village_high)d."
        ),
        Check.GRIDS_UNDER_NORM: _(
            "Grids of urban communities with fewer than %(urban_low)d households (norm %(urban)d). "
            "Village grids are never too small."
        ),
    }
    return str(texts[Check(check)]) % {
        "urban": norms.urban,
        "urban_low": norms.urban_low,
        "urban_high": norms.urban_high,
        "village_high": norms.village_high,
    }


# --- expressions shared by the table, the node figures and the drill-down ---------------------------


def _subtree_last(code: str) -> str:
    """The greatest code in ``code``'s subtree: codes are digit strings of at most 18 characters,
    so the subtree is exactly the range ``code <= x <= code + '9…9'`` (as an index reads it)."""
    return code.ljust(MAX_LENGTH, "9")


def _in_outer_grid(field: str) -> Q:
    """``field`` lies in the subtree of the outer query's grid (``OuterRef('code')``), as a range."""
    return Q(**{f"{field}__gte": OuterRef("code")}) & Q(
        **{f"{field}__lte": Concat(OuterRef("code"), Value("9" * (MAX_LENGTH - GRID_LENGTH)))}
    )


def _active_households() -> ScopedQuerySet:
    return Household.objects.filter(status=HouseholdStatus.ACTIVE)


def _active_residents() -> ScopedQuerySet:
    return Resident.objects.filter(status=ResidentStatus.ACTIVE)


def _has_active_member() -> Exists:
    return Exists(_active_residents().filter(household=OuterRef("pk")))


def _registered_elsewhere() -> Exists:
    """The outer resident's person has another active record (anywhere in the registry)."""
    return Exists(
        _active_residents().filter(id_number_hash=OuterRef("id_number_hash")).exclude(pk=OuterRef("pk"))
    )


def _count() -> Func:
    """``COUNT(id)`` that the ORM does not treat as an aggregate, so a correlated subquery using it
    has no GROUP BY and always returns one row (0 for a grid without households)."""
    return Func(F("pk"), function="COUNT", output_field=IntegerField())


def _grid_households() -> Subquery:
    """Active households of the outer grid (and its micro-grids)."""
    counted = _active_households().filter(_in_outer_grid("area_id")).order_by().annotate(n=_count())
    return Subquery(counted.values("n"), output_field=IntegerField())


def _grid_band() -> Subquery:
    """-1 far below the outer grid's norm, 1 far above, 0 within: the households are counted once,
    against the bounds the outer query annotates as ``norm_low`` and ``norm_high``."""
    n = _count()
    band = Case(
        When(GreaterThan(n, OuterRef("norm_high")), then=Value(BAND_OVER)),
        When(LessThan(n, OuterRef("norm_low")), then=Value(BAND_UNDER)),
        default=Value(0),
    )
    counted = _active_households().filter(_in_outer_grid("area_id")).order_by().annotate(band=band)
    return Subquery(counted.values("band"), output_field=IntegerField())


def _grid_staffed() -> Exists:
    return Exists(
        Grant.objects.filter(_in_outer_grid("area_id"), role=Role.GRID_WORKER, user__is_active=True)
    )


def _grids(norms: Norms) -> AreaQuerySet:
    """Grids annotated with their norm bounds, ``band`` (see :func:`_grid_band`) and ``staffed``.

    A village grid is never "far below" (its low bound is 0).
    """
    village = Q(parent__kind=Kind.VILLAGE)
    return Area.objects.filter(level=Level.GRID).annotate(
        norm_low=Case(When(village, then=Value(0)), default=Value(norms.urban_low)),
        norm_high=Case(When(village, then=Value(norms.village_high)), default=Value(norms.urban_high)),
        band=_grid_band(),
        staffed=_grid_staffed(),
    )


# --- figures ---------------------------------------------------------------------------------------


def _grouped(qs: ScopedQuerySet, code: str, length: int, field: str, **aggregates: Any) -> dict[str, dict]:
    """Aggregates of ``qs`` within ``code``'s subtree, per prefix of ``field`` of ``length``.

    Rows whose code is shorter than ``length`` (sitting directly at the node) group under the node's
    own code. ``length == len(code)`` gives a single group, the node.
    """
    qs = qs.within(code)
    if length == len(code):
        return {code: qs.aggregate(**aggregates)}
    rows = qs.annotate(prefix=Substr(field, 1, length)).values("prefix").annotate(**aggregates).order_by()
    return {row.pop("prefix"): row for row in rows}


def _figures_by_prefix(code: str, length: int, norms: Norms) -> dict[str, dict[str, int]]:
    """All figures of ``code``'s subtree per code prefix of ``length``: five queries.

    Empty households and duplicate persons get their own query with the (NOT) EXISTS in the WHERE
    clause rather than inside an aggregate: there PostgreSQL may turn it into a hash (anti-)join,
    which over a whole city is several times faster than probing the index once per row.
    """
    result: dict[str, dict[str, int]] = {}

    def merge(groups: dict[str, dict]) -> None:
        for prefix, values in groups.items():
            result.setdefault(prefix, dict.fromkeys(FIGURES, 0)).update(
                {key: value or 0 for key, value in values.items()}
            )

    merge(
        _grouped(
            _active_households().annotate(area_length=Length("area_id")),
            code,
            length,
            "area_id",
            households=Count("pk"),
            households_outside_grid=Count("pk", filter=Q(area_length__lt=GRID_LENGTH)),
        )
    )
    merge(
        _grouped(
            _active_households().filter(~_has_active_member()),
            code,
            length,
            "area_id",
            empty_households=Count("pk"),
        )
    )
    merge(
        _grouped(
            _active_residents(),
            code,
            length,
            "area_id",
            residents=Count("pk"),
            residents_outside_household=Count("pk", filter=Q(household__isnull=True)),
        )
    )
    merge(
        _grouped(
            _active_residents().filter(_registered_elsewhere()),
            code,
            length,
            "area_id",
            duplicate_persons=Count("id_number_hash", distinct=True),
        )
    )
    merge(
        _grouped(
            _grids(norms),
            code,
            length,
            "code",
            grids=Count("code"),
            grids_without_worker=Count("code", filter=Q(staffed=False)),
            grids_over_norm=Count("code", filter=Q(band=BAND_OVER)),
            grids_under_norm=Count("code", filter=Q(band=BAND_UNDER)),
        )
    )
    return result


def run_checks(code: str, *, norms: Norms | None = None) -> dict[str, int]:
    """Every figure of ``code``'s subtree (checks and totals), in five aggregate queries.

    No scoping: the caller has fetched the node through the user's scope (``access_area``).
    """
    figures = _figures_by_prefix(code, len(code), norms or Norms.from_settings())
    return figures.get(code) or dict.fromkeys(FIGURES, 0)


def run_checks_raw_sql(code: str, *, norms: Norms | None = None) -> dict[str, int]:
    """The same figures as :func:`run_checks`, in one hand-written SQL statement (a benchmark floor)."""
    norms = norms or Norms.from_settings()
    q = connection.ops.quote_name
    household, resident = q(Household._meta.db_table), q(Resident._meta.db_table)
    area, grant, user = q(Area._meta.db_table), q(Grant._meta.db_table), q(User._meta.db_table)
    grid_tail = "9" * (MAX_LENGTH - GRID_LENGTH)
    active = HouseholdStatus.ACTIVE.value
    living = ResidentStatus.ACTIVE.value
    sql = f"""
    WITH hh AS (
      SELECT COUNT(*) AS households,
             COUNT(CASE WHEN LENGTH(h.area_id) < {GRID_LENGTH} THEN 1 END) AS households_outside_grid
      FROM {household} h
      WHERE h.status = %(active)s AND h.area_id >= %(first)s AND h.area_id <= %(last)s
    ), he AS (
      SELECT COUNT(*) AS empty_households
      FROM {household} h
      WHERE h.status = %(active)s AND h.area_id >= %(first)s AND h.area_id <= %(last)s
        AND NOT EXISTS (SELECT 1 FROM {resident} m WHERE m.household_id = h.id AND m.status = %(living)s)
    ), rr AS (
      SELECT COUNT(*) AS residents,
             COUNT(CASE WHEN r.household_id IS NULL THEN 1 END) AS residents_outside_household
      FROM {resident} r
      WHERE r.status = %(living)s AND r.area_id >= %(first)s AND r.area_id <= %(last)s
    ), rd AS (
      SELECT COUNT(DISTINCT r.id_number_hash) AS duplicate_persons
      FROM {resident} r
      WHERE r.status = %(living)s AND r.area_id >= %(first)s AND r.area_id <= %(last)s
        AND EXISTS (
          SELECT 1 FROM {resident} o
          WHERE o.id_number_hash = r.id_number_hash AND o.status = %(living)s AND o.id <> r.id
        )
    ), gg AS (
      SELECT COUNT(*) AS grids,
             COUNT(CASE WHEN NOT g.staffed THEN 1 END) AS grids_without_worker,
             COUNT(CASE WHEN (g.village AND g.households > %(village_high)s)
                          OR (NOT g.village AND g.households > %(urban_high)s) THEN 1 END) AS grids_over_norm,
             COUNT(CASE WHEN NOT g.village AND g.households < %(urban_low)s THEN 1 END) AS grids_under_norm
      FROM (
        SELECT (p.kind = %(village)s) AS village,
               (SELECT COUNT(*) FROM {household} h
                WHERE h.status = %(active)s AND h.area_id >= a.code AND h.area_id <= a.code || '{grid_tail}'
               ) AS households,
               EXISTS (
                 SELECT 1 FROM {grant} w JOIN {user} u ON u.id = w.user_id
                 WHERE w.role = %(worker)s AND u.is_active = %(true)s
                   AND w.area_id >= a.code AND w.area_id <= a.code || '{grid_tail}'
               ) AS staffed
        FROM {area} a JOIN {area} p ON p.code = a.parent_id
        WHERE a.level = %(grid)s AND a.code >= %(first)s AND a.code <= %(last)s
      ) g
    )
    SELECT hh.households, hh.households_outside_grid, he.empty_households,
           rr.residents, rr.residents_outside_household, rd.duplicate_persons,
           gg.grids, gg.grids_without_worker, gg.grids_over_norm, gg.grids_under_norm
    FROM hh CROSS JOIN he CROSS JOIN rr CROSS JOIN rd CROSS JOIN gg
    """
    params: dict[str, Any] = {
        "first": code,
        "last": _subtree_last(code),
        "active": active,
        "living": living,
        "village": Kind.VILLAGE.value,
        "worker": Role.GRID_WORKER.value,
        "true": True,
        "grid": int(Level.GRID),
        "urban_low": norms.urban_low,
        "urban_high": norms.urban_high,
        "village_high": norms.village_high,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        row = cursor.fetchone()
    return {name: int(value or 0) for name, value in zip(columns, row, strict=True)}


# --- the table -------------------------------------------------------------------------------------


@dataclass
class CoverageRow:
    """One line of the table: a child node, what sits directly at the node, or the node's total."""

    area: Area | None
    label: str
    figures: dict[str, int]

    @property
    def cells(self) -> list[tuple[str, int]]:
        """(check, count) in column order, for templates."""
        return [(check, self.figures[check]) for check in CHECKS]

    @property
    def gaps(self) -> int:
        return sum(self.figures[check] for check in CHECKS)


@dataclass
class CoverageTable:
    node: Area
    rows: list[CoverageRow]
    total: CoverageRow
    #: what lies in the node's subtree but in none of its children (None when there is nothing)
    direct: CoverageRow | None = None
    child_level: Level | None = None
    norms: Norms = field(default_factory=Norms.from_settings)

    @property
    def all_clear(self) -> bool:
        return self.total.gaps == 0


def child_level(node: Area) -> Level | None:
    """The level of the node's children (None for a micro-grid)."""
    return Level(node.level + 1) if child_length(node.code) else None


def direct_label(level: Level | None) -> str:
    """Label of the row for what lies at a node but in none of its children of ``level``."""
    if level is None:
        return str(_("Directly here"))
    return str(_("Not in any %(level)s")) % {"level": str(level.label).lower()}


def coverage_table(node: Area, *, norms: Norms | None = None) -> CoverageTable:
    """The audit of ``node``: one row per child (all children, in code order), what sits directly at
    the node, and the node's total. Seven queries, whatever the size of the subtree."""
    norms = norms or Norms.from_settings()
    length = child_length(node.code)
    children = list(node.children.order_by("code")) if length else []
    figures = _figures_by_prefix(node.code, length or len(node.code), norms)
    empty = dict.fromkeys(FIGURES, 0)
    rows = [
        CoverageRow(child, child.display_name, figures.pop(child.code, dict(empty))) for child in children
    ]

    # Whatever is left grouped under the node's own code (or, defensively, a prefix with no Area).
    direct_figures = dict(empty)
    for values in figures.values():
        for key in FIGURES:
            direct_figures[key] += values[key]
    direct = (
        CoverageRow(None, direct_label(child_level(node)), direct_figures)
        if any(direct_figures.values())
        else None
    )

    total = {key: sum(row.figures[key] for row in [*rows, *([direct] if direct else [])]) for key in FIGURES}
    if length:
        total[Check.DUPLICATE_PERSONS] = (
            _active_residents()
            .within(node.code)
            .filter(_registered_elsewhere())
            .aggregate(n=Count("id_number_hash", distinct=True))["n"]
        )
    return CoverageTable(
        node=node,
        rows=rows,
        total=CoverageRow(node, node.display_name, total),
        direct=direct,
        child_level=child_level(node),
        norms=norms,
    )


# --- drill-down ------------------------------------------------------------------------------------


def offenders(user, node: Area, check: str, *, direct: bool = False, norms: Norms | None = None) -> QuerySet:
    """The records behind one figure of ``node``: households, residents or grids (see OFFENDER_KIND),
    limited to ``user``'s scope, in a stable order; with ``direct``, only those in none of the node's
    children (the table's "not in any …" row). Paginate the result, then name places with
    :func:`with_places`. Lists show masked values only.
    """
    check = Check(check)
    norms = norms or Norms.from_settings()
    kind = OFFENDER_KIND[check]
    qs: QuerySet
    if kind == "household":
        qs = (
            Household.objects.visible_to(user)
            .within(node.code)
            .filter(status=HouseholdStatus.ACTIVE)
            .annotate(area_length=Length("area_id"))
            .select_related("area")
            .order_by("area_id", "number")
        )
        if check == Check.HOUSEHOLDS_OUTSIDE_GRID:
            qs = qs.filter(area_length__lt=GRID_LENGTH)
        else:
            qs = qs.filter(~_has_active_member())
    elif kind == "resident":
        qs = (
            Resident.objects.visible_to(user)
            .within(node.code)
            .filter(status=ResidentStatus.ACTIVE)
            .annotate(area_length=Length("area_id"))
            .select_related("area", "household")
        )
        if check == Check.RESIDENTS_OUTSIDE_HOUSEHOLD:
            qs = qs.filter(household__isnull=True).order_by("area_id", "id")
        else:
            # The records of one person side by side, with how many active records the person has.
            records = (
                _active_residents()
                .filter(id_number_hash=OuterRef("id_number_hash"))
                .order_by()
                .annotate(n=_count())
                .values("n")
            )
            qs = (
                qs.filter(_registered_elsewhere())
                .annotate(records=Subquery(records, output_field=IntegerField()))
                .order_by("id_number_hash", "area_id", "id")
            )
    else:
        distinct_workers = Func(F("user_id"), function="COUNT", template="COUNT(DISTINCT %(expressions)s)")
        workers = (
            Grant.objects.filter(_in_outer_grid("area_id"), role=Role.GRID_WORKER, user__is_active=True)
            .order_by()
            .annotate(n=distinct_workers)
            .values("n")
        )
        conditions = {
            Check.GRIDS_WITHOUT_WORKER: Q(staffed=False),
            Check.GRIDS_OVER_NORM: Q(band=BAND_OVER),
            Check.GRIDS_UNDER_NORM: Q(band=BAND_UNDER),
        }
        qs = (
            _grids(norms)
            .visible_to(user)
            .within(node.code)
            .filter(conditions[check])
            .annotate(
                area_length=Length("code"),
                active_households=_grid_households(),
                workers=Subquery(workers, output_field=IntegerField()),
            )
            .select_related("parent")
            .order_by("code")
        )
    if direct:
        length = child_length(node.code)
        if length is not None:
            qs = qs.filter(area_length__lt=length)
    return qs


def place_names(node: Area, codes: list[str]) -> dict[str, str]:
    """Where each of ``codes`` lies below ``node``, named from the level below it down ("第一网格 ›
    第二微网格"); the node itself by its own name. One query for any number of codes."""
    lengths = sorted(LENGTH_BY_LEVEL.values())
    wanted = {code[:length] for code in codes for length in lengths if len(node.code) < length <= len(code)}
    names = {
        area.code: area.display_name for area in Area.objects.filter(code__in=wanted).only("code", "name")
    }
    result = {}
    for code in codes:
        parts = [
            names[code[:length]]
            for length in lengths
            if len(node.code) < length <= len(code) and code[:length] in names
        ]
        result[code] = " › ".join(parts) if parts else node.display_name
    return result


def with_places(node: Area, records: list, check: str) -> list:
    """Set ``place`` on each record (a household, resident or grid) of one page: one query."""
    kind = OFFENDER_KIND[Check(check)]
    codes = [record.code if kind == "grid" else record.area_id for record in records]
    places = place_names(node, codes)
    for record, code in zip(records, codes, strict=True):
        record.place = places[code]
    return records


# --- the command: ``grassroots audit coverage [CODE]`` ---------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("code", nargs="?", default="1403", help="Division code of the node (default: 1403).")


def handle(command, *, code: str, **options) -> None:
    if not is_valid_code(code):
        raise CommandError(f"{code!r} is not a division code.")
    node = Area.objects.filter(code=code).first()
    if node is None:
        raise CommandError(f"No area with code {code}.")
    command.stdout.write(format_table(coverage_table(node)))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def format_table(table: CoverageTable) -> str:
    """The table as plain text, one line per row, for terminals and logs."""
    headings = [
        "",
        str(_("Code")),
        *(str(SHORT_LABELS[Check(c)]) for c in CHECKS),
        *(str(Total(t).label) for t in TOTALS),
    ]
    lines = [
        [row.label, row.area.code if row.area else "", *(str(row.figures[key]) for key in FIGURES)]
        for row in [*table.rows, *([table.direct] if table.direct else []), table.total]
    ]
    lines[-1][0] = str(_("Total"))
    widths = [max(_width(line[i]) for line in [headings, *lines]) for i in range(len(headings))]

    def render(cells: list[str]) -> str:
        return "  ".join(_pad(cell, widths[i], right=i >= 2) for i, cell in enumerate(cells)).rstrip()

    node = table.node
    out = [f"{node.display_name} {node.code} — {_('Coverage audit')}", "", render(headings)]
    out.append("  ".join("-" * width for width in widths))
    out.extend(render(line) for line in lines[:-1])
    out.append("  ".join("-" * width for width in widths))
    out.append(render(lines[-1]))
    out.append("")
    out.append(
        str(_("Nothing missing.")) if table.all_clear else str(_("%(n)d gaps.") % {"n": table.total.gaps})
    )
    return "\n".join(out) + "\n"


__all__ = [
    "CHECKS",
    "FIGURES",
    "OFFENDER_KIND",
    "OVER_NORM_FACTOR",
    "TOTALS",
    "UNDER_NORM_FACTOR",
    "Check",
    "CoverageRow",
    "CoverageTable",
    "Norms",
    "Total",
    "child_level",
    "coverage_table",
    "describe",
    "direct_label",
    "format_table",
    "offenders",
    "place_names",
    "run_checks",
    "run_checks_raw_sql",
    "with_places",
]
