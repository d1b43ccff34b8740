"""Dispute workflows: record and grade, incidents, follow-ups, mediation, agreements, referral, settlement.

Each ``do_*`` checks the actor's right, changes data, writes the timeline entry and (for confidential
reads and writes) the audit entry in one transaction. The periodic :func:`sweep` raises the colour of
disputes whose follow-up was missed and lowers it after a stable period, set-based.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.choices import MEDIATION_ROLES, STAFF_ROLES, Role
from grassroots.accounts.models import Grant
from grassroots.accounts.scope import in_scope
from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.registry.protect import seal_phone

from .choices import (
    ACTIVE_STATUSES,
    COLOUR_ORDER,
    Colour,
    DisputeType,
    GradingReason,
    Party,
    ReferralKind,
    ReferralOutcome,
    Source,
    Status,
    less_serious,
    more_serious,
)
from .grading import DEFAULT_RULES, grade, validate_rules
from .models import (
    Agreement,
    Dispute,
    DisputeEvent,
    DisputeParty,
    FollowUp,
    Grading,
    Incident,
    MediationSession,
    Referral,
    RuleSet,
    Station,
)

HANDLER_ROLES = STAFF_ROLES - {Role.CITY_ADMIN}


# --- rules ----------------------------------------------------------------------------------------


def active_rules() -> RuleSet:
    rules = RuleSet.objects.filter(active=True).first()
    if rules is None:  # a fresh database: the shipped default is version 1
        rules = RuleSet.objects.create(version=1, active=True, **DEFAULT_RULES)
    return rules


@transaction.atomic
def do_publish_rules(
    actor, *, name: str, indicators: list, thresholds: dict, policies: dict, stable_days: int, note: str = ""
) -> RuleSet:
    """A city administrator publishes a new version; earlier versions stay as they were."""
    if not actor.grants.filter(role=Role.CITY_ADMIN).exists():
        raise PermissionDenied(_("Only a city administrator changes the grading rules."))
    validate_rules(indicators, thresholds, policies)
    if stable_days < 1:
        raise ValidationError(_("The stable period is at least one day."))
    current = active_rules()
    RuleSet.objects.filter(pk=current.pk).update(active=False)
    rules = RuleSet.objects.create(
        version=current.version + 1,
        name=name,
        indicators=indicators,
        thresholds=thresholds,
        policies=policies,
        stable_days=stable_days,
        note=note,
        created_by=actor,
        active=True,
    )
    record(
        actor=actor,
        action=Action.UPDATE,
        object_type="disputes.ruleset",
        object_id=rules.pk,
        object_label=f"v{rules.version}",
        area_code="",
        fields=["rules"],
    )
    return rules


# --- rights ---------------------------------------------------------------------------------------


def is_assigned(actor, dispute: Dispute) -> bool:
    return getattr(actor, "is_authenticated", False) and actor.pk in (
        dispute.mediator_id,
        dispute.legal_adviser_id,
    )


def can_handle(actor, dispute: Dispute) -> bool:
    """Officials below the city whose scope covers the place, the leader who took it, and the
    mediator or adviser assigned to it."""
    if not getattr(actor, "is_authenticated", False):
        return False
    return (
        in_scope(actor, dispute.area_id, HANDLER_ROLES)
        or dispute.leader_id == actor.pk
        or (is_assigned(actor, dispute) and in_scope(actor, dispute.area_id, MEDIATION_ROLES))
    )


def check_can_handle(actor, dispute: Dispute) -> None:
    if not can_handle(actor, dispute):
        raise PermissionDenied(_("You may not act on this dispute."))


def check_active(dispute: Dispute) -> None:
    if dispute.status not in ACTIVE_STATUSES:
        raise ValidationError(_("This dispute is closed; nothing more can be logged."), code="closed")


def _name(actor) -> str:
    return actor.display_name if getattr(actor, "is_authenticated", False) else _("system")


def _event(dispute: Dispute, actor, action: str, note: str = "", colour: str = "", at=None) -> None:
    DisputeEvent.objects.create(
        dispute=dispute,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=_name(actor),
        action=action,
        note=note,
        colour=colour,
        at=at or timezone.now(),
    )


def _audit(actor, dispute: Dispute, action: str, fields=(), request=None) -> None:
    record(
        actor=actor,
        action=action,
        object_type="disputes.dispute",
        object_id=dispute.pk,
        object_label=dispute.number,
        area_code=dispute.area_id,
        fields=fields,
        request=request,
    )


# --- grading and colour ---------------------------------------------------------------------------


def _apply_policy(dispute: Dispute, rules: RuleSet, now: dt.datetime) -> None:
    """Holder, response deadline and follow-up interval for the dispute's colour. The holder only
    ever rises by rule (a red dispute goes to the street); it never drops below where it is."""
    policy = rules.policies[dispute.colour]
    level = min(int(policy["level"]), dispute.level)
    if level != dispute.level:
        dispute.holder = Area.objects.get(code=dispute.area_id[: LENGTH_BY_LEVEL[level]])
        dispute.level = level
    dispute.respond_by = now + dt.timedelta(hours=policy.get("respond_hours", 24))
    dispute.next_follow_up = now + dt.timedelta(days=policy["follow_up_days"])


def _regrade(dispute: Dispute, actor, reason: str, *, at_least: str | None = None, now=None) -> Grading:
    now = now or timezone.now()
    rules = active_rules()
    result = grade(rules.indicators, rules.thresholds, dispute.inputs)
    colour = result.colour
    if at_least and COLOUR_ORDER.index(Colour(at_least)) < COLOUR_ORDER.index(Colour(colour)):
        colour = at_least
    grading = Grading.objects.create(
        dispute=dispute,
        rules=rules,
        reason=reason,
        inputs=result.inputs,
        assumed=result.assumed,
        score=result.score,
        computed_colour=result.colour,
        colour=colour,
        explanation=result.explanation,
        by=actor if getattr(actor, "is_authenticated", False) else None,
        at=now,
    )
    changed = colour != dispute.colour
    dispute.score, dispute.grading = result.score, grading
    # A new incident restarts the stable period even when the colour cannot rise any further.
    if changed or reason in (GradingReason.INITIAL, GradingReason.INCIDENT):
        dispute.colour, dispute.colour_since = colour, now
    _apply_policy(dispute, rules, now)
    dispute.save()
    _event(
        dispute,
        actor,
        "graded",
        colour=colour,
        at=now,
        note=_("score %(score)d under rules v%(version)d")
        % {"score": result.score, "version": rules.version},
    )
    if rules.policies[colour].get("leader") and not dispute.leader_id:
        from grassroots.cases.notify import notify

        leaders = _leaders_at(dispute.holder_id)
        if leaders:
            notify(
                leaders,
                "escalated",
                _("Red dispute %(number)s needs a leader today") % {"number": dispute.number},
            )
    return grading


def _leaders_at(code: str):
    from grassroots.accounts.models import User

    return list(
        User.objects.filter(
            is_active=True, grants__area_id=code, grants__role__in=[Role.STREET_STAFF, Role.DISTRICT_STAFF]
        ).distinct()
    )


@transaction.atomic
def do_record(
    actor,
    *,
    type: str,
    title: str,
    description: str,
    area: Area,
    source: str,
    parties: list[dict],
    inputs: dict | None = None,
    case=None,
    request=None,
) -> Dispute:
    """Record a dispute and grade it. ``parties``: [{"role", "name", "phone"?, "resident"?}]."""
    if not in_scope(actor, area.code, HANDLER_ROLES):
        raise PermissionDenied(_("You can only record disputes in your own area."))
    if area.level < Level.COMMUNITY:
        raise ValidationError(_("Say in which community or grid it arose."), code="area")
    if type not in DisputeType.values or source not in Source.values:
        raise ValidationError(_("Unknown type or source."), code="type")
    if not title.strip() or not description.strip():
        raise ValidationError(_("A title and a description are required."), code="required")
    if not any(p.get("name", "").strip() for p in parties):
        raise ValidationError(_("Name at least one party."), code="parties")
    now = timezone.now()
    community = Area.objects.get(code=area.code[:12])
    dispute = Dispute(
        number=f"tmp-{uuid.uuid4().hex[:16]}",
        type=type,
        title=title.strip()[:100],
        description=description.strip(),
        area=area,
        holder=community,
        level=Level.COMMUNITY,
        origin_level=Level.COMMUNITY,
        source=source,
        case=case,
        colour=Colour.GREEN,
        inputs={},
        created_by=actor,
        created_at=now,
    )
    rules = active_rules()
    grade(rules.indicators, rules.thresholds, inputs or {})  # refuses unknown or malformed indicators
    dispute.inputs = {k: v for k, v in (inputs or {}).items() if v not in (None, "")}
    dispute.save()
    dispute.number = f"MD{timezone.localtime(now):%Y%m%d}{dispute.pk:06d}"
    Dispute.objects.filter(pk=dispute.pk).update(number=dispute.number)
    for party in parties:
        name = (party.get("name") or "").strip()
        if not name:
            continue
        if party.get("role", Party.OTHER) not in Party.values:
            raise ValidationError(_("Unknown party role."), code="party")
        phone = seal_phone(party.get("phone", ""))
        DisputeParty.objects.create(
            dispute=dispute,
            role=party.get("role", Party.OTHER),
            name=name[:50],
            resident=party.get("resident"),
            phone_enc=phone["enc"],
            phone_masked=phone["masked"],
        )
    _event(dispute, actor, "recorded", at=now)
    _regrade(dispute, actor, GradingReason.INITIAL, now=now)
    dispute.origin_level = dispute.level
    Dispute.objects.filter(pk=dispute.pk).update(origin_level=dispute.level)
    _audit(actor, dispute, Action.CREATE, fields=["parties", "description"], request=request)
    return dispute


@transaction.atomic
def do_update_indicators(actor, dispute: Dispute, *, inputs: dict, request=None) -> Grading:
    check_can_handle(actor, dispute)
    check_active(dispute)
    dispute.inputs = {**dispute.inputs, **{k: v for k, v in inputs.items() if v not in (None, "")}}
    grading = _regrade(dispute, actor, GradingReason.REVIEW)
    _audit(actor, dispute, Action.UPDATE, fields=["inputs"], request=request)
    return grading


@transaction.atomic
def do_log_incident(
    actor,
    dispute: Dispute,
    *,
    description: str,
    police_called: bool = False,
    violence: bool = False,
    at=None,
    request=None,
) -> Incident:
    """A new incident raises the colour by at least one step."""
    check_can_handle(actor, dispute)
    check_active(dispute)
    if not description.strip():
        raise ValidationError(_("Describe what happened."), code="description")
    at = at or timezone.now()
    incident = Incident.objects.create(
        dispute=dispute,
        at=at,
        description=description.strip(),
        police_called=police_called,
        violence=violence,
        recorded_by=actor,
    )
    inputs = dict(dispute.inputs)
    if police_called:
        inputs["police_calls"] = float(inputs.get("police_calls", 0) or 0) + 1
    if violence:
        inputs["violence"] = True
    dispute.inputs = inputs
    _event(dispute, actor, "incident", note=description.strip(), at=at)
    _regrade(dispute, actor, GradingReason.INCIDENT, at_least=more_serious(dispute.colour))
    _audit(actor, dispute, Action.EVENT, fields=["incident"], request=request)
    return incident


@transaction.atomic
def do_follow_up(actor, dispute: Dispute, *, note: str, kind: str = "visit", request=None) -> FollowUp:
    check_can_handle(actor, dispute)
    check_active(dispute)
    if not note.strip():
        raise ValidationError(_("Write what you found."), code="note")
    now = timezone.now()
    due = dispute.next_follow_up or now
    follow = FollowUp.objects.create(
        dispute=dispute, due=due, done_at=now, on_time=now <= due, kind=kind, note=note.strip(), by=actor
    )
    days = active_rules().policies[dispute.colour]["follow_up_days"]
    Dispute.objects.filter(pk=dispute.pk).update(next_follow_up=now + dt.timedelta(days=days))
    dispute.refresh_from_db()
    _event(dispute, actor, "follow_up", note=note.strip(), at=now)
    return follow


# --- mediation, agreement, referral, settlement ---------------------------------------------------


@transaction.atomic
def do_assign(actor, dispute: Dispute, *, mediator=None, legal_adviser=None) -> Dispute:
    """Assign a people's mediator and/or the legal adviser serving the place."""
    if not in_scope(actor, dispute.area_id, HANDLER_ROLES):
        raise PermissionDenied(_("You may not assign mediators here."))
    for person, role in ((mediator, Role.MEDIATOR), (legal_adviser, Role.LEGAL_ADVISER)):
        if person is None:
            continue
        codes = Grant.objects.filter(user=person, role=role).values_list("area_id", flat=True)
        if not any(dispute.area_id.startswith(code) for code in codes):
            raise ValidationError(_("%(name)s does not serve this place.") % {"name": person.display_name})
    if mediator is not None:
        dispute.mediator = mediator
    if legal_adviser is not None:
        dispute.legal_adviser = legal_adviser
    dispute.save(update_fields=["mediator", "legal_adviser"])
    names = ", ".join(p.display_name for p in (mediator, legal_adviser) if p)
    _event(dispute, actor, "assigned", note=names)
    return dispute


