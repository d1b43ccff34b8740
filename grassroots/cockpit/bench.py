"""Benchmark ``cockpit``: the roll-up of every indicator for every node against a hand-written floor,
and the cockpit's data request served warm.

Run it with ``grassroots bench cockpit`` (or ``grassroots cockpit bench --cases N --requests N``) on a
throwaway database that holds a population: first

    grassroots demo --no-serve              # Yangquan's divisions, grids and micro-grids
    grassroots registry generate --scale 1.0  # the census population, 1.3 M residents
    grassroots cases catalogue              # the case categories (optional)

There is no case generator, so the benchmark tops the database up to N synthetic cases (default
1,000,000; ``--cases`` or ``GRASSROOTS_BENCH_CASES``) and N/20 disputes, set-based (one ``INSERT …
SELECT`` over a generated series each, numbered ``BENCH…``/``BD…`` so they can be told apart), spread
over every grid of the city, statuses and clocks in fixed proportions. They stay for the next run.

What it measures:

1. ``rollup.refresh("now")`` for all indicators, against the floor: the same values computed by one
   hand-written statement per indicator family (registry, cases, disputes): ``WITH leaf AS (… GROUP BY
   area_id), rolled AS (SELECT SUBSTR(node, 1, L) … GROUP BY … UNION ALL over the levels) INSERT …
   SELECT`` one row per indicator and node. Both run in a transaction that first deletes what they
   replace; runs alternate; the floor's rows are checked equal to the refresh's. Aim: ≤ 2×.
2. ``/cockpit/<code>/data.json`` for the city and for a street, through Django's test client (the
   whole request: session, scope, cache), warm: p50 and p99 over ``--requests`` requests (default
   500), and the cold build of the payload for comparison. Aim: p99 ≤ 5 ms.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from grassroots.areas.bench import Output, Printer, environment
from grassroots.areas.codes import LEVEL_BY_LENGTH, upper_bound

from .indicators import REGISTRY
from .models import IndicatorValue
from .rollup import refresh

CITY = "1403"
STREET = "140302001"
DEFAULT_CASES = 1_000_000
DEFAULT_REQUESTS = 500
DEFAULT_REPEAT = 3
REFRESH_AIM = 2.0
REQUEST_AIM_MS = 5.0
FLOOR = "bench_cockpit_floor"
PLACES = "bench_cockpit_places"


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --- synthetic data ----------------------------------------------------------------------------------


def _series(start: int, stop: int) -> tuple[str, list[int]]:
    """A FROM clause yielding ``n`` for start ≤ n < stop."""
    if connection.vendor == "postgresql":
        return "generate_series(%s, %s) AS s(n)", [start, stop - 1]
    return (
        "(WITH RECURSIVE s(n) AS (SELECT %s UNION ALL SELECT n + 1 FROM s WHERE n < %s) SELECT n FROM s) s",
        [
            start,
            stop - 1,
        ],
    )


def _ago(days: str, seconds: str) -> str:
    """SQL for the timestamp ``%s`` (the base) minus a number of days and seconds."""
    if connection.vendor == "postgresql":
        return f"(%s::timestamptz - make_interval(days => ({days})::int, secs => ({seconds})))"
    return f"datetime(%s, '-' || ({days}) || ' days', '-' || ({seconds}) || ' seconds')"


def _shift(days: str) -> str:
    """SQL for the timestamp ``%s`` (the base) plus a (possibly negative) number of days."""
    if connection.vendor == "postgresql":
        return f"(%s::timestamptz + make_interval(days => ({days})::int))"
    return f"datetime(%s, printf('%%+d days', {days}))"


def _json(text: str) -> str:
    return f"'{text}'::jsonb" if connection.vendor == "postgresql" else f"'{text}'"


def _places(city: str = CITY) -> int:
    """A temporary table of the city's grids (or communities, without grids), numbered from 0."""
    from grassroots.areas.models import Area

    level = 6 if Area.objects.filter(level=6, code__gte=city, code__lt=upper_bound(city)).exists() else 5
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {PLACES}")
        cursor.execute(
            f"CREATE TEMP TABLE {PLACES} AS SELECT code, ROW_NUMBER() OVER (ORDER BY code) - 1 AS i "
            f"FROM {Area._meta.db_table} WHERE level = %s AND code >= %s AND code < %s",
            [level, city, upper_bound(city)],
        )
        cursor.execute(f"CREATE INDEX {PLACES}_i ON {PLACES} (i)")
        cursor.execute(f"SELECT COUNT(*) FROM {PLACES}")
        return cursor.fetchone()[0]


