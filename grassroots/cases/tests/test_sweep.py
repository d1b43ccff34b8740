"""The clock sweep with a controllable clock, the worker command, and the per-node figures."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from grassroots.accounts.choices import Role
from grassroots.areas.models import Area
from grassroots.cases import actions, metrics, workflow
from grassroots.cases.choices import Clock, NoticeKind, Status, SupervisionStatus
from grassroots.cases.models import Case, CaseEvent, Category, Notice, SupervisionOrder, Unit
from grassroots.cases.sweep import sweep
from grassroots.conftest import COLLEAGUE_GRID, COMMUNITY, DISTRICT, GRID, SIBLING_COMMUNITY, STREET
from grassroots.core.workcalendar import forget

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_9 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)


def at(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def world(make_user):
    forget()
    return {
        "category": Category.objects.create(code="lamp", name="路灯损坏", group="道路设施", accept_hours=4),
        "reporter": make_user("gw", Role.GRID_WORKER, GRID),
        "staff": make_user("cs", Role.COMMUNITY_STAFF, COMMUNITY),
        "street": make_user("st", Role.STREET_STAFF, STREET),
        "district": make_user("ds", Role.DISTRICT_STAFF, DISTRICT),
    }


def report(world, code=GRID, now=MONDAY_9) -> Case:
    return actions.do_report(
        (world["reporter"] if code.startswith(GRID) else world["staff"])
        if code.startswith(COMMUNITY)
        else None,
        category=world["category"],
        area=Area.objects.get(code=code),
        title="路灯不亮",
        description="小区门口路灯不亮",
        channel="staff" if code.startswith(COMMUNITY) else "public",
        now=now,
    ).case


def test_idle_tick_changes_nothing(world):
    report(world)
    Notice.objects.all().delete()
    result = sweep(now=at(11))  # before the warning time (12:00)
    assert result.changed == 0
    assert Notice.objects.count() == 0
    assert Case.objects.get().clock == Clock.ON_TIME


def test_warning_then_overdue_then_escalation(world):
    case = report(world)
    Notice.objects.all().delete()

    result = sweep(now=at(12, 1))
    assert (result.warned, result.overdue, result.escalated) == (1, 0, 0)
    case.refresh_from_db()
    assert case.clock == Clock.WARNING
    assert list(Notice.objects.values_list("user__username", "kind")) == [("cs", NoticeKind.WARNING)]
    assert sweep(now=at(12, 2)).changed == 0  # warned once only

    result = sweep(now=at(13, 1))
    assert (result.overdue, result.escalated) == (1, 1)
    case.refresh_from_db()
    assert (case.status, case.holder_id, case.level, case.clock) == (
        Status.REPORTED,
        STREET,
        4,
        Clock.ON_TIME,
    )
    assert case.was_overdue and case.escalations == 1 and case.highest_level == 4
    # a fresh accept clock at the street: 4 working hours from 13:01
    assert case.deadline == at(17, 1)
    event = CaseEvent.objects.filter(case=case).last()
    assert (event.action, event.from_level, event.to_level, event.to_status) == (
        "escalate",
        5,
        4,
        Status.REPORTED,
    )
    kinds = set(Notice.objects.values_list("user__username", "kind"))
    assert ("cs", NoticeKind.OVERDUE) in kinds and ("st", NoticeKind.ESCALATED) in kinds
    # the street accepts it in time: nothing more happens
    case = workflow.apply(world["street"], case, "accept", now=at(14))
    assert sweep(now=at(14, 30)).changed == 0


def test_paused_and_closed_clocks_are_left_alone(world):
    paused, closed = report(world), report(world)
    staff = world["staff"]
    paused = workflow.apply(staff, paused, "accept", now=at(9, 10))
    paused = workflow.apply(staff, paused, "handle", now=at(9, 20))
    workflow.pause(staff, paused, note="等待配件", now=at(9, 30))
    workflow.apply(staff, closed, "reject", note="重复", now=at(9, 40))
    assert sweep(now=at(17, 0, day=30)).changed == 0


def test_categories_that_do_not_escalate_stay_overdue(world):
    world["category"].escalate_when_overdue = False
    world["category"].save()
    case = report(world)
    result = sweep(now=at(15))
    assert (result.overdue, result.escalated) == (1, 0)
    case.refresh_from_db()
    assert (case.clock, case.holder_id) == (Clock.OVERDUE, COMMUNITY)


def test_the_number_of_statements_does_not_grow_with_the_cases(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    report(world)
    with CaptureQueriesContext(connection) as one:
        assert sweep(now=at(16)).escalated == 1
    for _ in range(30):
        report(world, now=at(16, 30))
    with CaptureQueriesContext(connection) as many:
        result = sweep(now=at(17, 0, day=24))
    assert len(many) <= len(one)
    assert result.escalated == 31  # the first again (street → district) and the 30 new ones
    assert set(Case.objects.values_list("holder_id", flat=True)) == {STREET, DISTRICT}


def test_late_supervision_orders_are_reported_once(world):
    case = report(world)
    SupervisionOrder.objects.create(
        case=case, issued_by=world["district"], level=3, note="限期处理", deadline=at(10)
    )
    Notice.objects.all().delete()
    assert sweep(now=at(10, 30)).supervision_late == 1
    assert SupervisionOrder.objects.get().status == SupervisionStatus.LATE
    assert list(Notice.objects.values_list("user__username", flat=True)) == ["ds"]
    assert sweep(now=at(10, 31)).supervision_late == 0


def test_worker_once_runs_the_sweep(world, capsys):
    report(world)
    call_command("worker", "--once")
    out = capsys.readouterr().out
    assert "grassroots.cases.sweep.sweep" in out


def test_figures_roll_up_and_equal_the_lists(world, make_user):
    unit = Unit.objects.create(name="物业", area_id=COMMUNITY)
    other = make_user("cs2", Role.COMMUNITY_STAFF, COMMUNITY)
    staff = world["staff"]
    closed_ok = report(world)
    for action, kwargs, who in [
        ("accept", {}, staff),
        ("handle", {}, staff),
        ("resolve", {"note": "ok"}, staff),
        ("verify", {}, other),
        ("close", {"satisfaction": 5}, other),
    ]:
        closed_ok = workflow.apply(who, closed_ok, action, **kwargs, now=at(10))
    escalated = report(world, code=COLLEAGUE_GRID)
    workflow.apply(staff, escalated, "escalate", note="需要街道")
    report(world, code=SIBLING_COMMUNITY)  # a public report placed at a whole community
    assert unit.pk

    total = metrics.node_figures(STREET)
    rows = metrics.child_figures(STREET)
    assert total.volume == 3 == Case.objects.within(STREET).count()
    assert sum(row.volume for row in rows) == total.volume
    assert {row.code: row.volume for row in rows} == {COMMUNITY: 2, SIBLING_COMMUNITY: 1}
    assert (total.closed, total.closed_on_time, total.closed_at_own_level) == (1, 1, 1)
    assert total.on_time_rate == 1.0 and total.escalation_rate == round(1 / 3, 4)
    assert total.satisfaction == 5.0
    grids = metrics.child_figures(COMMUNITY)
    assert {row.code: row.volume for row in grids} == {GRID: 1, COLLEAGUE_GRID: 1}