@transaction.atomic
def do_session(
    actor,
    dispute: Dispute,
    *,
    held_at: dt.datetime,
    attendees: str,
    notes: str,
    agreed: bool = False,
    station: Station | None = None,
    place: str = "",
) -> MediationSession:
    check_can_handle(actor, dispute)
    check_active(dispute)
    if not attendees.strip() or not notes.strip():
        raise ValidationError(_("Record who attended and what was said."), code="required")
    if held_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError(_("A session is recorded after it was held."), code="future")
    session = MediationSession.objects.create(
        dispute=dispute,
        held_at=held_at,
        station=station,
        place=place,
        attendees=attendees.strip(),
        notes=notes.strip(),
        agreed=agreed,
        recorded_by=actor,
    )
    if is_assigned(actor, dispute) or in_scope(actor, dispute.area_id, MEDIATION_ROLES):
        session.mediators.add(actor)
    status = Status.AGREED if agreed else Status.MEDIATING
    Dispute.objects.filter(pk=dispute.pk).update(status=status)
    dispute.status = status
    _event(dispute, actor, "session", note=notes.strip()[:500])
    return session


@transaction.atomic
def do_agreement(actor, dispute: Dispute, *, terms: str, performance: str = "") -> Agreement:
    check_can_handle(actor, dispute)
    check_active(dispute)
    if not terms.strip():
        raise ValidationError(_("Write the terms agreed."), code="terms")
    agreement = Agreement.objects.create(
        dispute=dispute, terms=terms.strip(), performance=performance.strip(), created_by=actor
    )
    Dispute.objects.filter(pk=dispute.pk).update(status=Status.AGREED)
    dispute.status = Status.AGREED
    _event(dispute, actor, "agreement")
    return agreement


