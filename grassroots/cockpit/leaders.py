"""领导包联: leaders answer for places (a district leader for streets, a street leader for communities),
visit them and log the visits. Actions in pairs: ``check_*`` authorises, ``do_*`` changes and audits.

- A contact is assigned by an administrator of a node *above* the leader (every grant of the leader
  lies strictly below one of the administrator's managing nodes, as for managing the leader's account),
  for a district, street or community inside the leader's own scope and below the leader's node.
- A visit is logged by the leader, for a place inside their scope.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.actions import check_can_manage_user
from grassroots.accounts.choices import Role
from grassroots.accounts.models import User
from grassroots.accounts.scope import in_scope, scope_q
from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record

from .data import format_value, value_of
from .indicators import REGISTRY
from .models import IndicatorValue, LeaderContact, Refresh, Score, Visit

LEADER_ROLES = frozenset({Role.CITY_ADMIN, Role.DISTRICT_STAFF, Role.STREET_STAFF})
CONTACT_LEVELS = frozenset({Level.DISTRICT, Level.STREET, Level.COMMUNITY})
MAX_NOTE = 2000


# --- reading ---------------------------------------------------------------------------------------


def leaders_visible_to(viewer) -> QuerySet[User]:
    """Leaders (city, district and street staff) holding a grant inside the viewer's scope."""
    q = scope_q("grants__area", viewer)
    if q is None:
        return User.objects.none()
    return (
        User.objects.filter(q, grants__role__in=LEADER_ROLES, is_active=True).distinct().order_by("username")
    )


def access_leader(viewer, user_id: int) -> User:
    """The leader if the viewer may see them (themselves, or a leader in the viewer's scope); else 404."""
    if getattr(viewer, "pk", None) == user_id and viewer.grants.filter(role__in=LEADER_ROLES).exists():
        return viewer
    leader = leaders_visible_to(viewer).filter(pk=user_id).first()
    if leader is None:
        raise Http404
    return leader


def leader_nodes(leader) -> list[str]:
    return sorted(set(leader.grants.filter(role__in=LEADER_ROLES).values_list("area_id", flat=True)))


def leader_counts(viewer, leaders: list[User]) -> dict[int, dict[str, int]]:
    """Contacts, cases and disputes taken, and visits per leader, as the viewer may see them."""
    from grassroots.cases.models import Case
    from grassroots.disputes.models import Dispute

    ids = [leader.pk for leader in leaders]
    counts: dict[int, dict[str, int]] = {
        pk: {"contacts": 0, "cases": 0, "open_cases": 0, "disputes": 0, "visits": 0} for pk in ids
    }
    grouped = {
        "contacts": LeaderContact.objects.visible_to(viewer),
        "cases": Case.objects.visible_to(viewer),
        "open_cases": Case.objects.visible_to(viewer).open(),
        "disputes": Dispute.objects.visible_to(viewer),
        "visits": Visit.objects.visible_to(viewer),
    }
    for name, qs in grouped.items():
        for row in qs.filter(leader__in=ids).order_by().values("leader").annotate(n=Count("id")):
            counts[row["leader"]][name] = row["n"]
    return counts


PLACE_FIGURES = (
    "cases.open",
    "cases.overdue",
    "cases.on_time_rate",
    "disputes.red",
    "disputes.late_follow_ups",
)


def place_values(codes: list[str]) -> dict[str, dict[str, float | None]]:
    """Live key figures of each place: one query on the ``now`` values (missing counts are 0 once the
    live figures exist; missing rates are no data)."""
    chosen = [c for c in PLACE_FIGURES if c in REGISTRY]
    refreshed = Refresh.objects.filter(period="now").exists()
    found: dict[str, dict[str, float | None]] = {
        code: {c: 0 if refreshed and not REGISTRY[c].is_rate else None for c in chosen} for code in codes
    }
    rows = IndicatorValue.objects.filter(period="now", node__in=codes, indicator__in=chosen).values_list(
        "node", "indicator", "numerator", "denominator"
    )
    for node_code, indicator, numerator, denominator in rows:
        found[node_code][indicator] = value_of(REGISTRY[indicator], numerator, denominator)
    return found


