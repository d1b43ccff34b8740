"""Dividing communities and villages into grids (网格) and grids into micro-grids (微网格).

Urban communities are cut into grids of about ``URBAN_GRID_HOUSEHOLDS`` households; a village is one
grid unless it is larger than ``VILLAGE_GRID_MAX_HOUSEHOLDS``, when it is cut into grids of about
``VILLAGE_GRID_HOUSEHOLDS``; each grid is cut into micro-grids of about ``MICROGRID_HOUSEHOLDS``.
Grids are numbered and named as offices do (第一网格, 第二网格, ...; 第一微网格, ...). Codes extend the
parent's code by three digits.

Until the registry holds real households, the size of a community is a planning estimate
(``households_estimate``): deterministic per code, drawn from a log-normal spread around typical sizes
of urban communities and villages and, where the census population of the city is known, scaled so
that the city's households add up to its population divided by the average household size.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from . import loading
from .choices import Kind, Level, Source
from .codes import in_subtree, upper_bound
from .models import Area

# 2020 census populations of cities whose household estimates are scaled to match.
CENSUS_POPULATION = {"1403": 1_318_505}
PERSONS_PER_HOUSEHOLD = 2.6
TYPICAL_HOUSEHOLDS = {Kind.COMMUNITY: 2000, Kind.VILLAGE: 300}

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (as used in grid names)."""
    if n <= 0 or n >= 10000:
        return str(n)
    parts: list[str] = []
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    zero = False
    for value, unit in units:
        digit = n // value % 10
        if digit:
            if zero and parts:
                parts.append("零")
            parts.append(("" if (value == 10 and digit == 1 and n < 20) else _DIGITS[digit]) + unit)
            zero = False
        elif parts:
            zero = True
    return "".join(parts)


@dataclass(frozen=True)
class GridPolicy:
    urban_grid_households: int
    village_grid_max_households: int
    village_grid_households: int
    microgrid_households: int

    @classmethod
    def from_settings(cls, **overrides: int | None) -> GridPolicy:
        conf = settings.GRASSROOTS
        values = {
            "urban_grid_households": conf["URBAN_GRID_HOUSEHOLDS"],
            "village_grid_max_households": conf["VILLAGE_GRID_MAX_HOUSEHOLDS"],
            "village_grid_households": conf["VILLAGE_GRID_HOUSEHOLDS"],
            "microgrid_households": conf["MICROGRID_HOUSEHOLDS"],
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        policy = cls(**values)
        if min(values.values()) < 1:
            raise ValueError("household sizes must be positive")
        return policy

    def grid_count(self, kind: str, households: int) -> int:
        if kind == Kind.VILLAGE:
            if households <= self.village_grid_max_households:
                return 1
            return math.ceil(households / self.village_grid_households)
        return max(1, round(households / self.urban_grid_households))

    def microgrid_count(self, households: int) -> int:
        return max(1, round(households / self.microgrid_households))


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _seeded(code: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(code.encode()).digest()[:8], "big"))


def estimate_households(communities: list[tuple[str, str]]) -> dict[str, int]:
    """Deterministic planning estimates for (code, kind) pairs, scaled to known census totals.

    Pass every community of a city at once: the census scaling spreads the city's households over
    the communities given, so a subset would get the whole city's population.
    """
    raw = {}
    for code, kind in communities:
        typical = TYPICAL_HOUSEHOLDS.get(kind, TYPICAL_HOUSEHOLDS[Kind.COMMUNITY])
        # A log-normal with sigma 0.5 has mean exp(mu + 0.125); centre it on the typical size.
        raw[code] = typical * math.exp(_seeded(code).gauss(-0.125, 0.5))
    by_city: dict[str, float] = {}
    for code, value in raw.items():
        by_city[code[:4]] = by_city.get(code[:4], 0.0) + value
    result = {}
    for code, value in raw.items():
        population = CENSUS_POPULATION.get(code[:4])
        factor = population / PERSONS_PER_HOUSEHOLD / by_city[code[:4]] if population else 1.0
        result[code] = max(20, round(value * factor))
    return result


def _city_estimates(cities: set[str]) -> dict[str, int]:
    """Estimates for every community of the given cities (so that scaling sees whole cities)."""
    pairs: list[tuple[str, str]] = []
    for city in sorted(cities):
        pairs.extend(Area.objects.within(city).filter(level=Level.COMMUNITY).values_list("code", "kind"))
    return estimate_households(pairs)


@dataclass
class GridReport:
    communities: int = 0
    grids: int = 0
    microgrids: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


def generate_grids(
    code: str,
    *,
    policy: GridPolicy | None = None,
    progress: Callable[[int], None] | None = None,
) -> GridReport:
    """(Re)generate the grids and micro-grids of every community in ``code``'s subtree.

    Idempotent: the same policy gives the same codes, names and sizes, and a re-run writes nothing.
    Generated grids that a new policy no longer needs are removed, unless something refers to them.
    """
    policy = policy or GridPolicy.from_settings()
    communities = list(
        Area.objects.filter(in_subtree("code", code), level=Level.COMMUNITY).values_list(
            "code", "parent_id", "kind", "name", "households_estimate", "source"
        )
    )
    missing = {c[:4] for c, _, _, _, estimate, _ in communities if estimate is None}
    estimates = _city_estimates(missing) if missing else {}

    rows: list[tuple] = []
    report = GridReport(communities=len(communities))
    for community, parent, kind, name, estimate, source in communities:
        households = estimate if estimate is not None else estimates[community]
        rows.append((community, parent, Level.COMMUNITY, kind, name, None, households, source))
        for g, grid_households in enumerate(_split(households, policy.grid_count(kind, households)), 1):
            grid = f"{community}{g:03d}"
            rows.append(
                (
                    grid,
                    community,
                    Level.GRID,
                    Kind.GRID,
                    f"第{chinese_number(g)}网格",
                    g,
                    grid_households,
                    Source.GENERATED,
                )
            )
            report.grids += 1
            for m, micro_households in enumerate(
                _split(grid_households, policy.microgrid_count(grid_households)), 1
            ):
                rows.append(
                    (
                        f"{grid}{m:03d}",
                        grid,
                        Level.MICROGRID,
                        Kind.MICROGRID,
                        f"第{chinese_number(m)}微网格",
                        m,
                        micro_households,
                        Source.GENERATED,
                    )
                )
                report.microgrids += 1
    with transaction.atomic():
        loading.stage_rows(rows, progress=progress)
        # Below a community (a grid, a micro-grid) nothing is regenerated, so nothing there is stale.
        report.removed = _remove_stale(code) if communities else 0
        result = loading.merge_staged()
    report.inserted, report.updated, report.unchanged = result.inserted, result.updated, result.unchanged
    return report


def _remove_stale(code: str) -> int:
    """Delete generated grids and micro-grids under ``code`` that the staged set no longer has.

    Anything still referring to such a grid makes the foreign key fail, and the whole run rolls back.
    """
    table = Area._meta.db_table
    high = upper_bound(code)
    below = "" if high is None else "AND code < %s "
    removed = 0
    with connection.cursor() as cursor:
        for level in (Level.MICROGRID, Level.GRID):  # children first
            cursor.execute(
                f"DELETE FROM {table} WHERE code >= %s {below}AND level = %s AND source = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {loading.STAGE} s WHERE s.code = {table}.code)",
                [code, *([high] if high else []), int(level), Source.GENERATED],
            )
            removed += cursor.rowcount
    return removed
