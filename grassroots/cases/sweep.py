"""The periodic sweep over case clocks, set-based: a few statements whatever the number of cases.

1. Overdue: clocks past their deadline turn red (and stay marked ``was_overdue`` for the on-time rate).
2. Warn: the other open clocks past their warning time turn yellow; the holding node's staff get a notice.
3. Escalate: overdue cases whose category says so go up one level (小事不出村、大事不出镇 — but a case
   nobody handles in time does not stay where it is), wait for acceptance there, with a fresh clock.
4. Supervision orders past their deadline: the issuer is told.

Each step is one ``INSERT … SELECT`` for the notices or timeline plus one ``UPDATE``; the idle tick is
a handful of index range scans that find nothing. Run by ``grassroots worker`` (or cron with
``grassroots worker --once``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from grassroots.accounts.models import Grant
from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL

from .choices import Clock, NoticeKind, Status, Step, SupervisionStatus
from .models import Case, CaseEvent, Category, Notice, SupervisionOrder
from .workflow import HOLDER_ROLES

ESCALATABLE = (Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS)
CLOCKED = (*ESCALATABLE, Status.RESOLVED, Status.VERIFIED)


@dataclass
class SweepReport:
    warned: int = 0
    overdue: int = 0
    escalated: int = 0
    supervision_late: int = 0

    @property
    def changed(self) -> int:
        return self.warned + self.overdue + self.escalated + self.supervision_late


def _t(model) -> str:
    return model._meta.db_table


def _in(values) -> str:
    return ", ".join("'" + str(v) + "'" for v in values)  # our own enum values, never user input


def _notify_holders(cursor, kind: str, where: str, params: list, *, cases_first: bool = True) -> None:
    """One INSERT … SELECT: a notice for every holder-staff member of every case matching ``where``.

    ``cases_first``: a ``CROSS JOIN``, which makes SQLite start from the cases that match (a range of
    a clock index), where with statistics that show the clock column has a handful of values it would
    start from the staff and read every case each of them holds. PostgreSQL plans either as the inner
    join it is. Without an index for ``where`` (the escalated cases), starting from the staff is right."""
    case, notice, grant = _t(Case), _t(Notice), _t(Grant)
    concat = "c.number || ' ' || c.title"
    join = "CROSS JOIN" if cases_first else "JOIN"
    on = "WHERE" if cases_first else "ON"
    cursor.execute(
        f"INSERT INTO {notice} (user_id, case_id, kind, text, created_at) "
        f"SELECT DISTINCT g.user_id, c.id, %s, SUBSTR({concat}, 1, 200), %s FROM {case} c "
        f"{join} {grant} g {on} g.area_id = c.holder_id AND g.role IN ({_in(HOLDER_ROLES)}) "
        f"{'AND' if cases_first else 'WHERE'} {where}",
        [kind, *params],
    )


def sweep(now: dt.datetime | None = None) -> SweepReport:
    moment = now or timezone.now()
    # Raw statements get datetimes as the backend stores them (SQLite: naive UTC text).
    now = connection.ops.adapt_datetimefield_value(moment)
    report = SweepReport()
    case = _t(Case)
    with transaction.atomic(), connection.cursor() as cursor:
        # Overdue first: a case past its deadline gets the overdue notice, not a warning too. The warning
        # step then needs no "deadline > now", which would let a planner without statistics (SQLite)
        # walk the (clock, deadline) index over every open case instead of (clock, warn_at) over the due.
        overdue_where = f"c.clock IN ('{Clock.ON_TIME}', '{Clock.WARNING}') AND c.deadline <= %s"
        _notify_holders(cursor, NoticeKind.OVERDUE, overdue_where, [now, now])
        cursor.execute(
            f"UPDATE {case} SET clock = '{Clock.OVERDUE}', was_overdue = %s "
            f"WHERE clock IN ('{Clock.ON_TIME}', '{Clock.WARNING}') AND deadline <= %s",
            [True, now],
        )
        report.overdue = cursor.rowcount

        warn_where = f"c.clock = '{Clock.ON_TIME}' AND c.warn_at <= %s"
        _notify_holders(cursor, NoticeKind.WARNING, warn_where, [now, now])
        cursor.execute(
            f"UPDATE {case} SET clock = '{Clock.WARNING}' WHERE clock = '{Clock.ON_TIME}' AND warn_at <= %s",
            [now],
        )
        report.warned = cursor.rowcount

        report.escalated = _escalate_overdue(cursor, now, moment)
        report.supervision_late = _late_supervision(cursor, now)
    return report


def overdue_cases_from(case: str) -> str:
    """The FROM item for overdue cases, ``c``. SQLite keeps no histogram: its statistics say a clock
    value matches a fifth of the table, so it would rather read every case of the escalating
    categories than the (clock, deadline) range of the overdue ones, empty on an idle tick; it is
    told which index to use. PostgreSQL knows how rare overdue cases are."""
    return f"{case} c INDEXED BY case_clock_deadline" if connection.vendor == "sqlite" else f"{case} c"


def _escalate_overdue(cursor, now, moment: dt.datetime) -> int:
    case, category, event = _t(Case), _t(Category), _t(CaseEvent)
    overdue_cases = overdue_cases_from(case)
    where = (
        f"c.clock = '{Clock.OVERDUE}' AND c.level > {int(Level.CITY)} AND c.status IN ({_in(ESCALATABLE)}) "
        f"AND c.category_id IN (SELECT id FROM {category} WHERE escalate_when_overdue = %s)"
    )
    cursor.execute(f"SELECT DISTINCT c.category_id FROM {overdue_cases} WHERE {where}", [True])
    categories = [row[0] for row in cursor.fetchall()]
    if not categories:
        return 0
    # The new clock is the accept step of each category: computed once per category, not per case.
    from grassroots.core.workcalendar import calendar

    cal = calendar()
    adapt = connection.ops.adapt_datetimefield_value
    deadlines, warnings = [], []
    for category_id, hours, share in Category.objects.filter(pk__in=categories).values_list(
        "pk", "accept_hours", "warn_share"
    ):
        deadline = cal.add_hours(moment, hours)
        deadlines += [category_id, adapt(deadline)]
        warnings += [
            category_id,
            adapt(cal.add_hours(moment, cal.hours_between(moment, deadline) * share / 100)),
        ]
    case_when = " ".join(["WHEN %s THEN %s"] * len(categories))
    parent_code = (
        "CASE level "
        + " ".join(
            f"WHEN {level} THEN SUBSTR(area_id, 1, {LENGTH_BY_LEVEL[level - 1]})"
            for level in (Level.COMMUNITY, Level.STREET, Level.DISTRICT)
        )
        + " END"
    )
    # Timeline first, while the rows still show where they were.
    cursor.execute(
        f"INSERT INTO {event} (case_id, at, actor_name, action, from_status, to_status, from_level, "
        f"to_level, note, public) SELECT c.id, %s, %s, 'escalate', c.status, '{Status.REPORTED}', c.level, "
        f"c.level - 1, %s, %s FROM {overdue_cases} WHERE {where}",
        [now, "system", "overdue: escalated automatically", True, True],
    )
    cursor.execute(
        f"UPDATE {case} SET holder_id = ({parent_code}), "
        f"level = level - 1, highest_level = CASE WHEN highest_level < level - 1 THEN highest_level "
        f"ELSE level - 1 END, escalations = escalations + 1, unit_id = NULL, handler_id = NULL, "
        f"status = '{Status.REPORTED}', step = '{Step.ACCEPT}', step_started_at = %s, "
        f"deadline = CASE category_id {case_when} END, warn_at = CASE category_id {case_when} END, "
        f"clock = '{Clock.ON_TIME}', version = version + 1 "
        f"WHERE id IN (SELECT c.id FROM {overdue_cases} WHERE {where})",
        [now, *deadlines, *warnings, True],
    )
    escalated = cursor.rowcount
    _notify_holders(
        cursor,
        NoticeKind.ESCALATED,
        f"c.step_started_at = %s AND c.status = '{Status.REPORTED}' AND c.escalations > 0",
        [now, now],
        cases_first=False,
    )
    return escalated


def _late_supervision(cursor, now) -> int:
    order, notice, case = _t(SupervisionOrder), _t(Notice), _t(Case)
    # A supervision order is reported late once: the notice is written when its deadline passes with
    # the order still open, and the order is then marked late (it can still be answered).
    cursor.execute(
        f"INSERT INTO {notice} (user_id, case_id, kind, text, created_at) "
        f"SELECT o.issued_by_id, o.case_id, %s, SUBSTR('late: ' || c.number, 1, 200), %s "
        f"FROM {order} o JOIN {case} c ON c.id = o.case_id WHERE o.status = %s AND o.deadline <= %s",
        [NoticeKind.SUPERVISION, now, SupervisionStatus.OPEN, now],
    )
    cursor.execute(
        f"UPDATE {order} SET status = %s WHERE status = %s AND deadline <= %s",
        [SupervisionStatus.LATE, SupervisionStatus.OPEN, now],
    )
    return cursor.rowcount