@transaction.atomic
def do_sign_agreement(actor, agreement: Agreement, *, scan=None, signed_at=None) -> Agreement:
    check_can_handle(actor, agreement.dispute)
    agreement.signed_at = signed_at or timezone.now()
    if scan is not None:
        from grassroots.cases.actions import check_attachment

        check_attachment(scan, allow_pdf=True)
        agreement.scan = scan
    agreement.save()
    _event(agreement.dispute, actor, "signed")
    return agreement


@transaction.atomic
def do_refer(
    actor,
    dispute: Dispute,
    *,
    kind: str,
    body: str,
    reference: str = "",
    hearing_at: dt.datetime | None = None,
) -> Referral:
    """Mediation failed, or the parties chose: refer to arbitration, a ruling, a court, or ask a
    court to confirm the agreement. The dispute stays open until the outcome is known."""
    check_can_handle(actor, dispute)
    check_active(dispute)
    if kind not in ReferralKind.values:
        raise ValidationError(_("Choose where it is referred."), code="kind")
    if not body.strip():
        raise ValidationError(
            _("Name the receiving body (the court, the arbitration commission …)."), code="body"
        )
    if kind == ReferralKind.CONFIRMATION and not dispute.agreements.exists():
        raise ValidationError(_("Judicial confirmation needs a mediation agreement."), code="agreement")
    referral = Referral.objects.create(
        dispute=dispute,
        kind=kind,
        body=body.strip(),
        reference=reference.strip(),
        hearing_at=hearing_at,
        by=actor,
    )
    Dispute.objects.filter(pk=dispute.pk).update(status=Status.REFERRED)
    dispute.status = Status.REFERRED
    _event(dispute, actor, "referred", note=f"{ReferralKind(kind).label}: {body.strip()}")
    return referral


