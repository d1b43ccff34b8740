# No ``from __future__ import annotations``: django-ninja resolves the annotations of paginated views.
import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status as Reply

from grassroots.areas.access import access_area
from grassroots.areas.codes import in_subtree, is_valid_code
from grassroots.core.pagination import BoundedPagination
from grassroots.core.schema import ProblemDetail

from . import actions, metrics, workflow
from .choices import Channel, Clock, Status
from .models import Case, Category, Notice, Unit

router = Router(tags=["cases"])


class CaseProblem(Schema):
    detail: ProblemDetail


def _problem(exc: Exception) -> HttpError:
    if isinstance(exc, workflow.StaleCase):
        return HttpError(409, " ".join(exc.messages))
    if isinstance(exc, PermissionDenied):
        return HttpError(403, str(exc) or "Forbidden")
    if isinstance(exc, ValidationError):
        return HttpError(422, " ".join(exc.messages))
    raise exc


class AttributeOut(Schema):
    code: str
    datatype: str
    description: str
    required: bool
    values: list[dict]


class CategoryOut(Schema):
    code: str
    name: str
    name_en: str
    group: str
    description: str
    handling_level: int
    is_public: bool
    attributes: list[AttributeOut]

    @staticmethod
    def resolve_attributes(obj: Category) -> list:
        return list(obj.attributes.all())


class CaseOut(Schema):
    number: str
    title: str
    category: str = Field(..., description="Category code.")
    category_name: str
    status: str
    clock: str = Field(..., description="on_time, warning, overdue, paused or stopped.")
    level: int = Field(
        ..., description="Level now holding the case: 2 city, 3 district, 4 street, 5 community."
    )
    holder: str = Field(..., description="Division code of the node holding the case.")
    place: str = Field(..., description="Division code of where it happened.")
    place_name: str
    channel: str
    deadline: dt.datetime | None
    created_at: dt.datetime
    version: int

    @staticmethod
    def resolve_category(obj: Case) -> str:
        return obj.category.code

    @staticmethod
    def resolve_category_name(obj: Case) -> str:
        return obj.category.name

    @staticmethod
    def resolve_holder(obj: Case) -> str:
        return obj.holder_id

    @staticmethod
    def resolve_place(obj: Case) -> str:
        return obj.area_id

    @staticmethod
    def resolve_place_name(obj: Case) -> str:
        return obj.area.display_name


class CaseEventOut(Schema):
    at: dt.datetime
    actor: str
    action: str
    from_status: str
    to_status: str
    from_level: int | None
    to_level: int | None
    note: str

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_name


class CaseDetailOut(CaseOut):
    description: str
    address: str
    lat: float | None
    lng: float | None
    attributes: dict
    result: str
    satisfaction: int | None
    contact_phone: str = Field(..., description="Masked.")
    unit: str | None
    origin_level: int
    highest_level: int
    escalations: int
    events: list[CaseEventOut]
    actions: list[str] = Field(..., description="Transitions the caller may make now.")

    @staticmethod
    def resolve_contact_phone(obj: Case) -> str:
        return obj.contact_phone_masked

    @staticmethod
    def resolve_unit(obj: Case) -> str | None:
        return obj.unit.name if obj.unit_id else None

    @staticmethod
    def resolve_events(obj: Case) -> list:
        return list(obj.events.all())


class CaseFilter(Schema):
    status: Status | None = None
    clock: Clock | None = None
    category: str | None = Field(None, description="Category code.")
    within: str | None = Field(None, description="Division code: only cases placed in this subtree.")
    q: str = Field("", max_length=60, description="Case number or part of the title.")


class ReportIn(Schema):
    category: str
    place: str = Field(..., description="Division code of the community, grid or micro-grid.")
    title: str = Field(..., max_length=100)
    description: str = Field(..., max_length=4000)
    address: str = Field("", max_length=200)
    lat: float | None = None
    lng: float | None = None
    attributes: dict = {}
    hotline: bool = Field(False, description="Typed in by a hotline operator.")
    contact_name: str = Field("", max_length=50)
    contact_phone: str = Field("", max_length=20)


class TransitionIn(Schema):
    action: str
    version: int = Field(
        ..., description="The case version the caller last saw; a stale one is refused (409)."
    )
    note: str = Field("", max_length=4000)
    unit: int | None = Field(None, description="Unit id, for dispatch.")
    into: str | None = Field(None, description="Case number, for merge.")
    satisfaction: int | None = Field(None, ge=1, le=5)


class CaseFiguresOut(Schema):
    code: str
    volume: int
    open: int
    overdue_open: int
    closed: int
    on_time_rate: float | None
    own_level_rate: float | None
    escalation_rate: float | None
    reopen_rate: float | None
    satisfaction: float | None


class MetricsOut(Schema):
    node: CaseFiguresOut
    children: list[CaseFiguresOut]


