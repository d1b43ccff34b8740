"""Demo activity: cases and disputes at every stage over the last months, so that lists, clocks,
figures and the cockpit have something to show. Deterministic for a seed; written through the same
workflows as real work (with two demo staff recorded as handler and verifier), never by hand.

Runs once: a database that already has cases is left as it is.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.cases import actions as case_actions
from grassroots.cases import workflow
from grassroots.cases.choices import Channel
from grassroots.cases.models import Case, Category, Unit
from grassroots.cases.sweep import sweep
from grassroots.disputes import actions as dispute_actions
from grassroots.disputes.choices import DisputeType, Party, Source

DAYS = 180


@dataclass
class ActivityReport:
    cases: int = 0
    closed: int = 0
    escalated: int = 0
    disputes: int = 0

    def __str__(self) -> str:
        return (
            f"{self.cases} cases ({self.closed} closed, {self.escalated} escalated), {self.disputes} disputes"
        )


def _staff(username: str, full_name: str) -> User:
    user, _ = User.objects.get_or_create(
        username=username, defaults={"full_name": full_name, "is_active": True}
    )
    if user.has_usable_password():  # recorded as actors only; nobody signs in as them
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def seed_activity(city: str = "1403", *, cases: int = 600, disputes_in: str = "140302", seed: int = 2026):
    """Cases across the city and disputes in one district, at every stage, over ``DAYS`` days."""
    report = ActivityReport()
    if Case.objects.exists():
        return report
    rng = random.Random(seed)
    resolver = _staff("demo_handler", "处置人员（演示）")
    verifier = _staff("demo_verifier", "核查人员（演示）")
    categories = list(Category.objects.filter(active=True).prefetch_related("attributes"))
    grids = list(Area.objects.within(city).filter(level=Level.GRID).values_list("code", flat=True))
    if not categories or not grids:
        return report
    now = timezone.now()
    for _ in range(cases):
        category = rng.choice(categories)
        if any(a.required for a in category.attributes.all()):
            category = next(
                (c for c in categories if not any(a.required for a in c.attributes.all())), category
            )
        grid = Area.objects.get(code=rng.choice(grids))
        # Most reports are recent (an exponential spread), the oldest half a year back.
        age_days = min(rng.expovariate(1 / 30), DAYS)
        created = now - dt.timedelta(days=age_days, minutes=rng.randint(0, 600))
        with transaction.atomic():
            case = case_actions.do_report(
                None,
                category=category,
                area=grid,
                title=category.name,
                description=f"{grid.display_name}附近，居民反映：{category.name}。",
                channel=Channel.PUBLIC,
                contact_name="",
                now=created,
            ).case
            report.cases += 1
            _progress(case, rng, created, now, resolver, verifier, report)
    _seed_disputes(disputes_in, rng, report)
    sweep(now)  # clocks that ran out while the demo was "away": warnings, overdue, escalations
    return report


OPEN_STAGES = ["reported", "accepted", "working", "resolved"]


def _progress(
    case: Case, rng: random.Random, created, now, resolver, verifier, report: ActivityReport
) -> None:
    """Move a case on as far as its age makes plausible: recent ones are still open at some stage,
    older ones closed; a few were escalated before being accepted."""
    age = (now - created).total_seconds() / 86400
    open_share = 0.9 if age < 1 else 0.6 if age < 3 else 0.25 if age < 7 else 0.04
    stop = rng.choice(OPEN_STAGES) if rng.random() < open_share else "closed"
    moment = created

    def step(actor, action, hours, **kwargs):
        nonlocal moment, case
        moment = min(moment + dt.timedelta(hours=hours), now)
        case = workflow.apply(actor, case, action, system=True, now=moment, **kwargs)

    if stop == "reported":
        return
    if rng.random() < 0.08:
        step(verifier, "escalate", rng.uniform(1, 6), note="需上级协调")
        report.escalated += 1
    step(verifier, "accept", rng.uniform(0.5, 3))
    if stop == "accepted":
        return
    unit = Unit.objects.filter(area_id=case.holder_id, active=True).first()
    if unit and rng.random() < 0.7:
        step(verifier, "dispatch", rng.uniform(0.5, 4), unit=unit)
        step(resolver, "start", rng.uniform(1, 12))
    else:
        step(resolver, "handle", rng.uniform(0.5, 4))
    if stop == "working":
        return
    step(resolver, "resolve", rng.uniform(4, 72), note="已处置完毕，现场已恢复。")
    if stop == "resolved":
        return
    step(verifier, "verify", rng.uniform(1, 16))
    step(verifier, "close", rng.uniform(0.5, 8), satisfaction=rng.choices([5, 4, 3, 2], [60, 28, 9, 3])[0])
    report.closed += 1


def _seed_disputes(district: str, rng: random.Random, report: ActivityReport) -> None:
    actor = User.objects.filter(grants__area_id=district, grants__role="district_staff").first()
    if actor is None:
        return
    places = list(Area.objects.within(district).filter(level=Level.GRID).values_list("code", flat=True))
    surnames = "王李张刘陈杨赵黄周吴"
    for i in range(60):
        area = Area.objects.get(code=rng.choice(places))
        kind = rng.choices(
            [DisputeType.FAMILY, DisputeType.NEIGHBOURS, DisputeType.PROPERTY, DisputeType.WAGES],
            [45, 30, 15, 10],
        )[0]
        inputs = {
            "children": rng.random() < 0.5,
            "police_calls": rng.choices([0, 1, 2, 3], [60, 25, 10, 5])[0],
            "alcohol": rng.random() < 0.15,
            "violence": rng.random() < 0.08,
            "threats": rng.random() < 0.06,
        }
        with transaction.atomic():
            dispute = dispute_actions.do_record(
                actor,
                type=kind,
                title=f"{kind.label}纠纷（演示{i + 1}）",
                description="网格员走访时发现，双方多次争吵。",
                area=area,
                source=rng.choice([Source.PATROL, Source.WALK_IN, Source.HOTLINE]),
                parties=[
                    {"role": Party.APPLICANT, "name": rng.choice(surnames) + "某"},
                    {"role": Party.RESPONDENT, "name": rng.choice(surnames) + "某"},
                ],
                inputs=inputs,
            )
            report.disputes += 1
            if rng.random() < 0.45:
                dispute_actions.do_follow_up(actor, dispute, note="上门回访，双方情绪稳定。")
            if rng.random() < 0.35:
                dispute_actions.do_settle(actor, dispute, note="经调解双方达成一致。")
