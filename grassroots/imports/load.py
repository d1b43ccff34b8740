"""Writing checked households to the registry, set-based: one batch of households is a handful of
bulk INSERTs (buildings, households, residents, care groups, events, audit entries) and one UPDATE
of the heads, whatever its size.

The caller runs :func:`load_batch` inside a transaction together with the job's progress, so a batch
is there entirely or not at all, and so is every household in it. What the registry's actions check
one record at a time is checked here for the whole batch, again, because time has passed since the
sheet was checked: a household number or a person registered meanwhile rejects that household only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL
from grassroots.audit.log import record_many
from grassroots.audit.models import Action, AuditEntry
from grassroots.core import crypto
from grassroots.registry.choices import BuildingKind, EventKind, HouseholdStatus, ResidentStatus
from grassroots.registry.idnumber import mask_id_number
from grassroots.registry.models import ID_NUMBER, Building, CareMembership, Household, Resident, ResidentEvent
from grassroots.registry.protect import resident_phone_fields

from .validate import HouseholdPlan, M, Message, Person, existing_buildings

GRID_LENGTH = LENGTH_BY_LEVEL[Level.GRID]
_BUILDING_NAME = re.compile(r"([0-9A-Za-z一二三四五六七八九十百零]+(?:号楼|号院|栋|幢|座|号|楼|院))$")
HOUSEHOLD_FIELDS = ["number", "area", "building", "room", "address", "head"]


def building_name(address: str) -> str:
    """What people call a building: the end of its address (…3号楼 → 3号楼), else the address."""
    match = _BUILDING_NAME.search(address)
    return match.group(1) if match else address[-60:]


@dataclass
class BatchResult:
    imported_households: int = 0
    imported_residents: int = 0
    rejected: list[tuple[HouseholdPlan, list[Message]]] = field(default_factory=list)
    new_buildings: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def rejected_rows(self) -> int:
        return sum(len(plan.people) for plan, _ in self.rejected)


def _sealed_id(p: Person) -> dict[str, object]:
    """The protected ID columns; the number was parsed and hashed when the row was checked."""
    return {
        "id_number_enc": crypto.encrypt(p.id_number, context=ID_NUMBER),
        "id_number_hash": p.id_hash,
        "id_number_masked": mask_id_number(p.id_number),
        "gender": p.gender,
        "birth_date": p.birth_date,
    }


def _reject_people(plan: HouseholdPlan, digests: set[str]) -> None:
    for p in plan.people:
        if p.id_hash in digests:
            plan.row_errors[p.row].append((M.RACE_PERSON, {}))


def load_batch(
    *, job, actor, plans: list[HouseholdPlan], buildings: dict[str, tuple[int, str]]
) -> BatchResult:
    """Create ``plans`` (checked, status "new") in the current transaction.

    ``buildings`` maps addresses known to exist to (id, grid); buildings this batch creates are
    returned in ``new_buildings`` for the caller to remember once the transaction has committed.
    """
    assert connection.in_atomic_block, "load_batch must run inside the caller's transaction"
    result = BatchResult()
    now = timezone.now()
    today = timezone.localdate()
    user = actor if getattr(actor, "is_authenticated", False) else None
    actor_name = user.get_username() if user else "system"

    # What changed since the sheet was checked.
    numbers = set(
        Household.objects.filter(number__in=[p.number for p in plans]).values_list("number", flat=True)
    )
    digests = set(
        Resident.objects.filter(
            id_number_hash__in=[p.id_hash for plan in plans for p in plan.people],
            status=ResidentStatus.ACTIVE,
        ).values_list("id_number_hash", flat=True)
    )
    wanted = {plan.building for plan in plans if plan.building and plan.building not in buildings}
    known = {**buildings, **existing_buildings(wanted)} if wanted else dict(buildings)

    good: list[HouseholdPlan] = []
    to_create: dict[str, Building] = {}
    for plan in plans:
        grid = plan.grid[:GRID_LENGTH]
        if plan.number in numbers:
            result.rejected.append((plan, [(M.RACE_HOUSEHOLD, {"number": plan.number})]))
        elif any(p.id_hash in digests for p in plan.people):
            _reject_people(plan, digests)
            result.rejected.append((plan, []))
        elif plan.building and plan.building in known and known[plan.building][1] != grid:
            result.rejected.append((plan, [(M.RACE_BUILDING, {"address": plan.building[:60]})]))
        else:
            good.append(plan)
            if plan.building and plan.building not in known and plan.building not in to_create:
                to_create[plan.building] = Building(
                    area_id=grid,
                    name=building_name(plan.building),
                    address=plan.building,
                    kind=BuildingKind.RESIDENTIAL,
                    created_at=now,
                )
    audit: list[AuditEntry] = []
    if to_create:
        created = Building.objects.bulk_create(list(to_create.values()))
        for building in created:
            result.new_buildings[building.address] = (building.pk, building.area_id)
            audit.append(
                AuditEntry(
                    at=now,
                    actor=user,
                    actor_name=actor_name,
                    action=Action.IMPORT,
                    object_type="registry.building",
                    object_id=str(building.pk),
                    object_label=building.name[:100],
                    area_code=building.area_id,
                    fields=["name", "address", "kind"],
                    detail={"job": job.pk},
                )
            )
        known.update(result.new_buildings)
    if not good:
        record_many(audit)
        return result

    households = Household.objects.bulk_create(
        [
            Household(
                area_id=plan.grid,
                building_id=known[plan.building][0] if plan.building else None,
                number=plan.number,
                room=plan.room,
                address=plan.address,
                status=HouseholdStatus.ACTIVE,
                created_at=now,
            )
            for plan in good
        ]
    )
    residents: list[Resident] = []
    members: list[tuple[Household, HouseholdPlan, list[Resident]]] = []
    for household, plan in zip(households, good, strict=True):
        own: list[Resident] = []
        for p in plan.ordered_people():
            own.append(
                Resident(
                    household=household,
                    area_id=plan.grid,
                    name=p.name,
                    relation=p.relation,
                    ethnicity=p.ethnicity,
                    registration=p.registration,
                    status=ResidentStatus.ACTIVE,
                    created_at=now,
                    **_sealed_id(p),
                    **resident_phone_fields(p.phone),
                )
            )
        residents.extend(own)
        members.append((household, plan, own))
    Resident.objects.bulk_create(residents, batch_size=1000)

    care: list[CareMembership] = []
    events: list[ResidentEvent] = []
    for household, plan, own in members:
        household.head = own[0]  # ordered_people puts the head first
        for resident, p in zip(own, plan.ordered_people(), strict=True):
            care.extend(CareMembership(resident=resident, group=g, since=today) for g in p.care)
            events.append(
                ResidentEvent(
                    resident=resident,
                    area_id=plan.grid,
                    kind=EventKind.REGISTERED,
                    date=today,
                    to_household=household,
                    recorded_by=user,
                    recorded_at=now,
                )
            )
        written = ["name", "id_number", "gender", "birth_date", "relation", "ethnicity", "registration"]
        if any(p.phone for p in plan.people):
            written.append("phone")
        if any(p.care for p in plan.people):
            written.append("care")
        audit.append(
            AuditEntry(
                at=now,
                actor=user,
                actor_name=actor_name,
                action=Action.IMPORT,
                object_type="registry.household",
                object_id=str(household.pk),
                object_label=household.number[:100],
                area_code=household.area_id,
                fields=[*HOUSEHOLD_FIELDS, *(f"members.{f}" for f in written)],
                detail={"job": job.pk, "residents": len(own), "row": plan.first_row},
            )
        )
    Household.objects.bulk_update(households, ["head"], batch_size=500)
    CareMembership.objects.bulk_create(care, batch_size=1000)
    ResidentEvent.objects.bulk_create(events, batch_size=1000)
    record_many(audit)
    result.imported_households = len(households)
    result.imported_residents = len(residents)
    return result
