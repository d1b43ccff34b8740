"""The case lifecycle as data, and the one function that applies a transition.

reported → accepted (or rejected, or merged into a duplicate) → dispatched to a unit → in progress →
resolved → verified by someone other than the handler (failure sends it back) → closed, with the
reporter's satisfaction; reopened within a set period. A case may also be escalated one level up,
when its handler asks with a reason or its clock runs out; it then waits for acceptance there.

``apply`` checks the actor's right, the case's state and version (a stale form is refused), changes
the case, restarts its clock and writes the timeline entry, all in one transaction. Concurrent
transitions on one case cannot both apply: the update is conditional on the version read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grassroots.accounts.choices import Role
from grassroots.areas.choices import Level

from .choices import FINAL_STATUSES, STEP_OF_STATUS, Clock, LimitUnit, Status
from .models import Case, CaseEvent, Unit

REOPEN_DAYS = 30
# Steps whose notes are internal: they are kept off the public tracking page.
INTERNAL_ACTIONS = frozenset({"escalate", "send_back", "fail_verification", "merge", "pause", "resume"})


class Who(StrEnum):
    HOLDER = "holder"  # staff at the node holding the case, or the leader who took it
    UNIT = "unit"  # a member of the unit it was dispatched to, or the staff member handling it
    REPORTER = "reporter"  # the staff member who reported it, handling it on the spot
    VERIFIER = "verifier"  # holder staff other than whoever resolved it
    REOPENER = "reopener"  # holder staff, or the public reporter (by token) within the period


@dataclass(frozen=True)
class Transition:
    action: str
    label: object
    sources: frozenset[str]
    target: str
    who: Who
    needs_note: bool = False


def _t(action, label, sources, target, who, needs_note=False) -> Transition:
    return Transition(action, label, frozenset(sources), target, who, needs_note)


S = Status
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("accept", gettext_lazy("Accept"), {S.REPORTED}, S.ACCEPTED, Who.HOLDER),
        _t("reject", gettext_lazy("Reject"), {S.REPORTED}, S.REJECTED, Who.HOLDER, needs_note=True),
        _t("merge", gettext_lazy("Merge into a duplicate"), {S.REPORTED, S.ACCEPTED}, S.MERGED, Who.HOLDER),
        _t("dispatch", gettext_lazy("Dispatch to a unit"), {S.ACCEPTED}, S.DISPATCHED, Who.HOLDER),
        _t("handle", gettext_lazy("Handle it ourselves"), {S.ACCEPTED}, S.IN_PROGRESS, Who.HOLDER),
        _t("start", gettext_lazy("Start work"), {S.DISPATCHED}, S.IN_PROGRESS, Who.UNIT),
        _t(
            "send_back",
            gettext_lazy("Send back (wrong unit)"),
            {S.DISPATCHED, S.IN_PROGRESS},
            S.ACCEPTED,
            Who.UNIT,
            needs_note=True,
        ),
        _t(
            "resolve",
            gettext_lazy("Report the result"),
            {S.IN_PROGRESS},
            S.RESOLVED,
            Who.UNIT,
            needs_note=True,
        ),
        _t(
            "resolve_on_spot",
            gettext_lazy("Resolved on the spot"),
            {S.REPORTED},
            S.RESOLVED,
            Who.REPORTER,
            needs_note=True,
        ),
        _t("verify", gettext_lazy("Verify the result"), {S.RESOLVED}, S.VERIFIED, Who.VERIFIER),
        _t(
            "fail_verification",
            gettext_lazy("Verification failed"),
            {S.RESOLVED},
            S.IN_PROGRESS,
            Who.VERIFIER,
            needs_note=True,
        ),
        _t("close", gettext_lazy("Close"), {S.VERIFIED}, S.CLOSED, Who.HOLDER),
        _t("reopen", gettext_lazy("Reopen"), {S.CLOSED}, S.ACCEPTED, Who.REOPENER, needs_note=True),
        _t(
            "escalate",
            gettext_lazy("Escalate to the next level"),
            {S.REPORTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS},
            S.REPORTED,
            Who.HOLDER,
            needs_note=True,
        ),
    )
}

HOLDER_ROLES = frozenset(
    {Role.CITY_ADMIN, Role.DISTRICT_STAFF, Role.STREET_STAFF, Role.COMMUNITY_STAFF}
)  # grid workers report and handle on the spot; they do not hold cases


class StaleCase(ValidationError):
    pass


def holds(actor, case: Case) -> bool:
    if not getattr(actor, "is_authenticated", False):
        return False
    if case.leader_id == actor.pk:
        return True
    return actor.grants.filter(area_id=case.holder_id, role__in=HOLDER_ROLES).exists()


def is_handler(actor, case: Case) -> bool:
    if not getattr(actor, "is_authenticated", False):
        return False
    if case.handler_id == actor.pk:
        return True
    return case.unit_id is not None and case.unit.members.filter(pk=actor.pk).exists()


def may(actor, case: Case, transition: Transition, *, public_token_ok: bool = False) -> bool:
    if case.status not in transition.sources:
        return False
    who = transition.who
    if who == Who.HOLDER:
        return holds(actor, case)
    if who == Who.UNIT:
        return is_handler(actor, case)
    if who == Who.REPORTER:
        return getattr(actor, "is_authenticated", False) and case.reporter_id == actor.pk
    if who == Who.VERIFIER:
        return holds(actor, case) and case.resolved_by_id != actor.pk
    if who == Who.REOPENER:
        within = case.closed_at is not None and timezone.now() - case.closed_at <= dt.timedelta(
            days=reopen_days()
        )
        return within and (public_token_ok or holds(actor, case))
    return False


def available(actor, case: Case) -> list[Transition]:
    """The transitions this actor may make now (for buttons and API hints)."""
    return [t for t in TRANSITIONS.values() if may(actor, case, t)]


def start_clock(case: Case, now: dt.datetime) -> None:
    """Set the step, warning time and deadline for the case's current status."""
    from grassroots.core.workcalendar import calendar

    if case.status in FINAL_STATUSES:
        case.step, case.warn_at, case.deadline, case.clock, case.paused_at = (
            "",
            None,
            None,
            Clock.STOPPED,
            None,
        )
        return
    step = STEP_OF_STATUS[case.status]
    unit, amount = case.category.limit(step)
    cal = calendar()
    deadline = cal.add_days(now, amount) if unit == LimitUnit.WORKING_DAYS else cal.add_hours(now, amount)
    share = case.category.warn_share / 100
    case.step, case.step_started_at, case.deadline = step, now, deadline
    case.warn_at = cal.add_hours(now, cal.hours_between(now, deadline) * share)
    case.clock, case.paused_at = Clock.ON_TIME, None


