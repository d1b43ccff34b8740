"""The one interface through which modules declare indicators for the city brain.

A module's ``indicators.py`` registers each indicator with a function returning a queryset of its
*leaf* rows: ``.values(leaf=<area field>).annotate(num=…, den=…)`` grouped by the lowest node its
rows belong to. ``den`` is omitted for counts. The refresh (:mod:`grassroots.cockpit.rollup`) runs
each queryset inside one ``INSERT … SELECT`` and rolls the leaves up to every ancestor by code prefix
with one ``GROUP BY`` per level, so values for all nodes cost a handful of statements.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

HIGHER, LOWER = "higher", "lower"


@dataclass(frozen=True)
class Period:
    """``now`` (the live state), a month ``2026-11`` or a quarter ``2026-Q4``."""

    code: str
    since: dt.datetime | None
    until: dt.datetime | None

    @classmethod
    def parse(cls, code: str) -> Period:
        if code == "now":
            return cls("now", None, None)
        tz = timezone.get_current_timezone()
        month = re.fullmatch(r"(\d{4})-(\d{2})", code)
        quarter = re.fullmatch(r"(\d{4})-Q([1-4])", code)
        if month and 1 <= int(month[2]) <= 12:
            year, first, months = int(month[1]), int(month[2]), 1
        elif quarter:
            year, first, months = int(quarter[1]), (int(quarter[2]) - 1) * 3 + 1, 3
        else:
            raise ValueError(f"period {code!r}: expected now, YYYY-MM or YYYY-Qn")
        start = dt.datetime(year, first, 1, tzinfo=tz)
        end_month = first + months
        end = dt.datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=tz)
        return cls(code, start, end)

    @classmethod
    def current_month(cls) -> Period:
        return cls.parse(f"{timezone.localdate():%Y-%m}")

    def filter(self, qs: QuerySet, field: str) -> QuerySet:
        """Rows whose ``field`` falls in the period (all rows for ``now``)."""
        if self.since:
            qs = qs.filter(**{f"{field}__gte": self.since})
        if self.until:
            qs = qs.filter(**{f"{field}__lt": self.until})
        return qs


@dataclass(frozen=True)
class Indicator:
    code: str
    name: object  # a lazy translation
    module: str
    unit: str  # "count", "rate", "score"
    direction: str  # HIGHER or LOWER is better
    leaves: Callable[[Period], QuerySet]
    description: object = ""

    @property
    def is_rate(self) -> bool:
        return self.unit in ("rate", "score")


REGISTRY: dict[str, Indicator] = {}


def register(code: str, name, *, module: str, unit: str, direction: str, description=""):
    """Decorator: ``@register("cases.on_time_rate", _("On-time rate"), module="cases", unit="rate", …)``."""

    def wrap(func: Callable[[Period], QuerySet]) -> Callable[[Period], QuerySet]:
        if code in REGISTRY and REGISTRY[code].leaves is not func:
            raise ValueError(f"indicator {code} declared twice")
        REGISTRY[code] = Indicator(code, name, module, unit, direction, func, description)
        return func

    return wrap


def get(code: str) -> Indicator:
    return REGISTRY[code]