def _bench_users(city: str = CITY):
    from grassroots.accounts.choices import Role
    from grassroots.accounts.models import Grant, User

    users = {}
    for name, role, code in (
        ("bench_city", Role.CITY_ADMIN, city),
        ("bench_street", Role.STREET_STAFF if STREET.startswith(city) else None, STREET),
        ("bench_resolver", None, None),
        ("bench_verifier", None, None),
    ):
        user, _created = User.objects.get_or_create(username=name, defaults={"full_name": name})
        if role and not Grant.objects.filter(user=user, role=role, area_id=code).exists():
            Grant.objects.create(user=user, role=role, area_id=code)
        users[name] = user
    return users


def ensure_cases(total: int, say: Printer, *, city: str = CITY, analyse: bool = True) -> dict[str, Any]:
    """Top the database up to ``total`` synthetic cases and ``total // 20`` disputes, set-based, the new
    ones spread over ``city``'s grids (the province benchmark fills its cities one after another)."""
    from grassroots.cases.models import Case, Category
    from grassroots.disputes.models import Dispute

    users = _bench_users(city)
    have = Case.objects.filter(number__startswith="BENCH").count()
    have_disputes = Dispute.objects.filter(number__startswith="BD").count()
    result: dict[str, Any] = {"cases_before": have, "disputes_before": have_disputes}
    places = _places(city)
    if not places:
        raise CommandError(
            f"No communities under {city}: run `grassroots demo --no-serve` (or areas yangquan)."
        )
    base = connection.ops.adapt_datetimefield_value(timezone.now())
    if have < total:
        category = Category.objects.filter(active=True).order_by("pk").first()
        if category is None:
            category = Category.objects.create(code="bench", name="基准测试", group="基准测试")
        series, params = _series(have, total)
        created = _ago("n % 365", "n % 86400")
        k = "(n % 20)"
        status = (
            f"CASE WHEN {k} < 13 THEN 'closed' WHEN {k} = 13 THEN 'rejected' WHEN {k} = 14 THEN 'reported' "
            f"WHEN {k} = 15 THEN 'accepted' WHEN {k} = 16 THEN 'dispatched' WHEN {k} = 17 THEN 'in_progress' "
            f"WHEN {k} = 18 THEN 'resolved' ELSE 'verified' END"
        )
        open_ = f"{k} >= 14"
        clock = f"CASE WHEN {k} < 14 THEN 'stopped' WHEN n % 3 = 0 THEN 'overdue' ELSE 'on_time' END"
        was_overdue = f"CASE WHEN ({open_} AND n % 3 = 0) OR ({k} < 13 AND n % 9 = 0) THEN %s ELSE %s END"
        satisfaction = f"CASE WHEN {k} < 13 AND n % 13 <> 0 THEN 3 + n % 3 ELSE NULL END"
        resolved = f"CASE WHEN {k} < 13 OR {k} >= 18 THEN %s ELSE NULL END"
        verified = f"CASE WHEN {k} < 13 OR {k} = 19 THEN %s ELSE NULL END"
        closed_at = f"CASE WHEN {k} < 13 THEN {_ago('n % 365', 'n % 86400 - 7200')} ELSE NULL END"
        sql = (
            f"INSERT INTO {Case._meta.db_table} (number, category_id, title, description, area_id, "
            "holder_id, "
            "level, status, channel, address, attributes, contact_name, contact_phone_enc, "
            "contact_phone_masked, contact_email, token_hash, step, clock, was_overdue, result, "
            "resolved_by_id, verified_by_id, satisfaction, origin_level, highest_level, escalations, "
            "reopen_count, version, created_at, closed_at, updated_at) "
            f"SELECT 'BENCH' || CAST(n AS VARCHAR(12)), %s, '基准测试', '', p.code, SUBSTR(p.code, 1, 12), "
            f"5, {status}, 'staff', '', {_json('{}')}, '', '', '', '', '', '', {clock}, {was_overdue}, '', "
            f"{resolved}, {verified}, {satisfaction}, 5, CASE WHEN n % 11 = 0 THEN 4 ELSE 5 END, "
            f"CASE WHEN n % 11 = 0 THEN 1 ELSE 0 END, CASE WHEN {k} < 13 AND n % 37 = 0 THEN 1 ELSE 0 END, "
            f"0, {created}, {closed_at}, {created} "
            f"FROM {series} JOIN {PLACES} p ON p.i = (CAST(n AS BIGINT) * 7919) % %s"
        )
        # the parameters in the order their placeholders appear
        args = [category.pk, True, False, users["bench_resolver"].pk, users["bench_verifier"].pk]
        args += [base, base, base, *params, places]
        sql = sql.replace(" % ", " %% ")  # the modulo, next to the driver's placeholders
        say(f"  inserting {total - have:,} synthetic cases over {places:,} places …", end="")
        began = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, args)
        result["cases_seconds"] = time.perf_counter() - began
        say(f" {result['cases_seconds']:.1f} s")
    disputes = total // 20
    if have_disputes < disputes:
        series, params = _series(have_disputes, disputes)
        created = _ago("n % 180", "n % 86400")
        k = "(n % 10)"
        status = (
            f"CASE WHEN {k} < 3 THEN 'open' WHEN {k} < 6 THEN 'mediating' WHEN {k} < 9 THEN 'settled' "
            "ELSE 'closed' END"
        )
        colour = (
            "CASE n % 5 WHEN 0 THEN 'green' WHEN 1 THEN 'blue' WHEN 2 THEN 'yellow' WHEN 3 THEN 'orange' "
            "ELSE 'red' END"
        )
        follow_up = f"CASE WHEN {k} < 6 THEN {_shift('n % 5 - 2')} ELSE NULL END"  # 2 in 5 are late
        level = "CASE WHEN n % 7 = 0 THEN 3 WHEN n % 3 = 0 THEN 4 ELSE 5 END"
        settled = f"CASE WHEN {k} BETWEEN 6 AND 8 THEN {level} END"
        closed_at = f"CASE WHEN {k} >= 6 THEN {_ago('n % 180', '0')} ELSE NULL END"
        sql = (
            f"INSERT INTO {Dispute._meta.db_table} (number, type, title, description, area_id, holder_id, "
            "level, origin_level, source, status, colour, score, inputs, next_follow_up, colour_since, "
            "settled_level, "
            "created_at, closed_at) "
            f"SELECT 'BD' || CAST(n AS VARCHAR(12)), 'family', '基准测试', '', p.code, "
            "SUBSTR(p.code, 1, 12), 5, 5, "
            f"'patrol', {status}, {colour}, 0, {_json('{}')}, {follow_up}, {created}, {settled}, {created}, "
            f"{closed_at} FROM {series} JOIN {PLACES} p ON p.i = (CAST(n AS BIGINT) * 104729) % %s"
        )
        args = [base, base, base, base, *params, places]  # follow-up, colour since, created, closed
        sql = sql.replace(" % ", " %% ")
        say(f"  inserting {disputes - have_disputes:,} synthetic disputes …", end="")
        began = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, args)
        result["disputes_seconds"] = time.perf_counter() - began
        say(f" {result['disputes_seconds']:.1f} s")
    result["cases"] = Case.objects.count()
    result["disputes"] = Dispute.objects.count()
    if analyse:
        analyze(["cases_case", "disputes_dispute", "registry_resident", "registry_household"])
    return result