@transaction.atomic
def do_referral_outcome(actor, referral: Referral, *, outcome: str, note: str = "") -> Referral:
    check_can_handle(actor, referral.dispute)
    if outcome not in ReferralOutcome.values or outcome == ReferralOutcome.PENDING:
        raise ValidationError(_("Choose the outcome."), code="outcome")
    referral.outcome, referral.outcome_note, referral.outcome_at = outcome, note.strip(), timezone.now()
    referral.save()
    _event(
        referral.dispute, actor, "referral_outcome", note=f"{ReferralOutcome(outcome).label} {note.strip()}"
    )
    return referral


@transaction.atomic
def do_settle(actor, dispute: Dispute, *, note: str) -> Dispute:
    """Settled: where it was settled (the holder's level) is what 小事不出村、大事不出镇 measures."""
    check_can_handle(actor, dispute)
    check_active(dispute)
    if not note.strip():
        raise ValidationError(_("Say how it was settled."), code="note")
    if dispute.referrals.filter(outcome=ReferralOutcome.PENDING).exists():
        raise ValidationError(_("A referral is still pending; record its outcome first."), code="pending")
    now = timezone.now()
    Dispute.objects.filter(pk=dispute.pk).update(
        status=Status.SETTLED, settled_level=dispute.level, closed_at=now, next_follow_up=None
    )
    dispute.refresh_from_db()
    _event(dispute, actor, "settled", note=note.strip(), at=now)
    return dispute


