"""The registry in the JSON API, ``/api/v1/registry``: scoped, masked, paginated.

Every object is fetched through the same scoped helpers as the pages (outside the caller's subtree is
404). Identity values are masked; full values only from ``POST /residents/{id}/reveal``, which needs a
reason and is audited. Identity search is a POST, so no ID number or phone ever sits in a URL.
Errors: 422 ``{"detail": "..."}`` for a workflow's validation error, 403 for a role that may not
change the registry.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from grassroots.areas.access import access_area
from grassroots.areas.codes import in_subtree
from grassroots.core.pagination import BoundedPagination
from grassroots.core.schema import ProblemDetail

from . import actions
from .choices import (
    BuildingKind,
    CareGroup,
    EventKind,
    HouseholdStatus,
    OrganisationKind,
    Registration,
    Relation,
    ResidentStatus,
)
from .forms import looks_like_identity
from .models import Household, Organisation, Resident
from .protect import reveal, search_hashes
from .views import (
    IDENTITY_RESULTS_LIMIT,
    access_household,
    access_resident,
    buildings_around,
    care_by_resident,
    record_identity_search,
    sees_care,
    visible_buildings,
    visible_events,
    with_size,
)

router = Router(tags=["registry"])


class RegistryError(Schema):
    detail: ProblemDetail


class InArea(Schema):
    @staticmethod
    def resolve_area_code(obj) -> str:
        return obj.area_id


ERRORS = {403: RegistryError, 404: RegistryError, 422: RegistryError}


@contextmanager
def workflow_errors() -> Iterator[None]:
    """A workflow's ValidationError → 422, PermissionDenied → 403, each with a readable ``detail``."""
    try:
        yield
    except ValidationError as exc:
        raise HttpError(422, " ".join(exc.messages)) from None
    except PermissionDenied as exc:
        raise HttpError(403, str(exc) or "Your role may not do this.") from None


# --- output schemas: explicit fields, masked identity, never *_enc or *_hash ---------------------


class BuildingOut(InArea):
    id: int
    name: str
    address: str
    kind: BuildingKind
    floors: int | None
    units: int | None
    area_code: str = Field(..., description="The grid the building is in.")
    households: int = Field(..., description="Open households in the building (within the filter).")

    @staticmethod
    def resolve_households(obj) -> int:
        return obj.household_count


class ResidentOut(InArea):
    id: int
    name: str
    id_number_masked: str = Field(..., description="First four and last four characters only.")
    phone_masked: str = Field(..., description="First three and last four digits only; empty if none.")
    gender: str
    birth_date: dt.date
    age: int
    ethnicity: str
    relation: Relation
    registration: Registration
    status: ResidentStatus
    area_code: str
    household_id: int | None
    household_number: str | None

    @staticmethod
    def resolve_household_number(obj: Resident) -> str | None:
        return obj.household.number if obj.household else None


class CareOut(Schema):
    group: CareGroup
    group_name: str
    since: dt.date
    note: str

    @staticmethod
    def resolve_group_name(obj) -> str:
        return str(obj.get_group_display())


class RegistryEventOut(Schema):
    id: int
    kind: EventKind
    date: dt.date
    from_household_id: int | None
    to_household_id: int | None
    note: str
    recorded_at: dt.datetime


class ResidentDetailOut(ResidentOut):
    care_groups: list[CareOut] | None = Field(
        None, description="Care groups; null when the caller's role does not see them (district, city)."
    )
    events: list[RegistryEventOut] = Field(..., description="Registry events, newest first.")

    @staticmethod
    def resolve_care_groups(obj) -> list | None:
        return obj.care_list

    @staticmethod
    def resolve_events(obj) -> list:
        return obj.event_list


class HouseholdOut(InArea):
    id: int
    number: str
    area_code: str = Field(..., description="Micro-grid or grid; a community if unplaced.")
    building_id: int | None
    building_name: str | None
    room: str
    address: str
    status: HouseholdStatus
    head_id: int | None
    head_name: str | None
    size: int = Field(..., description="Members living here.")

    @staticmethod
    def resolve_building_name(obj: Household) -> str | None:
        return obj.building.name if obj.building else None

    @staticmethod
    def resolve_head_name(obj: Household) -> str | None:
        return obj.head.name if obj.head else None


class HouseholdDetailOut(HouseholdOut):
    members: list[ResidentOut]

    @staticmethod
    def resolve_members(obj) -> list:
        return obj.member_list


