"""Benchmark ``cases``: the clock sweep and case intake over HTTP with a million open cases, each
figure beside a floor measured in the same run.

Run it with ``grassroots bench cases [--cases 1000000] [--escalations 10000] [--clients 8]`` on a
throwaway, migrated database without cases (SQLite: ``GRASSROOTS_DATA_DIR=/tmp/x``; PostgreSQL:
``DATABASE_URL``). Yangquan's tree, grids and default catalogue are loaded when missing.

1. Load: N open cases spread over Yangquan's grids and micro-grids and the catalogue's categories,
   written with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) with one "report" timeline entry
   each (one ``INSERT … SELECT``), and staff at every holding node, so that the sweep's notices go
   somewhere. Every clock runs out in the future, except exactly E cases whose deadline has passed
   at the moment of the escalation test. Then ANALYZE.
2. Idle tick: ``sweep(now)`` at a moment when nothing is due, against the same statements written by
   hand on the driver's DB-API cursor in a transaction of their own (the floor). Interleaved runs;
   aim: ORM/raw ≤ 3× and a median tick ≤ 5 ms.
3. E escalations: ``sweep(now)`` when the E cases are overdue (each turns red, its holding staff are
   told, it climbs one level with a fresh clock, a timeline entry, and the new holders are told),
   against the same statements by hand. Each run happens inside a transaction that is rolled back, so
   every run starts from the same state; the per-category deadlines the floor needs are computed
   before its clock starts. Aim: ORM/raw ≤ 3×.
4. Intake over HTTP: the real app (``python -m gunicorn grassroots.wsgi:application -w 2 --threads 4``)
   and a raw WSGI app under the same gunicorn settings (:func:`raw_intake`: parse the same JSON body,
   INSERT one case row with the same columns through the DB-API driver; no auth, scoping,
   validation, clock, timeline or notices), on the same database, each driven by C keep-alive
   clients POSTing to ``/api/v1/cases``. Aim: the real app's throughput ≥ 0.4× the raw app's, with
   a p99 latency ≤ 20 ms. On SQLite writers take turns (WAL, one writer at a time).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import itertools
import json
import math
import os
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from grassroots.accounts.choices import Role
from grassroots.accounts.models import ApiToken, Grant, User
from grassroots.areas.bench import Output, Printer, environment
from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL, in_subtree
from grassroots.areas.grids import generate_grids
from grassroots.areas.models import Area
from grassroots.areas.yangquan import CITY_CODE, load_yangquan
from grassroots.registry.bench import RawWriter, load_average

from .choices import STEP_OF_STATUS, Channel, Clock, NoticeKind, Status, Step, SupervisionStatus
from .models import Case, CaseEvent, Category, Notice, SupervisionOrder
from .sweep import ESCALATABLE, overdue_cases_from, sweep
from .workflow import HOLDER_ROLES

AIMS = {"sweep": 3.0, "idle_ms": 5.0, "intake_throughput": 0.4, "intake_p99_ms": 20.0}
DEFAULT_CASES = 1_000_000
DEFAULT_ESCALATIONS = 10_000
DEFAULT_CLIENTS = 8
DEFAULT_REQUESTS = 5000  # per app
DEFAULT_DURATION = 60.0  # seconds, per app, at most
DEFAULT_REPEAT = 300  # idle ticks per side; escalations: ESCALATION_REPEAT
ESCALATION_REPEAT = 7
MIN_RUNS = 3
# Seconds the idle ticks and the escalation runs may take (both sides): when one run is slow (a plan
# that scans), fewer runs rather than hours.
IDLE_BUDGET, ESCALATION_BUDGET = 120.0, 300.0
WARMUP_REQUESTS = 5  # per client, before the clock starts
NUMBER_PREFIX = "SJ19990101"  # the loaded cases' numbers: a day no real case is numbered after
RAW_PREFIX = "RAW"
CHUNK = 50_000
INTAKE_PATH = "/api/v1/cases"
COMMUNITY = LENGTH_BY_LEVEL[Level.COMMUNITY]
# Open statuses of the loaded cases, by share; the overdue ones are drawn from ESCALATABLE.
STATUS_MIX = ((Status.REPORTED, 15), (Status.ACCEPTED, 15), (Status.DISPATCHED, 15), (Status.IN_PROGRESS, 35),
              (Status.RESOLVED, 10), (Status.VERIFIED, 10))  # fmt: skip
TITLES = ("路灯不亮", "垃圾满溢未清运", "楼道堆放杂物", "占道经营", "噪音扰民", "下水道堵塞", "井盖缺失")
DESCRIPTION = "居民反映{}，已现场查看，请尽快处理。位置在小区东门附近，影响居民出行，多次反映未解决。"


def add_arguments(parser: CommandParser) -> None:
    group = parser.add_argument_group("cases suite")
    group.add_argument(
        "--cases", type=int, default=DEFAULT_CASES, help="Open cases to load (default 1,000,000)."
    )
    group.add_argument(
        "--escalations", type=int, default=DEFAULT_ESCALATIONS, help="Of which overdue (default 10,000)."
    )
    group.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="Concurrent HTTP clients (8).")
    group.add_argument(
        "--requests", type=int, default=DEFAULT_REQUESTS, help="Requests per app (default 5,000)."
    )
    group.add_argument(
        "--duration", type=float, default=DEFAULT_DURATION, help="Seconds per app at most (default 60)."
    )


# --- timing ---------------------------------------------------------------------------------------


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summarize_ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(s * 1000 for s in seconds)
    return {
        "median_ms": statistics.median(ordered),
        "p90_ms": percentile(ordered, 0.9),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1],
        "runs": len(ordered),
    }


def alternate(
    funcs: Mapping[str, Callable[[], float]], repeat: int, *, warmup: int = 1, budget: float | None = None
) -> dict[str, dict]:
    """Run each function ``repeat`` times in rotating order; each returns the seconds it measured
    itself (so that setting up and rolling back stay off the clock). With a ``budget`` in seconds,
    fewer runs (at least :data:`MIN_RUNS`) when the warm-up shows that ``repeat`` would not fit."""
    names = list(funcs)
    cost = 0.0
    for name in names:
        for _ in range(warmup):
            seconds = funcs[name]()
            if seconds > 1.0:  # a slow run needs no more warming, and each costs much
                break
        cost += seconds
    if budget is not None and cost > 0:
        repeat = max(MIN_RUNS, min(repeat, int(budget / cost)))
    timings: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            timings[name].append(funcs[name]())
    return {name: summarize_ms(values) for name, values in timings.items()}


# --- step 1: the world and a million cases ------------------------------------------------------------


def ensure_world() -> dict[str, Any]:
    """Tree, grids, catalogue and staff at every node that may hold a case (not timed)."""
    from .catalogue import load_catalogue

    done: dict[str, Any] = {}
    if not Area.objects.filter(code=CITY_CODE).exists():
        load_yangquan()
        done["tree_loaded"] = True
    if not Area.objects.filter(in_subtree("code", CITY_CODE), level=Level.GRID).exists():
        report = generate_grids(CITY_CODE)
        done["grids_generated"] = report.grids
    if not Category.objects.filter(active=True).exists():
        done["catalogue"] = str(load_catalogue())
    done["staff"] = ensure_staff()
    return done


def places() -> list[str]:
    """Grids and micro-grids of the city, in code order: where cases happen."""
    return list(
        Area.objects.within(CITY_CODE)
        .filter(level__in=(Level.GRID, Level.MICROGRID))
        .order_by("code")
        .values_list("code", flat=True)
    )


def ensure_staff() -> int:
    """One staff account per community, street and district with places, and one at the city."""
    codes = {
        code[:n]
        for code in places()
        for n in (COMMUNITY, LENGTH_BY_LEVEL[Level.STREET], LENGTH_BY_LEVEL[Level.DISTRICT])
    } | {CITY_CODE}
    roles = {
        COMMUNITY: Role.COMMUNITY_STAFF,
        LENGTH_BY_LEVEL[Level.STREET]: Role.STREET_STAFF,
        LENGTH_BY_LEVEL[Level.DISTRICT]: Role.DISTRICT_STAFF,
        LENGTH_BY_LEVEL[Level.CITY]: Role.CITY_ADMIN,
    }
    prefix = "bench-staff-"
    existing = set(User.objects.filter(username__startswith=prefix).values_list("username", flat=True))
    missing = [code for code in sorted(codes) if prefix + code not in existing]
    User.objects.bulk_create(
        [
            User(username=prefix + code, full_name=f"benchmark staff {code}", password="!bench")
            for code in missing
        ],
        batch_size=1000,
    )
    users = dict(User.objects.filter(username__startswith=prefix).values_list("username", "pk"))
    Grant.objects.bulk_create(
        [Grant(user_id=users[prefix + code], role=roles[len(code)], area_id=code) for code in missing],
        batch_size=1000,
    )
    return len(users)


def category_limits(moment: dt.datetime) -> dict[int, tuple[dt.datetime, dt.datetime]]:
    """Each category's fresh accept-step clock at ``moment``, as the sweep computes it on escalation:
    category → (deadline, warning time)."""
    from grassroots.core.workcalendar import calendar

    cal = calendar()
    limits = {}
    for pk, hours, share in Category.objects.values_list("pk", "accept_hours", "warn_share"):
        deadline = cal.add_hours(moment, hours)
        limits[pk] = (deadline, cal.add_hours(moment, cal.hours_between(moment, deadline) * share / 100))
    return limits


def case_columns() -> list[str]:
    return [str(f.column) for f in Case._meta.concrete_fields if not f.primary_key]


def load_cases(count: int, escalations: int, moment: dt.datetime, idle: dt.datetime) -> dict[str, Any]:
    """``count`` open cases, ``escalations`` of them overdue at ``moment``; nothing due at ``idle``.

    Clocks: the others warn 1 hour to 30 days after ``moment``; the overdue ones' deadlines passed
    1–48 hours before it, and they warn no earlier than 56 hours before it (``idle`` is earlier).
    """
    if Case.objects.exists():
        raise CommandError("The database holds cases already: run the benchmark on a fresh database.")
    if not 0 <= escalations <= count:
        raise CommandError("--escalations must be between 0 and --cases.")
    cells = places()
    if not cells:
        raise CommandError(f"No grids under {CITY_CODE}.")
    categories = list(
        Category.objects.filter(active=True)
        .order_by("pk")
        .values_list("pk", "handling_level", "escalate_when_overdue")
    )
    climbing = [c for c in categories if c[1] > Level.CITY and c[2]]
    if escalations and not climbing:
        raise CommandError("No active category escalates when overdue.")
    adapt = connection.ops.adapt_datetimefield_value
    hour = dt.timedelta(hours=1)
    # (warning, deadline): warning 1 hour to 30 days ahead, deadline 1 to 24 hours after it
    ahead = [1 + (k * 7919) % 719 for k in range(1000)]
    future = [
        (adapt(moment + hour * h), adapt(moment + hour * (h + 1 + k % 24))) for k, h in enumerate(ahead)
    ]
    late = [adapt(moment - hour * (1 + k % 48)) for k in range(1000)]
    late_warn = [adapt(moment - hour * (49 + k % 7)) for k in range(1000)]
    created = [adapt(moment - hour * (2 + (k * 104729) % 700)) for k in range(1000)]
    statuses = [status for status, share in STATUS_MIX for _ in range(share)]
    escalatable = [s for s in ESCALATABLE]
    step = count // escalations if escalations else 0
    columns = case_columns()
    fixed = {
        "unit_id": None, "handler_id": None, "building_id": None, "reporter_id": None, "lat": None,
        "lng": None, "attributes": "{}", "contact_name": "", "contact_phone_enc": "",
        "contact_phone_masked": "", "contact_email": "", "token_hash": "", "paused_at": None,
        "was_overdue": False, "result": "", "resolved_by_id": None, "verified_by_id": None,
        "satisfaction": None, "merged_into_id": None, "leader_id": None, "escalations": 0,
        "reopen_count": 0, "version": 0, "closed_at": None, "channel": Channel.STAFF,
    }  # fmt: skip

    def row(i: int) -> tuple:
        overdue = bool(step) and i % step == 0 and i // step < escalations
        place = cells[(i * 7919) % len(cells)]
        if overdue:
            category, handling, _ = climbing[i % len(climbing)]
            status = escalatable[i % len(escalatable)]
            deadline, warn_at = late[i % 1000], late_warn[i % 1000]
        else:
            category, handling, _ = categories[i % len(categories)]
            status = statuses[i % len(statuses)]
            warn_at, deadline = future[i % 1000]
        level = min(int(Level.COMMUNITY), int(handling))
        title = TITLES[i % len(TITLES)]
        values = fixed | {
            "number": f"{NUMBER_PREFIX}{i:07d}",
            "category_id": category,
            "title": title,
            "description": DESCRIPTION.format(title),
            "area_id": place,
            "holder_id": place[: LENGTH_BY_LEVEL[level]],
            "level": level,
            "status": status,
            "address": f"小区东门附近{i % 97}号",
            "step": STEP_OF_STATUS[status],
            "step_started_at": created[i % 1000],
            "warn_at": warn_at,
            "deadline": deadline,
            "clock": Clock.ON_TIME,
            "origin_level": level,
            "highest_level": level,
            "created_at": created[i % 1000],
            "updated_at": created[i % 1000],
        }
        return tuple(values[c] for c in columns)

    began = time.perf_counter()
    with transaction.atomic():
        writer = RawWriter()
        try:
            for start in range(0, count, CHUNK):
                writer.insert(
                    Case._meta.db_table, columns, [row(i) for i in range(start, min(count, start + CHUNK))]
                )
            mark = "?" if connection.vendor == "sqlite" else "%s"
            events = writer.execute(
                f"INSERT INTO {CaseEvent._meta.db_table} (case_id, at, actor_name, action, from_status, "
                f"to_status, from_level, to_level, note, public) "
                f"SELECT id, created_at, {mark}, 'report', '', '{Status.REPORTED}', NULL, level, '', {mark} "
                f"FROM {Case._meta.db_table}",
                ["网格员", True],
            )
        finally:
            writer.close()
    seconds = time.perf_counter() - began
    overdue_now = Case.objects.filter(deadline__lte=moment).count()
    due_at_idle = Case.objects.filter(warn_at__lte=idle).count()
    if overdue_now != escalations or due_at_idle:
        raise AssertionError(f"load: {overdue_now} overdue (wanted {escalations}), {due_at_idle} due at idle")
    return {
        "cases": count,
        "events": events,
        "overdue": overdue_now,
        "seconds": seconds,
        "rows_per_second": (count + events) / seconds if seconds else 0.0,
        "places": len(cells),
        "categories": len(categories),
    }


def refresh_statistics() -> str:
    vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
    statement = "VACUUM ANALYZE" if vacuum else "ANALYZE"
    with connection.cursor() as cursor:
        for model in (Case, CaseEvent, Notice):
            cursor.execute(f"{statement} {model._meta.db_table}")
    return statement


# --- steps 2 and 3: the sweep against its statements by hand -------------------------------------


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class RawSweep:
    """The sweep's statements written out by hand, run on the driver's DB-API cursor (the floor).

    ``limits`` holds each category's fresh clock at the moment (see :func:`category_limits`):
    computing it is the application's business, so the floor gets it ready-made.
    """

    def __init__(self, moment: dt.datetime, limits: dict[int, tuple[dt.datetime, dt.datetime]]) -> None:
        connection.ensure_connection()
        self.cursor = connection.connection.cursor()
        adapt = connection.ops.adapt_datetimefield_value
        self.now = adapt(moment)
        self.limits = {pk: (adapt(deadline), adapt(warn)) for pk, (deadline, warn) in limits.items()}
        sqlite = connection.vendor == "sqlite"
        p = "?" if sqlite else "%s"
        self.begin = "BEGIN IMMEDIATE" if sqlite else "BEGIN"  # as Django's atomic() begins
        case, notice = Case._meta.db_table, Notice._meta.db_table
        category, event = Category._meta.db_table, CaseEvent._meta.db_table
        grant, order = Grant._meta.db_table, SupervisionOrder._meta.db_table
        self.p, self.case = p, case
        self.overdue_cases = overdue_cases = overdue_cases_from(case)
        notify = (
            f"INSERT INTO {notice} (user_id, case_id, kind, text, created_at) "
            f"SELECT DISTINCT g.user_id, c.id, {p}, SUBSTR(c.number || ' ' || c.title, 1, 200), {p} "
            f"FROM {case} c CROSS JOIN {grant} g "
            f"WHERE g.area_id = c.holder_id AND g.role IN ({_in(HOLDER_ROLES)}) AND "
        )
        on_time, warning, overdue = Clock.ON_TIME, Clock.WARNING, Clock.OVERDUE
        self.warn_notices = notify + f"c.clock = '{on_time}' AND c.warn_at <= {p}"
        self.warn = f"UPDATE {case} SET clock = '{warning}' WHERE clock = '{on_time}' AND warn_at <= {p}"
        self.overdue_notices = notify + f"c.clock IN ('{on_time}', '{warning}') AND c.deadline <= {p}"
        self.overdue = (
            f"UPDATE {case} SET clock = '{overdue}', was_overdue = {p} "
            f"WHERE clock IN ('{on_time}', '{warning}') AND deadline <= {p}"
        )
        self.where = (
            f"c.clock = '{overdue}' AND c.level > {int(Level.CITY)} AND c.status IN ({_in(ESCALATABLE)}) "
            f"AND c.category_id IN (SELECT id FROM {category} WHERE escalate_when_overdue = {p})"
        )
        self.categories = f"SELECT DISTINCT c.category_id FROM {overdue_cases} WHERE {self.where}"
        self.category_rows = (
            f'SELECT id, accept_hours, warn_share FROM {category} WHERE id IN ({{}}) ORDER BY "order", code'
        )
        self.events = (
            f"INSERT INTO {event} (case_id, at, actor_name, action, from_status, to_status, from_level, "
            f"to_level, note, public) SELECT c.id, {p}, {p}, 'escalate', c.status, '{Status.REPORTED}', "
            f"c.level, c.level - 1, {p}, {p} FROM {overdue_cases} WHERE {self.where}"
        )
        self.parent_code = (
            "CASE level "
            + " ".join(
                f"WHEN {level} THEN SUBSTR(area_id, 1, {LENGTH_BY_LEVEL[level - 1]})"
                for level in (Level.COMMUNITY, Level.STREET, Level.DISTRICT)
            )
            + " END"
        )
        self.escalated_notices = (
            f"INSERT INTO {notice} (user_id, case_id, kind, text, created_at) "
            f"SELECT DISTINCT g.user_id, c.id, {p}, SUBSTR(c.number || ' ' || c.title, 1, 200), {p} "
            f"FROM {case} c JOIN {grant} g ON g.area_id = c.holder_id AND g.role IN ({_in(HOLDER_ROLES)}) "
            f"WHERE c.step_started_at = {p} AND c.status = '{Status.REPORTED}' AND c.escalations > 0"
        )
        self.late_notices = (
            f"INSERT INTO {notice} (user_id, case_id, kind, text, created_at) "
            f"SELECT o.issued_by_id, o.case_id, {p}, SUBSTR('late: ' || c.number, 1, 200), {p} "
            f"FROM {order} o JOIN {case} c ON c.id = o.case_id WHERE o.status = {p} AND o.deadline <= {p}"
        )
        self.late = f"UPDATE {order} SET status = {p} WHERE status = {p} AND deadline <= {p}"

    def statements(self) -> dict[str, int]:
        """The sweep's statements, in its order; returns what each step changed."""
        cursor, now, p = self.cursor, self.now, self.p
        changed = {}
        cursor.execute(self.overdue_notices, [NoticeKind.OVERDUE, now, now])
        cursor.execute(self.overdue, [True, now])
        changed["overdue"] = cursor.rowcount
        cursor.execute(self.warn_notices, [NoticeKind.WARNING, now, now])
        cursor.execute(self.warn, [now])
        changed["warned"] = cursor.rowcount
        cursor.execute(self.categories, [True])
        categories = [row[0] for row in cursor.fetchall()]
        changed["escalated"] = 0
        if categories:
            cursor.execute(self.category_rows.format(", ".join([p] * len(categories))), categories)
            deadlines, warnings = [], []
            for pk, _hours, _share in cursor.fetchall():
                deadline, warn = self.limits[pk]
                deadlines += [pk, deadline]
                warnings += [pk, warn]
            case_when = " ".join(["WHEN " + p + " THEN " + p] * len(categories))
            cursor.execute(self.events, [now, "system", "overdue: escalated automatically", True, True])
            cursor.execute(
                f"UPDATE {self.case} SET holder_id = ({self.parent_code}), level = level - 1, "
                f"highest_level = CASE WHEN highest_level < level - 1 THEN highest_level ELSE level - 1 END, "
                f"escalations = escalations + 1, unit_id = NULL, handler_id = NULL, "
                f"status = '{Status.REPORTED}', step = '{Step.ACCEPT}', step_started_at = {p}, "
                f"deadline = CASE category_id {case_when} END, warn_at = CASE category_id {case_when} END, "
                f"clock = '{Clock.ON_TIME}', version = version + 1 "
                f"WHERE id IN (SELECT c.id FROM {self.overdue_cases} WHERE {self.where})",
                [now, *deadlines, *warnings, True],
            )
            changed["escalated"] = cursor.rowcount
            cursor.execute(self.escalated_notices, [NoticeKind.ESCALATED, now, now])
        cursor.execute(self.late_notices, [NoticeKind.SUPERVISION, now, SupervisionStatus.OPEN, now])
        cursor.execute(self.late, [SupervisionStatus.LATE, SupervisionStatus.OPEN, now])
        changed["supervision_late"] = cursor.rowcount
        return changed

    def plans(self) -> dict[str, str]:
        """The plan the database chose for each statement of the idle tick, one line each."""
        now, explain = self.now, "EXPLAIN QUERY PLAN " if self.p == "?" else "EXPLAIN (COSTS OFF) "
        statements = {
            "overdue notices": (self.overdue_notices, [NoticeKind.OVERDUE, now, now]),
            "overdue": (self.overdue, [True, now]),
            "warn notices": (self.warn_notices, [NoticeKind.WARNING, now, now]),
            "warn": (self.warn, [now]),
            "escalatable categories": (self.categories, [True]),
            "late supervision notices": (self.late_notices, [NoticeKind.SUPERVISION, now, "open", now]),
            "late supervision": (self.late, [SupervisionStatus.LATE, SupervisionStatus.OPEN, now]),
        }
        plans = {}
        for label, (sql, params) in statements.items():
            self.cursor.execute(explain + sql, params)
            plans[label] = " / ".join(" ".join(str(row[-1]).split()) for row in self.cursor.fetchall())
        return plans

    def tick(self) -> float:
        """The statements in a transaction of their own (BEGIN … COMMIT), as ``sweep`` runs them."""
        began = time.perf_counter()
        self.cursor.execute(self.begin)
        self.statements()
        self.cursor.execute("COMMIT")
        return time.perf_counter() - began

    def close(self) -> None:
        self.cursor.close()