def level_node(area, level: int):
    """The ancestor of ``area`` (or itself) at ``level``."""
    from grassroots.areas.codes import LENGTH_BY_LEVEL
    from grassroots.areas.models import Area

    return Area.objects.get(code=area.code[: LENGTH_BY_LEVEL[level]])


@transaction.atomic
def apply(
    actor,
    case: Case,
    action: str,
    *,
    version: int | None = None,
    note: str = "",
    unit: Unit | None = None,
    into: Case | None = None,
    satisfaction: int | None = None,
    public_token_ok: bool = False,
    system: bool = False,
    now: dt.datetime | None = None,
) -> Case:
    """Apply one transition. ``version`` is the version the actor's form showed (stale → refused).

    ``system`` marks the sweep acting on its own (escalation of an overdue case): no rights check.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ValidationError(_("Unknown action."), code="action")
    now = now or timezone.now()
    locked = (
        Case.objects.select_for_update(of=("self",))
        .select_related("category", "holder", "unit")
        .get(pk=case.pk)
    )
    if version is not None and locked.version != version:
        raise StaleCase(
            _("The case changed while you were looking at it. Reload and try again."), code="stale"
        )
    if locked.status not in transition.sources:
        raise ValidationError(
            _("A case that is “%(status)s” cannot be given “%(action)s”.")
            % {"status": locked.get_status_display(), "action": transition.label},
            code="state",
        )
    if not system and not may(actor, locked, transition, public_token_ok=public_token_ok):
        raise PermissionDenied(_("You may not do this to this case."))
    note = (note or "").strip()
    if transition.needs_note and not note:
        raise ValidationError(_("Say why (or what was done)."), code="note")

    from_status, from_level, from_step = locked.status, locked.level, locked.step
    user = actor if getattr(actor, "is_authenticated", False) else None
    _apply_effects(
        locked, transition, user, note=note, unit=unit, into=into, satisfaction=satisfaction, now=now
    )
    locked.status = transition.target
    # The clock restarts when the step changes (dispatched → in progress keeps the handling clock),
    # and always when the case moves to another level, is sent back or is reopened.
    if STEP_OF_STATUS.get(locked.status) != from_step or action in ("escalate", "reopen", "send_back"):
        start_clock(locked, now)
    old_version = locked.version
    locked.version = old_version + 1
    fields = [
        f.attname for f in Case._meta.concrete_fields if f.attname not in ("id", "number", "created_at")
    ]
    updated = Case.objects.filter(pk=locked.pk, version=old_version).update(
        **{name: getattr(locked, name) for name in fields}
    )
    if updated != 1:  # someone else's transition won the race
        raise StaleCase(
            _("The case changed while you were looking at it. Reload and try again."), code="stale"
        )
    CaseEvent.objects.create(
        case=locked,
        at=now,
        actor=user,
        actor_name=(user.display_name if user else _("system") if system else _("reporter")),
        action=action,
        from_status=from_status,
        to_status=locked.status,
        from_level=from_level,
        to_level=locked.level,
        note=note or (locked.unit.name if action == "dispatch" and locked.unit_id else ""),
        public=action not in INTERNAL_ACTIONS,
    )
    from .notify import after_transition

    after_transition(locked, action, actor=user)
    return locked


def _apply_effects(case: Case, transition: Transition, user, *, note, unit, into, satisfaction, now) -> None:
    action = transition.action
    if action == "dispatch":
        if unit is None or not unit.active:
            raise ValidationError(_("Choose a unit to dispatch to."), code="unit")
        if not unit.area_id.startswith(case.holder_id) and not case.holder_id.startswith(unit.area_id):
            raise ValidationError(_("That unit does not serve this place."), code="unit")
        case.unit, case.handler = unit, None
    elif action == "handle":
        case.unit, case.handler = None, user
    elif action == "send_back":
        case.unit, case.handler = None, None
    elif action in ("resolve", "resolve_on_spot"):
        case.result, case.resolved_by = note, user
        if action == "resolve_on_spot":
            case.handler = user
    elif action == "verify":
        case.verified_by = user
    elif action == "fail_verification":
        case.verified_by = None
    elif action == "close":
        if satisfaction is not None and not 1 <= satisfaction <= 5:
            raise ValidationError(_("Satisfaction is 1 to 5."), code="satisfaction")
        case.satisfaction, case.closed_at = satisfaction, now
    elif action == "reopen":
        case.reopen_count += 1
        case.closed_at, case.verified_by, case.resolved_by, case.satisfaction = None, None, None, None
    elif action == "merge":
        if into is None or into.pk == case.pk or into.status in FINAL_STATUSES:
            raise ValidationError(_("Choose an open case to merge into."), code="into")
        case.merged_into = into
    elif action == "escalate":
        if case.level <= Level.CITY:
            raise ValidationError(_("The city is the highest level."), code="top")
        case.holder = level_node(case.area, case.level - 1)
        case.level -= 1
        case.highest_level = min(case.highest_level, case.level)
        case.escalations += 1
        case.unit, case.handler = None, None


def clock_paused_hours(case: Case, now: dt.datetime) -> float:
    from grassroots.core.workcalendar import calendar

    return calendar().hours_between(case.paused_at, now) if case.paused_at else 0.0


@transaction.atomic
def pause(
    actor, case: Case, *, note: str, version: int | None = None, now: dt.datetime | None = None
) -> Case:
    """Stop the clock while waiting for the reporter (e.g. for access or a document)."""
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if version is not None and locked.version != version:
        raise StaleCase(
            _("The case changed while you were looking at it. Reload and try again."), code="stale"
        )
    if not (is_handler(actor, locked) or holds(actor, locked)) or locked.status in FINAL_STATUSES:
        raise PermissionDenied(_("You may not pause this case."))
    if locked.paused_at:
        raise ValidationError(_("The clock is already paused."), code="paused")
    if not note.strip():
        raise ValidationError(_("Say what you are waiting for."), code="note")
    now = now or timezone.now()
    Case.objects.filter(pk=locked.pk).update(paused_at=now, clock=Clock.PAUSED, version=locked.version + 1)
    CaseEvent.objects.create(
        case=locked,
        at=now,
        actor=actor,
        actor_name=actor.display_name,
        action="pause",
        from_status=locked.status,
        to_status=locked.status,
        note=note,
        public=False,
    )
    locked.refresh_from_db()
    return locked


@transaction.atomic
def resume(actor, case: Case, *, version: int | None = None, now: dt.datetime | None = None) -> Case:
    """Restart the clock; the deadline moves by the working time spent paused."""
    from grassroots.core.workcalendar import calendar

    locked = Case.objects.select_for_update(of=("self",)).select_related("category").get(pk=case.pk)
    if version is not None and locked.version != version:
        raise StaleCase(
            _("The case changed while you were looking at it. Reload and try again."), code="stale"
        )
    if not (is_handler(actor, locked) or holds(actor, locked)):
        raise PermissionDenied(_("You may not resume this case."))
    if not locked.paused_at:
        raise ValidationError(_("The clock is not paused."), code="paused")
    now = now or timezone.now()
    hours = clock_paused_hours(locked, now)
    cal = calendar()
    deadline = cal.add_hours(locked.deadline, hours) if locked.deadline else None
    warn_at = cal.add_hours(locked.warn_at, hours) if locked.warn_at else None
    clock = (
        Clock.OVERDUE
        if deadline and deadline <= now
        else Clock.WARNING
        if warn_at and warn_at <= now
        else Clock.ON_TIME
    )
    Case.objects.filter(pk=locked.pk).update(
        paused_at=None, deadline=deadline, warn_at=warn_at, clock=clock, version=locked.version + 1
    )
    CaseEvent.objects.create(
        case=locked,
        at=now,
        actor=actor,
        actor_name=actor.display_name,
        action="resume",
        public=False,
        from_status=locked.status,
        to_status=locked.status,
        note=_("%(hours).1f working hours paused") % {"hours": hours},
    )
    locked.refresh_from_db()
    return locked


def reopen_days() -> int:
    return settings.GRASSROOTS.get("REOPEN_DAYS", REOPEN_DAYS)