class OrganisationOut(InArea):
    id: int
    name: str
    kind: OrganisationKind
    credit_code: str
    address: str
    contact_name: str
    contact_phone_masked: str
    employees: int | None
    area_code: str
    building_id: int | None


class RevealOut(Schema):
    id_number: str | None = None
    phone: str | None = None


# --- input schemas -------------------------------------------------------------------------------


class PersonIn(Schema):
    name: str = Field(..., max_length=50)
    id_number: str = Field(..., max_length=24, description="18 characters; checked (GB 11643).")
    phone: str = Field("", max_length=20)
    ethnicity: str = Field("汉族", max_length=10)
    registration: Registration = Registration.REGISTERED
    event: Literal["registered", "birth", "move_in"] = Field(
        "registered", description="registered: already living here; birth: a newborn; move_in: arriving."
    )
    date: dt.date | None = Field(None, description="Default today; for a birth, the birth date.")


class MemberIn(PersonIn):
    relation: Relation


class HouseholdIn(Schema):
    area: str = Field(..., description="Code of the grid or micro-grid (or community) it is in.")
    number: str = Field(..., max_length=40)
    address: str = Field(..., max_length=200)
    room: str = Field("", max_length=40)
    building_id: int | None = None
    head: PersonIn


class LeaveIn(Schema):
    kind: Literal["move_out", "death"]
    date: dt.date | None = None
    note: str = Field("", max_length=200)


class RevealIn(Schema):
    fields: list[Literal["id_number", "phone"]] = Field(..., min_length=1)
    reason: str = Field(
        ..., max_length=200, description="Why the full value is needed; recorded in the audit."
    )


class SearchIn(Schema):
    query: str = Field(..., max_length=60, description="A full ID number or an 11-digit mobile number.")


class ResidentFilter(Schema):
    within: str | None = Field(None, description="Code of a subtree; default all of the caller's scope.")
    name: str = Field("", max_length=50, description="Part of a name.")
    registration: Registration | None = None
    status: ResidentStatus | None = None


# --- helpers -------------------------------------------------------------------------------------


def _within(request: HttpRequest, queryset: QuerySet, code: str | None, field: str = "area") -> QuerySet:
    if code:
        area = access_area(request.user, code)
        queryset = queryset.filter(in_subtree(field, area.code))
    return queryset


def _resident_detail(request: HttpRequest, resident: Resident) -> Resident:
    """The resident with the events and care groups the caller may see (read by the schema's resolvers)."""
    user = request.user
    events = list(visible_events(user).filter(resident=resident)[:100])
    care = (
        care_by_resident(user, [resident]).get(resident.pk, []) if sees_care(user, resident.area_id) else None
    )
    resident.event_list, resident.care_list = events, care  # type: ignore[attr-defined]
    return resident


def _household_detail(request: HttpRequest, pk: int) -> Household:
    household = with_size(Household.objects.visible_to(request.user).select_related("building")).get(pk=pk)
    household.member_list = list(  # type: ignore[attr-defined]
        Resident.objects.visible_to(request.user).filter(household=household).select_related("household")
    )
    return household


# --- reading -------------------------------------------------------------------------------------


@router.get("/buildings", response=list[BuildingOut], summary="Buildings, with their open households")
@paginate(BoundedPagination)
def buildings(request: HttpRequest, within: str | None = None):
    user = request.user
    if within:
        area = access_area(user, within)
        found = (
            buildings_around(user, area)
            if area.is_grid
            else visible_buildings(user).filter(in_subtree("area", area.code))
        )
        code = area.code
    else:
        found, code = visible_buildings(user), None
    count_q = Q(households__status=HouseholdStatus.ACTIVE)
    if code:
        count_q &= in_subtree("households__area", code)
    return found.annotate(household_count=Count("households", filter=count_q)).order_by(
        "area_id", "name", "id"
    )


@router.get("/households", response=list[HouseholdOut], summary="Households")
@paginate(BoundedPagination)
def households(request: HttpRequest, within: str | None = None, status: HouseholdStatus | None = None):
    found = _within(request, Household.objects.visible_to(request.user), within)
    if status:
        found = found.filter(status=status)
    return with_size(found.select_related("building")).order_by("area_id", "number")


@router.get(
    "/households/{int:household_id}",
    response={200: HouseholdDetailOut, 404: RegistryError},
    summary="A household",
)
def household(request: HttpRequest, household_id: int):
    access_household(request.user, household_id)
    return _household_detail(request, household_id)