def orm_tick(moment: dt.datetime) -> Callable[[], float]:
    def tick() -> float:
        began = time.perf_counter()
        sweep(moment)
        return time.perf_counter() - began

    return tick


def rolled_back(work: Callable[[], object]) -> Callable[[], float]:
    """``work`` timed inside a transaction that is then rolled back (the state is the same each run)."""

    def run() -> float:
        with transaction.atomic():
            began = time.perf_counter()
            work()
            seconds = time.perf_counter() - began
            transaction.set_rollback(True)
        return seconds

    return run


def effects(work: Callable[[], object]) -> dict[str, int]:
    """What ``work`` writes (counted, then rolled back): for checking that both sides do the same."""
    with transaction.atomic():
        notices, events = Notice.objects.count(), CaseEvent.objects.count()
        work()
        result = {
            "notices": Notice.objects.count() - notices,
            "events": CaseEvent.objects.count() - events,
            "escalated": Case.objects.filter(escalations__gt=0).count(),
            "overdue_marked": Case.objects.filter(was_overdue=True).count(),
        }
        transaction.set_rollback(True)
    return result


def step_sweep(idle: dt.datetime, moment: dt.datetime, idle_repeat: int, escalation_repeat: int) -> dict:
    limits = category_limits(moment)
    raw_idle, raw_due = RawSweep(idle, category_limits(idle)), RawSweep(moment, limits)
    try:
        orm_effects, raw_effects = effects(lambda: sweep(moment)), effects(raw_due.statements)
        if orm_effects != raw_effects:
            raise AssertionError(f"sweep and its raw statements differ: {orm_effects} != {raw_effects}")
        if sweep(idle).changed:
            raise AssertionError("the idle tick changed something")
        idle_t = alternate(
            {"orm": orm_tick(idle), "raw": raw_idle.tick}, idle_repeat, warmup=3, budget=IDLE_BUDGET
        )
        due_t = alternate(
            {"orm": rolled_back(lambda: sweep(moment)), "raw": rolled_back(raw_due.statements)},
            escalation_repeat,
            budget=ESCALATION_BUDGET,
        )
        plans = raw_idle.plans()
    finally:
        raw_idle.close()
        raw_due.close()
    return {
        "idle": {
            "orm": idle_t["orm"],
            "raw": idle_t["raw"],
            "ratio": idle_t["orm"]["median_ms"] / idle_t["raw"]["median_ms"],
        },
        "plans": plans,
        "escalation": {
            "effects": orm_effects,
            "orm": due_t["orm"],
            "raw": due_t["raw"],
            "ratio": due_t["orm"]["median_ms"] / due_t["raw"]["median_ms"],
        },
    }


