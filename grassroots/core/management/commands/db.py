"""``grassroots db …``: moving and shaping the database.

* ``copy --to postgresql://…``: copy this deployment (typically SQLite) into an empty PostgreSQL
  database, checked before it commits;
* ``partition-audit`` / ``drop-audit-partitions --older-than-days N``: the audit log in monthly
  partitions on PostgreSQL, and retention by dropping whole months;
* ``partition-cases`` / ``drop-case-partitions --older-than-days N``: the same for the case history
  (the cases' timeline events), keeping every month that still concerns an open case;
* ``bench [--docs docs/benchmarks.md]``: single-node figures for capacity planning, written into the
  generated section of the benchmarks document.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import django
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from grassroots.core import ops
from grassroots.core.docsections import replace_section

ENGINES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
STREET = "140302001"  # 上站街道, Yangquan: where the bench writes its registry rows


class Command(BaseCommand):
    help = (
        "Database operations: `copy --to URL` (SQLite → PostgreSQL), `partition-audit`, "
        "`drop-audit-partitions --older-than-days N`, `partition-cases`, "
        "`drop-case-partitions --older-than-days N`, `bench`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        copy = sub.add_parser(
            "copy",
            help="Copy every table into an empty PostgreSQL database (migrated first), ids kept, with COPY; "
            "reset its sequences and check row counts and the audit chain before committing.",
        )
        copy.add_argument("--to", required=True, metavar="URL", help="postgresql://user:pass@host:5432/name")
        copy.add_argument("--batch", type=int, default=5000, help="Rows fetched per batch (default 5000).")
        copy.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")
        part = sub.add_parser(
            "partition-audit",
            help="PostgreSQL: make the audit table range-partitioned by month (or add missing partitions).",
        )
        part.add_argument("--ahead", type=int, default=3, help="Months of partitions to create ahead.")
        drop = sub.add_parser(
            "drop-audit-partitions",
            help="PostgreSQL: drop monthly audit partitions older than N days (at least 185); "
            "a checkpoint keeps the chain verifiable.",
        )
        drop.add_argument("--older-than-days", type=int, required=True, metavar="N")
        cases = sub.add_parser(
            "partition-cases",
            help="PostgreSQL: make the case history (cases_caseevent) range-partitioned by month "
            "(or add missing partitions); the attachments' key to their event becomes a trigger pair.",
        )
        cases.add_argument("--ahead", type=int, default=3, help="Months of partitions to create ahead.")
        why = (
            f"PostgreSQL: drop monthly partitions of the case history older than N days (at least "
            f"{ops.CASE_RETENTION_DAYS}: a case's timeline is the record of who handled it, when and how, "
            "wanted for reviews, complaints about the handling and year-on-year evaluations long after "
            "it closed). A month holding an event of a case not yet closed, or finished within N days, "
            "is kept. Archive each partition first (pg_dump -Fc -t <partition>); --dry-run lists them."
        )
        drop_cases = sub.add_parser("drop-case-partitions", help=why, description=why)
        drop_cases.add_argument(
            "--older-than-days",
            type=int,
            required=True,
            metavar="N",
            help=f"Drop the months that ended more than N days ago; N at least {ops.CASE_RETENTION_DAYS}.",
        )
        drop_cases.add_argument(
            "--dry-run", action="store_true", help="Say what would be dropped and kept; drop nothing."
        )
        bench = sub.add_parser(
            "bench",
            help="Measure single-node figures (writes through the actions, audit appends, bulk load, "
            "subtree queries, backup and restore) on a throwaway database.",
        )
        bench.add_argument("--rows", type=int, default=200_000, help="Rows for the bulk-load table.")
        bench.add_argument("--docs", type=Path, metavar="FILE", help="Rewrite this engine's section of FILE.")
        bench.add_argument("--force", action="store_true", help="Run even if the database holds data.")

    def handle(self, *args, subcommand: str, **options) -> None:
        try:
            getattr(self, "handle_" + subcommand.replace("-", "_"))(**options)
        except ops.OpsError as exc:
            raise CommandError(str(exc)) from exc

    def handle_copy(self, *, to: str, batch: int, no_progress: bool, **options) -> None:
        report = ops.copy_database(
            target_url=to, batch=batch, progress=not no_progress, log=self.stdout.write
        )
        self.stdout.write(
            f"Copied {report.rows} rows in {report.tables} tables from {report.source} to {report.target} "
            f"in {report.copy_seconds:.1f} s ({report.rows_per_second:,.0f} rows/s; "
            f"{report.seconds:.1f} s with migrate and checks). Row counts match; the audit chain verifies "
            f"on the target ({report.audit_entries} entries); sequences reset."
        )
        if not report.triggers_disabled:
            self.stdout.write("Triggers stayed on (not a superuser); foreign keys were checked at commit.")

    def handle_partition_audit(self, *, ahead: int, **options) -> None:
        report = ops.partition_audit(ahead)
        if report.converted:
            self.stdout.write(
                f"audit_auditentry is now partitioned by month: {report.rows} entries moved in "
                f"{report.seconds:.1f} s; {len(report.created)} monthly partitions and a default one."
            )
        else:
            created = ", ".join(report.created) or "none needed"
            self.stdout.write(f"audit_auditentry was already partitioned; partitions created: {created}.")

    def handle_drop_audit_partitions(self, *, older_than_days: int, **options) -> None:
        report = ops.drop_audit_partitions(older_than_days)
        if report.dropped:
            self.stdout.write(
                f"Dropped {', '.join(report.dropped)} ({report.rows} entries). Checkpoint written: the chain "
                f"now starts at entry {report.checkpoint_first_id}."
            )
        else:
            self.stdout.write(f"No partition ends more than {older_than_days} days ago; nothing dropped.")
        if report.deferred:
            self.stdout.write(
                f"Kept for now: {', '.join(report.deferred)} (an entry there follows a newer month's in id "
                f"order; it goes with the next month)."
            )

    def handle_partition_cases(self, *, ahead: int, **options) -> None:
        report = ops.partition_cases(ahead)
        if report.converted:
            self.stdout.write(
                f"cases_caseevent is now partitioned by month: {report.rows} events moved in "
                f"{report.seconds:.1f} s; {len(report.created)} monthly partitions and a default one."
            )
            for reference in report.references:
                self.stdout.write(f"Foreign key {reference} is now kept by constraint triggers.")
        else:
            created = ", ".join(report.created) or "none needed"
            self.stdout.write(f"cases_caseevent was already partitioned; partitions created: {created}.")

    def handle_drop_case_partitions(self, *, older_than_days: int, dry_run: bool, **options) -> None:
        report = ops.drop_case_partitions(older_than_days, dry_run=dry_run)
        if report.dropped:
            months = ", ".join(report.dropped)
            if dry_run:
                self.stdout.write(f"Would drop {months} ({report.rows} events). Archive them first:")
                for name in report.dropped:
                    self.stdout.write(f"  pg_dump -Fc -t {name} -f {name}.dump <database>")
            else:
                self.stdout.write(
                    f"Dropped {months} ({report.rows} events; {report.unlinked} attachments kept with "
                    "their case, no longer tied to an event)."
                )
        else:
            self.stdout.write(f"No month of the case history can go yet (N = {older_than_days} days).")
        for name, why in report.held.items():
            self.stdout.write(f"Kept {name}: {why}.")

    # --- bench -------------------------------------------------------------------------------------

    def handle_bench(self, *, rows: int, docs: Path | None, force: bool, **options) -> None:
        busy = ops.tables_with_rows("default")
        if busy and not force:
            raise CommandError(
                "The benchmark writes registry rows and audit entries that cannot be deleted: run it on a "
                f"throwaway database (this one has rows in {', '.join(busy[:5])}), or pass --force."
            )
        figures = run_bench(rows, self.stdout.write)
        if docs:
            write_section(docs, figures)
            self.stdout.write(f"Wrote the {figures['engine']} section of {docs}.")


def _median_ms(fn, repeat: int = 7) -> float:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def run_bench(rows: int, say, *, backup: bool = True) -> dict:
    """The figures of `db bench`; ``backup=False`` leaves out the backup and restore (an in-memory
    SQLite database, the test suite's, has no file to back up)."""
    from grassroots.accounts.choices import Role
    from grassroots.accounts.models import Grant, User
    from grassroots.areas.choices import Level
    from grassroots.areas.grids import generate_grids
    from grassroots.areas.models import Area
    from grassroots.areas.yangquan import load_yangquan
    from grassroots.audit.log import Action, record
    from grassroots.registry import actions
    from grassroots.registry.choices import Relation
    from grassroots.registry.idnumber import make_id_number

    engine = connection.vendor
    figures: dict = {
        "engine": engine,
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": rows,
    }
    figures["machine"] = _machine()
    say(f"Benchmarking {ops.describe('default')} on {figures['machine']}")

    load_yangquan()
    generate_grids(STREET)
    user, _ = User.objects.get_or_create(username="bench_registrar", defaults={"full_name": "bench"})
    Grant.objects.get_or_create(user=user, role=Role.STREET_STAFF, area_id=STREET)
    microgrids = list(Area.objects.within(STREET).filter(level=Level.MICROGRID).order_by("code")[:200])
    run = random.randrange(10**6)

    households = 200
    started = time.perf_counter()
    for i in range(households):
        home = actions.do_create_household(
            user, area=microgrids[i % len(microgrids)], number=f"B{run}-{i}", address=f"测试路{i}号"
        )
        for j, relation in enumerate((Relation.HEAD, Relation.SPOUSE)):
            born = dt.date(1950 + (i + j) % 50, 1 + i % 12, 1 + i % 28)
            number = make_id_number("140302", born, (run + 2 * i + j) % 1000)
            try:
                actions.do_add_resident(
                    user, household=home, name=f"测试{i}-{j}", id_number=number, relation=relation
                )
            except Exception:  # a synthetic number may repeat one of an earlier run: skip it
                continue
    seconds = time.perf_counter() - started
    figures["registry_actions_per_s"] = round(households * 3 / seconds, 1)
    say(f"registry actions (household + 2 residents, each with its audit entry): "
        f"{figures['registry_actions_per_s']}/s")  # fmt: skip

    appends = 2000
    started = time.perf_counter()
    for i in range(appends):
        record(actor=user, action=Action.EVENT, object_type="bench", object_id=i, area_code=STREET)
    figures["audit_appends_per_s"] = round(appends / (time.perf_counter() - started))
    say(f"audit appends (one transaction each, chain lock held): {figures['audit_appends_per_s']}/s")

    communities = list(
        Area.objects.within("1403").filter(level=Level.COMMUNITY).values_list("code", flat=True)
    )
    rng = random.Random(7)
    data = [
        (f"{rng.choice(communities)}{rng.randrange(1, 11):03d}", f"p{n}", f"{n:064x}", "active")
        for n in range(rows)
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_resident")
        cursor.execute(
            "CREATE TABLE bench_resident (area_id varchar(18) NOT NULL, name varchar(50) NOT NULL, "
            "id_number_hash varchar(64) NOT NULL, status varchar(20) NOT NULL)"
        )
        started = time.perf_counter()
        if engine == "postgresql":
            with cursor.copy("COPY bench_resident FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        else:
            cursor.executemany("INSERT INTO bench_resident VALUES (%s, %s, %s, %s)", data)
        cursor.execute("CREATE INDEX bench_resident_area ON bench_resident (area_id)")
        figures["bulk_rows_per_s"] = round(rows / (time.perf_counter() - started))
    say(f"bulk load ({rows} resident-shaped rows, then index): {figures['bulk_rows_per_s']:,}/s")
    if engine == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE bench_resident")

    def count(lo: str, hi: str):
        def run_query():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT COUNT(*) FROM bench_resident WHERE area_id >= %s AND area_id < %s", [lo, hi]
                )
                cursor.fetchone()

        return run_query

    def rollup():
        with connection.cursor() as cursor:
            cursor.execute("SELECT substr(area_id, 1, 9), COUNT(*) FROM bench_resident GROUP BY 1")
            cursor.fetchall()

    community = communities[0]
    figures["query_ms"] = {
        "community count": round(_median_ms(count(community, community + "\uffff")), 2),
        "district count": round(_median_ms(count("140302", "140303")), 2),
        "city roll-up by street": round(_median_ms(rollup), 2),
    }
    say(f"queries over {rows} rows (median ms): {figures['query_ms']}")

    if backup:
        with tempfile.TemporaryDirectory() as tmp:
            made = ops.backup(Path(tmp) / ("bench.sqlite3" if engine == "sqlite" else "bench.dump"))
            figures["backup"] = {"mb": round(made.size / 1e6, 1), "seconds": round(made.seconds, 2)}
            figures["restore"] = {"seconds": round(_restore_elsewhere(made.path, tmp), 2)}
        say(f"backup {figures['backup']}, restore into a new database {figures['restore']}")
    else:
        figures["backup"] = figures["restore"] = None
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_resident")
    return figures


def _restore_elsewhere(path: Path, tmp: str) -> float:
    if connection.vendor == "sqlite":
        with ops.database(f"sqlite:///{tmp}/restored.sqlite3", "bench_restore") as alias:
            return ops.restore(path, alias=alias).seconds
    name = f"{connection.settings_dict['NAME']}_bench_restore"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")
    config = {key: connection.settings_dict[key] for key in ("ENGINE", "USER", "PASSWORD", "HOST", "PORT")}
    try:
        with ops.database({**config, "NAME": name}, "bench_restore") as alias:
            return ops.restore(path, alias=alias).seconds
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            int(line.split()[1]) // 1024**2
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem = 0
    version = ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    if connection.vendor == "sqlite":
        version = f"SQLite {version}"
    return f"{os.cpu_count()} cores ({cpu}), {mem} GB RAM, {version}, Django {django.get_version()}"


def write_section(path: Path, figures: dict) -> None:
    """Replace this engine's generated section of the benchmarks document (appended if missing)."""
    begin = f"<!-- db bench {figures['engine']}: begin (generated by `grassroots db bench --docs`) -->"
    end = f"<!-- db bench {figures['engine']}: end -->"
    q = figures["query_ms"]
    body = "\n".join(
        [
            begin,
            f"### {ENGINES[figures['engine']]}, measured {figures['when']}",
            "",
            f"Machine: {figures['machine']}. Queries over {figures['rows']:,} resident-shaped rows spread "
            "over Yangquan's 777 communities.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| registry actions (create household / add resident, audited), one writer | "
            f"{figures['registry_actions_per_s']:,} /s |",
            f"| audit appends, one transaction each | {figures['audit_appends_per_s']:,} /s |",
            f"| bulk load of resident-shaped rows, index included | {figures['bulk_rows_per_s']:,} rows/s |",
            f"| count in one community (range scan) | {q['community count']} ms |",
            f"| count in one district (range scan) | {q['district count']} ms |",
            f"| roll-up of the city by street (GROUP BY, all rows) | {q['city roll-up by street']} ms |",
            f"| backup ({figures['backup']['mb']} MB) | {figures['backup']['seconds']} s |",
            f"| restore into a new database | {figures['restore']['seconds']} s |",
            end,
        ]
    )
    replace_section(path, begin, end, body)