def analyze(tables: list[str]) -> None:
    """Planner statistics after bulk loads (VACUUM too on PostgreSQL, outside a transaction)."""
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                cursor.execute(f"VACUUM ANALYZE {table}")
            else:
                cursor.execute(f"ANALYZE {table}")


# --- the floor ---------------------------------------------------------------------------------------


def _rolled(columns: list[str]) -> str:
    """``SUM(col) AS col`` for every column, at every level, UNION ALL: the roll-up by code prefix."""
    sums = ", ".join(f"SUM({c}) AS {c}" for c in columns)
    parts = [
        f"SELECT SUBSTR(node, 1, {length}) AS node, {int(level)} AS level, {sums} FROM leaf "
        f"WHERE LENGTH(node) >= {length} GROUP BY SUBSTR(node, 1, {length})"
        for length, level in sorted(LEVEL_BY_LENGTH.items())
    ]
    return " UNION ALL ".join(parts)


def _unpivot(rows: list[tuple[str, str, str, str]]) -> str:
    """One SELECT per indicator from ``rolled``: (indicator, numerator, denominator, present when)."""

    def typed(expression: str) -> str:
        return "CAST(NULL AS DOUBLE PRECISION)" if expression == "NULL" else expression

    return " UNION ALL ".join(
        f"SELECT '{code}', node, level, {typed(num)}, {typed(den)} FROM rolled WHERE {when}"
        for code, num, den, when in rows
    )