# --- step 4: intake over HTTP -----------------------------------------------------------------------


def connect_raw(db: Mapping[str, Any]):
    """A DB-API connection with the app's own settings (SQLite: its PRAGMAs), in autocommit."""
    options = db.get("OPTIONS") or {}
    if db["ENGINE"].endswith("sqlite3"):
        conn = sqlite3.connect(db["NAME"], timeout=options.get("timeout", 5), isolation_level=None)
        if options.get("init_command"):
            conn.executescript(options["init_command"])
        return conn
    import psycopg

    return psycopg.connect(
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        options=options.get("options"),
        autocommit=True,
    )


class RawIntake:
    """One thread's state in :func:`raw_intake`: its connection, the categories, the statement."""

    def __init__(self) -> None:
        from django.db import connections

        db = connections["default"].settings_dict
        self.sqlite = db["ENGINE"].endswith("sqlite3")
        self.conn = connect_raw(db)
        p = "?" if self.sqlite else "%s"
        self.columns = case_columns()
        marks = [p + ("::jsonb" if c == "attributes" and not self.sqlite else "") for c in self.columns]
        self.sql = (
            f"INSERT INTO {Case._meta.db_table} ({', '.join(self.columns)}) VALUES ({', '.join(marks)})"
        )
        cursor = self.conn.cursor()
        cursor.execute(
            f"SELECT code, id, handling_level FROM {Category._meta.db_table} WHERE active = {p}", [True]
        )
        self.categories = {code: (pk, level) for code, pk, level in cursor.fetchall()}

    def moment(self, value: dt.datetime):
        # What Django would send: SQLite stores naive UTC text, PostgreSQL takes the aware datetime.
        return value.replace(tzinfo=None).isoformat(" ") if self.sqlite else value

    def insert(self, body: dict[str, Any]) -> str:
        pk, handling = self.categories[body["category"]]
        place = str(body["place"])
        level = min(int(Level.COMMUNITY), int(handling))
        now = dt.datetime.now(dt.UTC)
        number = RAW_PREFIX + secrets.token_hex(8)
        values = {
            "number": number,
            "category_id": pk,
            "title": str(body["title"])[:100],
            "description": str(body["description"]),
            "area_id": place,
            "holder_id": place[: LENGTH_BY_LEVEL[level]],
            "level": level,
            "unit_id": None,
            "handler_id": None,
            "status": Status.REPORTED.value,
            "channel": Channel.STAFF.value,
            "building_id": None,
            "address": str(body.get("address") or ""),
            "lat": body.get("lat"),
            "lng": body.get("lng"),
            "attributes": json.dumps(body.get("attributes") or {}),
            "reporter_id": None,
            "contact_name": "",
            "contact_phone_enc": "",
            "contact_phone_masked": "",
            "contact_email": "",
            "token_hash": "",
            "step": Step.ACCEPT.value,
            "step_started_at": self.moment(now),
            "warn_at": self.moment(now + dt.timedelta(hours=3)),
            "deadline": self.moment(now + dt.timedelta(hours=4)),
            "clock": Clock.ON_TIME.value,
            "paused_at": None,
            "was_overdue": False,
            "result": "",
            "resolved_by_id": None,
            "verified_by_id": None,
            "satisfaction": None,
            "merged_into_id": None,
            "leader_id": None,
            "origin_level": level,
            "highest_level": level,
            "escalations": 0,
            "reopen_count": 0,
            "version": 0,
            "created_at": self.moment(now),
            "closed_at": None,
            "updated_at": self.moment(now),
        }
        self.conn.execute(self.sql, [values[c] for c in self.columns])
        return number


