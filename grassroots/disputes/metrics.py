"""Dispute figures per node, rolling up the tree: one GROUP BY over the subtree, never a query per node.

For a node: active disputes by colour (the five-colour board), active disputes whose follow-up is late,
and the disputes settled, split by the level they were settled at — the measure of
小事不出村、大事不出镇、矛盾不上交 (village = community level 5, township = street level 4, above = 3 or
less). Aggregates only: no names, no descriptions, so they may be shown more widely than the disputes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from grassroots.areas.choices import Level
from grassroots.areas.codes import child_length

from .choices import ACTIVE_STATUSES, COLOUR_ORDER, Status
from .models import Dispute


@dataclass
class DisputeFigures:
    code: str
    red: int = 0
    orange: int = 0
    yellow: int = 0
    blue: int = 0
    green: int = 0
    late: int = 0
    settled: int = 0
    settled_village: int = 0
    settled_township: int = 0
    settled_above: int = 0
    name: str = field(default="", compare=False)

    @property
    def active(self) -> int:
        return self.red + self.orange + self.yellow + self.blue + self.green

    @property
    def by_colour(self) -> list[tuple[str, int]]:
        return [(str(colour), getattr(self, colour)) for colour in COLOUR_ORDER]

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def village_share(self) -> float | None:
        """Settled in the village or community (小事不出村)."""
        return self._share(self.settled_village, self.settled)

    @property
    def township_share(self) -> float | None:
        """Settled at the street or township (大事不出镇)."""
        return self._share(self.settled_township, self.settled)

    @property
    def above_share(self) -> float | None:
        """Settled above the township: pushed upward (矛盾不上交 wants this low)."""
        return self._share(self.settled_above, self.settled)

    def add(self, other: DisputeFigures) -> None:
        for name in FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


FIELDS = (
    "red",
    "orange",
    "yellow",
    "blue",
    "green",
    "late",
    "settled",
    "settled_village",
    "settled_township",
    "settled_above",
)


def aggregates(now: dt.datetime) -> dict[str, Count]:
    active = Q(status__in=ACTIVE_STATUSES)
    settled = Q(status=Status.SETTLED)
    return {
        **{str(colour): Count("id", filter=active & Q(colour=colour)) for colour in COLOUR_ORDER},
        "late": Count("id", filter=active & Q(next_follow_up__lt=now)),
        "settled": Count("id", filter=settled),
        "settled_village": Count("id", filter=settled & Q(settled_level=Level.COMMUNITY)),
        "settled_township": Count("id", filter=settled & Q(settled_level=Level.STREET)),
        "settled_above": Count("id", filter=settled & Q(settled_level__lte=Level.DISTRICT)),
    }


def _figures(code: str, row: dict) -> DisputeFigures:
    return DisputeFigures(code=code, **{name: row.get(name) or 0 for name in FIELDS})


def _base(code: str) -> QuerySet[Dispute]:
    return Dispute.objects.within(code)


def node_figures(code: str, *, now: dt.datetime | None = None) -> DisputeFigures:
    row = _base(code).aggregate(**aggregates(now or timezone.now()))
    return _figures(code, row)


def child_figures(code: str, *, now: dt.datetime | None = None) -> list[DisputeFigures]:
    """Figures for every child of ``code`` that has disputes, from one grouped query. Disputes placed
    at the node itself (a dispute recorded for a whole community, not one of its grids) come as a row
    whose code is the node's own, so the rows always add up to :func:`node_figures`."""
    length = child_length(code)
    if length is None:
        return []
    rows = (
        _base(code)
        .annotate(prefix=Substr("area_id", 1, length))
        .values("prefix")
        .annotate(**aggregates(now or timezone.now()))
        .order_by("prefix")
    )
    return [_figures(row["prefix"], row) for row in rows]


def total(rows: list[DisputeFigures], code: str) -> DisputeFigures:
    """The sum of ``rows`` (equal to :func:`node_figures` for child rows of ``code``)."""
    result = DisputeFigures(code=code)
    for row in rows:
        result.add(row)
    return result
