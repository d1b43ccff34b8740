"""Counts over the tree, set-based: one GROUP BY per figure, never a query per node."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count
from django.db.models.functions import Substr

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant

from .choices import Level
from .codes import child_length, in_span, in_subtree
from .models import Area


@dataclass
class NodeCounts:
    children: int = 0
    grids: int = 0
    workers: int = 0


@dataclass
class Summary:
    """Descendants of a node per level, and the grid workers serving it."""

    by_level: dict[int, int] = field(default_factory=dict)
    workers: int = 0

    def levels(self) -> list[tuple[Level, int]]:
        return [(Level(level), count) for level, count in sorted(self.by_level.items())]


def child_counts(parent: Area, children: Sequence[Area]) -> dict[str, NodeCounts]:
    """Counts for each of ``children`` (one page of ``parent``'s children): three grouped queries."""
    counts = {child.code: NodeCounts() for child in children}
    if not children:
        return counts
    length = child_length(parent.code)
    assert length is not None
    codes = [child.code for child in children]

    for row in Area.objects.filter(parent_id__in=codes).values("parent_id").annotate(n=Count("code")):
        counts[row["parent_id"]].children = row["n"]
    grids = (
        Area.objects.filter(in_span("code", codes[0], codes[-1]), level=Level.GRID)
        .annotate(prefix=Substr("code", 1, length))
        .values("prefix")
        .annotate(n=Count("code"))
    )
    for row in grids:
        if row["prefix"] in counts:
            counts[row["prefix"]].grids = row["n"]
    workers = (
        Grant.objects.filter(in_span("area_id", codes[0], codes[-1]), role=Role.GRID_WORKER)
        .annotate(prefix=Substr("area_id", 1, length))
        .values("prefix")
        .annotate(n=Count("user", distinct=True))
    )
    for row in workers:
        if row["prefix"] in counts:
            counts[row["prefix"]].workers = row["n"]
    return counts


def summary(node: Area) -> Summary:
    """How many nodes of each level lie below ``node``, and how many grid workers serve it."""
    result = Summary()
    rows = Area.objects.within(node.code).exclude(code=node.code).values("level").annotate(n=Count("code"))
    result.by_level = {row["level"]: row["n"] for row in rows}
    result.workers = (
        Grant.objects.filter(in_subtree("area_id", node.code), role=Role.GRID_WORKER)
        .values("user")
        .distinct()
        .count()
    )
    return result
