"""The case state machine: transitions as data, rights, clocks, tiers, and random walks through it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from grassroots.accounts.choices import Role
from grassroots.areas.models import Area
from grassroots.cases import actions, workflow
from grassroots.cases.choices import FINAL_STATUSES, Clock, Status
from grassroots.cases.models import Case, CaseEvent, Category, Unit
from grassroots.conftest import COMMUNITY, DISTRICT, GRID, OTHER_COMMUNITY, STREET
from grassroots.core.models import CalendarDay
from grassroots.core.workcalendar import forget

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)


@pytest.fixture
def world(make_user):
    forget()
    category = Category.objects.create(
        code="fire-lane", name="消防通道堵塞", group="公共安全", accept_hours=4
    )
    unit = Unit.objects.create(name="油娄沟社区物业组", area_id=COMMUNITY)
    people = {
        "reporter": make_user("gw", Role.GRID_WORKER, GRID),
        "staff": make_user("cs1", Role.COMMUNITY_STAFF, COMMUNITY),
        "colleague": make_user("cs2", Role.COMMUNITY_STAFF, COMMUNITY),
        "street": make_user("st", Role.STREET_STAFF, STREET),
        "district": make_user("ds", Role.DISTRICT_STAFF, DISTRICT),
        "outsider": make_user("out", Role.COMMUNITY_STAFF, OTHER_COMMUNITY),
        "worker": make_user("unit1", Role.GRID_WORKER, GRID),
    }
    unit.members.add(people["worker"])
    return {"category": category, "unit": unit, **people}


def report(world, **kwargs) -> Case:
    return actions.do_report(
        world["reporter"],
        category=world["category"],
        area=Area.objects.get(code=GRID),
        title="消防通道被堵",
        description="3号楼前消防通道停满车辆",
        now=kwargs.pop("now", MONDAY),
        **kwargs,
    ).case


def test_happy_path_with_independent_verification(world):
    case = report(world)
    assert (case.status, case.holder_id, case.level, case.clock) == (
        Status.REPORTED,
        COMMUNITY,
        5,
        Clock.ON_TIME,
    )
    # 4 working hours from Monday 09:00 → 13:00; warning at 75 % → 12:00
    assert case.deadline == dt.datetime(2026, 11, 23, 13, 0, tzinfo=TZ)
    assert case.warn_at == dt.datetime(2026, 11, 23, 12, 0, tzinfo=TZ)
    staff, worker = world["staff"], world["worker"]
    case = workflow.apply(staff, case, "accept")
    case = workflow.apply(staff, case, "dispatch", unit=world["unit"])
    case = workflow.apply(worker, case, "start")
    case = workflow.apply(worker, case, "resolve", note="车辆已挪走")
    with pytest.raises(PermissionDenied):
        workflow.apply(worker, case, "verify")  # a unit member is not the holder
    case = workflow.apply(staff, case, "verify")
    case = workflow.apply(staff, case, "close", satisfaction=5)
    assert case.status == Status.CLOSED and case.clock == Clock.STOPPED and case.closed_at
    assert list(case.events.values_list("action", flat=True)) == [
        "report", "accept", "dispatch", "start", "resolve", "verify", "close",
    ]  # fmt: skip


def test_the_resolver_cannot_verify_their_own_work(world):
    case = report(world)
    staff = world["staff"]
    case = workflow.apply(staff, case, "accept")
    case = workflow.apply(staff, case, "handle")
    case = workflow.apply(staff, case, "resolve", note="已处理")
    with pytest.raises(PermissionDenied):
        workflow.apply(staff, case, "verify")
    case = workflow.apply(world["colleague"], case, "verify")
    assert case.verified_by == world["colleague"]


def test_the_database_refuses_a_closure_without_independent_verification(world):
    case = report(world)
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(
            status=Status.CLOSED, resolved_by=world["staff"], verified_by=None
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(
            status=Status.CLOSED, resolved_by=world["staff"], verified_by=world["staff"]
        )


def test_failed_verification_sends_it_back(world):
    case = report(world)
    staff, worker = world["staff"], world["worker"]
    for actor, action, kwargs in [
        (staff, "accept", {}),
        (staff, "dispatch", {"unit": world["unit"]}),
        (worker, "start", {}),
        (worker, "resolve", {"note": "done"}),
    ]:
        case = workflow.apply(actor, case, action, **kwargs)
    with pytest.raises(ValidationError):
        workflow.apply(staff, case, "fail_verification")  # needs a reason
    case = workflow.apply(staff, case, "fail_verification", note="车辆仍在")
    assert case.status == Status.IN_PROGRESS and case.verified_by is None


def test_stale_form_is_refused(world):
    case = report(world)
    seen = case.version
    workflow.apply(world["staff"], case, "accept", version=seen)
    with pytest.raises(workflow.StaleCase):
        workflow.apply(world["colleague"], case, "reject", version=seen, note="重复")
    assert Case.objects.get(pk=case.pk).status == Status.ACCEPTED
    assert CaseEvent.objects.filter(case=case).count() == 2


def test_escalation_goes_one_level_up_with_a_reason(world):
    case = report(world)
    with pytest.raises(ValidationError):
        workflow.apply(world["staff"], case, "escalate")
    case = workflow.apply(world["staff"], case, "escalate", note="需要执法队")
    assert (case.holder_id, case.level, case.status, case.escalations) == (STREET, 4, Status.REPORTED, 1)
    with pytest.raises(PermissionDenied):
        workflow.apply(world["staff"], case, "accept")  # the community no longer holds it
    case = workflow.apply(world["street"], case, "accept")
    case = workflow.apply(world["street"], case, "escalate", note="跨街道")
    assert (case.holder_id, case.level, case.highest_level) == (DISTRICT, 3, 3)
    assert case.origin_level == 5


def test_category_handled_above_the_community_starts_there(world):
    world["category"].handling_level = 4
    world["category"].save()
    case = report(world)
    assert (case.holder_id, case.level, case.origin_level) == (STREET, 4, 4)


def test_grid_worker_resolves_on_the_spot_and_the_community_verifies(world):
    case = report(world)
    case = workflow.apply(world["reporter"], case, "resolve_on_spot", note="已劝离车辆")
    assert case.status == Status.RESOLVED and case.resolved_by == world["reporter"]
    case = workflow.apply(world["staff"], case, "verify")
    assert case.status == Status.VERIFIED


def test_outsider_cannot_touch_the_case(world):
    case = report(world)
    for action in ("accept", "reject", "escalate"):
        with pytest.raises(PermissionDenied):
            workflow.apply(world["outsider"], case, action, note="x")
    assert Case.objects.visible_to(world["outsider"]).filter(pk=case.pk).count() == 0
    assert Case.objects.visible_to(world["street"]).filter(pk=case.pk).count() == 1
    # a unit member outside the tree sees the cases dispatched to the unit
    assert Case.objects.visible_to(world["worker"]).filter(pk=case.pk).count() == 1


def test_merge_reopen_and_pause(world):
    first, second = report(world), report(world)
    staff = world["staff"]
    with pytest.raises(ValidationError):
        workflow.apply(staff, second, "merge", into=second)
    second = workflow.apply(staff, second, "merge", into=first)
    assert second.status == Status.MERGED and second.merged_into == first
    case = workflow.apply(staff, first, "accept")
    case = workflow.apply(staff, case, "handle")
    deadline = case.deadline
    case = workflow.pause(staff, case, note="等待居民开门", now=dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ))
    assert case.clock == Clock.PAUSED
    with pytest.raises(ValidationError):
        workflow.pause(staff, case, note="again")
    case = workflow.resume(staff, case, now=dt.datetime(2026, 11, 23, 12, 0, tzinfo=TZ))
    # two working hours paused move the deadline by two working hours
    from grassroots.core.workcalendar import calendar

    assert case.deadline == calendar().add_hours(deadline, 2)
    case = workflow.apply(staff, case, "resolve", note="done")
    case = workflow.apply(world["colleague"], case, "verify")
    case = workflow.apply(world["colleague"], case, "close", satisfaction=4)
    case = workflow.apply(staff, case, "reopen", note="又堵上了")
    assert case.status == Status.ACCEPTED and case.reopen_count == 1 and case.verified_by is None


def test_holidays_and_swapped_working_days_move_deadlines(world):
    CalendarDay.objects.get_or_create(
        date=dt.date(2026, 10, 1), defaults={"is_workday": False, "name": "国庆节"}
    )
    for day in range(2, 8):
        CalendarDay.objects.get_or_create(
            date=dt.date(2026, 10, day), defaults={"is_workday": False, "name": "国庆"}
        )
    CalendarDay.objects.get_or_create(
        date=dt.date(2026, 10, 10), defaults={"is_workday": True, "name": "调休"}
    )
    forget()
    world["category"].handle_limit = 3
    world["category"].save()
    case = report(world, now=dt.datetime(2026, 9, 30, 16, 0, tzinfo=TZ))
    case = workflow.apply(world["staff"], case, "accept", now=dt.datetime(2026, 9, 30, 16, 30, tzinfo=TZ))
    case = workflow.apply(
        world["staff"], case, "dispatch", unit=world["unit"], now=dt.datetime(2026, 9, 30, 17, 0, tzinfo=TZ)
    )
    # 3 working days after Wed 30 Sep: holidays 1–7 Oct, Thu 8, Fri 9, Sat 10 (worked) → close of Sat 10 Oct
    assert case.deadline == dt.datetime(2026, 10, 10, 17, 30, tzinfo=TZ)


ACTORS = ["reporter", "staff", "colleague", "street", "outsider", "worker"]
ACTIONS = [*workflow.TRANSITIONS, "pause", "resume"]


@hsettings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(ACTORS), st.sampled_from(ACTIONS)), min_size=1, max_size=25))
def test_random_walks_never_reach_an_illegal_state(world, steps):
    """Random actors trying random actions: every success is a legal transition with exactly one
    timeline entry; every refusal leaves the case untouched."""
    case = report(world)
    other = report(world)
    allowed = {(source, t.target) for t in workflow.TRANSITIONS.values() for source in t.sources}
    for who, action in steps:
        before = Case.objects.get(pk=case.pk)
        events_before = CaseEvent.objects.filter(case=case).count()
        kwargs = {"note": "理由"}
        if action == "dispatch":
            kwargs["unit"] = world["unit"]
        if action == "merge":
            kwargs["into"] = other
        if action == "close":
            kwargs["satisfaction"] = 3
        try:
            if action == "pause":
                workflow.pause(world[who], before, note="等待")
            elif action == "resume":
                workflow.resume(world[who], before)
            else:
                workflow.apply(world[who], before, action, version=before.version, **kwargs)
        except (PermissionDenied, ValidationError):
            after = Case.objects.get(pk=case.pk)
            assert (after.status, after.version, after.holder_id) == (
                before.status,
                before.version,
                before.holder_id,
            )
            assert CaseEvent.objects.filter(case=case).count() == events_before
            continue
        after = Case.objects.get(pk=case.pk)
        assert CaseEvent.objects.filter(case=case).count() == events_before + 1
        assert after.version == before.version + 1
        if action not in ("pause", "resume"):
            assert (before.status, after.status) in allowed
        assert 2 <= after.level <= 5 and len(after.holder_id) == {2: 4, 3: 6, 4: 9, 5: 12}[after.level]
        assert after.area_id.startswith(after.holder_id)
        assert after.highest_level <= after.level and after.highest_level <= after.origin_level
        if after.status == Status.CLOSED:
            assert after.verified_by_id and after.verified_by_id != after.resolved_by_id
        if after.status in FINAL_STATUSES:
            assert after.clock == Clock.STOPPED and after.deadline is None
        else:
            assert after.deadline is not None
