"""Query plans of the case pages on PostgreSQL, for docs/scaling.md section 4.

On a throwaway database prepared with ``grassroots demo --no-serve`` (Yangquan, its grids, the demo
accounts and catalogue):

    DATABASE_URL=postgresql://…/caseplans .venv/bin/python scripts/case_plans.py generate --years 5
    DATABASE_URL=… .venv/bin/python scripts/case_plans.py explain > before.txt
    DATABASE_URL=… .venv/bin/grassroots db partition-cases
    DATABASE_URL=… .venv/bin/python scripts/case_plans.py explain > after.txt

``generate`` writes ``--per-year`` cases a year (default 100,000, a city) over the past ``--years``,
spread over the city's grids and micro-grids, each with its timeline (report … close: 7 events for a
closed case), mostly finished except the last weeks', as one INSERT … SELECT each, then ANALYZE.

``explain`` runs the real pages through Django's test client as the demo accounts (the worklist of a
community, a street and the city; a status tab; a case page, recent and old; the cockpit's case
figures through the API and the indicator refresh) and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of every
query they make on ``cases_case`` or ``cases_caseevent``, slowest first per page.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grassroots.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

STATUS_OLD = [("closed", 93), ("rejected", 4), ("merged", 2), ("in_progress", 1)]
STATUS_NEW = [("closed", 40), ("reported", 10), ("accepted", 10), ("dispatched", 15), ("in_progress", 15),
              ("resolved", 7), ("verified", 3)]  # fmt: skip
EVENTS = {  # the timeline of each status: (action, from, to), in order
    "closed": ["report", "accept", "dispatch", "start", "resolve", "verify", "close"],
    "rejected": ["report", "reject"],
    "merged": ["report", "merge"],
    "reported": ["report"],
    "accepted": ["report", "accept"],
    "dispatched": ["report", "accept", "dispatch"],
    "in_progress": ["report", "accept", "dispatch", "start"],
    "resolved": ["report", "accept", "dispatch", "start", "resolve"],
    "verified": ["report", "accept", "dispatch", "start", "resolve", "verify"],
}
TARGET = {"report": "reported", "accept": "accepted", "dispatch": "dispatched", "start": "in_progress",
          "resolve": "resolved", "verify": "verified", "close": "closed", "reject": "rejected",
          "merge": "merged"}  # fmt: skip


def _pick(mix: list[tuple[str, int]], expr: str) -> str:
    """SQL CASE choosing a status by the share table ``mix`` from ``expr`` in [0, 100)."""
    parts, edge = [], 0
    for status, share in mix:
        edge += share
        parts.append(f"WHEN {expr} < {edge} THEN '{status}'")
    return "CASE " + " ".join(parts) + f" ELSE '{mix[0][0]}' END"


def generate(years: int, per_year: int) -> None:
    total = years * per_year
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM accounts_user")
        low, high = cursor.fetchone()
        cursor.execute(
            "CREATE TEMP TABLE plan_places AS SELECT row_number() OVER (ORDER BY code) - 1 AS n, code "
            "FROM areas_area WHERE level IN (6, 7) AND code LIKE '1403%'"
        )
        cursor.execute("SELECT count(*) FROM plan_places")
        places = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM cases_category")
        categories = cursor.fetchone()[0]
        # one row per case: its age (older ones first, so ids grow with time), a place, a category
        cursor.execute(
            f"""
            CREATE TEMP TABLE plan_cases AS
            SELECT i, now() - make_interval(secs => (1 - i::float / {total}) * {years} * 365.25 * 86400)
                     AS created, (hashint4(i) & 2147483647) % {places} AS place,
                   (hashint4(i + 7) & 2147483647) % 100 AS dice
            FROM generate_series(1, {total}) AS i
            """
        )
        status = (
            f"CASE WHEN c.created < now() - interval '45 days' THEN {_pick(STATUS_OLD, 'c.dice')} "
            f"ELSE {_pick(STATUS_NEW, 'c.dice')} END"
        )
        cursor.execute(
            f"""
            INSERT INTO cases_case (number, title, description, level, status, channel, address,
                attributes, contact_name, contact_phone_enc, contact_phone_masked, contact_email,
                token_hash, step, step_started_at, warn_at, deadline, clock, was_overdue, result,
                satisfaction, origin_level, highest_level, escalations, reopen_count, version,
                created_at, closed_at, updated_at, area_id, holder_id, category_id, resolved_by_id,
                verified_by_id)
            SELECT 'P' || lpad(c.i::text, 9, '0'), '计划用例' || c.i, '楼道堆放杂物，影响通行，请尽快处理。',
                5, s.status, 'staff', '小区' || (c.i % 97) || '号', '{{}}', '', '', '', '', '',
                CASE WHEN s.status IN ('closed', 'rejected', 'merged') THEN '' ELSE 'handle' END,
                c.created, c.created + interval '2 days', c.created + interval '3 days',
                CASE WHEN s.status IN ('closed', 'rejected', 'merged') THEN 'stopped'
                     WHEN c.created < now() - interval '3 days' THEN 'overdue' ELSE 'on_time' END,
                c.dice < 8, CASE WHEN s.status = 'closed' THEN '已处理' ELSE '' END,
                CASE WHEN s.status = 'closed' THEN 3 + c.dice % 3 END, 5, 5, 0, 0, 1,
                c.created, CASE WHEN s.status = 'closed' THEN c.created + interval '4 days' END,
                CASE WHEN s.status IN ('closed', 'rejected', 'merged') THEN c.created + interval '4 days'
                     ELSE c.created + interval '1 day' END,
                p.code, substr(p.code, 1, 12), (ARRAY{categories}::bigint[])[1 + c.i % {len(categories)}],
                CASE WHEN s.status = 'closed' THEN {low} END, CASE WHEN s.status = 'closed' THEN {high} END
            FROM plan_cases c JOIN plan_places p ON p.n = c.place,
                 LATERAL (SELECT {status} AS status) s
            """
        )
        cases = cursor.rowcount
        steps = "VALUES " + ", ".join(
            f"('{status}', {k}, '{action}', '{TARGET[events[k - 1]] if k else ''}', '{TARGET[action]}')"
            for status, events in EVENTS.items()
            for k, action in enumerate(events)
        )
        cursor.execute(
            f"""
            INSERT INTO cases_caseevent (case_id, at, actor_name, action, from_status, to_status,
                from_level, to_level, note, public)
            SELECT c.id, c.created_at + make_interval(hours => t.k * 10), '计划', t.action, t.before,
                t.after, 5, 5, '', true
            FROM cases_case c JOIN ({steps}) AS t (status, k, action, before, after) ON t.status = c.status
            WHERE c.number LIKE 'P%'
            """
        )
        events = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"{cases} cases, {events} events in {time.monotonic() - started:.0f} s")


# --- explain ----------------------------------------------------------------------------------------

CASES = re.compile(r'"cases_case(event)?"')
STAGE = re.compile(r"^INSERT INTO cockpit_leaf_stage \([^)]*\) ")


def _pages() -> list[tuple[str, str, str]]:
    """(title, username or "" for anonymous, url) of the pages to explain."""
    from grassroots.cases.models import Case

    recent = Case.objects.filter(area__code__startswith="140302001001").order_by("-created_at").first()
    old = (
        Case.objects.filter(area__code__startswith="140302001001", status="closed")
        .order_by("created_at")
        .first()
    )
    return [
        ("worklist of a community", "youlougou", "/cases/"),
        ("worklist of a street", "shangzhan", "/cases/"),
        ("worklist of a street, tab 'in progress'", "shangzhan", "/cases/?status=in_progress"),
        ("worklist of the city", "city_admin", "/cases/"),
        ("worklist of the city, overdue", "city_admin", "/cases/?clock=overdue"),
        ("case page, recent case", "youlougou", f"/cases/{recent.number}/"),
        ("case page, case of years ago", "youlougou", f"/cases/{old.number}/"),
        (
            "case figures of the city this year (API)",
            "city_admin",
            "/api/v1/cases/metrics/1403?since=2026-01-01",
        ),
        ("case figures of a street, all time (API)", "shangzhan", "/api/v1/cases/metrics/140302001"),
        ("Open311 service requests (public, up to 1000)", "", "/open311/v2/requests.json"),
    ]


def _explain(sql: str) -> tuple[float, str]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)  # an INSERT … SELECT of the refresh writes nothing
    ms = float(re.search(r"Execution Time: ([\d.]+)", lines[-1]).group(1))
    return ms, "\n".join(lines)


def explain(limit: int) -> None:
    from django.conf import settings

    from grassroots.accounts.models import User
    from grassroots.cockpit.rollup import refresh

    settings.ALLOWED_HOSTS = ["*"]
    for title, username, url in _pages():
        client = Client()
        if username:
            client.force_login(User.objects.get(username=username))
        client.get(url)  # warm the caches
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            page_ms = (time.perf_counter() - started) * 1000
        _report(f"{title}: {username} GET {url} → {response.status_code}, {page_ms:.0f} ms, "
                f"{len(queries)} queries", queries, limit)  # fmt: skip
    for period in ("now", time.strftime("%Y-%m")):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            refresh(period, indicators=["cases.open", "cases.overdue", "cases.volume", "cases.on_time_rate"])
            ms = (time.perf_counter() - started) * 1000
        _report(f"cockpit refresh of four case indicators, period {period}: {ms:.0f} ms", queries, limit)


def _report(title: str, queries, limit: int) -> None:
    print(f"\n=== {title}")
    found = []
    for query in queries:
        sql = query["sql"]
        if CASES.search(sql) and not sql.startswith(("SAVEPOINT", "RELEASE")):
            sql = STAGE.sub("", sql)  # the refresh's INSERT INTO stage SELECT …: its SELECT
            found.append((*_explain(sql), sql))
    for ms, plan, sql in sorted(found, key=lambda f: -f[0])[:limit]:
        print(f"\n--- {ms:.2f} ms: {sql[:600]}{' …' if len(sql) > 600 else ''}\n{plan}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--years", type=int, default=5)
    gen.add_argument("--per-year", type=int, default=100_000)
    exp = sub.add_parser("explain")
    exp.add_argument("--limit", type=int, default=3, help="Plans per page, slowest first.")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Plans are PostgreSQL's: set DATABASE_URL to a throwaway PostgreSQL database.")
    if args.command == "generate":
        generate(args.years, args.per_year)
    else:
        explain(args.limit)