class PeriodIn(Schema):
    since: dt.date | None = Field(None, ge=dt.date(1900, 1, 1), le=dt.date(2999, 12, 31))
    until: dt.date | None = Field(None, ge=dt.date(1900, 1, 1), le=dt.date(2999, 12, 31))


class NoticeOut(Schema):
    id: int
    kind: str
    text: str
    case: str | None
    created_at: dt.datetime
    read: bool

    @staticmethod
    def resolve_case(obj: Notice) -> str | None:
        return obj.case.number if obj.case_id else None

    @staticmethod
    def resolve_read(obj: Notice) -> bool:
        return obj.read_at is not None


def _case(request: HttpRequest, number: str) -> Case:
    return get_object_or_404(
        Case.objects.visible_to(request.user).select_related("category", "area", "holder", "unit"),
        number=number,
    )


@router.get(
    "/categories", response=list[CategoryOut], summary="Active case categories with their extra fields"
)
def categories(request: HttpRequest):
    return Category.objects.filter(active=True).prefetch_related("attributes")


@router.get("", response=list[CaseOut], summary="Cases in the caller's scope, late first")
@paginate(BoundedPagination)
def list_cases(request: HttpRequest, filters: Query[CaseFilter]):
    qs = Case.objects.visible_to(request.user).select_related("category", "area")
    if filters.within:
        qs = qs.filter(in_subtree("area_id", access_area(request.user, filters.within).code))
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.clock:
        qs = qs.filter(clock=filters.clock)
    if filters.category:
        qs = qs.filter(category__code=filters.category)
    if filters.q.strip():
        q = filters.q.strip()
        qs = qs.filter(number=q) if q.upper().startswith("SJ") else qs.filter(title__icontains=q)
    return qs.order_by("deadline", "-created_at")


@router.post("", response={201: CaseDetailOut}, summary="Report a case (staff or hotline)")
def report(request: HttpRequest, payload: ReportIn):
    category = Category.objects.filter(code=payload.category, active=True).first()
    if category is None:
        raise HttpError(422, "Unknown category.")
    if not is_valid_code(payload.place):
        raise HttpError(422, "place must be a division code.")
    area = access_area(request.user, payload.place)
    try:
        intake = actions.do_report(
            request.user,
            category=category,
            area=area,
            title=payload.title,
            description=payload.description,
            channel=Channel.HOTLINE if payload.hotline else Channel.STAFF,
            address=payload.address,
            lat=payload.lat,
            lng=payload.lng,
            attributes=payload.attributes,
            contact_name=payload.contact_name,
            contact_phone=payload.contact_phone,
        )
    except (ValidationError, PermissionDenied) as exc:
        raise _problem(exc) from exc
    return Reply(201, _detail(request, intake.case))


def _detail(request: HttpRequest, case: Case) -> Case:
    case = _case(request, case.number)
    case.actions = [t.action for t in workflow.available(request.user, case)]
    return case


@router.get("/inbox", response=list[NoticeOut], summary="The caller's notices, unread first")
@paginate(BoundedPagination)
def inbox(request: HttpRequest, unread: bool = False):
    qs = Notice.objects.filter(user=request.user).select_related("case")
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("read_at", "-created_at")


@router.get(
    "/metrics/{code}", response=MetricsOut, summary="Case figures for a node and each of its children"
)
def case_metrics(request: HttpRequest, code: str, period: Query[PeriodIn]):
    area = access_area(request.user, code)
    bounds = {
        name: dt.datetime.combine(day, dt.time.min).astimezone() if day else None
        for name, day in (("since", period.since), ("until", period.until))
    }
    return {
        "node": metrics.node_figures(area.code, **bounds),
        "children": metrics.child_figures(area.code, **bounds),
    }


@router.get("/{number}", response=CaseDetailOut, summary="One case with its timeline")
def detail(request: HttpRequest, number: str):
    return _detail(request, _case(request, number))


@router.post(
    "/{number}/transitions",
    response={200: CaseDetailOut, 403: CaseProblem, 409: CaseProblem, 422: CaseProblem},
    summary="Move a case on: accept, dispatch, resolve, verify, close, escalate …",
)
def transition(request: HttpRequest, number: str, payload: TransitionIn):
    case = _case(request, number)
    unit = into = None
    if payload.unit is not None:
        unit = Unit.objects.filter(pk=payload.unit, active=True).first()
        if unit is None:
            raise HttpError(422, "Unknown unit.")
    if payload.into:
        into = Case.objects.visible_to(request.user).filter(number=payload.into).first()
        if into is None:
            raise HttpError(422, "Unknown case to merge into.")
    try:
        workflow.apply(
            request.user,
            case,
            payload.action,
            version=payload.version,
            note=payload.note,
            unit=unit,
            into=into,
            satisfaction=payload.satisfaction,
        )
    except (ValidationError, PermissionDenied) as exc:
        raise _problem(exc) from exc
    return _detail(request, case)