def floor_statements() -> dict[str, tuple[str, list]]:
    """The hand-written roll-up, one statement per family, for the period ``now``."""
    mat = "MATERIALIZED "
    final = "'closed', 'rejected', 'merged'"
    active = "'open', 'mediating', 'agreed', 'referred'"
    registry = (
        f"WITH leaf AS {mat}("
        "SELECT area_id AS node, COUNT(*) AS residents, "
        "SUM(CASE WHEN household_id IS NULL THEN 1 ELSE 0 END) "
        "AS outside, 0 AS households, 0 AS placed, 0 AS care FROM registry_resident WHERE status = 'active' "
        "GROUP BY area_id UNION ALL "
        "SELECT area_id, 0, 0, COUNT(*), SUM(CASE WHEN LENGTH(area_id) >= 15 THEN 1 ELSE 0 END), 0 "
        "FROM registry_household WHERE status = 'active' GROUP BY area_id UNION ALL "
        "SELECT r.area_id, 0, 0, 0, 0, COUNT(*) FROM registry_caremembership c "
        "JOIN registry_resident r ON r.id = c.resident_id WHERE r.status = 'active' GROUP BY r.area_id), "
        f"rolled AS {mat}({_rolled(['residents', 'outside', 'households', 'placed', 'care'])}) "
        f"INSERT INTO {FLOOR} (indicator, node, level, numerator, denominator) "
        + _unpivot(
            [
                ("registry.residents", "residents", "NULL", "residents > 0"),
                ("registry.households", "households", "NULL", "households > 0"),
                ("registry.grid_coverage", "placed", "households", "households > 0"),
                ("registry.outside_household", "outside", "NULL", "outside > 0"),
                ("registry.care", "care", "NULL", "care > 0"),
            ]
        )
    )
    cases = (
        f"WITH leaf AS {mat}(SELECT area_id AS node, COUNT(*) AS volume, "
        f"SUM(CASE WHEN status NOT IN ({final}) THEN 1 ELSE 0 END) AS open, "
        f"SUM(CASE WHEN status NOT IN ({final}) AND clock = 'overdue' THEN 1 ELSE 0 END) AS overdue, "
        "SUM(CASE WHEN status = 'closed' THEN 1 ELSE 0 END) AS closed, "
        "SUM(CASE WHEN status = 'closed' AND NOT was_overdue THEN 1 ELSE 0 END) AS on_time, "
        "SUM(CASE WHEN status = 'closed' AND highest_level = origin_level THEN 1 ELSE 0 END) AS own_level, "
        "SUM(CASE WHEN escalations > 0 THEN 1 ELSE 0 END) AS escalated, "
        "SUM(CASE WHEN status = 'closed' AND reopen_count > 0 THEN 1 ELSE 0 END) AS reopened, "
        "COALESCE(SUM(satisfaction), 0) AS rating, COUNT(satisfaction) AS ratings FROM cases_case "
        "GROUP BY area_id), "
        "rolled AS "
        + mat
        + "("
        + _rolled(
            [
                "volume",
                "open",
                "overdue",
                "closed",
                "on_time",
                "own_level",
                "escalated",
                "reopened",
                "rating",
                "ratings",
            ]
        )
        + f") INSERT INTO {FLOOR} (indicator, node, level, numerator, denominator) "
        + _unpivot(
            [
                ("cases.volume", "volume", "NULL", "volume > 0"),
                ("cases.open", "open", "NULL", "open > 0"),
                ("cases.overdue", "overdue", "NULL", "overdue > 0"),
                ("cases.on_time_rate", "on_time", "closed", "volume > 0"),
                ("cases.own_level_rate", "own_level", "closed", "volume > 0"),
                ("cases.escalation_rate", "escalated", "volume", "volume > 0"),
                ("cases.reopen_rate", "reopened", "closed", "volume > 0"),
                ("cases.satisfaction", "rating", "ratings", "volume > 0"),
            ]
        )
    )
    colours = ["red", "orange", "yellow", "blue", "green"]
    disputes = (
        f"WITH leaf AS {mat}(SELECT area_id AS node, "
        f"SUM(CASE WHEN status IN ({active}) THEN 1 ELSE 0 END) AS active, "
        + "".join(
            f"SUM(CASE WHEN status IN ({active}) AND colour = '{c}' THEN 1 ELSE 0 END) AS {c}, "
            for c in colours
        )
        + f"SUM(CASE WHEN status IN ({active}) AND next_follow_up < %s THEN 1 ELSE 0 END) AS late, "
        "SUM(CASE WHEN status = 'settled' THEN 1 ELSE 0 END) AS settled, "
        "SUM(CASE WHEN status = 'settled' AND settled_level = 5 THEN 1 ELSE 0 END) AS village, "
        "SUM(CASE WHEN status = 'settled' AND settled_level = 4 THEN 1 ELSE 0 END) AS township, "
        "SUM(CASE WHEN status = 'settled' AND settled_level <= 3 THEN 1 ELSE 0 END) AS above "
        f"FROM disputes_dispute GROUP BY area_id), "
        f"rolled AS {mat}({_rolled(['active', *colours, 'late', 'settled', 'village', 'township', 'above'])})"
        " "
        f"INSERT INTO {FLOOR} (indicator, node, level, numerator, denominator) "
        + _unpivot(
            [
                *[(f"disputes.{c}", c, "NULL", "active > 0") for c in colours],
                ("disputes.late_follow_ups", "late", "NULL", "active > 0"),
                ("disputes.settled_in_village", "village", "settled", "settled > 0"),
                ("disputes.settled_in_township", "township", "settled", "settled > 0"),
                ("disputes.settled_above", "above", "settled", "settled > 0"),
            ]
        )
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return {"registry": (registry, []), "cases": (cases, []), "disputes": (disputes, [now])}


FAMILIES = {"registry": "registry.", "cases": "cases.", "disputes": "disputes."}


def _create_floor() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR}")
        cursor.execute(
            f"CREATE TEMP TABLE {FLOOR} (indicator VARCHAR(40), node VARCHAR(18), level SMALLINT, "
            "numerator DOUBLE PRECISION, denominator DOUBLE PRECISION)"
        )