@router.get("/residents", response=list[ResidentOut], summary="Residents (masked)")
@paginate(BoundedPagination)
def residents(request: HttpRequest, filters: Query[ResidentFilter]):
    if looks_like_identity(filters.name):
        raise HttpError(422, "Search by ID number or phone with POST /registry/residents/search.")
    found = _within(request, Resident.objects.visible_to(request.user), filters.within)
    if filters.name.strip():
        found = found.filter(name__icontains=filters.name.strip())
    if filters.registration:
        found = found.filter(registration=filters.registration)
    if filters.status:
        found = found.filter(status=filters.status)
    return found.select_related("household").order_by("name", "id")


@router.get(
    "/residents/{int:resident_id}",
    response={200: ResidentDetailOut, 404: RegistryError},
    summary="A resident",
)
def resident(request: HttpRequest, resident_id: int):
    return _resident_detail(request, access_resident(request.user, resident_id))


@router.post(
    "/residents/search",
    response={200: list[ResidentOut], 422: RegistryError},
    summary="Find a resident by exact ID number or phone",
    description="Matched on a keyed hash, within the caller's scope. Recorded in the audit trail.",
)
def search(request: HttpRequest, payload: SearchIn, response: HttpResponse):
    hashes = search_hashes(payload.query)
    if not hashes:
        raise HttpError(422, "Enter a full 18-character ID number or an 11-digit mobile number.")
    q = Q()
    for column, value in hashes.items():
        q |= Q(**{column: value})
    found = list(
        Resident.objects.visible_to(request.user)
        .filter(q)
        .select_related("household")[:IDENTITY_RESULTS_LIMIT]
    )
    record_identity_search(request, sorted(hashes), len(found))
    response["Cache-Control"] = "no-store"
    return found


@router.post(
    "/residents/{int:resident_id}/reveal",
    response={200: RevealOut, **ERRORS},
    summary="Full ID number and/or phone of one resident (audited)",
    description="Requires a reason; writes one audit entry naming the fields, the reason and the caller.",
)
def reveal_fields(request: HttpRequest, resident_id: int, payload: RevealIn, response: HttpResponse):
    found = access_resident(request.user, resident_id)
    with workflow_errors():
        shown = reveal(
            request.user, found, list(dict.fromkeys(payload.fields)), reason=payload.reason, request=request
        )
    response["Cache-Control"] = "no-store"
    return shown


@router.get("/organisations", response=list[OrganisationOut], summary="Organisations (actual units)")
@paginate(BoundedPagination)
def organisations(request: HttpRequest, within: str | None = None):
    found = _within(request, Organisation.objects.visible_to(request.user), within)
    return found.order_by("area_id", "name", "id")


# --- writing -------------------------------------------------------------------------------------


@router.post(
    "/households", response={201: HouseholdDetailOut, **ERRORS}, summary="Register a household and its head"
)
def create_household(request: HttpRequest, payload: HouseholdIn):
    user = request.user
    area = access_area(user, payload.area)
    building = None
    if payload.building_id is not None:
        building = visible_buildings(user).filter(pk=payload.building_id).first()
        if building is None:
            raise HttpError(422, "No building with this id in your area.")
    with workflow_errors(), transaction.atomic():
        created = actions.do_create_household(
            user,
            area=area,
            number=payload.number.strip(),
            address=payload.address.strip(),
            building=building,
            room=payload.room.strip(),
            request=request,
        )
        actions.do_add_resident(
            user, household=created, relation=Relation.HEAD, request=request, **payload.head.dict()
        )
    return Status(201, _household_detail(request, created.pk))


@router.post(
    "/households/{int:household_id}/members",
    response={201: ResidentDetailOut, **ERRORS},
    summary="Add a member: a newborn, someone moving in, or a first registration",
)
def add_member(request: HttpRequest, household_id: int, payload: MemberIn):
    found = access_household(request.user, household_id)
    with workflow_errors():
        added = actions.do_add_resident(request.user, household=found, request=request, **payload.dict())
    return Status(201, _resident_detail(request, access_resident(request.user, added.pk)))


@router.post(
    "/residents/{int:resident_id}/leave",
    response={200: ResidentDetailOut, **ERRORS},
    summary="A resident moves out or dies (the record stays)",
)
def leave(request: HttpRequest, resident_id: int, payload: LeaveIn):
    found = access_resident(request.user, resident_id)
    with workflow_errors():
        actions.do_resident_leaves(
            request.user,
            resident=found,
            kind=payload.kind,
            date=payload.date,
            note=payload.note,
            request=request,
        )
    return _resident_detail(request, access_resident(request.user, resident_id))