def place_figures(codes: list[str]) -> dict[str, list[dict]]:
    return {
        code: [
            {"name": str(REGISTRY[c].name), "shown": format_value(c, value)} for c, value in values.items()
        ]
        for code, values in place_values(codes).items()
    }


def latest_scores(viewer, codes: list[str]) -> dict[str, Score]:
    """The latest published score of each place the viewer may see."""
    latest: dict[str, Score] = {}
    scores = (
        Score.objects.visible_to(viewer)
        .filter(node_id__in=codes, snapshot__published_at__isnull=False)
        .select_related("snapshot")
        .order_by("node_id", "-snapshot__period", "-snapshot__published_at")
    )
    for score in scores:
        latest.setdefault(score.node_id, score)
    return latest


# --- assigning contacts ----------------------------------------------------------------------------


def check_assign_contact(actor, *, leader: User, area: Area) -> None:
    if not leader.grants.filter(role__in=LEADER_ROLES).exists():
        raise ValidationError(_("Only city, district and street leaders answer for places."), code="leader")
    check_can_manage_user(actor, leader)  # a higher level's administrator, within their scope
    if area.level not in CONTACT_LEVELS:
        raise ValidationError(_("Leaders answer for districts, streets and communities."), code="level")
    below = any(area.code.startswith(node) and area.code != node for node in leader_nodes(leader))
    if not below or not in_scope(actor, area.code):
        raise ValidationError(_("The place must lie below the leader's own node."), code="area")


@transaction.atomic
def do_assign_contact(actor, *, leader: User, area: Area, note: str = "", request=None) -> LeaderContact:
    check_assign_contact(actor, leader=leader, area=area)
    if LeaderContact.objects.filter(leader=leader, area=area).exists():
        raise ValidationError(_("This leader already answers for this place."), code="duplicate")
    contact = LeaderContact.objects.create(leader=leader, area=area, note=note.strip()[:200])
    record(
        actor=actor,
        action=Action.CREATE,
        object_type="cockpit.leadercontact",
        object_id=contact.pk,
        object_label=f"{leader.get_username()} → {area.code}",
        area_code=area.code,
        fields=["leader", "area"],
        request=request,
    )
    return contact


@transaction.atomic
def do_remove_contact(actor, *, contact: LeaderContact, request=None) -> None:
    check_can_manage_user(actor, contact.leader)
    if not in_scope(actor, contact.area_id):
        raise PermissionDenied(_("You may not change this contact."))
    record(
        actor=actor,
        action=Action.DELETE,
        object_type="cockpit.leadercontact",
        object_id=contact.pk,
        object_label=f"{contact.leader.get_username()} → {contact.area_id}",
        area_code=contact.area_id,
        fields=["leader", "area"],
        request=request,
    )
    contact.delete()


# --- visits ----------------------------------------------------------------------------------------


def check_log_visit(actor, *, area: Area, at: dt.datetime, note: str) -> None:
    if (
        not getattr(actor, "is_authenticated", False)
        or not actor.grants.filter(role__in=LEADER_ROLES).exists()
    ):
        raise PermissionDenied(_("Only leaders log visits."))
    if not in_scope(actor, area.code):
        raise PermissionDenied(_("You can only log visits to places in your own area."))
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError(_("A visit cannot be in the future."), code="at")
    if not note.strip():
        raise ValidationError(_("Say what was done."), code="note")
    if len(note) > MAX_NOTE:
        raise ValidationError(_("Keep the note under %(n)d characters.") % {"n": MAX_NOTE}, code="note")


@transaction.atomic
def do_log_visit(actor, *, area: Area, note: str, at: dt.datetime | None = None, request=None) -> Visit:
    at = at or timezone.now()
    check_log_visit(actor, area=area, at=at, note=note)
    visit = Visit.objects.create(leader=actor, area=area, at=at, note=note.strip())
    record(
        actor=actor,
        action=Action.CREATE,
        object_type="cockpit.visit",
        object_id=visit.pk,
        object_label=f"{area.code} {timezone.localtime(at):%Y-%m-%d}",
        area_code=area.code,
        fields=["note"],
        request=request,
    )
    return visit