def run_floor(families: list[str]) -> float:
    statements = floor_statements()
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for family in families:
            cursor.execute(f"DELETE FROM {FLOOR} WHERE indicator LIKE %s", [FAMILIES[family] + "%"])
            sql, params = statements[family]
            cursor.execute(sql, params)
    return time.perf_counter() - began


def run_refresh(families: list[str]) -> float:
    codes = sorted(code for code in REGISTRY if any(code.startswith(FAMILIES[f]) for f in families))
    began = time.perf_counter()
    refresh("now", codes)
    return time.perf_counter() - began


def compare_floor() -> dict[str, int]:
    """Rows in one and not the other, both ways (0 and 0: the same values)."""
    table = IndicatorValue._meta.db_table
    columns = "indicator, node, level, numerator, COALESCE(denominator, -1)"
    ours = f"SELECT {columns} FROM {table} WHERE period = 'now'"
    floor = f"SELECT {columns} FROM {FLOOR}"
    result = {}
    with connection.cursor() as cursor:
        for name, first, second in (("refresh_only", ours, floor), ("floor_only", floor, ours)):
            cursor.execute(f"SELECT COUNT(*) FROM ({first} EXCEPT {second}) AS d")
            result[name] = cursor.fetchone()[0]
        cursor.execute(f"SELECT COUNT(*) FROM {FLOOR}")
        result["rows"] = cursor.fetchone()[0]
    return result