_raw_state = threading.local()


def raw_intake(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    """The raw intake app (the HTTP floor): parse the JSON body, INSERT one case row with the real app's
    columns through the DB-API driver, answer 201 with the case number. Nothing else: no auth,
    scoping, validation, work calendar, timeline or notices. Served by gunicorn (see :class:`Server`)."""
    if environ["REQUEST_METHOD"] != "POST" or environ.get("PATH_INFO") != INTAKE_PATH:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    intake = getattr(_raw_state, "intake", None)
    if intake is None:
        intake = _raw_state.intake = RawIntake()
    body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    payload = json.dumps({"number": intake.insert(body)}).encode()
    start_response(
        "201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(db: Mapping[str, Any], sqlite_path: str | None = None) -> str:
    if sqlite_path is not None:
        return f"sqlite:///{sqlite_path}"
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{credentials}{host}{port}/{quote(db['NAME'], safe='')}"


class Server:
    """gunicorn serving one app on 127.0.0.1: ``-w 2 --threads 4`` (the settings the issue names)."""

    def __init__(
        self, name: str, app: str, env: dict[str, str], folder: Path, *, preload_django: bool
    ) -> None:
        self.name, self.port, self.log = name, free_port(), folder / f"{name}.log"
        # The raw app's module imports Django models: its master sets Django up first (the real app's
        # workers do that themselves, on importing grassroots.wsgi).
        config = ["-c", "python:grassroots.wsgi"] if preload_django else []
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            *config,
            app,
            "-w",
            "2",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{self.port}",
            "--graceful-timeout",
            "5",
            "--error-logfile",
            str(self.log),
        ]
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise CommandError(f"gunicorn ({self.name}) exited: {self.tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.2)
        raise CommandError(f"gunicorn ({self.name}) did not start within {timeout:.0f} s: {self.tail()}")

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def drive(
    port: int, bodies: list[bytes], headers: dict[str, str], *, clients: int, requests: int, duration: float
) -> dict[str, Any]:
    """``clients`` threads, each on its own keep-alive connection, POST ``bodies`` in turn until
    ``requests`` answers or ``duration`` seconds; each client warms up first, off the clock."""
    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    start = threading.Barrier(clients + 1, timeout=300)
    stop_at: list[float] = []

    def post(conn: http.client.HTTPConnection, body: bytes) -> int:
        conn.request("POST", INTAKE_PATH, body, headers)
        response = conn.getresponse()
        content = response.read()
        if response.status != 201 and len(errors) < 5:
            errors.append(f"{response.status} {content[:200]!r}")
        return response.status

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for k in range(WARMUP_REQUESTS):
                with contextlib.suppress(OSError, http.client.HTTPException):
                    post(conn, bodies[(n * WARMUP_REQUESTS + k) % len(bodies)])
            start.wait()
            deadline = time.perf_counter() + duration
            mine = latencies[n]
            while time.perf_counter() < deadline:
                i = next(counter)
                if i >= requests:
                    break
                began = time.perf_counter()
                try:
                    status = post(conn, bodies[i % len(bodies)])
                except (OSError, http.client.HTTPException) as exc:
                    errors.append(repr(exc))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    mine.append(-1.0)
                    continue
                mine.append(time.perf_counter() - began if status == 201 else -1.0)
        finally:
            conn.close()
            stop_at.append(time.perf_counter())

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = max(stop_at) - began
    ok = [t for mine in latencies for t in mine if t >= 0]
    failed = sum(1 for mine in latencies for t in mine if t < 0)
    ordered = sorted(t * 1000 for t in ok) or [float("nan")]
    return {
        "requests": len(ok) + failed,
        "ok": len(ok),
        "errors": failed,
        "error_samples": errors[:5],
        "seconds": elapsed,
        "throughput": len(ok) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(ordered, 0.5),
        "p90_ms": percentile(ordered, 0.9),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1],
    }


def intake_user(street: str) -> tuple[User, str]:
    user, _ = User.objects.get_or_create(
        username="bench-intake", defaults={"full_name": "benchmark intake", "password": "!bench"}
    )
    Grant.objects.get_or_create(user=user, role=Role.STREET_STAFF, area_id=street)
    _token, key = ApiToken.issue(user=user, name="bench")
    return user, key


def count_cases(db: Mapping[str, Any], prefix: str) -> int:
    conn = connect_raw(db)
    try:
        cursor = conn.cursor()
        mark = "?" if db["ENGINE"].endswith("sqlite3") else "%s"
        cursor.execute(f"SELECT COUNT(*) FROM {Case._meta.db_table} WHERE number LIKE {mark}", [prefix + "%"])
        return cursor.fetchone()[0]
    finally:
        conn.close()


def in_process_cost(bodies: list[bytes], key: str, runs: int = 7) -> dict[str, float]:
    """What one intake costs the app itself: the request through Django in this process (test
    client), without HTTP or concurrency; with the queries it sends and their time in the database."""
    from django.test import Client

    host = next((h for h in settings.ALLOWED_HOSTS if "*" not in h and not h.startswith(".")), "127.0.0.1")
    client = Client(headers={"Authorization": f"Bearer {key}"}, HTTP_HOST=host)
    totals: list[float] = []
    in_database: list[float] = []
    queries: list[int] = []

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_database[-1] += time.perf_counter() - began
            queries[-1] += 1

    for i in range(runs):
        in_database.append(0.0)
        queries.append(0)
        with connection.execute_wrapper(timed):
            began = time.perf_counter()
            response = client.post(INTAKE_PATH, bodies[i % len(bodies)], content_type="application/json")
            totals.append(time.perf_counter() - began)
        if response.status_code != 201:
            raise CommandError(f"The intake answered {response.status_code}: {response.content[:300]!r}")
    return {
        "median_ms": statistics.median(totals[1:]) * 1000,  # the first run warms caches up
        "database_ms": statistics.median(in_database[1:]) * 1000,
        "queries": statistics.median(queries[1:]),
    }


def step_intake(say: Printer, *, clients: int, requests: int, duration: float) -> dict[str, Any]:
    cells = places()
    street = cells[0][: LENGTH_BY_LEVEL[Level.STREET]]
    targets = [code for code in cells if code.startswith(street)]
    category = next(
        c
        for c in Category.objects.filter(active=True, handling_level=Level.COMMUNITY).order_by(
            "order", "code"
        )
        if not c.attributes.filter(required=True).exists()
    )
    _user, key = intake_user(street)
    bodies = [
        json.dumps(
            {
                "category": category.code,
                "place": place,
                "title": TITLES[i % len(TITLES)],
                "description": DESCRIPTION.format(TITLES[i % len(TITLES)]),
                "address": f"小区东门附近{i}号",
            },
            ensure_ascii=False,
        ).encode()
        for i, place in enumerate(targets)
    ]
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {key}",
        "Connection": "keep-alive",
    }
    in_process = in_process_cost(bodies, key)
    say(
        f"  in-process (Django test client, no HTTP, no concurrency): {in_process['median_ms']:.1f} ms and "
        f"{in_process['queries']:.0f} queries per intake, {in_process['database_ms']:.1f} ms of it in the "
        "database"
    )
    folder = Path(tempfile.mkdtemp(prefix="grassroots-bench-http-"))
    db = dict(connection.settings_dict)
    snapshot = None
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        # An in-memory database (the test suite's) cannot be shared with other processes: serve a copy.
        snapshot = str(folder / "snapshot.sqlite3")
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM INTO '{snapshot}'")
        db["NAME"] = snapshot
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "grassroots.settings",
        "DATABASE_URL": database_url(db, db["NAME"] if connection.vendor == "sqlite" else None),
        "GRASSROOTS_DATA_DIR": str(settings.DATA_DIR),
        "GRASSROOTS_SECRET_KEY": settings.SECRET_KEY,
    }
    servers = {
        "app": Server("app", "grassroots.wsgi:application", env, folder, preload_django=False),
        "raw": Server("raw", "grassroots.cases.bench:raw_intake", env, folder, preload_django=True),
    }
    say(
        f"  {len(targets)} places in street {street}, category {category.code}, as bench-intake "
        f"(street staff); "
        f"{clients} clients, {requests} requests or {duration:.0f} s per app"
        + (f"; serving a copy of the in-memory database at {snapshot}" if snapshot else "")
    )
    results: dict[str, Any] = {}
    try:
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_ready()
        for name in ("app", "raw"):
            prefix = "SJ" if name == "app" else RAW_PREFIX
            before = count_cases(db, prefix)
            say(f"  {name}: {' '.join(servers[name].command[1:])}")
            result = drive(
                servers[name].port, bodies, headers, clients=clients, requests=requests, duration=duration
            )
            created = count_cases(db, prefix) - before
            result["rows_created"] = created
            results[name] = result
            say(
                f"  {name:<4} {result['ok']:>6} ok {result['errors']:>4} errors in "
                f"{result['seconds']:6.2f} s = "
                f"{result['throughput']:8.1f} req/s  p50 {result['p50_ms']:6.1f} p90 {result['p90_ms']:6.1f} "
                f"p99 {result['p99_ms']:6.1f} max {result['max_ms']:6.1f} ms  ({created} rows written)"
            )
            for sample in result["error_samples"]:
                say(f"       error: {sample}")
    finally:
        for server in servers.values():
            server.stop()
        logs = {name: server.tail() for name, server in servers.items()}
        shutil.rmtree(folder, ignore_errors=True)
    app, raw = results["app"], results["raw"]
    return {
        "clients": clients,
        "in_process": in_process,
        "places": len(targets),
        "category": category.code,
        "snapshot": bool(snapshot),
        "app": app,
        "raw": raw,
        "ratio": app["throughput"] / raw["throughput"] if raw["throughput"] else 0.0,
        "server_logs": {name: log for name, log in logs.items() if log.strip()},
    }


