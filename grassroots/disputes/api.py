# No ``from __future__ import annotations``: django-ninja resolves the annotations of paginated views.
"""Disputes in the JSON API: scoped like the pages (outside the caller's scope is 404), phones masked.

Errors of the workflows: ValidationError → 422 ``{detail}``, PermissionDenied → 403 ``{detail}``.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status as Reply

from grassroots.areas.access import access_area
from grassroots.areas.codes import in_subtree, is_valid_code
from grassroots.areas.models import Area
from grassroots.cases.models import Case
from grassroots.core.pagination import BoundedPagination
from grassroots.core.schema import DateTimeIn, ProblemDetail

from . import actions, metrics
from .choices import ACTIVE_STATUSES, Colour, DisputeType, Party, ReferralKind, Source
from .choices import Status as DisputeStatus
from .models import Dispute, Grading
from .views import colour_rank, explanation_rows, late_q

router = Router(tags=["disputes"])


class DisputeProblem(Schema):
    detail: ProblemDetail


def _problem(exc: Exception) -> HttpError:
    if isinstance(exc, PermissionDenied):
        return HttpError(403, str(exc) or "Forbidden")
    if isinstance(exc, ValidationError):
        return HttpError(422, " ".join(exc.messages))
    raise exc


# --- schemas -------------------------------------------------------------------------------------


class DisputeItemOut(Schema):
    number: str
    title: str
    type: str
    status: str
    colour: str = Field(..., description="red, orange, yellow, blue or green.")
    score: int
    place: str = Field(..., description="Division code of where the dispute arose.")
    place_name: str
    holder: str = Field(..., description="Division code of the node answering for it.")
    level: int = Field(..., description="2 city, 3 district, 4 street, 5 community.")
    next_follow_up: dt.datetime | None
    late: bool = Field(..., description="Active and the follow-up is past due.")
    created_at: dt.datetime

    @staticmethod
    def resolve_place(obj: Dispute) -> str:
        return obj.area_id

    @staticmethod
    def resolve_place_name(obj: Dispute) -> str:
        return obj.area.display_name

    @staticmethod
    def resolve_holder(obj: Dispute) -> str:
        return obj.holder_id

    @staticmethod
    def resolve_late(obj: Dispute) -> bool:
        return (
            obj.status in ACTIVE_STATUSES
            and obj.next_follow_up is not None
            and obj.next_follow_up < timezone.now()
        )


class DisputePartyOut(Schema):
    role: str
    name: str
    phone: str = Field(..., description="Masked; the full number is never sent.")
    registered: bool

    @staticmethod
    def resolve_phone(obj) -> str:
        return obj.phone_masked

    @staticmethod
    def resolve_registered(obj) -> bool:
        return obj.resident_id is not None


class DisputeIndicatorOut(Schema):
    code: str
    label: str
    label_en: str
    value: float | bool | None
    points: float
    assumed: bool
    forces: str | None = Field(None, description="The least serious colour this indicator allows.")


class DisputeGradingOut(Schema):
    at: dt.datetime
    reason: str
    rules_version: int
    score: int
    computed_colour: str
    colour: str

    @staticmethod
    def resolve_rules_version(obj: Grading) -> int:
        return obj.rules.version


class DisputeExplanationOut(DisputeGradingOut):
    thresholds: dict
    indicators: list[DisputeIndicatorOut]

    @staticmethod
    def resolve_thresholds(obj: Grading) -> dict:
        return obj.rules.thresholds

    @staticmethod
    def resolve_indicators(obj: Grading) -> list:
        return explanation_rows(obj)


class DisputeEventOut(Schema):
    at: dt.datetime
    actor: str
    action: str
    colour: str
    note: str

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_name


class DisputeFollowUpOut(Schema):
    due: dt.datetime
    done_at: dt.datetime
    on_time: bool
    kind: str
    note: str


class DisputeIncidentOut(Schema):
    at: dt.datetime
    description: str
    police_called: bool
    violence: bool


class DisputeReferralOut(Schema):
    id: int
    kind: str
    body: str
    reference: str
    referred_at: dt.datetime
    hearing_at: dt.datetime | None
    outcome: str


class DisputeAgreementOut(Schema):
    id: int
    terms: str
    performance: str
    created_at: dt.datetime
    signed_at: dt.datetime | None


class DisputeDetailOut(DisputeItemOut):
    description: str
    source: str
    case: str | None
    origin_level: int
    settled_level: int | None
    respond_by: dt.datetime | None
    mediator: str | None
    legal_adviser: str | None
    leader: str | None
    inputs: dict
    grading: DisputeExplanationOut | None = Field(..., description="The last full grading and why.")
    gradings: list[DisputeGradingOut] = Field(..., description="The colour history, oldest first.")
    parties: list[DisputePartyOut]
    incidents: list[DisputeIncidentOut]
    follow_ups: list[DisputeFollowUpOut]
    referrals: list[DisputeReferralOut]
    agreements: list[DisputeAgreementOut]
    timeline: list[DisputeEventOut]

    @staticmethod
    def resolve_case(obj: Dispute) -> str | None:
        return obj.case.number if obj.case_id else None

    @staticmethod
    def resolve_mediator(obj: Dispute) -> str | None:
        return obj.mediator.display_name if obj.mediator_id else None

    @staticmethod
    def resolve_legal_adviser(obj: Dispute) -> str | None:
        return obj.legal_adviser.display_name if obj.legal_adviser_id else None

    @staticmethod
    def resolve_leader(obj: Dispute) -> str | None:
        return obj.leader.display_name if obj.leader_id else None

    @staticmethod
    def resolve_gradings(obj: Dispute) -> list:
        return list(obj.gradings.select_related("rules"))

    @staticmethod
    def resolve_parties(obj: Dispute) -> list:
        return list(obj.parties.order_by("id"))

    @staticmethod
    def resolve_incidents(obj: Dispute) -> list:
        return list(obj.incidents.all())

    @staticmethod
    def resolve_follow_ups(obj: Dispute) -> list:
        return list(obj.follow_ups.all())

    @staticmethod
    def resolve_referrals(obj: Dispute) -> list:
        return list(obj.referrals.all())

    @staticmethod
    def resolve_agreements(obj: Dispute) -> list:
        return list(obj.agreements.all())

    @staticmethod
    def resolve_timeline(obj: Dispute) -> list:
        return list(obj.events.all())


class DisputeFilter(Schema):
    colour: Colour | None = None
    status: DisputeStatus | None = Field(None, description="Default: the active statuses.")
    type: DisputeType | None = None
    within: str | None = Field(None, description="Division code: only disputes placed in this subtree.")
    late: bool | None = Field(None, description="Only active disputes whose follow-up is past due.")


class DisputePartyIn(Schema):
    role: Party = Party.APPLICANT
    name: str = Field(..., max_length=50)
    phone: str = Field("", max_length=20, description="Stored encrypted, returned masked.")


class DisputeRecordIn(Schema):
    type: DisputeType
    title: str = Field(..., max_length=100)
    description: str = Field(..., max_length=4000)
    place: str = Field(..., description="Division code of the community or grid.")
    source: Source = Source.PATROL
    case: str | None = Field(None, description="Number of the case it came from.")
    parties: list[DisputePartyIn] = Field(..., min_length=1, max_length=8)
    indicators: dict = Field({}, description="Risk indicator values by code (see GET /disputes/rules).")


class DisputeIncidentIn(Schema):
    description: str = Field(..., max_length=4000)
    police_called: bool = False
    violence: bool = False


class DisputeFollowUpIn(Schema):
    note: str = Field(..., max_length=4000)
    kind: str = Field("visit", max_length=20)


class DisputeReferralIn(Schema):
    kind: ReferralKind
    body: str = Field(..., max_length=100, description="The receiving body: court, commission, department.")
    reference: str = Field("", max_length=60)
    hearing_at: DateTimeIn | None = None


class DisputeSettleIn(Schema):
    note: str = Field(..., max_length=4000)


class DisputeFiguresOut(Schema):
    code: str
    name: str
    red: int
    orange: int
    yellow: int
    blue: int
    green: int
    active: int
    late: int
    settled: int
    settled_village: int
    settled_township: int
    settled_above: int
    village_share: float | None
    township_share: float | None
    above_share: float | None


class DisputeBoardOut(Schema):
    node: DisputeFiguresOut
    children: list[DisputeFiguresOut]


class DisputeRulesOut(Schema):
    version: int
    name: str
    indicators: list[dict]
    thresholds: dict
    policies: dict
    stable_days: int
    note: str
    created_at: dt.datetime


# --- handlers ------------------------------------------------------------------------------------


def _dispute(request: HttpRequest, number: str) -> Dispute:
    return get_object_or_404(
        Dispute.objects.visible_to(request.user).select_related(
            "area", "holder", "mediator", "legal_adviser", "leader", "case", "grading__rules"
        ),
        number=number,
    )


@router.get("", response=list[DisputeItemOut], summary="Disputes in the caller's scope, red and late first")
@paginate(BoundedPagination)
def list_disputes(request: HttpRequest, filters: Query[DisputeFilter]):
    now = timezone.now()
    qs = Dispute.objects.visible_to(request.user).select_related("area")
    if filters.within:
        qs = qs.filter(in_subtree("area", access_area(request.user, filters.within).code))
    qs = qs.filter(status=filters.status) if filters.status else qs.filter(status__in=ACTIVE_STATUSES)
    if filters.colour:
        qs = qs.filter(colour=filters.colour)
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.late:
        qs = qs.filter(late_q(now))
    elif filters.late is False:
        qs = qs.exclude(late_q(now))
    return qs.annotate(colour_rank=colour_rank()).order_by(
        "colour_rank", F("next_follow_up").asc(nulls_last=True), "-created_at", "id"
    )


@router.post(
    "",
    response={201: DisputeDetailOut, 403: DisputeProblem, 422: DisputeProblem},
    summary="Record a dispute; it is graded at once",
)
def record(request: HttpRequest, payload: DisputeRecordIn):
    if not is_valid_code(payload.place):
        raise HttpError(422, "place must be a division code.")
    area = access_area(request.user, payload.place)
    case = None
    if payload.case:
        case = Case.objects.visible_to(request.user).filter(number=payload.case).first()
        if case is None:
            raise HttpError(422, "Unknown case.")
    try:
        dispute = actions.do_record(
            request.user,
            type=payload.type,
            title=payload.title,
            description=payload.description,
            area=area,
            source=payload.source,
            parties=[p.model_dump() for p in payload.parties],
            inputs=payload.indicators,
            case=case,
            request=request,
        )
    except (ValidationError, PermissionDenied) as exc:
        raise _problem(exc) from exc
    return Reply(201, _dispute(request, dispute.number))


@router.get("/rules", response=DisputeRulesOut, summary="The grading rules in force")
def rules(request: HttpRequest):
    return actions.active_rules()


@router.get(
    "/board/{code}",
    response=DisputeBoardOut,
    summary="Counts by colour, late follow-ups and where disputes were settled, for a node and its children",
)
def board(request: HttpRequest, code: str):
    area = access_area(request.user, code)
    now = timezone.now()
    children = metrics.child_figures(area.code, now=now)
    names = {a.code: a.display_name for a in Area.objects.filter(code__in=[row.code for row in children])}
    node = metrics.total(children, area.code)
    node.name = area.display_name
    for row in children:
        row.name = names.get(row.code, row.code)
    return {"node": _figures(node), "children": [_figures(row) for row in children]}


def _figures(row: metrics.DisputeFigures) -> dict:
    return {
        **{name: getattr(row, name) for name in metrics.FIELDS},
        "code": row.code,
        "name": row.name,
        "active": row.active,
        "village_share": row.village_share,
        "township_share": row.township_share,
        "above_share": row.above_share,
    }


@router.get("/{number}", response=DisputeDetailOut, summary="One dispute with its grading and timeline")
def detail(request: HttpRequest, number: str):
    return _dispute(request, number)


@router.post(
    "/{number}/incidents",
    response={201: DisputeDetailOut, 403: DisputeProblem, 422: DisputeProblem},
    summary="Log an incident; the colour rises at least one step",
)
def incident(request: HttpRequest, number: str, payload: DisputeIncidentIn):
    dispute = _dispute(request, number)
    try:
        actions.do_log_incident(request.user, dispute, request=request, **payload.model_dump())
    except (ValidationError, PermissionDenied) as exc:
        raise _problem(exc) from exc
    return Reply(201, _dispute(request, number))


@router.post(
    "/{number}/follow-ups",
    response={201: DisputeDetailOut, 403: DisputeProblem, 422: DisputeProblem},
    summary="Record a follow-up; the next one falls due after the colour's interval",
)
def follow_up(request: HttpRequest, number: str, payload: DisputeFollowUpIn):
    dispute = _dispute(request, number)
    try:
        actions.do_follow_up(request.user, dispute, note=payload.note, kind=payload.kind, request=request)
    except (ValidationError, PermissionDenied) as exc:
        raise _problem(exc) from exc
    return Reply(201, _dispute(request, number))


@router.post(
    "/{number}/referrals",
    response={201: DisputeDetailOut, 403: DisputeProblem, 422: DisputeProblem},
    summary="Refer on: arbitration, administrative ruling, litigation or judicial confirmation",
)
def referral(request: HttpRequest, number: str, payload: DisputeReferralIn):
    dispute = _dispute(request, number)
    try:
        actions.do_refer(request.user, dispute, **payload.model_dump())
    except (ValidationError, PermissionDenied) as exc:
        raise _problem(exc) from exc
    return Reply(201, _dispute(request, number))


@router.post(
    "/{number}/settle",
    response={200: DisputeDetailOut, 403: DisputeProblem, 422: DisputeProblem},
    summary="Settle the dispute at the level holding it",
)
def settle(request: HttpRequest, number: str, payload: DisputeSettleIn):
    dispute = _dispute(request, number)
    try:
        actions.do_settle(request.user, dispute, note=payload.note)
    except (ValidationError, PermissionDenied) as exc:
        raise _problem(exc) from exc
    return _dispute(request, number)
