"""Case figures per node, rolling up the tree: one GROUP BY over the subtree, never a query per node.

Counted over the cases reported in the period whose place lies in the node's subtree:
volume; on-time rate (closed cases whose clock never ran out / closed cases); resolved at own level
(closed cases that never went above the level they started at / closed cases); escalation rate (cases
escalated at least once / all); reopen rate (closed cases ever reopened / closed); satisfaction (mean
of the ratings given, 1–5). Closure needs an independent verification (a database constraint), so
the rates cannot be improved by closing early.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, F, Q, QuerySet
from django.db.models.functions import Substr

from grassroots.areas.codes import child_length

from .choices import Status
from .models import Case


@dataclass
class CaseFigures:
    code: str
    volume: int = 0
    open: int = 0
    overdue_open: int = 0
    closed: int = 0
    closed_on_time: int = 0
    closed_at_own_level: int = 0
    escalated: int = 0
    reopened: int = 0
    satisfaction: float | None = None

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def on_time_rate(self) -> float | None:
        return self._rate(self.closed_on_time, self.closed)

    @property
    def own_level_rate(self) -> float | None:
        return self._rate(self.closed_at_own_level, self.closed)

    @property
    def escalation_rate(self) -> float | None:
        return self._rate(self.escalated, self.volume)

    @property
    def reopen_rate(self) -> float | None:
        return self._rate(self.reopened, self.closed)


AGGREGATES = {
    "volume": Count("id"),
    "open": Count("id", filter=~Q(status__in=[Status.CLOSED, Status.REJECTED, Status.MERGED])),
    "overdue_open": Count(
        "id", filter=Q(clock="overdue") & ~Q(status__in=[Status.CLOSED, Status.REJECTED, Status.MERGED])
    ),
    "closed": Count("id", filter=Q(status=Status.CLOSED)),
    "closed_on_time": Count("id", filter=Q(status=Status.CLOSED, was_overdue=False)),
    "closed_at_own_level": Count("id", filter=Q(status=Status.CLOSED, highest_level=F("origin_level"))),
    "escalated": Count("id", filter=Q(escalations__gt=0)),
    "reopened": Count("id", filter=Q(status=Status.CLOSED, reopen_count__gt=0)),
    "satisfaction": Avg("satisfaction"),
}


def _period(qs: QuerySet, since: dt.datetime | None, until: dt.datetime | None) -> QuerySet:
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs


def _figures(code: str, row: dict) -> CaseFigures:
    values = {name: row.get(name) or 0 for name in AGGREGATES}
    satisfaction = row.get("satisfaction")
    values["satisfaction"] = round(float(satisfaction), 2) if satisfaction is not None else None
    return CaseFigures(code=code, **values)


def node_figures(code: str, *, since=None, until=None) -> CaseFigures:
    row = _period(Case.objects.within(code), since, until).aggregate(**AGGREGATES)
    return _figures(code, row)


def child_figures(code: str, *, since=None, until=None) -> list[CaseFigures]:
    """Figures for every child of ``code`` that has cases, from one grouped query. Cases placed at the
    node itself (a case reported for a whole community, not one of its grids) come as a row whose
    code is the node's own, so the rows always add up to :func:`node_figures`."""
    length = child_length(code)
    if length is None:
        return []
    rows = (
        _period(Case.objects.within(code), since, until)
        .annotate(prefix=Substr("area_id", 1, length))
        .values("prefix")
        .annotate(**AGGREGATES)
        .order_by("prefix")
    )
    return [_figures(row["prefix"], row) for row in rows]