def measure_refresh(repeat: int, say: Printer) -> dict[str, Any]:
    _create_floor()
    families = list(FAMILIES)
    timings: dict[str, list[float]] = {"refresh": [], "floor": []}
    per_family: dict[str, dict[str, list[float]]] = {f: {"refresh": [], "floor": []} for f in families}
    run_refresh(families)  # warm: caches, statistics, the stage table
    run_floor(families)
    for round_ in range(repeat):
        order = ["refresh", "floor"] if round_ % 2 == 0 else ["floor", "refresh"]
        for name in order:
            timings[name].append((run_refresh if name == "refresh" else run_floor)(families))
        for family in families:
            for name in order:
                per_family[family][name].append((run_refresh if name == "refresh" else run_floor)([family]))
    run_refresh(families)
    run_floor(families)
    check = compare_floor()
    summary = {
        "refresh_seconds": statistics.median(timings["refresh"]),
        "floor_seconds": statistics.median(timings["floor"]),
        "runs": timings,
        "families": {
            f: {
                "refresh_seconds": statistics.median(t["refresh"]),
                "floor_seconds": statistics.median(t["floor"]),
                "ratio": statistics.median(t["refresh"]) / statistics.median(t["floor"]),
            }
            for f, t in per_family.items()
        },
        "check": check,
    }
    summary["ratio"] = summary["refresh_seconds"] / summary["floor_seconds"]
    summary["passed"] = (
        summary["ratio"] <= REFRESH_AIM and not check["refresh_only"] and not check["floor_only"]
    )
    return summary


# --- the data request --------------------------------------------------------------------------------


class _Counter:
    """An execute wrapper that notes every statement sent (CaptureQueriesContext needs DEBUG's log)."""

    def __init__(self, statements: list[str]):
        self.statements = statements

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)


def _host() -> str:
    hosts = [h for h in settings.ALLOWED_HOSTS if h and "*" not in h and not h.startswith(".")]
    return hosts[0] if hosts else "localhost"


def measure_requests(requests: int, users: dict) -> dict[str, Any]:
    try:
        reverse("cockpit:data", args=[CITY])
    except NoReverseMatch as exc:
        raise CommandError(
            'The cockpit is not wired: add path("cockpit/", include("grassroots.cockpit.urls")).'
        ) from exc
    results = {}
    for label, user, code in (("city", users["bench_city"], CITY), ("street", users["bench_street"], STREET)):
        client = Client(HTTP_HOST=_host())
        client.force_login(user)
        url = reverse("cockpit:data", args=[code]) + "?period=now"
        cold = []
        for _ in range(min(20, requests)):
            cache.clear()
            began = time.perf_counter_ns()
            response = client.get(url)
            cold.append((time.perf_counter_ns() - began) / 1e6)
        if response.status_code != 200:
            raise CommandError(f"{url}: {response.status_code}")
        statements: list[str] = []
        with connection.execute_wrapper(_Counter(statements)):
            client.get(url)
        warm = []
        for _ in range(requests):
            began = time.perf_counter_ns()
            client.get(url)
            warm.append((time.perf_counter_ns() - began) / 1e6)
        results[label] = {
            "code": code,
            "bytes": len(response.content),
            "children": len(response.json()["children"]),
            "queries": len(statements),
            "warm_p50_ms": percentile(warm, 0.5),
            "warm_p99_ms": percentile(warm, 0.99),
            "warm_max_ms": max(warm),
            "cold_p50_ms": percentile(cold, 0.5),
            "requests": requests,
        }
        results[label]["passed"] = results[label]["warm_p99_ms"] <= REQUEST_AIM_MS
    # Floors of the stack, for comparison: the middleware and one query (GET /healthz, no session),
    # and a signed-in request that only reads the session, the user and their grants (GET /api/v1/me).
    anonymous = Client(HTTP_HOST=_host())
    signed_in = Client(HTTP_HOST=_host())
    signed_in.force_login(users["bench_street"])
    for name, client, url in (("healthz", anonymous, "/healthz"), ("me", signed_in, "/api/v1/me")):
        client.get(url)
        samples = []
        for _ in range(requests):
            began = time.perf_counter_ns()
            client.get(url)
            samples.append((time.perf_counter_ns() - began) / 1e6)
        results[f"reference_{name}"] = {
            "url": url,
            "warm_p50_ms": percentile(samples, 0.5),
            "warm_p99_ms": percentile(samples, 0.99),
        }
    return results


# --- the suite ---------------------------------------------------------------------------------------


def _population() -> dict[str, int]:
    from grassroots.registry.models import Household, Resident

    return {"residents": Resident.objects.count(), "households": Household.objects.count()}