@transaction.atomic
def do_escalate(actor, dispute: Dispute, *, reason: str) -> Dispute:
    """Send it up one level, with a reason (小事不出村、大事不出镇: only when it must)."""
    check_can_handle(actor, dispute)
    check_active(dispute)
    if not reason.strip():
        raise ValidationError(_("Give the reason for escalating."), code="reason")
    if dispute.level <= Level.DISTRICT:
        raise ValidationError(_("Disputes go no higher than the district here."), code="top")
    level = dispute.level - 1
    dispute.holder = Area.objects.get(code=dispute.area_id[: LENGTH_BY_LEVEL[level]])
    dispute.level = level
    dispute.save(update_fields=["holder", "level"])
    _event(dispute, actor, "escalated", note=reason.strip())
    return dispute


@transaction.atomic
def do_take(actor, dispute: Dispute) -> Dispute:
    """A leader answers for the dispute personally (包案)."""
    if not in_scope(
        actor, dispute.area_id, frozenset({Role.STREET_STAFF, Role.DISTRICT_STAFF, Role.CITY_ADMIN})
    ):
        raise PermissionDenied(_("Only a street, district or city leader can take a dispute."))
    Dispute.objects.filter(pk=dispute.pk).update(leader=actor)
    dispute.refresh_from_db()
    _event(dispute, actor, "taken")
    return dispute


