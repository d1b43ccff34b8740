"""Benchmark ``registry``: a synthetic city generated, a register sheet imported, the coverage audit and
subtree counts, each figure beside a floor measured in the same run.

Run it with ``grassroots bench registry [--scale 1.0] [--seed 1] [--within 1403]`` on a throwaway,
migrated database that holds no population yet (SQLite: ``GRASSROOTS_DATA_DIR=/tmp/x``; PostgreSQL:
``DATABASE_URL``). Yangquan's tree and grids are loaded when missing. Scale 1.0 is Yangquan's census
population (1.32 M residents): expect minutes.

1. Generate: ``generate_population`` timed, with rows/s. Floor: the same number of rows of every table
   it writes (buildings, households, residents, care memberships, organisations, one event per
   resident), of the same widths (ciphertext-sized text, 64-character keyed hashes), written with
   ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) in one transaction into empty copies of the
   tables (same columns, indexes, constraints and foreign keys, the deferred checks included), rolled
   back. The floor's rows are built before each chunk is timed: only the database's work counts.
2. Import: whole communities of one street, :data:`SHEET_HOUSEHOLDS` households or so (a street
   office's register), are written to an .xlsx sheet as an office keeps it (ID numbers and phones in
   clear: they are synthetic), and removed from the registry (``--replace`` semantics). The real
   importer then loads the sheet (``do_create_job`` then ``process_job``, the job's own processing,
   inline), against the floor of inserting those same rows (buildings, households, residents, care
   memberships, events; the rows read before removal) raw in one transaction into the same tables,
   rolled back, three times before the import (the median counts; the import itself runs once).
   Audit entries and job bookkeeping count against the importer.
3. Coverage audit: ``run_checks(root)`` and of the busiest grid, against ``run_checks_raw_sql``
   (the same figures in one hand-written statement), interleaved, medians and p90.
4. Subtree counts of residents and households at every level down to a micro-grid: the ORM
   (``Resident.objects.within(code).count()``) against the same SQL on the driver's DB-API cursor.

Aims (the issue's): import ≤ 10× its floor, root audit ≤ 1.5×, one grid ≤ 2×. Generation and the
counts have no aim; their ratios are shown for reference.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import itertools
import os
import random
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models import Count
from django.db.models.functions import Length, Substr

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.areas.bench import Output, Printer, environment, peak_rss_mb, summarize
from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL, in_span, in_subtree, level_of, upper_bound
from grassroots.areas.grids import generate_grids
from grassroots.areas.models import Area
from grassroots.areas.yangquan import load_yangquan
from grassroots.core import crypto
from grassroots.imports import jobs
from grassroots.imports.models import ImportJob, ImportProblem, JobStatus, render_message
from grassroots.imports.sheet import COLUMNS
from grassroots.imports.validate import CARE_GROUPS, REGISTRATIONS, RELATIONS

from . import generate
from .choices import CareGroup, EventKind
from .coverage import run_checks, run_checks_raw_sql
from .models import (
    ID_NUMBER,
    PHONE,
    Building,
    CareMembership,
    Household,
    Organisation,
    Resident,
    ResidentEvent,
)

AIMS = {"import": 10.0, "audit_root": 1.5, "audit_grid": 2.0}
DEFAULT_SCALE = 1.0
DEFAULT_WITHIN = "1403"
SHEET_HOUSEHOLDS = 5000
REPEATS = {"audit_root": 5, "audit_grid": 50, "counts": 30}  # --repeat replaces them all
CHUNK = 20_000
IMPORT_FLOOR_RUNS = 3  # the import itself runs once (it takes long), its floor three times: the median
FLOOR_PREFIX = "bench_floor_"
GRID_LENGTH = LENGTH_BY_LEVEL[Level.GRID]
# The widths the generator writes: AES-GCM of an 18-character ID number and an 11-digit phone
# (12-byte nonce + plaintext + 16-byte tag, base64 without padding, after "v1.<key id>.").
ID_SEALED_BYTES = 12 + 18 + 16
PHONE_SEALED_BYTES = 12 + 11 + 16
PHONE_SHARE = 0.75


def add_arguments(parser: CommandParser) -> None:
    group = parser.add_argument_group("registry suite")
    group.add_argument(
        "--scale", type=float, default=DEFAULT_SCALE, help="Population scale (1.0: 1.32 M residents)."
    )
    group.add_argument("--seed", type=int, default=1, help="Seed of the synthetic population.")
    group.add_argument(
        "--within", default=DEFAULT_WITHIN, help="Subtree to populate and audit (default: 1403)."
    )
    group.add_argument(
        "--sheet-households",
        type=int,
        default=SHEET_HOUSEHOLDS,
        help=f"Households on the imported sheet, in whole communities (default {SHEET_HOUSEHOLDS}).",
    )


# --- timing ---------------------------------------------------------------------------------------


def alternate(
    funcs: Mapping[str, Callable[[], object]], repeat: int, warmup: int = 1
) -> dict[str, dict[str, float]]:
    """Time each function ``repeat`` times, rotating the order every round so that drift hits all alike."""
    names = list(funcs)
    for name in names:
        for _ in range(warmup):
            funcs[name]()
    timings: dict[str, list[int]] = {name: [] for name in names}
    gc.collect()
    clock = time.perf_counter_ns
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            began = clock()
            funcs[name]()
            timings[name].append(clock() - began)
    return {name: summarize(values) for name, values in timings.items()}


def ratio(measured: dict[str, float], floor: dict[str, float]) -> float:
    return measured["median_us"] / floor["median_us"]


def verdict(value: float, aim: float) -> str:
    return "PASS" if value <= aim else "FAIL"


def load_average() -> list[float] | None:
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def refresh_statistics(tables: Iterable[str]) -> str:
    """Planner statistics (and on PostgreSQL the visibility map) after a bulk change, as an operator
    would. VACUUM cannot run inside a transaction (the test suite's): there it is ANALYZE alone."""
    vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
    statement = "VACUUM ANALYZE" if vacuum else "ANALYZE"
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{statement} {table}")
    return statement


REGISTRY_TABLES = [m._meta.db_table for m in (Building, Household, Resident, CareMembership, ResidentEvent)]


# --- raw writing: the floor -----------------------------------------------------------------------


class RawWriter:
    """Rows into a table through the driver's own cursor: ``executemany`` on SQLite, ``COPY`` on
    PostgreSQL. Times only the writing (``seconds``); the caller builds rows between calls."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.cursor = connection.connection.cursor()
        self.seconds = 0.0
        self.rows = 0

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        began = time.perf_counter()
        if connection.vendor == "postgresql":
            with self.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            self.cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", rows)
        self.seconds += time.perf_counter() - began
        self.rows += len(rows)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        began = time.perf_counter()
        self.cursor.execute(sql, params)
        self.seconds += time.perf_counter() - began
        return self.cursor.rowcount

    def check_constraints(self) -> None:
        """The deferred foreign-key checks the commit would make (PostgreSQL runs them at commit;
        SQLite has already checked each row as it went in)."""
        if connection.vendor == "postgresql":
            self.execute("SET CONSTRAINTS ALL IMMEDIATE")

    def close(self) -> None:
        self.cursor.close()


def create_scratch_copies(tables: Sequence[str]) -> dict[str, str]:
    """Empty copies of ``tables`` (columns, indexes, checks, unique and foreign keys, references between
    them pointing at the copies), created in the current transaction. Returns table → copy."""
    names = {table: FLOOR_PREFIX + table for table in tables}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            marks = ", ".join(["%s"] * len(tables))
            cursor.execute(
                f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL "
                "ORDER BY type DESC",  # tables before their indexes
                list(tables),
            )
            schema = cursor.fetchall()
            renamed = dict(names) | {name: FLOOR_PREFIX + name for kind, name, _ in schema if kind == "index"}

            def rename(sql: str) -> str:
                return re.sub(r'"([^"]+)"', lambda m: f'"{renamed.get(m.group(1), m.group(1))}"', sql)

            for _kind, _name, sql in schema:
                cursor.execute(rename(sql))
        else:
            for table, copy in names.items():
                cursor.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)")
            for table, copy in names.items():
                cursor.execute(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                    "AND contype = 'f' ORDER BY conname",
                    [table],
                )
                for number, (definition,) in enumerate(cursor.fetchall()):
                    definition = re.sub(
                        r'REFERENCES "?(\w+)"?\(',
                        lambda m: f"REFERENCES {names.get(m.group(1), m.group(1))}(",
                        definition,
                    )
                    cursor.execute(f"ALTER TABLE {copy} ADD CONSTRAINT {copy[:50]}_fk{number} {definition}")
    return names


def average_text_width(table: str, columns: Sequence[str]) -> float:
    """Characters of text per row over ``columns``: to show that the floor writes rows as wide."""
    q = connection.ops.quote_name
    total = " + ".join(f"COALESCE(LENGTH({q(c)}), 0)" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT AVG({total}) FROM {table}")
        value = cursor.fetchone()[0]
    return float(value or 0)


RESIDENT_TEXT = ("name", "id_number_enc", "id_number_hash", "id_number_masked", "phone_enc", "phone_hash",
                 "phone_masked", "ethnicity", "relation", "registration", "status")  # fmt: skip
HOUSEHOLD_TEXT = ("number", "room", "address", "status")


class SyntheticRows:
    """Rows shaped like the generator's, for the generation floor: same tables, counts, widths, and
    households spread over the same cells; random keyed hashes so that the indexes fill as they do."""

    def __init__(self, counts: dict[str, int], cells: list[tuple[str, int]], seed: int) -> None:
        self.counts = counts
        self.rng = random.Random(seed)
        self.stamp = connection.ops.adapt_datetimefield_value(generate.GENERATED_AT)
        self.household_area = [code for code, n in cells for _ in range(n)]
        from faker.providers.person.zh_CN import Provider

        surnames, given = (
            list(Provider.last_names),
            [*Provider.first_names_male, *Provider.first_names_female],
        )
        self.names = [self.rng.choice(surnames) + self.rng.choice(given) for _ in range(5000)]
        self.prefix = "阳泉市城区上站街道油娄沟社区"

    def _sealed(self, size: int) -> str:
        return "v1.k1." + base64.urlsafe_b64encode(self.rng.randbytes(size)).decode().rstrip("=")

    def _hash(self) -> str:
        return self.rng.randbytes(32).hex()

    def _chunks(self, count: int, make: Callable[[int], tuple]) -> Iterator[list[tuple]]:
        for start in range(0, count, CHUNK):
            yield [make(i) for i in range(start, min(count, start + CHUNK))]

    def building_area(self, b: int) -> str:
        return self.household_area[b * len(self.household_area) // max(1, self.counts["buildings"])][
            :GRID_LENGTH
        ]

    def buildings(self) -> Iterator[list[tuple]]:
        stamp = self.stamp
        return self._chunks(
            self.counts["buildings"],
            lambda b: (
                b + 1,
                self.building_area(b),
                f"{b + 1}号楼",
                f"{self.prefix}{b + 1}号楼",
                "residential",
                6,
                2,
                stamp,
                stamp,
            ),
        )

    def _household(self, k: int) -> tuple:
        households, residents = self.counts["households"], self.counts["residents"]
        building = k * self.counts["buildings"] // households + 1
        room = f"{k % 4 + 1}单元{k % 7 + 1}0{k % 2 + 1}"
        head = k * (residents // households) + min(k, residents % households) + 1
        area = self.household_area[k]
        return (
            k + 1,
            area,
            building,
            f"{area[:12]}{k:07d}",
            room,
            f"{self.prefix}{building}号楼{room}",
            head,
            "active",
            self.stamp,
            self.stamp,
        )

    def households(self) -> Iterator[list[tuple]]:
        return self._chunks(self.counts["households"], self._household)

    def residents(self) -> Iterator[list[tuple]]:
        households, residents = self.counts["households"], self.counts["residents"]
        base, extra = divmod(residents, households)
        owners = itertools.chain.from_iterable(
            itertools.repeat(k, base + (k < extra)) for k in range(households)
        )
        rng, stamp, previous = self.rng, self.stamp, -1
        for start in range(0, residents, CHUNK):
            chunk = []
            for r in range(start, min(residents, start + CHUNK)):
                k = next(owners)
                relation, previous = ("head" if k != previous else "child"), k
                phone = rng.random() < PHONE_SHARE
                chunk.append(
                    (
                        r + 1,
                        k + 1,
                        self.household_area[k],
                        rng.choice(self.names),
                        self._sealed(ID_SEALED_BYTES),
                        self._hash(),
                        f"140302********{r % 10000:04d}",
                        "MF"[r % 2],
                        f"{1940 + r % 80}-{r % 12 + 1:02d}-{r % 28 + 1:02d}",
                        self._sealed(PHONE_SEALED_BYTES) if phone else "",
                        self._hash() if phone else "",
                        f"138****{r % 10000:04d}" if phone else "",
                        "汉族",
                        relation,
                        "registered",
                        "active",
                        stamp,
                        stamp,
                    )
                )
            yield chunk

    def care(self) -> Iterator[list[tuple]]:
        residents, groups = self.counts["residents"], list(CareGroup.values)
        if self.counts["care_memberships"] > residents:
            raise CommandError("More care memberships than residents: the floor cannot shape them.")
        # One membership per resident at most, so (resident, group) stays unique; groups mixed.
        return self._chunks(
            self.counts["care_memberships"],
            lambda j: (
                j * residents // self.counts["care_memberships"] + 1,
                groups[j % len(groups)],
                "2020-01-01",
                "",
            ),
        )

    def organisations(self) -> Iterator[list[tuple]]:
        buildings, stamp = max(1, self.counts["buildings"]), self.stamp

        def make(j: int) -> tuple:
            b = j * buildings // max(1, self.counts["organisations"])
            return (
                self.building_area(b),
                b + 1,
                f"{self.prefix}便利店{j}",
                "shop",
                f"92140302{j:010d}",
                f"{self.prefix}{b + 1}号楼{j}号商铺",
                "张伟",
                self._sealed(PHONE_SEALED_BYTES),
                "138****5678",
                5,
                stamp,
                stamp,
            )

        return self._chunks(self.counts["organisations"], make)


def generation_floor(counts: dict[str, int], cells: list[tuple[str, int]], seed: int) -> dict[str, Any]:
    """Insert as many rows as the generator wrote, as wide, into empty copies of its tables; roll back."""
    models_ = {
        "buildings": (Building, generate.BUILDING_COLUMNS),
        "households": (Household, generate.HOUSEHOLD_COLUMNS),
        "residents": (Resident, generate.RESIDENT_COLUMNS),
        "care_memberships": (CareMembership, generate.CARE_COLUMNS),
        "organisations": (Organisation, generate.ORGANISATION_COLUMNS),
    }
    rows = SyntheticRows(counts, cells, seed)
    sources = {
        "buildings": rows.buildings,
        "households": rows.households,
        "residents": rows.residents,
        "care_memberships": rows.care,
        "organisations": rows.organisations,
    }
    tables = [model._meta.db_table for model, _ in models_.values()] + [ResidentEvent._meta.db_table]
    # The generator's page cache (set outside the transaction: nothing may run after the rollback mark).
    with generate._sqlite_cache(), transaction.atomic():
        copies = create_scratch_copies(tables)
        writer = RawWriter()
        try:
            for key, (model, columns) in models_.items():
                for chunk in sources[key]():
                    writer.insert(copies[model._meta.db_table], columns, chunk)
            event, resident = copies[ResidentEvent._meta.db_table], copies[Resident._meta.db_table]
            mark = "?" if connection.vendor == "sqlite" else "%s"
            events = writer.execute(
                f"INSERT INTO {event} (resident_id, area_id, kind, date, to_household_id, note, recorded_at) "
                f"SELECT id, area_id, {mark}, {mark}, household_id, '', {mark} FROM {resident}",
                [EventKind.REGISTERED, generate.AS_OF.isoformat(), rows.stamp],
            )
            writer.rows += events
            writer.check_constraints()
            widths = {
                "residents": average_text_width(copies[Resident._meta.db_table], RESIDENT_TEXT),
                "households": average_text_width(copies[Household._meta.db_table], HOUSEHOLD_TEXT),
            }
        finally:
            writer.close()
            transaction.set_rollback(True)
    return {
        "rows": writer.rows,
        "seconds": writer.seconds,
        "rows_per_second": writer.rows / writer.seconds if writer.seconds else 0.0,
        "text_width": widths,
    }


# --- step 1: generation ---------------------------------------------------------------------------


def ensure_tree(within: str) -> dict[str, Any]:
    """Yangquan's tree and grids under ``within``, loaded or generated when missing (not timed)."""
    done: dict[str, Any] = {}
    if not Area.objects.filter(code=within).exists():
        began = time.perf_counter()
        load_yangquan()
        done["tree_seconds"] = time.perf_counter() - began
        if not Area.objects.filter(code=within).exists():
            raise CommandError(f"{within}: no such area, even after loading Yangquan's tree.")
    if not Area.objects.filter(in_subtree("code", within), level=Level.GRID).exists():
        began = time.perf_counter()
        report = generate_grids(within)
        done["grids_generated"] = {"grids": report.grids, "microgrids": report.microgrids}
        done["grids_seconds"] = time.perf_counter() - began
    done["grids"] = Area.objects.filter(in_subtree("code", within), level=Level.GRID).count()
    return done


def household_cells(within: str) -> list[tuple[str, int]]:
    """(area, households) of the generated households under ``within``, in code order."""
    rows = (
        Household.objects.within(within)
        .values("area_id")
        .annotate(n=Count("id"))
        .order_by("area_id")
        .values_list("area_id", "n")
    )
    return list(rows)


def step_generate(say: Printer, within: str, scale: float, seed: int) -> dict[str, Any]:
    if Household.objects.within(within).exists():
        raise CommandError(
            f"{within} holds households already: run the benchmark on a fresh database (it generates a "
            "population, then removes and re-imports part of it)."
        )
    say(f"  generate_population({within!r}, scale={scale}, seed={seed}) …", end="")
    began = time.perf_counter()
    report = generate.generate_population(within, scale=scale, seed=seed)
    seconds = time.perf_counter() - began
    say(" done")
    counts = {
        "buildings": report.buildings,
        "households": report.households,
        "residents": report.residents,
        "care_memberships": report.care_memberships,
        "organisations": report.organisations,
    }
    result: dict[str, Any] = {
        "communities": report.communities,
        **counts,
        "events": report.residents,
        "rows": report.rows,
        "seconds": seconds,
        "rows_per_second": report.rows / seconds if seconds else 0.0,
        "peak_rss_mb": peak_rss_mb(),
    }
    say(
        f"  generated {report.communities} communities: {report.households:,} households, "
        f"{report.residents:,} residents, {report.buildings:,} buildings, {report.organisations:,} "
        f"organisations, {report.care_memberships:,} care memberships, {report.residents:,} events"
    )
    say(f"  {report.rows:,} rows in {seconds:.2f} s = {result['rows_per_second']:,.0f} rows/s")
    say(f"  {refresh_statistics(REGISTRY_TABLES)} after generating")
    say("  floor: the same rows raw into empty copies of the tables, one transaction …", end="")
    floor = generation_floor(counts, household_cells(within), seed)
    say(" done")
    widths = {
        "residents": average_text_width(Resident._meta.db_table, RESIDENT_TEXT),
        "households": average_text_width(Household._meta.db_table, HOUSEHOLD_TEXT),
    }
    say(
        f"  floor: {floor['rows']:,} rows in {floor['seconds']:.2f} s = "
        f"{floor['rows_per_second']:,.0f} rows/s "
        f"(text per row, generated / floor: residents {widths['residents']:.0f} / "
        f"{floor['text_width']['residents']:.0f} chars, households {widths['households']:.0f} / "
        f"{floor['text_width']['households']:.0f})"
    )
    result["floor"] = floor
    result["text_width"] = widths
    result["ratio"] = seconds / floor["seconds"] if floor["seconds"] else float("inf")
    return result


# --- step 2: import -------------------------------------------------------------------------------


def pick_sheet(within: str, households: int) -> tuple[str, list[str]]:
    """Whole communities of the first populated street under ``within`` (or ``within`` itself, if a
    community), in code order, until ``households``; and the node the import is aimed at."""
    if len(within) >= LENGTH_BY_LEVEL[Level.COMMUNITY]:
        return within[: LENGTH_BY_LEVEL[Level.COMMUNITY]], [within[: LENGTH_BY_LEVEL[Level.COMMUNITY]]]
    by_community = (
        Household.objects.within(within)
        .annotate(community=Substr("area_id", 1, LENGTH_BY_LEVEL[Level.COMMUNITY]))
        .values("community")
        .annotate(n=Count("id"))
        .order_by("community")
        .values_list("community", "n")
    )
    chosen: list[str] = []
    total = 0
    for community, n in by_community:
        if (
            chosen
            and community[: LENGTH_BY_LEVEL[Level.STREET]] != chosen[0][: LENGTH_BY_LEVEL[Level.STREET]]
        ):
            break
        chosen.append(community)
        total += n
        if total >= households:
            break
    if not chosen:
        raise CommandError(f"No households under {within} to write a sheet from.")
    node = chosen[0] if len(chosen) == 1 else chosen[0][: LENGTH_BY_LEVEL[Level.STREET]]
    return node, chosen


def _columns(model: type[models.Model]) -> list[str]:
    return [str(f.column) for f in model._meta.concrete_fields]


def read_rows(first: str, last: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every registry row the import will write again for communities ``first`` … ``last``, as stored."""
    high = upper_bound(last)
    q = connection.ops.quote_name
    household, resident = Household._meta.db_table, Resident._meta.db_table
    in_range = "area_id >= %s AND area_id < %s"
    residents = f"SELECT id FROM {resident} WHERE {in_range}"
    households = f"SELECT building_id FROM {household} WHERE {in_range}"
    queries = {
        "buildings": (Building, f"id IN ({households})"),
        "households": (Household, in_range),
        "residents": (Resident, in_range),
        "care_memberships": (CareMembership, f"resident_id IN ({residents})"),
        "events": (ResidentEvent, f"resident_id IN ({residents})"),
    }
    result = {}
    with connection.cursor() as cursor:
        for key, (model, where) in queries.items():
            columns = _columns(model)
            cursor.execute(
                f"SELECT {', '.join(q(c) for c in columns)} FROM {model._meta.db_table} WHERE {where} "
                "ORDER BY id",
                [first, high],
            )
            result[key] = (columns, cursor.fetchall())
    return result


def sheet_records(stored: dict[str, tuple[list[str], list[tuple]]]) -> list[list[str]]:
    """The register as an office keeps it: one row per resident, head first, IDs and phones in clear."""

    def records(key: str) -> list[dict[str, Any]]:
        columns, rows = stored[key]
        return [dict(zip(columns, row, strict=True)) for row in rows]

    buildings = {b["id"]: b["address"] for b in records("buildings")}
    care: dict[int, list[str]] = {}
    for c in records("care_memberships"):
        care.setdefault(c["resident_id"], []).append(CARE_GROUPS[c["group"]][0])
    members: dict[int, list[dict[str, Any]]] = {}
    for r in records("residents"):
        members.setdefault(r["household_id"], []).append(r)
    out = []
    for h in records("households"):
        people = sorted(members.get(h["id"], []), key=lambda r: (r["id"] != h["head_id"], r["id"]))
        for r in people:
            phone = crypto.decrypt(r["phone_enc"], context=PHONE) if r["phone_enc"] else ""
            out.append(
                [
                    h["number"],
                    h["area_id"],
                    buildings.get(h["building_id"], ""),
                    h["room"],
                    h["address"],
                    r["name"],
                    crypto.decrypt(r["id_number_enc"], context=ID_NUMBER),
                    RELATIONS[r["relation"]][0],
                    "男" if r["gender"] == "M" else "女",
                    str(r["birth_date"])[:10],
                    r["ethnicity"],
                    phone,
                    REGISTRATIONS[r["registration"]][0],
                    "、".join(care.get(r["id"], [])),
                ]
            )
    return out


SHEET_FIELDS = ("household", "grid", "building", "room", "address", "name", "id_number", "relation", "gender",
                "birth_date", "ethnicity", "phone", "registration", "care")  # fmt: skip


def write_sheet(path: Path, title: str, records: list[list[str]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("户籍台账")
    ws.append([title])
    ws.append([COLUMNS[name][0] for name in SHEET_FIELDS])
    for record in records:
        ws.append(record)
    workbook.save(path)


def import_floor(stored: dict[str, tuple[list[str], list[tuple]]]) -> dict[str, Any]:
    """The rows read before removal, raw into the same tables in one transaction; rolled back."""
    tables = {
        "buildings": Building,
        "households": Household,
        "residents": Resident,
        "care_memberships": CareMembership,
        "events": ResidentEvent,
    }
    with transaction.atomic():
        writer = RawWriter()
        try:
            for key, model in tables.items():
                columns, rows = stored[key]
                for start in range(0, len(rows), CHUNK):
                    writer.insert(model._meta.db_table, columns, rows[start : start + CHUNK])
            writer.check_constraints()
        finally:
            writer.close()
            transaction.set_rollback(True)
    return {
        "rows": writer.rows,
        "seconds": writer.seconds,
        "rows_per_second": writer.rows / writer.seconds if writer.seconds else 0.0,
    }


def bench_registrar(node: str) -> User:
    user, _ = User.objects.get_or_create(
        username="bench-registrar", defaults={"full_name": "benchmark registrar", "is_active": True}
    )
    street = node[: LENGTH_BY_LEVEL[Level.STREET]]
    Grant.objects.get_or_create(user=user, role=Role.STREET_STAFF, area_id=street)
    return user


def step_import(say: Printer, within: str, households: int) -> dict[str, Any]:
    node, communities = pick_sheet(within, households)
    first, last = communities[0], communities[-1]
    stored = read_rows(first, last)
    counts = {key: len(rows) for key, (_, rows) in stored.items()}
    records = sheet_records(stored)
    folder = Path(tempfile.mkdtemp(prefix="grassroots-bench-sheet-"))
    path = folder / f"{node}-户籍台账.xlsx"
    job = None
    try:
        began = time.perf_counter()
        names = dict(Area.objects.filter(code__in=[node]).values_list("code", "name"))
        write_sheet(path, f"{names.get(node, node)} 户籍台账", records)
        sheet_seconds = time.perf_counter() - began
        size = path.stat().st_size
        say(
            f"  sheet: {len(communities)} communit{'y' if len(communities) == 1 else 'ies'} "
            f"({first}…{last}) → {len(records):,} rows, {counts['households']:,} households, "
            f"{size / 1e6:.1f} MB .xlsx, written in {sheet_seconds:.1f} s (not timed)"
        )

        with transaction.atomic():
            writer = generate._Writer()  # the generator's own --replace: set-based, generated rows only
            removed = sum(writer.delete(code) for code in communities)
        say(f"  removed the {removed:,} residents of those communities from the registry (--replace)")
        say(
            f"  {refresh_statistics(REGISTRY_TABLES)}; floor: the same rows raw, one transaction, "
            f"{IMPORT_FLOOR_RUNS} runs …",
            end="",
        )
        floors = []
        for _ in range(IMPORT_FLOOR_RUNS):
            floors.append(import_floor(stored))
            refresh_statistics(REGISTRY_TABLES)  # on PostgreSQL: VACUUM away the rolled-back rows
        floor = sorted(floors, key=lambda f: f["seconds"])[len(floors) // 2]
        floor["runs_seconds"] = [f["seconds"] for f in floors]
        say(" done")
        say(
            f"  floor: {floor['rows']:,} rows ({', '.join(f'{k} {v:,}' for k, v in counts.items())}) in "
            f"{floor['seconds']:.2f} s (median of {', '.join(f'{f:.2f}' for f in floor['runs_seconds'])} s) "
            f"= {floor['rows_per_second']:,.0f} rows/s"
        )

        user = bench_registrar(node)
        area = Area.objects.get(code=node)
        say(f"  import as {user.username} into {node}: do_create_job …", end="")
        began = time.perf_counter()
        with path.open("rb") as handle:
            job = jobs.do_create_job(user, node=area, upload=File(handle, name=path.name), dispatch=False)
        upload_seconds = time.perf_counter() - began
        say(" process_job …", end="")
        processed = jobs.process_job(job.pk)
        seconds = time.perf_counter() - began
        say(" done")
        job = processed or ImportJob.objects.get(pk=job.pk)
    finally:
        if job is not None and job.has_file:  # the stored copy holds ID numbers in clear
            job.path().unlink(missing_ok=True)
            ImportJob.objects.filter(pk=job.pk).update(stored_name="")
        shutil.rmtree(folder, ignore_errors=True)

    if (
        job.status != JobStatus.DONE
        or job.rejected_households
        or job.imported_residents != counts["residents"]
    ):
        problems = [
            f"row {p.row}: " + "; ".join(render_message(m) for m in p.messages)
            for p in ImportProblem.objects.filter(job=job).order_by("row")[:5]
        ]
        raise CommandError(
            f"The import did not load the sheet whole: {job.status}, {job.imported_households} households, "
            f"{job.rejected_households} rejected. {job.error_text} " + " | ".join(problems)
        )
    check = (job.checked_at - job.started_at).total_seconds() if job.checked_at and job.started_at else None
    load = (job.finished_at - job.checked_at).total_seconds() if job.finished_at and job.checked_at else None
    say(
        f"  imported {job.imported_households:,} households, {job.imported_residents:,} residents, "
        f"{job.created_buildings:,} buildings in {seconds:.2f} s = "
        f"{len(records) / seconds:,.0f} sheet rows/s "
        f"(upload and inspect {upload_seconds:.2f} s"
        + (f", read and check {check:.2f} s, load {load:.2f} s" if check is not None and load else "")
        + ")"
    )
    refresh_statistics(REGISTRY_TABLES)
    return {
        "node": node,
        "communities": communities,
        "sheet_rows": len(records),
        "sheet_bytes": size,
        "sheet_seconds": sheet_seconds,
        "rows": counts,
        "removed_residents": removed,
        "seconds": seconds,
        "upload_seconds": upload_seconds,
        "check_seconds": check,
        "load_seconds": load,
        "sheet_rows_per_second": len(records) / seconds if seconds else 0.0,
        "imported_households": job.imported_households,
        "imported_residents": job.imported_residents,
        "floor": floor,
        "ratio": seconds / floor["seconds"] if floor["seconds"] else float("inf"),
        "peak_rss_mb": peak_rss_mb(),
    }


# --- step 3: the coverage audit -------------------------------------------------------------------


def busiest_grid(within: str) -> str:
    row = (
        Household.objects.within(within)
        .annotate(length=Length("area_id"))
        .filter(length__gte=GRID_LENGTH)
        .annotate(grid=Substr("area_id", 1, GRID_LENGTH))
        .values("grid")
        .annotate(n=Count("id"))
        .order_by("-n", "grid")
        .values_list("grid", flat=True)
        .first()
    )
    if row is None:
        raise CommandError(f"No household under {within} lies in a grid.")
    return row


def database_ms(func: Callable[[], object], runs: int) -> float:
    """Median milliseconds ``func`` spends inside the driver and database (the rest is building
    queries and reading results in Python), measured around each statement it sends."""
    spent: list[float] = []

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[-1] += time.perf_counter() - began

    totals = []
    for _ in range(runs):
        spent.append(0.0)
        with connection.execute_wrapper(timed):
            func()
        totals.append(spent[-1] * 1000)
    return statistics.median(totals)


def measure_audit(code: str, repeat: int) -> dict[str, Any]:
    orm, raw = run_checks(code), run_checks_raw_sql(code)
    if orm != raw:
        raise AssertionError(f"run_checks and run_checks_raw_sql disagree on {code}: {orm} != {raw}")
    t = alternate({"orm": lambda: run_checks(code), "raw": lambda: run_checks_raw_sql(code)}, repeat)
    return {
        "code": code,
        "orm_in_database_ms": database_ms(lambda: run_checks(code), min(repeat, 5)),
        "figures": orm,
        "orm": t["orm"],
        "raw": t["raw"],
        "ratio": ratio(t["orm"], t["raw"]),
    }


# --- step 4: subtree counts -----------------------------------------------------------------------


class RawCounts:
    """Resident and household counts of a subtree on the driver's DB-API cursor (the floor)."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.cursor = connection.connection.cursor()
        self.mark = "?" if connection.vendor == "sqlite" else "%s"

    def counter(self, model: type[models.Model], code: str) -> Callable[[], int]:
        high = upper_bound(code)
        where = f"area_id >= {self.mark}" + (f" AND area_id < {self.mark}" if high else "")
        sql, params = (
            f"SELECT COUNT(*) FROM {model._meta.db_table} WHERE {where}",
            [code, high][: 1 + bool(high)],
        )
        cursor = self.cursor

        def count() -> int:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

        return count

    def close(self) -> None:
        self.cursor.close()


def count_chain(within: str, grid: str) -> list[str]:
    """``within``, the ancestors of ``grid`` below it, ``grid``, and its first populated micro-grid."""
    chain = [within] + [grid[:n] for n in sorted(LENGTH_BY_LEVEL.values()) if len(within) < n <= GRID_LENGTH]
    micro = (
        Household.objects.filter(in_span("area", grid + "000", grid + "999"))
        .order_by("area_id")
        .values_list("area_id", flat=True)
        .first()
    )
    if micro and len(micro) > GRID_LENGTH:
        chain.append(micro)
    return list(dict.fromkeys(chain))


def orm_count(model: type[Resident] | type[Household], code: str) -> int:
    return model.objects.within(code).count()


def measure_counts(chain: list[str], repeat: int) -> list[dict[str, Any]]:
    raw = RawCounts()
    results = []
    try:
        for code in chain:
            funcs: dict[str, Callable[[], int]] = {
                "orm_residents": partial(orm_count, Resident, code),
                "raw_residents": raw.counter(Resident, code),
                "orm_households": partial(orm_count, Household, code),
                "raw_households": raw.counter(Household, code),
            }
            residents, households = funcs["raw_residents"](), funcs["raw_households"]()
            if funcs["orm_residents"]() != residents or funcs["orm_households"]() != households:
                raise AssertionError(f"ORM and raw SQL disagree on the subtree of {code}")
            t = alternate(funcs, repeat)
            results.append(
                {
                    "code": code,
                    "level": level_of(code).name.lower(),
                    "residents": {
                        "rows": residents,
                        "orm": t["orm_residents"],
                        "raw": t["raw_residents"],
                        "ratio": ratio(t["orm_residents"], t["raw_residents"]),
                    },
                    "households": {
                        "rows": households,
                        "orm": t["orm_households"],
                        "raw": t["raw_households"],
                        "ratio": ratio(t["orm_households"], t["raw_households"]),
                    },
                }
            )
    finally:
        raw.close()
    return results


# --- printing and the suite -----------------------------------------------------------------------


def ms(timing: dict[str, float]) -> str:
    return f"{timing['median_us'] / 1000:>10.2f} {timing['p90_us'] / 1000:>10.2f}"


def run(options: Mapping[str, Any], out: Output) -> dict[str, Any]:
    """Run the registry benchmark; print as it goes and return the figures (JSON-serialisable).

    ``options``: ``scale``, ``seed``, ``within``, ``sheet_households``, ``repeat`` (runs per audit and
    count, replacing :data:`REPEATS`).
    """
    say = Printer(out)
    scale = float(options.get("scale") or DEFAULT_SCALE)
    seed = int(options.get("seed") or 1)
    within = str(options.get("within") or DEFAULT_WITHIN)
    sheet_households = int(options.get("sheet_households") or SHEET_HOUSEHOLDS)
    repeat = options.get("repeat")
    repeats = {key: int(repeat) for key in REPEATS} if repeat else dict(REPEATS)
    if scale <= 0 or min(repeats.values()) < 1:
        raise CommandError("--scale must be positive and --repeat at least 1")

    env = environment()
    env["load_average_start"] = load_average()
    say("Grassroots benchmark: registry (generate, import, coverage audit, subtree counts)")
    say(f"  database  {env['database']} {env['database_version']} at {env['database_location']}")
    say(f"  python    {env['python']}, Django {env['django']}")
    say(f"  machine   {env['machine']}, {env['cpu_count']} CPUs, {env['platform']}")
    say(f"  load      {env['load_average_start']} (1, 5, 15 min) at the start")
    say(f"  run       scale {scale}, seed {seed}, within {within}; repeats {repeats}")
    say(
        f"  aims      import ≤ {AIMS['import']}× its raw floor, root audit ≤ {AIMS['audit_root']}×, "
        f"one grid ≤ {AIMS['audit_grid']}×"
    )
    if env["debug"]:
        say(
            "  WARNING   DEBUG is on: every query goes through Django's logging cursor. "
            "Unset GRASSROOTS_DEBUG."
        )

    tree = ensure_tree(within)
    say(f"  tree      {tree}")

    say(f"\n1. Generate the population of {within} (generate_population), against the raw floor")
    generated = step_generate(say, within, scale, seed)

    say("\n2. Import a register sheet (the importer's job, inline), against the raw floor")
    imported = step_import(say, within, sheet_households)

    grid = busiest_grid(within)
    say("\n3. Coverage audit: run_checks against run_checks_raw_sql (one statement)  (ms)")
    say(
        f"  {'node':<20} {'residents':>10}  {'raw med':>10} {'raw p90':>10}  {'ORM med':>10} {'ORM p90':>10}"
        f"  {'ratio':>6}  {'aim':>5}  verdict"
    )
    audits = {}
    for key, code in (("audit_root", within), ("audit_grid", grid)):
        result = measure_audit(code, repeats[key])
        result["aim"] = AIMS[key]
        result["passed"] = result["ratio"] <= AIMS[key]
        audits[key] = result
        say(
            f"  {code:<20} {result['figures']['residents']:>10,}  {ms(result['raw'])}  {ms(result['orm'])}  "
            f"{result['ratio']:>5.2f}×  {AIMS[key]:>4}×  {verdict(result['ratio'], AIMS[key])}"
            f"  ({result['orm']['runs']} runs; ORM in the database: {result['orm_in_database_ms']:.2f} ms, "
            "separate runs)"
        )

    chain = count_chain(within, grid)
    say("\n4. Subtree counts: Resident/Household.objects.within(code).count() against raw SQL  (µs)")
    say(
        f"  {'level':<10} {'code':<18} {'what':<10} {'rows':>9}  {'raw med':>9} {'raw p90':>9}  "
        f"{'ORM med':>9} "
        f"{'ORM p90':>9}  {'ORM-raw':>8}  {'ratio':>6}"
    )
    counts = measure_counts(chain, repeats["counts"])
    for row in counts:
        for what in ("residents", "households"):
            r = row[what]
            say(
                f"  {row['level']:<10} {row['code']:<18} {what:<10} {r['rows']:>9,}  "
                f"{r['raw']['median_us']:>9.1f} "
                f"{r['raw']['p90_us']:>9.1f}  {r['orm']['median_us']:>9.1f} {r['orm']['p90_us']:>9.1f}  "
                f"{r['orm']['median_us'] - r['raw']['median_us']:>8.1f}  {r['ratio']:>5.2f}×"
            )

    import_passed = imported["ratio"] <= AIMS["import"]
    env["load_average_end"] = load_average()
    say(f"\nSummary ({connection.vendor}, load {env['load_average_start']} → {env['load_average_end']})")
    say(
        f"  generate  {generated['rows']:>10,} rows {generated['seconds']:>9.2f} s  floor "
        f"{generated['floor']['seconds']:>8.2f} s  {generated['ratio']:>6.2f}×  (no aim)"
    )
    say(
        f"  import    {imported['sheet_rows']:>10,} rows {imported['seconds']:>9.2f} s  floor "
        f"{imported['floor']['seconds']:>8.2f} s  {imported['ratio']:>6.2f}×  aim ≤ {AIMS['import']}×  "
        f"{'PASS' if import_passed else 'FAIL'}"
    )
    for key, label in (("audit_root", "audit " + within), ("audit_grid", "audit grid")):
        a = audits[key]
        say(
            f"  {label:<15} {a['orm']['median_us'] / 1000:>10.2f} ms  "
            f"floor {a['raw']['median_us'] / 1000:>10.2f} ms"
            f"  {a['ratio']:>6.2f}×  aim ≤ {a['aim']}×  {'PASS' if a['passed'] else 'FAIL'}"
        )
    overhead = [
        row[w]["orm"]["median_us"] - row[w]["raw"]["median_us"]
        for row in counts
        for w in ("residents", "households")
    ]
    say(
        f"  counts    ratios {min(r[w]['ratio'] for r in counts for w in ('residents', 'households')):.2f}×–"
        f"{max(r[w]['ratio'] for r in counts for w in ('residents', 'households')):.2f}×; the ORM adds "
        f"{statistics.median(overhead):.0f} µs per count (median), whatever the subtree (no aim)"
    )
    passed = import_passed and all(a["passed"] for a in audits.values())
    say(f"  overall   {'PASS' if passed else 'FAIL'}")
    return {
        "suite": "registry",
        "aims": AIMS,
        "scale": scale,
        "seed": seed,
        "within": within,
        "repeats": repeats,
        "environment": env,
        "tree": tree,
        "generate": generated,
        "import": imported | {"aim": AIMS["import"], "passed": import_passed},
        "audit": audits,
        "counts": counts,
        "passed": passed,
    }
