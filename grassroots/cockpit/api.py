"""``/api/v1/cockpit``: the city brain as JSON, scoped like the pages (outside the scope is 404).

No ``from __future__ import annotations`` here: django-ninja reads the annotations at import time.
"""

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema

from grassroots.areas.access import access_area

from . import data as cockpit_data
from . import leaders, reports
from .models import LeaderContact, Visit

router = Router(tags=["cockpit"])


class CockpitIndicatorOut(Schema):
    code: str = Field(..., description="Declared by a module, e.g. cases.on_time_rate.")
    name: str
    module: str
    unit: str = Field(..., description="count, rate (0…1) or score.")
    direction: str = Field(..., description="higher or lower is better.")
    description: str


class CockpitNodeOut(Schema):
    code: str
    name: str
    full_name: str
    level: int
    level_name: str
    kind: str


class CockpitFigureOut(Schema):
    value: float | None = Field(
        ..., description="numerator / denominator for rates and scores; the count for counts; null: no data."
    )
    numerator: float | None
    denominator: float | None


class ChildOut(CockpitNodeOut):
    values: dict[str, float | None] = Field(..., description="Indicator code → value (null: no data).")


class CockpitOut(Schema):
    node: CockpitNodeOut
    period: str = Field(..., description="now, YYYY-MM or YYYY-Qn.")
    refreshed_at: dt.datetime | None = Field(..., description="When the period's values were computed.")
    indicators: list[CockpitIndicatorOut]
    values: dict[str, CockpitFigureOut] = Field(..., description="The node's value of every indicator.")
    children_level: int | None
    children: list[ChildOut]


class PeriodQuery(Schema):
    period: str = Field("now", description="now (live), YYYY-MM or YYYY-Qn.")


class ScoreItemOut(Schema):
    indicator: str
    name: str
    value: float | None = Field(..., description="null: no data, the item was left out and the score scaled.")
    target: float
    weight: float
    points: float | None


class ScoreOut(Schema):
    code: str
    name: str
    parent: str
    parent_name: str
    score: float
    rank: int = Field(..., description="Among siblings under the same parent (1 is best).")
    siblings: int
    flag: str = Field(..., description="red, yellow or empty.")
    bottom: bool = Field(..., description="In the last tenth of its sibling group.")
    items: list[ScoreItemOut]


class SchemeOut(Schema):
    version: int
    name: str
    level: int
    red_below: float
    yellow_below: float


class EvaluationOut(Schema):
    node: CockpitNodeOut
    period: str
    level: int = Field(..., description="The level scored: 4 streets/townships, 5 communities/villages.")
    published: bool
    published_at: dt.datetime | None
    scheme: SchemeOut | None
    scores: list[ScoreOut]


class EvaluationQuery(Schema):
    level: int | None = Field(None, description="4 or 5, below the node (default: its children).")


class LeaderPlaceOut(Schema):
    code: str
    name: str
    level: int
    since: dt.date
    note: str
    score: float | None = Field(..., description="The latest published score of the place, if any.")
    score_period: str | None
    values: dict[str, float | None] = Field(..., description="Live key figures of the place.")


class LeaderCaseOut(Schema):
    number: str
    title: str
    status: str
    area_code: str
    created_at: dt.datetime
    closed_at: dt.datetime | None


class LeaderDisputeOut(Schema):
    number: str
    title: str
    colour: str
    status: str
    area_code: str
    created_at: dt.datetime


class LeaderVisitOut(Schema):
    area_code: str
    area_name: str
    at: dt.datetime
    note: str


class LeaderOut(Schema):
    id: int
    username: str
    name: str
    nodes: list[str] = Field(..., description="Codes of the nodes the leader holds a leading role at.")
    places: list[LeaderPlaceOut]
    cases: list[LeaderCaseOut] = Field(..., description="Cases the leader took personally (包案).")
    disputes: list[LeaderDisputeOut]
    visits: list[LeaderVisitOut]


def _period(period: str) -> str:
    return cockpit_data.parse_period(period)


@router.get(
    "/indicators", response=list[CockpitIndicatorOut], summary="The indicators declared by the modules"
)
def indicator_list(request: HttpRequest):
    return [cockpit_data.indicator_meta(i) for i in cockpit_data.indicators()]


@router.get(
    "/evaluation/{period}/{code}",
    response=EvaluationOut,
    summary="Scores of the streets or communities below a node",
)
def evaluation_scores(request: HttpRequest, period: str, code: str, query: Query[EvaluationQuery]):
    area = access_area(request.user, code)
    report = reports.evaluation_report(request.user, area, _period(period), level=query.level)
    snapshot = report.snapshot
    return {
        "node": cockpit_data._node(area),
        "period": report.period,
        "level": report.level,
        "published": bool(snapshot and snapshot.published_at),
        "published_at": snapshot.published_at if snapshot else None,
        "scheme": snapshot.scheme if snapshot else None,
        "scores": [
            {
                "code": row.score.node_id,
                "name": row.name,
                "parent": row.score.parent,
                "parent_name": row.parent_name,
                "score": row.score.score,
                "rank": row.score.rank,
                "siblings": row.score.siblings,
                "flag": row.score.flag,
                "bottom": row.bottom,
                "items": row.items,
            }
            for row in report.rows
        ],
    }


@router.get("/leaders/{user_id}", response=LeaderOut, summary="A leader's places, cases, disputes and visits")
def leader_detail(request: HttpRequest, user_id: int):
    from grassroots.cases.models import Case
    from grassroots.disputes.models import Dispute

    viewer = request.user
    leader = leaders.access_leader(viewer, user_id)
    contacts = list(
        LeaderContact.objects.visible_to(viewer)
        .filter(leader=leader)
        .select_related("area")
        .order_by("area_id")
    )
    codes = [c.area_id for c in contacts]
    latest = leaders.latest_scores(viewer, codes)
    values = leaders.place_values(codes)
    return {
        "id": leader.pk,
        "username": leader.get_username(),
        "name": leader.display_name,
        "nodes": leaders.leader_nodes(leader),
        "places": [
            {
                "code": c.area_id,
                "name": c.area.display_name,
                "level": c.area.level,
                "since": c.since,
                "note": c.note,
                "score": latest[c.area_id].score if c.area_id in latest else None,
                "score_period": latest[c.area_id].snapshot.period if c.area_id in latest else None,
                "values": values.get(c.area_id, {}),
            }
            for c in contacts
        ],
        "cases": [
            {
                "number": case.number,
                "title": case.title,
                "status": case.status,
                "area_code": case.area_id,
                "created_at": case.created_at,
                "closed_at": case.closed_at,
            }
            for case in Case.objects.visible_to(viewer).filter(leader=leader).order_by("-created_at")[:200]
        ],
        "disputes": [
            {
                "number": d.number,
                "title": d.title,
                "colour": d.colour,
                "status": d.status,
                "area_code": d.area_id,
                "created_at": d.created_at,
            }
            for d in Dispute.objects.visible_to(viewer).filter(leader=leader).order_by("-created_at")[:200]
        ],
        "visits": [
            {"area_code": v.area_id, "area_name": v.area.display_name, "at": v.at, "note": v.note}
            for v in Visit.objects.visible_to(viewer).filter(leader=leader).select_related("area")[:200]
        ],
    }


@router.get("/{code}", response=CockpitOut, summary="A node's and its children's values of every indicator")
def cockpit(request: HttpRequest, code: str, query: Query[PeriodQuery]):
    if not cockpit_data.may_see(request.user, code):
        raise Http404
    payload = cockpit_data.payload(code, _period(query.period))
    return {key: value for key, value in payload.items() if key != "trend"}