# --- the suite ------------------------------------------------------------------------------------


def run(options: Mapping[str, Any], out: Output) -> dict[str, Any]:
    """Run the cases benchmark; print as it goes and return the figures (JSON-serialisable).

    ``options``: ``cases``, ``escalations``, ``clients``, ``requests``, ``duration``, ``repeat`` (idle
    ticks per side; escalation runs are at most :data:`ESCALATION_REPEAT`).
    """
    say = Printer(out)
    count = int(options.get("cases") or DEFAULT_CASES)
    escalations = int(
        options["escalations"] if options.get("escalations") is not None else DEFAULT_ESCALATIONS
    )
    clients = int(options.get("clients") or DEFAULT_CLIENTS)
    requests = int(options.get("requests") or DEFAULT_REQUESTS)
    duration = float(options.get("duration") or DEFAULT_DURATION)
    idle_repeat = int(options.get("repeat") or DEFAULT_REPEAT)
    escalation_repeat = max(MIN_RUNS, min(idle_repeat, ESCALATION_REPEAT))
    if min(count, clients, requests, idle_repeat) < 1 or duration <= 0:
        raise CommandError("--cases, --clients, --requests and --repeat must be at least 1")

    env = environment()
    env["load_average_start"] = load_average()
    say("Grassroots benchmark: cases (the clock sweep and HTTP intake, against raw SQL and a raw WSGI app)")
    say(f"  database  {env['database']} {env['database_version']} at {env['database_location']}")
    say(f"  python    {env['python']}, Django {env['django']}")
    say(f"  machine   {env['machine']}, {env['cpu_count']} CPUs, {env['platform']}")
    say(f"  load      {env['load_average_start']} (1, 5, 15 min) at the start")
    say(
        f"  run       {count:,} open cases, {escalations:,} overdue; up to {idle_repeat} idle ticks and "
        f"{escalation_repeat} escalation runs per side (fewer when one run is slow); {clients} HTTP clients"
    )
    say(
        f"  aims      sweep ORM/raw ≤ {AIMS['sweep']}×, idle tick ≤ {AIMS['idle_ms']} ms, intake ≥ "
        f"{AIMS['intake_throughput']}× the raw app's throughput with p99 ≤ {AIMS['intake_p99_ms']} ms"
    )
    if env["debug"]:
        say(
            "  WARNING   DEBUG is on: every query goes through Django's logging cursor. "
            "Unset GRASSROOTS_DEBUG."
        )

    # A Monday at 10:00 in the deployment's zone: working hours, so that fresh clocks are short.
    moment = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    moment -= dt.timedelta(days=moment.weekday())
    idle = moment - dt.timedelta(days=7)

    say("\n1. Load")
    world = ensure_world()
    say(f"  world     {world}")
    say(f"  loading {count:,} cases …", end="")
    loaded = load_cases(count, escalations, moment, idle)
    say(
        f" {loaded['cases']:,} cases and {loaded['events']:,} timeline entries in {loaded['seconds']:.1f} s "
        f"({loaded['rows_per_second']:,.0f} rows/s) over {loaded['places']:,} places, {loaded['categories']} "
        f"categories; {loaded['overdue']:,} overdue at {moment:%Y-%m-%d %H:%M}"
    )
    say(f"  {refresh_statistics()}")

    say("\n2–3. The sweep against its statements by hand (DB-API cursor)  (ms)")
    swept = step_sweep(idle, moment, idle_repeat, escalation_repeat)
    say(
        f"  {'tick':<22} {'raw med':>9} {'raw p99':>9}  {'ORM med':>9} {'ORM p90':>9} {'ORM p99':>9}  "
        f"{'ratio':>6}"
    )
    for label, key in ((f"idle ({idle:%m-%d})", "idle"), (f"{escalations:,} escalations", "escalation")):
        t = swept[key]
        say(
            f"  {label:<22} {t['raw']['median_ms']:>9.2f} {t['raw']['p99_ms']:>9.2f}  "
            f"{t['orm']['median_ms']:>9.2f} {t['orm']['p90_ms']:>9.2f} {t['orm']['p99_ms']:>9.2f}  "
            f"{t['ratio']:>5.2f}×  ({t['orm']['runs']} runs)"
        )
    say(f"  escalation run writes: {swept['escalation']['effects']} (checked equal on both sides)")
    say("  plans of the idle tick's statements (the sweep's and the floor's are the same statements):")
    for label, plan in swept["plans"].items():
        say(f"    {label:<25} {plan}")

    say(f"\n4. Intake over HTTP: POST {INTAKE_PATH}, real app against the raw WSGI app, same gunicorn")
    intake = step_intake(say, clients=clients, requests=requests, duration=duration)

    verdicts = {
        "idle_ratio": swept["idle"]["ratio"] <= AIMS["sweep"],
        "idle_ms": swept["idle"]["orm"]["median_ms"] <= AIMS["idle_ms"],
        "escalation_ratio": swept["escalation"]["ratio"] <= AIMS["sweep"],
        "intake_throughput": intake["ratio"] >= AIMS["intake_throughput"],
        "intake_p99": intake["app"]["p99_ms"] <= AIMS["intake_p99_ms"],
        "intake_errors": intake["app"]["errors"] == 0 and intake["raw"]["errors"] == 0,
    }
    env["load_average_end"] = load_average()

    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    say(f"\nSummary ({connection.vendor}, load {env['load_average_start']} → {env['load_average_end']})")
    idle_t, due_t = swept["idle"], swept["escalation"]
    say(
        f"  idle tick       {idle_t['orm']['median_ms']:8.2f} ms (p99 {idle_t['orm']['p99_ms']:.2f})  raw "
        f"{idle_t['raw']['median_ms']:8.2f} ms  {idle_t['ratio']:5.2f}×  aim ≤ {AIMS['sweep']}× "
        f"{mark(verdicts['idle_ratio'])}, ≤ {AIMS['idle_ms']} ms {mark(verdicts['idle_ms'])}"
    )
    say(
        f"  escalations     {due_t['orm']['median_ms']:8.1f} ms  raw {due_t['raw']['median_ms']:8.1f} ms  "
        f"{due_t['ratio']:5.2f}×  aim ≤ {AIMS['sweep']}× {mark(verdicts['escalation_ratio'])}"
    )
    app, raw = intake["app"], intake["raw"]
    say(
        f"  intake          {app['throughput']:8.1f} req/s (p99 {app['p99_ms']:.1f} ms)  raw "
        f"{raw['throughput']:8.1f} req/s (p99 {raw['p99_ms']:.1f} ms)  {intake['ratio']:5.2f}×  aim ≥ "
        f"{AIMS['intake_throughput']}× {mark(verdicts['intake_throughput'])}, "
        f"p99 ≤ {AIMS['intake_p99_ms']} ms "
        f"{mark(verdicts['intake_p99'])}, errors {app['errors']} + {raw['errors']}"
    )
    if connection.vendor == "sqlite":
        say("  (SQLite: one writer at a time; the clients' inserts queue on the write lock)")
    passed = all(verdicts.values())
    say(f"  overall         {mark(passed)}")
    return {
        "suite": "cases",
        "aims": AIMS,
        "environment": env,
        "moment": moment.isoformat(),
        "idle_moment": idle.isoformat(),
        "world": world,
        "load": loaded,
        "sweep": swept,
        "intake": intake,
        "verdicts": verdicts,
        "passed": passed,
    }