# --- the periodic sweep (set-based) ---------------------------------------------------------------


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Missed follow-ups raise the colour one step; a stable period lowers it one step."""
    moment = now or timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(moment)
    rules = active_rules()
    table, grading, event = Dispute._meta.db_table, Grading._meta.db_table, DisputeEvent._meta.db_table
    active = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
    up = "CASE colour " + " ".join(f"WHEN '{c}' THEN '{more_serious(c)}'" for c in COLOUR_ORDER) + " END"
    down = "CASE colour " + " ".join(f"WHEN '{c}' THEN '{less_serious(c)}'" for c in COLOUR_ORDER) + " END"
    days = (
        "CASE colour "
        + " ".join(f"WHEN '{c}' THEN {int(rules.policies[c]['follow_up_days'])}" for c in COLOUR_ORDER)
        + " END"
    )
    stable_before = connection.ops.adapt_datetimefield_value(moment - dt.timedelta(days=rules.stable_days))
    result = {}
    with transaction.atomic(), connection.cursor() as cursor:
        missed = f"status IN ({active}) AND next_follow_up < %s"
        stable = (
            f"status IN ({active}) AND colour <> '{Colour.GREEN}' AND colour_since < %s "
            f"AND (next_follow_up IS NULL OR next_follow_up >= %s)"
        )
        for name, where, params, new_colour, reason in (
            ("raised", missed, [stamp], up, GradingReason.MISSED_FOLLOW_UP),
            ("lowered", stable, [stable_before, stamp], down, GradingReason.STABLE),
        ):
            explanation = json.dumps(
                [{"code": reason, "label": str(GradingReason(reason).label)}], ensure_ascii=False
            )
            cast = "::jsonb" if connection.vendor == "postgresql" else ""
            cursor.execute(
                f"INSERT INTO {grading} (dispute_id, rules_id, reason, inputs, assumed, score, "
                f"computed_colour, colour, explanation, at) SELECT id, %s, %s, inputs, %s{cast}, score, "
                f"colour, {new_colour}, %s{cast}, %s FROM {table} WHERE {where}",
                [rules.pk, reason, "{}", explanation, stamp, *params],
            )
            cursor.execute(
                f"INSERT INTO {event} (dispute_id, at, actor_name, action, colour, note) "
                f"SELECT id, %s, %s, %s, {new_colour}, %s FROM {table} WHERE {where}",
                [stamp, "system", "colour_" + name, str(GradingReason(reason).label), *params],
            )
            # the next follow-up is due after the new colour's interval (evaluated with the old colour's
            # CASE, so compute the interval from the new colour explicitly)
            new_days = days.replace("CASE colour", f"CASE {new_colour}")
            interval = (
                f"datetime(%s, '+' || ({new_days}) || ' days')"
                if connection.vendor == "sqlite"
                else f"(%s::timestamptz + make_interval(days => {new_days}))"
            )
            # A rise may call for a higher holder (red and orange go to the street); it never drops.
            policy_level = (
                f"CASE {new_colour} "
                + " ".join(f"WHEN '{c}' THEN {int(rules.policies[c]['level'])}" for c in COLOUR_ORDER)
                + " END"
            )
            holder = (
                "CASE "
                + " ".join(
                    f"WHEN ({policy_level}) = {lv} AND level > {lv} "
                    f"THEN SUBSTR(area_id, 1, {LENGTH_BY_LEVEL[lv]})"
                    for lv in (Level.CITY, Level.DISTRICT, Level.STREET)
                )
                + " ELSE holder_id END"
            )
            new_level = f"CASE WHEN ({policy_level}) < level THEN ({policy_level}) ELSE level END"
            raise_holder = f", holder_id = {holder}, level = {new_level}" if name == "raised" else ""
            cursor.execute(
                f"UPDATE {table} SET colour = {new_colour}, colour_since = %s, next_follow_up = {interval}"
                f"{raise_holder} WHERE {where}",
                [stamp, stamp, *params],
            )
            result[name] = cursor.rowcount
    return result
