"""Registry workflows. ``check_*`` authorises, ``do_*`` changes data and writes its audit entry and
registry event in the same transaction. Views, API handlers and the importer call these; none of
them writes registry rows by hand.

Who may change the registry: grid workers, community staff and street staff, within their subtree
(REGISTRY_EDIT_ROLES). District and city roles read it.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.choices import CARE_ROLES, Role
from grassroots.accounts.scope import in_scope
from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record

from .choices import (
    ETHNICITIES,
    BuildingKind,
    CareGroup,
    EventKind,
    HouseholdStatus,
    Registration,
    Relation,
    ResidentStatus,
)
from .models import Building, CareMembership, Household, Resident, ResidentEvent
from .protect import resident_phone_fields, seal_id_number

REGISTRY_EDIT_ROLES = frozenset({Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.STREET_STAFF})
PLACEABLE_LEVELS = (Level.COMMUNITY, Level.GRID, Level.MICROGRID)


# --- checks ----------------------------------------------------------------------------------------


def can_edit(actor, area_code: str) -> bool:
    return in_scope(actor, area_code, REGISTRY_EDIT_ROLES)


def check_can_edit(actor, area_code: str) -> None:
    if not can_edit(actor, area_code):
        raise PermissionDenied(_("Your role may not change the registry here."))


def check_household_area(area: Area, building: Building | None) -> None:
    if area.level not in PLACEABLE_LEVELS:
        raise ValidationError(_("A household belongs to a community, grid or micro-grid."), code="area_level")
    if building is not None and not (
        area.code.startswith(building.area_id) or building.area_id.startswith(area.code)
    ):
        raise ValidationError(
            _("Building %(building)s is not in %(area)s.")
            % {"building": building.name, "area": area.display_name},
            code="building_area",
        )


def check_not_registered(id_hash: str, *, exclude: int | None = None) -> None:
    """One person, one active record (户不漏人, and no one twice)."""
    clash = Resident.objects.filter(id_number_hash=id_hash, status=ResidentStatus.ACTIVE)
    if exclude:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError(
            _("This ID number is already registered to someone living in the registry."), code="duplicate"
        )


def _audit(actor, action: str, obj, *, area_code: str, fields=(), request=None, detail=None) -> None:
    record(
        actor=actor,
        action=action,
        object_type=f"registry.{obj._meta.model_name}",
        object_id=obj.pk,
        object_label=str(getattr(obj, "name", "") or getattr(obj, "number", "")),
        area_code=area_code,
        fields=fields,
        request=request,
        detail=detail,
    )


def _event(actor, resident: Resident, kind: str, date: dt.date, **extra) -> ResidentEvent:
    return ResidentEvent.objects.create(
        resident=resident, area_id=resident.area_id, kind=kind, date=date, recorded_by=_user(actor), **extra
    )


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _check_date(date: dt.date | None) -> dt.date:
    date = date or timezone.localdate()
    if date > timezone.localdate():
        raise ValidationError(_("The date cannot be in the future."), code="future")
    return date


# --- buildings and households ---------------------------------------------------------------------


@transaction.atomic
def do_create_building(
    actor,
    *,
    area: Area,
    name: str,
    address: str,
    kind: str = BuildingKind.RESIDENTIAL,
    floors: int | None = None,
    units: int | None = None,
    request: HttpRequest | None = None,
) -> Building:
    check_can_edit(actor, area.code)
    if area.level not in (Level.GRID, Level.MICROGRID):
        raise ValidationError(_("A building belongs to a grid."), code="area_level")
    if Building.objects.filter(address=address).exists():
        raise ValidationError(_("A building with this address exists already."), code="duplicate_address")
    building = Building.objects.create(
        area=area if area.level == Level.GRID else area.parent,
        name=name,
        address=address,
        kind=kind,
        floors=floors,
        units=units,
    )
    _audit(actor, Action.CREATE, building, area_code=building.area_id, request=request)
    return building


@transaction.atomic
def do_create_household(
    actor,
    *,
    area: Area,
    number: str,
    address: str,
    building: Building | None = None,
    room: str = "",
    request: HttpRequest | None = None,
) -> Household:
    check_can_edit(actor, area.code)
    check_household_area(area, building)
    if Household.objects.filter(number=number).exists():
        raise ValidationError(_("Household number %(number)s is taken.") % {"number": number}, code="number")
    household = Household.objects.create(
        area=area, building=building, number=number, room=room, address=address
    )
    _audit(actor, Action.CREATE, household, area_code=area.code, request=request)
    return household


@transaction.atomic
def do_update_household(
    actor,
    *,
    household: Household,
    area: Area,
    address: str,
    building: Building | None = None,
    room: str = "",
    request: HttpRequest | None = None,
) -> Household:
    """Change where a household is (including placing it in a grid); its members follow."""
    check_can_edit(actor, household.area_id)
    check_can_edit(actor, area.code)
    check_household_area(area, building)
    changed = [
        name
        for name, value in (("area", area.code), ("address", address), ("building", building and building.pk),
                            ("room", room))
        if getattr(household, f"{name}_id" if name in ("area", "building") else name) != value
    ]  # fmt: skip
    household.area, household.address, household.building, household.room = area, address, building, room
    household.save()
    if "area" in changed:
        household.members.update(area=area)
    _audit(actor, Action.UPDATE, household, area_code=area.code, fields=changed, request=request)
    return household


@transaction.atomic
def do_set_head(
    actor, *, household: Household, resident: Resident, request: HttpRequest | None = None
) -> None:
    check_can_edit(actor, household.area_id)
    if household.status != HouseholdStatus.ACTIVE:
        raise ValidationError(_("This household is closed."), code="closed")
    if resident.household_id != household.pk or resident.status != ResidentStatus.ACTIVE:
        raise ValidationError(_("The head must be a member living in the household."), code="head")
    previous = household.head
    if previous and previous.pk != resident.pk and previous.relation == Relation.HEAD:
        previous.relation = Relation.OTHER_RELATIVE
        previous.save(update_fields=["relation", "updated_at"])
    household.head = resident
    household.save(update_fields=["head", "updated_at"])
    resident.relation = Relation.HEAD
    resident.save(update_fields=["relation", "updated_at"])
    _audit(actor, Action.UPDATE, household, area_code=household.area_id, fields=["head"], request=request)


@transaction.atomic
def do_household_moves_out(
    actor,
    *,
    household: Household,
    date: dt.date | None = None,
    note: str = "",
    request: HttpRequest | None = None,
) -> int:
    """The whole family leaves: every member moves out, the household is closed. Returns members moved."""
    check_can_edit(actor, household.area_id)
    if household.status != HouseholdStatus.ACTIVE:
        raise ValidationError(_("This household is closed already."), code="closed")
    date = _check_date(date)
    members = list(household.members.filter(status=ResidentStatus.ACTIVE))
    for member in members:
        _leave(actor, member, EventKind.MOVE_OUT, ResidentStatus.MOVED_OUT, date, note)
    household.status = HouseholdStatus.MOVED_OUT
    household.save(update_fields=["status", "updated_at"])
    _audit(actor, Action.EVENT, household, area_code=household.area_id, fields=["status"], request=request,
           detail={"event": EventKind.MOVE_OUT, "members": len(members)})  # fmt: skip
    return len(members)


# --- residents ------------------------------------------------------------------------------------


@transaction.atomic
def do_add_resident(
    actor,
    *,
    household: Household,
    name: str,
    id_number: str,
    relation: str,
    phone: str = "",
    ethnicity: str = "汉族",
    registration: str = Registration.REGISTERED,
    event: str = EventKind.REGISTERED,
    date: dt.date | None = None,
    care_groups: tuple[str, ...] = (),
    request: HttpRequest | None = None,
) -> Resident:
    """Register a person in a household: a newborn (BIRTH), someone moving in (MOVE_IN), or a first
    registration of someone already living there (REGISTERED)."""
    check_can_edit(actor, household.area_id)
    if household.status != HouseholdStatus.ACTIVE:
        raise ValidationError(_("This household is closed."), code="closed")
    if event not in (EventKind.REGISTERED, EventKind.BIRTH, EventKind.MOVE_IN):
        raise ValidationError(_("Unknown registration event."), code="event")
    name = name.strip()
    if not name:
        raise ValidationError(_("The name is required."), code="name")
    sealed = seal_id_number(id_number)
    check_not_registered(sealed.hash)
    date = _check_date(date)
    if event == EventKind.BIRTH and sealed.parsed.birth_date != date:
        date = sealed.parsed.birth_date
    if relation == Relation.HEAD and household.head_id:
        raise ValidationError(_("The household has a head already; change the head instead."), code="head")
    if relation not in Relation.values or registration not in Registration.values:
        raise ValidationError(_("Unknown relation or registration."), code="choice")
    unknown_groups = set(care_groups) - set(CareGroup.values)
    if unknown_groups:
        raise ValidationError(_("Unknown care group."), code="care")
    if care_groups and not in_scope(actor, household.area_id, CARE_ROLES):
        raise PermissionDenied(_("Your role may not see or change care groups."))
    resident = Resident.objects.create(
        household=household,
        area_id=household.area_id,
        name=name,
        relation=relation,
        ethnicity=ethnicity,
        registration=registration,
        **sealed.fields(),
        **resident_phone_fields(phone),
    )
    if relation == Relation.HEAD:
        household.head = resident
        household.save(update_fields=["head", "updated_at"])
    for group in care_groups:
        CareMembership.objects.create(resident=resident, group=CareGroup(group), since=date)
    _event(actor, resident, event, date, to_household=household)
    written = ["name", "id_number", *(["phone"] if phone else []), *(["care"] if care_groups else [])]
    _audit(actor, Action.CREATE, resident, area_code=resident.area_id, fields=written, request=request)
    return resident


EDITABLE = ("name", "phone", "ethnicity", "relation", "registration")


@transaction.atomic
def do_update_resident(
    actor, *, resident: Resident, request: HttpRequest | None = None, **changes
) -> list[str]:
    """Change details that are not life events. Returns the names of the fields that changed."""
    check_can_edit(actor, resident.area_id)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(
            _("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    if "relation" in changes and changes["relation"] not in Relation.values:
        raise ValidationError(_("Unknown relation."), code="relation")
    if changes.get("relation") == Relation.HEAD and resident.relation != Relation.HEAD:
        raise ValidationError(_("Make someone head of household with “Set as head”."), code="head")
    if "registration" in changes and changes["registration"] not in Registration.values:
        raise ValidationError(_("Unknown registration status."), code="registration")
    if "ethnicity" in changes and changes["ethnicity"] not in ETHNICITIES:
        raise ValidationError(_("Unknown ethnicity."), code="ethnicity")
    changes = {k: v.strip() if isinstance(v, str) and k != "phone" else v for k, v in changes.items()}
    changed: list[str] = []
    for field, value in changes.items():
        if field == "phone":
            sealed = resident_phone_fields(value)
            if sealed["phone_hash"] != resident.phone_hash:
                for column, v in sealed.items():
                    setattr(resident, column, v)
                changed.append("phone")
        elif getattr(resident, field) != value:
            setattr(resident, field, value)
            changed.append(field)
    if not changed:
        return []
    if "name" in changed and not resident.name:
        raise ValidationError(_("The name is required."), code="name")
    resident.save()
    _event(actor, resident, EventKind.CHANGE, timezone.localdate(), note=", ".join(changed))
    _audit(actor, Action.UPDATE, resident, area_code=resident.area_id, fields=changed, request=request)
    return changed


@transaction.atomic
def do_transfer_resident(
    actor,
    *,
    resident: Resident,
    to_household: Household,
    relation: str,
    date: dt.date | None = None,
    note: str = "",
    request: HttpRequest | None = None,
) -> Resident:
    """Move someone to another household (marriage, a child setting up home, ...)."""
    check_can_edit(actor, resident.area_id)
    check_can_edit(actor, to_household.area_id)
    if resident.status != ResidentStatus.ACTIVE:
        raise ValidationError(_("Only someone living here can move."), code="status")
    if to_household.pk == resident.household_id or to_household.status != HouseholdStatus.ACTIVE:
        raise ValidationError(_("Choose another, open household."), code="household")
    date = _check_date(date)
    if relation not in Relation.values:
        raise ValidationError(_("Unknown relation."), code="relation")
    if relation == Relation.HEAD and to_household.head_id:
        raise ValidationError(_("The household has a head already; change the head instead."), code="head")
    source = resident.household
    if source and source.head_id == resident.pk:
        source.head = None
        source.save(update_fields=["head", "updated_at"])
    resident.household, resident.area_id, resident.relation = to_household, to_household.area_id, relation
    resident.save()
    if relation == Relation.HEAD:
        to_household.head = resident
        to_household.save(update_fields=["head", "updated_at"])
    _event(
        actor, resident, EventKind.TRANSFER, date, from_household=source, to_household=to_household, note=note
    )
    _audit(actor, Action.EVENT, resident, area_code=resident.area_id, fields=["household"], request=request,
           detail={"event": EventKind.TRANSFER})  # fmt: skip
    return resident


def _leave(actor, resident: Resident, kind: str, status: str, date: dt.date, note: str) -> None:
    household = resident.household
    if household and household.head_id == resident.pk:
        household.head = None
        household.save(update_fields=["head", "updated_at"])
    resident.status = status
    resident.save(update_fields=["status", "updated_at"])
    _event(actor, resident, kind, date, from_household=household, note=note)


@transaction.atomic
def do_resident_leaves(
    actor,
    *,
    resident: Resident,
    kind: str,
    date: dt.date | None = None,
    note: str = "",
    request: HttpRequest | None = None,
) -> Resident:
    """Someone moves away (MOVE_OUT) or dies (DEATH). The record stays, with its history."""
    check_can_edit(actor, resident.area_id)
    if resident.status != ResidentStatus.ACTIVE:
        raise ValidationError(_("This person no longer lives here."), code="status")
    statuses = {EventKind.MOVE_OUT: ResidentStatus.MOVED_OUT, EventKind.DEATH: ResidentStatus.DECEASED}
    if kind not in statuses:
        raise ValidationError(_("Unknown event."), code="event")
    date = _check_date(date)
    if date < resident.birth_date:
        raise ValidationError(_("The date is before the person's birth."), code="date")
    _leave(actor, resident, kind, statuses[kind], date, note)
    _audit(actor, Action.EVENT, resident, area_code=resident.area_id, fields=["status"], request=request,
           detail={"event": kind})  # fmt: skip
    return resident


@transaction.atomic
def do_set_care(
    actor, *, resident: Resident, group: str, member: bool, note: str = "", request: HttpRequest | None = None
) -> bool:
    """Add or remove a care group (e.g. mark an elderly resident as living alone). Returns whether
    anything changed."""
    if not in_scope(actor, resident.area_id, CARE_ROLES):
        raise PermissionDenied(_("Your role may not see or change care groups."))
    if group not in CareGroup.values:
        raise ValidationError(_("Unknown care group."), code="care")
    group = CareGroup(group)
    if member:
        _membership, created = CareMembership.objects.get_or_create(
            resident=resident, group=group, defaults={"note": note}
        )
        changed, kind = created, EventKind.CARE_ADDED
    else:
        changed = CareMembership.objects.filter(resident=resident, group=group).delete()[0] > 0
        kind = EventKind.CARE_REMOVED
    if changed:
        _event(actor, resident, kind, timezone.localdate(), note=group.value)
        _audit(actor, Action.UPDATE, resident, area_code=resident.area_id, fields=["care"], request=request)
    return changed
