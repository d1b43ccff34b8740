"""督导考评: scoring streets or communities on a published scheme, ranking them among their siblings.

A scheme lists indicators with a weight and a target. Each item earns its weight in full when the
target is met and proportionally less when not (for "lower is better" indicators, target / value).
An item without data for a node is left out and the node's score is scaled to the weights it has;
the breakdown says so. A snapshot computed for a period can be recomputed until it is published;
published snapshots never change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.choices import Role
from grassroots.areas.codes import LENGTH_BY_LEVEL
from grassroots.audit.log import Action, record

from .indicators import LOWER, REGISTRY, Period
from .models import IndicatorValue, Scheme, Score, Snapshot

MIN_WEIGHT_WITH_DATA = 0.5
DEFAULT_SCHEMES = [
    {
        "name": "社区（村）月度督导考评（默认）",
        "level": 5,
        "items": [
            {"indicator": "registry.grid_coverage", "weight": 15, "target": 1.0},
            {"indicator": "cases.on_time_rate", "weight": 25, "target": 0.9},
            {"indicator": "cases.own_level_rate", "weight": 20, "target": 0.8},
            {"indicator": "cases.satisfaction", "weight": 15, "target": 4.5},
            {"indicator": "cases.reopen_rate", "weight": 10, "target": 0.05},
            {"indicator": "disputes.settled_in_village", "weight": 15, "target": 0.8},
        ],
    },
    {
        "name": "街道（乡镇）月度督导考评（默认）",
        "level": 4,
        "items": [
            {"indicator": "registry.grid_coverage", "weight": 10, "target": 1.0},
            {"indicator": "cases.on_time_rate", "weight": 25, "target": 0.9},
            {"indicator": "cases.own_level_rate", "weight": 20, "target": 0.85},
            {"indicator": "cases.satisfaction", "weight": 15, "target": 4.5},
            {"indicator": "cases.escalation_rate", "weight": 10, "target": 0.1},
            {"indicator": "disputes.settled_above", "weight": 20, "target": 0.05},
        ],
    },
]


def validate_items(items: list[dict]) -> None:
    errors = []
    if not items:
        errors.append(_("A scheme needs at least one indicator."))
    for item in items:
        if item.get("indicator") not in REGISTRY:
            errors.append(_("Unknown indicator %(code)s.") % {"code": item.get("indicator")})
        if not isinstance(item.get("weight"), int | float) or item["weight"] <= 0:
            errors.append(_("Every weight must be a positive number."))
        if not isinstance(item.get("target"), int | float) or item["target"] < 0:
            errors.append(_("Every target must be a number of 0 or more."))
    if errors:
        raise ValidationError(errors)


def active_scheme(level: int) -> Scheme:
    scheme = Scheme.objects.filter(level=level, active=True).first()
    if scheme is None:
        default = next(s for s in DEFAULT_SCHEMES if s["level"] == level)
        version = (Scheme.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        scheme = Scheme.objects.create(version=version, active=True, **default)
    return scheme


@transaction.atomic
def do_publish_scheme(actor, *, name: str, level: int, items: list[dict], red_below=60.0, yellow_below=75.0):
    if not actor.grants.filter(role=Role.CITY_ADMIN).exists():
        raise PermissionDenied(_("Only a city administrator changes the evaluation scheme."))
    if level not in (4, 5):
        raise ValidationError(_("Schemes score streets (4) or communities (5)."))
    validate_items(items)
    if not 0 <= red_below <= yellow_below <= 100:
        raise ValidationError(_("Flags: 0 ≤ red < yellow ≤ 100."))
    Scheme.objects.filter(level=level, active=True).update(active=False)
    version = (Scheme.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    scheme = Scheme.objects.create(
        version=version,
        name=name,
        level=level,
        items=items,
        red_below=red_below,
        yellow_below=yellow_below,
        created_by=actor,
        active=True,
    )
    record(
        actor=actor,
        action=Action.UPDATE,
        object_type="cockpit.scheme",
        object_id=scheme.pk,
        object_label=f"v{version}",
        fields=["scheme"],
    )
    return scheme


def item_points(value: float | None, weight: float, target: float, direction: str) -> float | None:
    if value is None:
        return None
    if direction == LOWER:
        share = 1.0 if value <= target else (target / value if value else 0.0)
    else:
        share = 1.0 if target == 0 else min(1.0, value / target)
    return round(weight * max(0.0, share), 2)


@dataclass
class NodeScore:
    node: str
    score: float
    breakdown: list[dict]


def compute(scheme: Scheme, period: str) -> list[NodeScore]:
    """Scores for every node at the scheme's level that has data, from the period's indicator values
    (one query)."""
    codes = [item["indicator"] for item in scheme.items]
    values: dict[str, dict[str, float | None]] = defaultdict(dict)
    rows = IndicatorValue.objects.filter(period=period, level=scheme.level, indicator__in=codes).values_list(
        "node", "indicator", "numerator", "denominator"
    )
    for node, indicator, numerator, denominator in rows:
        if denominator is None:
            values[node][indicator] = numerator
        else:
            values[node][indicator] = numerator / denominator if denominator else None
    from grassroots.areas.models import Area

    nodes = Area.objects.filter(level=scheme.level).values_list("code", flat=True)
    result = []
    for node in nodes:
        breakdown, earned, possible = [], 0.0, 0.0
        for item in scheme.items:
            indicator = REGISTRY[item["indicator"]]
            value = values.get(node, {}).get(item["indicator"])
            if value is None and indicator.unit == "count":
                value = 0.0
            points = item_points(value, item["weight"], item["target"], indicator.direction)
            breakdown.append(
                {
                    "indicator": item["indicator"],
                    "value": value,
                    "target": item["target"],
                    "weight": item["weight"],
                    "points": points,
                }
            )
            if points is not None:
                earned += points
                possible += item["weight"]
        # A place is ranked only when at least half of the scheme's weight has data: otherwise a
        # community with no cases at all would score full marks on the rest.
        if not possible or possible < MIN_WEIGHT_WITH_DATA * sum(item["weight"] for item in scheme.items):
            continue
        result.append(NodeScore(node=node, score=round(100 * earned / possible, 1), breakdown=breakdown))
    return result


@transaction.atomic
def take_snapshot(scheme: Scheme, period: str) -> Snapshot:
    """(Re)compute the scores of a period. Refused once the snapshot is published."""
    Period.parse(period)
    snapshot, _created = Snapshot.objects.select_for_update().get_or_create(scheme=scheme, period=period)
    if snapshot.published_at:
        raise ValidationError(
            _("The %(period)s evaluation is published and cannot change.") % {"period": period}
        )
    snapshot.scores.all().delete()
    scores = compute(scheme, period)
    parent_length = LENGTH_BY_LEVEL[scheme.level - 1]
    by_parent: dict[str, list[NodeScore]] = defaultdict(list)
    for item in scores:
        by_parent[item.node[:parent_length]].append(item)
    rows = []
    for parent, siblings in by_parent.items():
        siblings.sort(key=lambda s: (-s.score, s.node))
        for rank, item in enumerate(siblings, 1):
            flag = (
                "red"
                if item.score < scheme.red_below
                else "yellow"
                if item.score < scheme.yellow_below
                else ""
            )
            rows.append(
                Score(
                    snapshot=snapshot,
                    node_id=item.node,
                    parent=parent,
                    score=item.score,
                    rank=rank,
                    siblings=len(siblings),
                    flag=flag,
                    breakdown=item.breakdown,
                )
            )
    Score.objects.bulk_create(rows, batch_size=1000)
    return snapshot


@transaction.atomic
def do_publish_snapshot(actor, snapshot: Snapshot) -> Snapshot:
    if not actor.grants.filter(role=Role.CITY_ADMIN).exists():
        raise PermissionDenied(_("Only a city administrator publishes evaluations."))
    if snapshot.published_at:
        raise ValidationError(_("Already published."))
    snapshot.published_at, snapshot.published_by = timezone.now(), actor
    snapshot.save(update_fields=["published_at", "published_by"])
    record(
        actor=actor,
        action=Action.UPDATE,
        object_type="cockpit.snapshot",
        object_id=snapshot.pk,
        object_label=snapshot.period,
        fields=["published"],
    )
    return snapshot