def run(options: Mapping[str, Any], out: Output) -> dict[str, Any]:
    """Run the cockpit benchmark; print as it goes and return the figures (JSON-serialisable).

    ``options``: ``cases`` (synthetic cases to have, default 1,000,000 or $GRASSROOTS_BENCH_CASES),
    ``requests`` (data requests per node, default 500), ``repeat`` (refresh runs, default 3).
    """
    say = Printer(out)
    total = int(options.get("cases") or os.environ.get("GRASSROOTS_BENCH_CASES") or DEFAULT_CASES)
    requests = int(options.get("requests") or DEFAULT_REQUESTS)
    repeat = int(options.get("repeat") or DEFAULT_REPEAT)
    if total < 1 or requests < 1 or repeat < 1:
        raise CommandError("--cases, --requests and --repeat must be at least 1")
    env = environment()
    say("Grassroots benchmark: cockpit (roll-up against a hand-written floor; the data request)")
    say(f"  database  {env['database']} {env['database_version']} at {env['database_location']}")
    say(f"  python    {env['python']}, Django {env['django']}")
    say(f"  machine   {env['machine']}, {env['cpu_count']} CPUs, {env['platform']}")
    say(
        f"  method    refresh('now') and the floor alternated, {repeat} runs each, medians; "
        f"{requests} warm data requests per node, p50/p99"
    )
    if env["debug"]:
        say("  WARNING   DEBUG is on: every query is logged. Unset GRASSROOTS_DEBUG.")

    say("\n1. Data")
    population = _population()
    say(f"  registry: {population['residents']:,} residents in {population['households']:,} households")
    if population["residents"] < 100_000:
        say("  (a small population: run `grassroots registry generate --scale 1.0` for the census figure)")
    data = ensure_cases(total, say)
    say(f"  cases: {data['cases']:,} (synthetic: {total:,}); disputes: {data['disputes']:,}")
    users = _bench_users()

    say(f"\n2. Roll-up of all {len(REGISTRY)} indicators for every node, period now")
    rollup = measure_refresh(repeat, say)
    say(f"  {'':<10} {'refresh':>10} {'floor':>10} {'ratio':>8}")
    for family, figures in rollup["families"].items():
        say(
            f"  {family:<10} {figures['refresh_seconds']:>9.3f}s {figures['floor_seconds']:>9.3f}s "
            f"{figures['ratio']:>7.2f}×"
        )
    say(
        f"  {'all':<10} {rollup['refresh_seconds']:>9.3f}s {rollup['floor_seconds']:>9.3f}s "
        f"{rollup['ratio']:>7.2f}×  aim ≤ {REFRESH_AIM}×  {'PASS' if rollup['passed'] else 'FAIL'}"
    )
    check = rollup["check"]
    same = not check["refresh_only"] and not check["floor_only"]
    say(
        f"  values: {check['rows']:,} rows; {'identical' if same else 'DIFFERENT'} "
        f"({check['refresh_only']} only in refresh, {check['floor_only']} only in the floor)"
    )

    say(f"\n3. The data request /cockpit/<code>/data.json, warm, {requests} requests")
    served = measure_requests(requests, users)
    references = {name: served.pop(name) for name in ("reference_healthz", "reference_me")}
    for label, figures in served.items():
        say(
            f"  {label:<7} {figures['code']:<10} {figures['children']:>3} children {figures['bytes']:>7,} B "
            f"{figures['queries']} queries  p50 {figures['warm_p50_ms']:.2f} ms  "
            f"p99 {figures['warm_p99_ms']:.2f} ms"
            f"  (cold {figures['cold_p50_ms']:.1f} ms)  aim p99 ≤ {REQUEST_AIM_MS} ms  "
            f"{'PASS' if figures['passed'] else 'FAIL'}"
        )
    for name, label in (
        ("reference_healthz", "the middleware and SELECT 1, no session"),
        ("reference_me", "signed in: session, user, grants"),
    ):
        ref = references[name]
        say(
            f"  reference: GET {ref['url']} ({label}) p50 {ref['warm_p50_ms']:.2f} ms  "
            f"p99 {ref['warm_p99_ms']:.2f} ms"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if load is not None and env["cpu_count"] and load > env["cpu_count"]:
        say(
            f"  WARNING   load average {load:.1f} on {env['cpu_count']} CPUs: other work skews these timings."
        )
    served.update(references)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR}")
        cursor.execute(f"DROP TABLE IF EXISTS {PLACES}")
    say("\nSynthetic cases and disputes stay (numbers BENCH…, BD…) for the next run.")
    return {
        "suite": "cockpit",
        "environment": env,
        "population": population,
        "data": data,
        "rollup": rollup,
        "requests": served,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "passed": rollup["passed"] and all(f.get("passed", True) for f in served.values()),
    }
