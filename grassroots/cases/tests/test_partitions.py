"""The case history (``cases_caseevent``) in monthly partitions on PostgreSQL: conversion, the app on the
partitioned table, months ahead, and retention by dropping whole months. SQLite refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from grassroots.areas.models import Area
from grassroots.cases import actions, workflow
from grassroots.cases.choices import Status
from grassroots.cases.models import Case, CaseAttachment, CaseEvent, Category
from grassroots.conftest import GRID
from grassroots.core import ops

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="declarative partitioning is PostgreSQL's"
)


@pytest.mark.django_db
def test_case_retention_refuses_less_than_three_years():
    with pytest.raises(CommandError, match="at least 1095 days"):
        call_command("db", "drop-case-partitions", "--older-than-days", "1094")


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite refusal")
def test_partitioning_the_case_history_needs_postgresql():
    for args in (["partition-cases"], ["drop-case-partitions", "--older-than-days", "1095"]):
        with pytest.raises(CommandError, match="needs PostgreSQL; on SQLite the case history stays one"):
            call_command("db", *args)
    assert ops.ensure_case_partitions() == []  # the worker's round does nothing there


def _report(user, category, title: str) -> Case:
    return actions.do_report(
        user, category=category, area=Area.objects.get(code=GRID), title=title, description="楼道堆放杂物"
    ).case


def _age(case: Case, days: int, *, status: str, events: tuple[int, ...], changed: int, people) -> None:
    """Make ``case`` look reported ``days`` ago, with events that many days ago, in ``status``."""
    now = timezone.now()
    ago = lambda d: now - dt.timedelta(days=d)  # noqa: E731
    first = CaseEvent.objects.get(case=case)
    first.at = ago(days)
    first.save()
    for d in events:
        CaseEvent.objects.create(
            case=case, at=ago(d), actor_name="old", action="note", to_status=status, note=f"{d} days ago"
        )
    fields = {"status": status, "created_at": ago(days), "updated_at": ago(changed)}
    if status == Status.CLOSED:
        fields |= {"resolved_by": people["grid_worker"], "verified_by": people["community_staff"]}
        fields |= {"closed_at": ago(changed)}
    Case.objects.filter(pk=case.pk).update(**fields)


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM cases_caseevent WHERE id = %s", [event_id])
        return cursor.fetchone()[0]


def _month(days_ago: int) -> str:
    return ops.CASE_HISTORY.month_table(
        (timezone.now() - dt.timedelta(days=days_ago)).astimezone(dt.UTC).date().replace(day=1)
    )


@pytest.mark.django_db
@on_postgresql
def test_case_history_in_monthly_partitions(personas, client_as, capsys):
    reporter, staff = personas["grid_worker"], personas["community_staff"]
    category = Category.objects.create(code="clutter", name="楼道堆物", group="公共安全")
    # old_closed: 4 years ago, closed then; old_open: 3.8 years ago, never closed; recently_closed:
    # 3.6 years ago, closed 10 days ago. Each in a month of its own.
    old_closed, old_open, recently_closed = (_report(reporter, category, t) for t in ("甲", "乙", "丙"))
    _age(old_closed, 1500, status=Status.CLOSED, events=(1495,), changed=1490, people=personas)
    _age(old_open, 1400, status=Status.ACCEPTED, events=(), changed=1400, people=personas)
    _age(recently_closed, 1300, status=Status.CLOSED, events=(), changed=10, people=personas)
    photo = CaseAttachment.objects.create(
        case=old_closed,
        event=CaseEvent.objects.filter(case=old_closed).first(),
        file="cases/old.png",
        content_type="image/png",
        size=64,
    )
    columns = [f.attname for f in CaseEvent._meta.concrete_fields]
    before = list(CaseEvent.objects.order_by("id").values_list(*columns))
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'cases_caseevent'")
        indexes = {name for (name,) in cursor.fetchall()}

    call_command("db", "partition-cases", "--ahead", "2")
    out = capsys.readouterr().out
    assert f"now partitioned by month: {len(before)} events" in out
    assert "Foreign key cases_caseattachment.event_id" in out and "constraint triggers" in out
    with connection.cursor() as cursor:
        assert ops.is_partitioned(cursor, ops.CASE_HISTORY)
        months = [month for _name, month in ops.partitions(cursor, ops.CASE_HISTORY)]
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'cases_caseevent'")
        assert {name for (name,) in cursor.fetchall()} == indexes
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'cases_caseevent_pkey'"
        )
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, at)"
    today = timezone.now().astimezone(dt.UTC).date().replace(day=1)
    assert months[0] == (timezone.now() - dt.timedelta(days=1500)).astimezone(dt.UTC).date().replace(day=1)
    assert months[-1] > today and len(months) >= 50
    assert list(CaseEvent.objects.order_by("id").values_list(*columns)) == before  # every row, every id
    assert _partition_of(before[0][0]) == _month(1500)

    # the app on the partitioned table: report on the page, transitions, the timeline
    client = client_as(staff)
    response = client_as(reporter).post(
        reverse("cases:new"),
        {"category": category.pk, "title": "楼道堆物", "description": "三楼楼道", "area": GRID},
    )
    assert response.status_code == 302
    case = Case.objects.get(title="楼道堆物")
    for action in ("accept", "handle"):
        case.refresh_from_db()
        data = {"action": action, f"{action}-version": case.version, f"{action}-note": "已清理"}
        assert client.post(reverse("cases:act", args=[case.number]), data).status_code == 302
    case.refresh_from_db()
    assert case.status == Status.IN_PROGRESS
    events = list(case.events.all())
    assert [e.action for e in events] == ["report", "accept", "handle"]
    assert events[0].id > before[-1][0] and {_partition_of(e.id) for e in events} == {_month(0)}
    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "已清理" in page
    assert "1495 days ago" in client.get(reverse("cases:detail", args=[old_closed.number])).content.decode()
    workflow.apply(staff, old_open, "handle", note="社区自行处理")  # a new event of an old case: this month
    assert _partition_of(CaseEvent.objects.filter(case=old_open).last().id) == _month(0)

    # the attachments' foreign key, now a pair of triggers: checked at commit, as before
    with pytest.raises(IntegrityError, match="not present"), transaction.atomic():
        CaseAttachment.objects.create(
            case=case, event_id=10**9, file="x.png", content_type="image/png", size=1
        )
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match="still referenced"), transaction.atomic():
        CaseEvent.objects.filter(pk=photo.event_id)._raw_delete(connection.alias)
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
    connection.cursor().execute("SET CONSTRAINTS ALL DEFERRED")

    # months ahead: idempotent, and the worker's call adds what is missing
    call_command("db", "partition-cases", "--ahead", "2")
    assert "already partitioned; partitions created: none needed" in capsys.readouterr().out
    assert ops.ensure_case_partitions(2) == []
    assert ops.ensure_case_partitions(4) == [ops.CASE_HISTORY.month_table(m) for m in _ahead(today, 3, 4)]

    # retention: the closed case's months go, the open case's and the recently closed one's stay
    call_command("db", "drop-case-partitions", "--older-than-days", "1095", "--dry-run")
    out = capsys.readouterr().out
    assert f"Would drop {_month(1500)}" in out and f"pg_dump -Fc -t {_month(1500)}" in out
    assert CaseEvent.objects.filter(case=old_closed).count() == 2
    call_command("db", "drop-case-partitions", "--older-than-days", "1095")
    out = capsys.readouterr().out
    assert f"Dropped {_month(1500)}" in out
    assert f"Kept {_month(1400)}: 1 case(s) not closed ({old_open.number})" in out
    assert (
        f"Kept {_month(1300)}: 1 case(s) finished or changed within 1095 days ({recently_closed.number})"
        in out
    )
    assert not CaseEvent.objects.filter(case=old_closed).exists()
    assert CaseEvent.objects.filter(case=old_open).count() == 2
    assert CaseEvent.objects.filter(case=recently_closed).count() == 1
    photo.refresh_from_db()
    assert photo.event_id is None  # the photo stays with its case
    assert client.get(reverse("cases:detail", args=[old_closed.number])).status_code == 200
    with connection.cursor() as cursor:
        remaining = {name for name, _month in ops.partitions(cursor, ops.CASE_HISTORY)}
    assert _month(1500) not in remaining and _month(1400) in remaining


def _ahead(today: dt.date, *offsets: int) -> list[dt.date]:
    return [ops._months_ahead(today, n) for n in offsets]
