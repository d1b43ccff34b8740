"""Operations on a whole deployment: copying it to PostgreSQL, backing it up and restoring it, and
partitioning the audit trail and the case history by month. The commands ``grassroots db``,
``backup`` and ``restore`` are thin wrappers; tests and scripts call these functions.

* :func:`copy_database`: every table of every installed app from one database (a SQLite deployment)
  into an empty PostgreSQL database migrated for it, ids kept, with ``COPY``; sequences reset; the
  copy is checked (row counts, the audit chain) before it commits.
* :func:`backup`/:func:`restore`: SQLite through its online backup API, PostgreSQL through
  ``pg_dump -Fc``/``pg_restore``. Restoring over data needs ``force``.
* :func:`partition_table` (:func:`partition_audit`, :func:`partition_cases`) and
  :func:`ensure_partitions`: the audit log and the case history as monthly range partitions on
  PostgreSQL. Retention drops whole months: :func:`drop_audit_partitions` never one younger than 185
  days, leaving a checkpoint so the chain still verifies; :func:`drop_case_partitions` never one
  younger than three years, nor one holding an event of a case that is still open.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dj_database_url
from django.apps import apps
from django.conf import settings
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router, transaction
from django.db.models import SET_NULL, Model
from django.utils.module_loading import import_string

#: Tables a bare ``migrate`` fills by itself (Django's bookkeeping and data migrations): rows there do
#: not make a database "non-empty". A new data migration that loads rows adds its table here.
MIGRATION_FILLED = frozenset(
    {"django_migrations", "django_content_type", "auth_permission", "core_calendarday"}
)
AUDIT_RETENTION_DAYS = 185  # 网络安全法 Art. 21: network logs are kept at least six months


class OpsError(Exception):
    """A refusal or failure to report to the operator as it is (no traceback)."""


# --- databases by URL, and routing a block of code to one -------------------------------------------


@contextmanager
def database(url: str | dict, alias: str) -> Iterator[str]:
    """Make ``url`` (or a settings dict) available as connection ``alias`` for the block."""
    if alias in connections.settings:
        raise OpsError(f"connection alias {alias!r} is in use")
    config = dj_database_url.parse(url) if isinstance(url, str) else dict(url)
    connections.settings[alias] = connections.configure_settings({**connections.settings, alias: config})[
        alias
    ]
    try:
        yield alias
    finally:
        if any(c.alias == alias for c in connections.all(initialized_only=True)):
            connections[alias].close()
            del connections[alias]
        del connections.settings[alias]


class _PinnedRouter:
    def __init__(self, alias: str):
        self.alias = alias

    def db_for_read(self, model, **hints):
        return self.alias

    def db_for_write(self, model, **hints):
        return self.alias


@contextmanager
def pinned(alias: str) -> Iterator[None]:
    """Send every ORM read and write to ``alias``: migrations' data functions and the chain verifier
    use the default managers, not ``using()``."""
    pin = _PinnedRouter(alias)
    router.routers.insert(0, pin)
    try:
        yield
    finally:
        router.routers.remove(pin)


def describe(alias: str) -> str:
    """Where a connection points, without its password."""
    conn = connections[alias]
    s = conn.settings_dict
    if conn.vendor == "sqlite":
        return f"SQLite {s['NAME']}"
    return f"PostgreSQL {s['NAME']} on {s['HOST'] or 'local socket'}:{s['PORT'] or 5432}"


# --- tables ------------------------------------------------------------------------------------------


def copy_models() -> list[type[Model]]:
    """Every table of every installed app (many-to-many tables included), parents before children
    where foreign keys allow (cycles, such as household ⇄ head resident, are broken by name)."""
    by_table: dict[str, type[Model]] = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy and not model._meta.swapped:
            by_table.setdefault(model._meta.db_table, model)
    needs = {
        table: {
            f.related_model._meta.db_table
            for f in model._meta.concrete_fields
            if f.is_relation and f.related_model is not None and f.related_model._meta.db_table != table
        }
        & by_table.keys()
        for table, model in by_table.items()
    }
    ordered: list[str] = []
    done: set[str] = set()
    while len(ordered) < len(by_table):
        ready = sorted(t for t in by_table if t not in done and needs[t] <= done)
        if not ready:  # a cycle: take the first remaining table; the copy defers foreign-key checks
            ready = [min(t for t in by_table if t not in done)]
        for table in ready:
            ordered.append(table)
            done.add(table)
    return [by_table[t] for t in ordered]


def qn(alias: str, name: str) -> str:
    return connections[alias].ops.quote_name(name)


def tables_with_rows(alias: str, ignore: frozenset[str] = MIGRATION_FILLED) -> list[str]:
    """Tables of the database (any, not only ours) holding at least one row, except ``ignore``."""
    conn = connections[alias]
    with conn.cursor() as cursor:
        found = []
        for table in sorted(conn.introspection.table_names(cursor)):
            if table in ignore:
                continue
            cursor.execute(f"SELECT 1 FROM {qn(alias, table)} LIMIT 1")
            if cursor.fetchone():
                found.append(table)
    return found


def row_counts(alias: str, tables: list[str]) -> dict[str, int]:
    with connections[alias].cursor() as cursor:
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {qn(alias, table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def snapshot(alias: str) -> dict[str, list[tuple]]:
    """Every row of every model table, read through Django so values compare across engines."""
    result = {}
    for model in copy_models():
        names = [f.attname for f in model._meta.concrete_fields]
        rows = model._base_manager.using(alias).order_by("pk").values_list(*names)
        result[model._meta.db_table] = list(rows)
    return result


def raw_snapshot(alias: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row of every table of the database as the driver returns it (same engine comparisons)."""
    conn = connections[alias]
    result = {}
    with conn.cursor() as cursor:
        for table in sorted(conn.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {qn(alias, table)}")
            columns = [d[0] for d in cursor.description]
            result[table] = (columns, sorted(cursor.fetchall(), key=repr))
    return result


def verify_chain(alias: str):
    """``grassroots.audit.chain.verify()`` against another database."""
    from grassroots.audit import chain

    with pinned(alias):
        return chain.verify()


# --- copy --------------------------------------------------------------------------------------------


@dataclass
class CopyReport:
    source: str
    target: str
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0  # the whole run: migrate, copy, checks
    copy_seconds: float = 0.0  # reading and writing the rows only
    triggers_disabled: bool = False
    audit_entries: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.copy_seconds if self.copy_seconds else 0.0


def _converter(model_field) -> Callable | None:
    # SQLite keeps durations as microseconds; PostgreSQL would read a bare number as seconds.
    if model_field.get_internal_type() == "DurationField":
        return lambda v: v if v is None else dt.timedelta(microseconds=v)
    return None


def copy_database(
    *,
    target_url: str,
    source: str = DEFAULT_DB_ALIAS,
    batch: int = 5000,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> CopyReport:
    """Copy every table of ``source`` into the empty PostgreSQL database at ``target_url``.

    Refuses (writing nothing) if the target holds rows or the source has unapplied migrations. The
    rows are written in one transaction on the target, which commits only if every table's row count
    matches and the audit chain verifies there.
    """
    from tqdm import tqdm

    from .health import unapplied_migrations

    if batch < 1:
        raise OpsError("--batch must be at least 1")
    pending = unapplied_migrations(source)
    if pending:
        raise OpsError(f"The source has unapplied migrations ({', '.join(pending[:5])}…): run migrate first.")
    with database(target_url, "copy_target") as target:
        conn = connections[target]
        if conn.vendor != "postgresql":
            raise OpsError("The target must be a postgresql:// URL.")
        if conn.settings_dict["NAME"] == connections[source].settings_dict["NAME"] and (
            connections[source].vendor == "postgresql"
        ):
            raise OpsError("The target is the source database.")
        report = CopyReport(source=describe(source), target=describe(target))
        busy = tables_with_rows(target)
        if busy:
            raise OpsError(
                f"The target database is not empty (rows in {', '.join(busy[:8])}"
                f"{' …' if len(busy) > 8 else ''}). Copy into a new, empty database; nothing was written."
            )
        started = time.monotonic()
        log(f"Migrating {report.target} …")
        from django.core.management import call_command

        with pinned(target):
            call_command("migrate", database=target, interactive=False, verbosity=0)
        models = copy_models()
        tables = [m._meta.db_table for m in models]
        with transaction.atomic(using=source), transaction.atomic(using=target):
            src_conn = connections[source]
            if src_conn.vendor == "postgresql":
                with src_conn.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            expected = row_counts(source, tables)
            with conn.cursor() as out:
                out.execute("SET LOCAL TIME ZONE 'UTC'")  # SQLite's datetimes are naive UTC text
                try:
                    with transaction.atomic(using=target):
                        out.execute("SET LOCAL session_replication_role = replica")
                    report.triggers_disabled = True
                except DatabaseError:  # not a superuser: Django's foreign keys are deferred anyway
                    log("Note: not allowed to disable triggers; foreign keys are checked at commit.")
                # migrate filled content types, permissions and data-migration rows: the source's win
                out.execute("TRUNCATE " + ", ".join(qn(target, t) for t in tables))
                # Building an index once is much faster than maintaining it row by row: drop those no
                # constraint needs, recreate them after the rows are in (same transaction).
                out.execute("SET LOCAL maintenance_work_mem = '256MB'")
                out.execute(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                    "WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) AND NOT EXISTS ("
                    "  SELECT 1 FROM pg_constraint c "
                    "  WHERE c.conindid = to_regclass(format('%%I.%%I', i.schemaname, i.indexname)))",
                    [tables],
                )
                indexes = out.fetchall()
                for name, _definition in indexes:
                    out.execute(f"DROP INDEX {qn(target, name)}")
                bar = tqdm(
                    total=sum(expected.values()),
                    unit="rows",
                    unit_scale=True,
                    file=sys.stderr,
                    disable=not progress,
                    dynamic_ncols=True,
                )
                copy_started = time.monotonic()
                for model in models:
                    bar.set_description(model._meta.db_table[:28])
                    _copy_table(source, target, model, out, batch, bar.update)
                bar.close()
                for _name, definition in indexes:
                    out.execute(definition)
                report.copy_seconds = time.monotonic() - copy_started
                for statement in conn.ops.sequence_reset_sql(no_style(), models):
                    out.execute(statement)
                if report.triggers_disabled:
                    out.execute("SET LOCAL session_replication_role = origin")
            copied = row_counts(target, tables)
            wrong = [f"{t}: {expected[t]} → {copied[t]}" for t in tables if expected[t] != copied[t]]
            if wrong:
                raise OpsError("Row counts differ after the copy (rolled back): " + "; ".join(wrong))
            chain = verify_chain(target)
            if not chain.ok:
                raise OpsError(
                    "The audit chain does not verify on the target (rolled back): " + chain.problems[0]
                )
            report.audit_entries = chain.checked
        report.seconds = time.monotonic() - started
        report.tables, report.rows, report.counts = len(tables), sum(expected.values()), expected
        return report


def _copy_table(source: str, target: str, model, out, batch: int, advance: Callable[[int], None]) -> None:
    fields = model._meta.concrete_fields
    columns = ", ".join(qn(target, f.column) for f in fields)
    select = ", ".join(qn(source, f.column) for f in fields)
    table = model._meta.db_table
    converters = [(i, c) for i, f in enumerate(fields) if (c := _converter(f))]
    with connections[source].chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT {select} FROM {qn(source, table)} ORDER BY {qn(source, model._meta.pk.column)}"
        )
        with out.copy(f"COPY {qn(target, table)} ({columns}) FROM STDIN") as copy:
            while rows := cursor.fetchmany(batch):
                for row in rows:
                    if converters:
                        row = list(row)
                        for i, convert in converters:
                            row[i] = convert(row[i])
                    copy.write_row(row)
                advance(len(rows))


# --- backup and restore ----------------------------------------------------------------------------


@dataclass
class BackupReport:
    database: str
    path: Path
    size: int
    seconds: float
    method: str


def pg_tool(name: str) -> str:
    """``GRASSROOTS_PG_BIN``, else PATH, else the newest /usr/lib/postgresql/*/bin."""
    configured = os.environ.get("GRASSROOTS_PG_BIN")
    if configured:
        return str(Path(configured) / name)
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if versions:
        return str(versions[-1])
    raise OpsError(f"{name} not found: install the PostgreSQL client or set GRASSROOTS_PG_BIN.")


def pg_env(settings_dict: dict) -> dict[str, str]:
    """libpq environment for the client tools: the password never appears on a command line."""
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if settings_dict.get(key):
            env[var] = str(settings_dict[key])
    options = settings_dict.get("OPTIONS") or {}
    for key, var in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ):
        if options.get(key):
            env[var] = str(options[key])
    env["PGDATABASE"] = settings_dict["NAME"]
    return env


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise OpsError(f"{Path(cmd[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def default_backup_path(alias: str = DEFAULT_DB_ALIAS) -> Path:
    conn = connections[alias]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    if conn.vendor == "sqlite":
        name = f"grassroots-{stamp}.sqlite3"
    else:
        name = f"grassroots-{conn.settings_dict['NAME']}-{stamp}.dump"
    path = Path(settings.DATA_DIR) / "backups" / name
    n = 1
    while path.exists():
        n += 1
        path = path.with_name(name.replace(stamp, f"{stamp}-{n}"))
    return path


def backup(out: Path | None = None, alias: str = DEFAULT_DB_ALIAS) -> BackupReport:
    """Write a consistent copy of the database to ``out`` (default: a timestamped file in
    ``$GRASSROOTS_DATA_DIR/backups/``), readable by its owner only."""
    conn = connections[alias]
    path = Path(out) if out else default_backup_path(alias)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not out:
        path.parent.chmod(0o700)
    part = path.with_name(path.name + ".part")
    started = time.monotonic()
    if conn.vendor == "sqlite":
        source = Path(conn.settings_dict["NAME"])
        if not source.exists():
            raise OpsError(f"No database at {source}.")
        src, dst = sqlite3.connect(source, timeout=20), sqlite3.connect(part)
        try:
            src.backup(dst)  # a consistent snapshot while the site keeps running (WAL readers)
        finally:
            dst.close()
            src.close()
        method = "the SQLite online backup API"
    elif conn.vendor == "postgresql":
        _run(
            [pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={part}"],
            pg_env(conn.settings_dict),
        )
        method = "pg_dump --format=custom"
    else:
        raise OpsError(f"Backups of {conn.vendor} are not supported.")
    part.chmod(0o600)
    part.replace(path)
    return BackupReport(describe(alias), path, path.stat().st_size, time.monotonic() - started, method)


def backup_kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PGDMP"):
        return "postgresql"
    raise OpsError(f"{path} is neither a SQLite database nor a pg_dump custom-format archive.")


@dataclass
class RestoreReport:
    database: str
    path: Path
    seconds: float
    method: str
    tables: int
    rows: int
    replaced: list[str]
    dropped: list[str] = field(default_factory=list)


_DUMP_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (\S+) ")


def restore(path: Path, *, force: bool = False, alias: str = DEFAULT_DB_ALIAS) -> RestoreReport:
    """Replace the database's content with the backup at ``path``.

    Refuses if the database holds data (other than what ``migrate`` writes by itself) unless
    ``force``. The web and worker processes should be stopped while it runs.
    """
    path = Path(path)
    if not path.is_file():
        raise OpsError(f"No backup at {path}.")
    conn = connections[alias]
    kind = backup_kind(path)
    if kind != conn.vendor:
        raise OpsError(
            f"{path.name} is a {kind} backup but the database is {conn.vendor}. Restore it into a database "
            f"of its own kind; `grassroots db copy` moves a SQLite deployment to PostgreSQL."
        )
    busy = tables_with_rows(alias)
    if busy and not force:
        raise OpsError(
            f"{describe(alias)} holds data (rows in {', '.join(busy[:8])}{' …' if len(busy) > 8 else ''}). "
            "Restoring replaces all of it: pass --force to do so. Nothing was changed."
        )
    started = time.monotonic()
    dropped: list[str] = []
    if kind == "sqlite":
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = probe.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            has_django = probe.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'"
            ).fetchone()
        finally:
            probe.close()
        if not ok or not has_django:
            raise OpsError(f"{path} is damaged or not a Grassroots database; nothing was changed.")
        conn.close()
        src, dst = (
            sqlite3.connect(f"file:{path}?mode=ro", uri=True),
            sqlite3.connect(conn.settings_dict["NAME"], timeout=20),
        )
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        method = "the SQLite online backup API"
    else:
        env = pg_env(conn.settings_dict)
        listing = _run([pg_tool("pg_restore"), "--list", str(path)], env).stdout
        in_dump = {m.group(2) for line in listing.splitlines() if (m := _DUMP_TABLE.match(line))}
        with transaction.atomic(using=alias), conn.cursor() as cursor:
            # Tables made after the backup (a later migration, new partitions) would survive --clean.
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                "AND relnamespace = current_schema()::regnamespace ORDER BY relname"
            )
            dropped = [name for (name,) in cursor.fetchall() if name not in in_dump]
            for name in dropped:
                cursor.execute(f"DROP TABLE IF EXISTS {qn(alias, name)} CASCADE")
        conn.close()
        env["PGOPTIONS"] = "-c lock_timeout=30s"  # a running site holding locks: fail, don't hang
        _run(
            [
                pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                "--no-password",
                f"--dbname={conn.settings_dict['NAME']}",
                str(path),
            ],
            env,
        )
        method = "pg_restore --clean --if-exists --single-transaction"
    seconds = time.monotonic() - started
    with conn.cursor() as cursor:
        tables = conn.introspection.table_names(cursor)
    rows = sum(row_counts(alias, tables).values())
    return RestoreReport(describe(alias), path, seconds, method, len(tables), rows, busy, dropped)


# --- history tables in monthly partitions (PostgreSQL) ---------------------------------------------


@dataclass(frozen=True)
class MonthlyTable:
    """A table that :func:`partition_table` turns into monthly range partitions on ``column``."""

    table: str
    column: str  # a timestamp with time zone, never null
    what: str  # for messages: "the audit log"
    command: str  # the `grassroots db` subcommand that converts it
    lock: str | None = None  # dotted path of a function to call before the table is locked

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    def month_table(self, month: dt.date) -> str:
        return f"{self.table}_p{month:%Y%m}"

    def month_of(self, name: str) -> dt.date | None:
        m = re.fullmatch(rf"{re.escape(self.table)}_p(\d{{4}})(\d{{2}})", name)
        return dt.date(int(m.group(1)), int(m.group(2)), 1) if m else None


AUDIT = "audit_auditentry"
CASE_EVENTS = "cases_caseevent"
AUDIT_LOG = MonthlyTable(AUDIT, "at", "the audit log", "partition-audit", "grassroots.audit.chain.lock_chain")
CASE_HISTORY = MonthlyTable(CASE_EVENTS, "at", "the case history", "partition-cases")
DEFAULT_PARTITION = AUDIT_LOG.default
#: Case timelines are kept at least three years after the case is finished (see drop_case_partitions).
CASE_RETENTION_DAYS = 1095


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _months_ahead(today: dt.date, ahead: int) -> dt.date:
    last = today.replace(day=1)
    for _ in range(ahead):
        last = _next_month(last)
    return last


def _bounds(month: dt.date) -> tuple[str, str]:
    return f"{month:%Y-%m-%d} 00:00:00+00", f"{_next_month(month):%Y-%m-%d} 00:00:00+00"


def _require_postgresql(spec: MonthlyTable) -> None:
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        raise OpsError(f"Partitioning needs PostgreSQL; on SQLite {spec.what} stays one table.")


def is_partitioned(cursor, spec: MonthlyTable) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [spec.table])
    row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partitions(cursor, spec: MonthlyTable) -> list[tuple[str, dt.date]]:
    """The monthly partitions (name, first day of the month), oldest first; the default excluded."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s)",
        [spec.table],
    )
    found = [(name, month) for (name,) in cursor.fetchall() if (month := spec.month_of(name))]
    return sorted(found, key=lambda p: p[1])


def _create_month(cursor, spec: MonthlyTable, month: dt.date) -> str:
    """Create one month's partition. Rows that fell into the default partition for lack of it move
    into it: the default is detached, the month created, and the default's rows re-inserted through
    the parent (ids and hashes unchanged) before the old default table is dropped."""
    name, table, default, column = spec.month_table(month), spec.table, spec.default, spec.column
    lo, hi = _bounds(month)
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {column} >= %s AND {column} < %s)", [lo, hi]
    )
    strays = cursor.fetchone()[0]
    if strays:
        _settle(cursor)
        cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {default}")
        cursor.execute(f"ALTER TABLE {default} RENAME TO {default}_moving")
    cursor.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{lo}') TO ('{hi}')")
    if strays:
        cursor.execute(f"CREATE TABLE {default} PARTITION OF {table} DEFAULT")
        cursor.execute(f"INSERT INTO {table} SELECT * FROM {default}_moving")
        cursor.execute(f"DROP TABLE {default}_moving")
    return name


def _settle(cursor) -> None:
    """Run the deferred foreign-key checks of rows this transaction wrote (PostgreSQL will not alter or
    drop a table with checks pending), then defer again: Django's constraints are initially deferred."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def ensure_partitions(spec: MonthlyTable, ahead: int = 3) -> list[str]:
    """Create the partitions of this month and the next ``ahead`` months if missing (idempotent; the
    worker calls it every round). Does nothing unless the table is partitioned."""
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        return []
    today = dt.datetime.now(dt.UTC).date()
    created = []
    with transaction.atomic(), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        if not is_partitioned(cursor, spec):
            return []
        have = {month for _name, month in partitions(cursor, spec)}
        for month in _months(today, _months_ahead(today, ahead)):
            if month not in have:
                created.append(_create_month(cursor, spec, month))
    return created


def ensure_audit_partitions(ahead: int = 3) -> list[str]:
    return ensure_partitions(AUDIT_LOG, ahead)


def ensure_case_partitions(ahead: int = 3) -> list[str]:
    return ensure_partitions(CASE_HISTORY, ahead)


@dataclass
class PartitionReport:
    converted: bool
    rows: int
    created: list[str]
    seconds: float
    references: list[str] = field(default_factory=list)  # foreign keys to the table, now triggers


# Foreign keys *to* a partitioned table must name its whole primary key (id plus the partition key),
# which the referencing rows do not store. Such a key is kept by a pair of deferred constraint
# triggers instead, with the semantics of Django's own (NO ACTION, deferred to commit; Django applies
# on_delete itself): the referencing table checks that the id exists (and locks the row, FOR KEY
# SHARE, as a foreign key does), the referenced table that no row still points at a deleted id.
REFERENCE_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION grassroots_reference_check() RETURNS trigger LANGUAGE plpgsql AS $$
    -- on the referencing table; TG_ARGV: its column, the referenced table, the referenced column
    DECLARE found boolean;
    BEGIN
      IF to_jsonb(NEW) ->> TG_ARGV[0] IS NULL THEN RETURN NULL; END IF;
      EXECUTE format('SELECT true FROM %I WHERE %I = ($1).%I FOR KEY SHARE',
                     TG_ARGV[1], TG_ARGV[2], TG_ARGV[0]) INTO found USING NEW;
      IF found IS NULL THEN
        RAISE foreign_key_violation USING MESSAGE = format(
          'insert or update on table "%s" violates foreign key "%s": %s = %s is not present in table "%s"',
          TG_TABLE_NAME, TG_NAME, TG_ARGV[0], to_jsonb(NEW) ->> TG_ARGV[0], TG_ARGV[1]);
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION grassroots_reference_restrict() RETURNS trigger LANGUAGE plpgsql AS $$
    -- on the referenced (partitioned) table; TG_ARGV: its column, the referencing table and column,
    -- and the referenced table itself (the trigger fires on a partition: the row may have moved)
    DECLARE found boolean;
    BEGIN
      EXECUTE format('SELECT true FROM %I WHERE %I = ($1).%I LIMIT 1 FOR KEY SHARE',
                     TG_ARGV[1], TG_ARGV[2], TG_ARGV[0]) INTO found USING OLD;
      IF found THEN
        EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %I WHERE %I = ($1).%I)',
                       TG_ARGV[3], TG_ARGV[0], TG_ARGV[0]) INTO found USING OLD;
      END IF;
      IF found THEN
        RAISE foreign_key_violation USING MESSAGE = format(
          'update or delete on table "%s" violates foreign key "%s" on table "%s": '
          '%s = %s is still referenced',
          TG_ARGV[3], TG_NAME, TG_ARGV[1], TG_ARGV[0], to_jsonb(OLD) ->> TG_ARGV[0]);
      END IF;
      RETURN NULL;
    END $$""",
]


def _references(cursor, table: str) -> list[tuple[str, str, str, str]]:
    """Foreign keys to ``table``: (name, referencing table, its column, referenced column)."""
    cursor.execute(
        "SELECT c.conname, c.conrelid::regclass::text, "
        "  array(SELECT attname FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey)), "
        "  array(SELECT attname FROM pg_attribute WHERE attrelid = c.confrelid AND attnum = ANY(c.confkey)) "
        "FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = %s::regclass ORDER BY c.conname",
        [table],
    )
    found = []
    for name, child, columns, referenced in cursor.fetchall():
        if len(columns) != 1:
            raise OpsError(f"{name} on {child} is a foreign key of several columns to {table}.")
        found.append((name, child, columns[0], referenced[0]))
    return found


def _reference_by_triggers(cursor, table: str, reference: tuple[str, str, str, str]) -> None:
    name, child, column, referenced = reference
    for function in REFERENCE_FUNCTIONS:
        cursor.execute(function)
    cursor.execute(
        f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE OF {column} ON {child} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        f"EXECUTE FUNCTION grassroots_reference_check('{column}', '{table}', '{referenced}')"
    )
    cursor.execute(
        f"CREATE CONSTRAINT TRIGGER {name} AFTER UPDATE OF {referenced} OR DELETE ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        f"EXECUTE FUNCTION grassroots_reference_restrict('{referenced}', '{child}', '{column}', '{table}')"
    )


def partition_table(spec: MonthlyTable, ahead: int = 3) -> PartitionReport:
    """Turn ``spec.table`` into a table range-partitioned by month on ``spec.column``.

    In one transaction holding the table exclusively: the table is renamed, a partitioned twin is
    created with the same columns, one partition per month from the oldest row to ``ahead`` months
    from now plus a default partition, the rows are copied (ids unchanged), and the old table
    dropped; then its indexes, constraints and triggers are recreated under their names. The primary
    key becomes ``(id, column)``, as a partitioned table's must include the partition key; ids still
    come from one sequence. Foreign keys from other tables to it become constraint triggers
    (:data:`REFERENCE_FUNCTIONS`). Already partitioned: only creates missing partitions.
    """
    _require_postgresql(spec)
    table, column = spec.table, spec.column
    started = time.monotonic()
    with transaction.atomic(), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        if is_partitioned(cursor, spec):
            created = ensure_partitions(spec, ahead)
            return PartitionReport(False, 0, created, time.monotonic() - started)
        if spec.lock:
            import_string(spec.lock)()
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        references = _references(cursor, table)
        for _name, child, _column, _referenced in references:
            cursor.execute(f"LOCK TABLE {child} IN SHARE ROW EXCLUSIVE MODE")
        _settle(cursor)
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [table],
        )
        triggers = [definition for (definition,) in cursor.fetchall()]
        primary = next(name for name, kind, _definition in constraints if kind == "p")
        if any(kind == "u" for _name, kind, _definition in constraints):
            raise OpsError(f"{table} has a unique constraint without `{column}`; it cannot be partitioned.")
        cursor.execute(f"SELECT min({column}), count(*) FROM {table}")
        oldest, rows = cursor.fetchone()
        today = dt.datetime.now(dt.UTC).date()
        first = oldest.astimezone(dt.UTC).date() if oldest else today

        for name, child, _column, _referenced in references:
            cursor.execute(f"ALTER TABLE {child} DROP CONSTRAINT {name}")
        old = f"{table}_unpartitioned"
        cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
        cursor.execute(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS) "
            f"PARTITION BY RANGE ({column})"
        )
        cursor.execute(f"CREATE TABLE {spec.default} PARTITION OF {table} DEFAULT")
        created = [
            _create_month(cursor, spec, month) for month in _months(first, _months_ahead(today, ahead))
        ]
        cursor.execute(f"INSERT INTO {table} SELECT * FROM {old}")
        cursor.execute(f"DROP TABLE {old}")  # with its identity sequence, indexes and triggers
        cursor.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
        cursor.execute(
            f"SELECT setval('{table}_id_seq', COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
        )
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {primary} PRIMARY KEY (id, {column})")
        for name, definition in indexes:
            if name != primary:
                cursor.execute(definition)  # "CREATE INDEX name ON public.<table> …"
        for name, kind, definition in constraints:
            if kind in ("f", "c"):
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for definition in triggers:
            cursor.execute(definition)
        for reference in references:
            _reference_by_triggers(cursor, table, reference)
    return PartitionReport(
        True, rows, created, time.monotonic() - started, [f"{r[1]}.{r[2]} ({r[0]})" for r in references]
    )


def partition_audit(ahead: int = 3) -> PartitionReport:
    """The audit log by month on ``at`` (:func:`partition_table`), the chain locked meanwhile. Its
    append-only trigger is recreated on the parent, and PostgreSQL clones it onto every partition."""
    return partition_table(AUDIT_LOG, ahead)


def partition_cases(ahead: int = 3) -> PartitionReport:
    """The case history (``cases_caseevent``, several rows per case) by month on ``at``
    (:func:`partition_table`). The attachments' foreign key to their event becomes a trigger pair."""
    return partition_table(CASE_HISTORY, ahead)


@dataclass
class PurgeReport:
    dropped: list[str]
    rows: int
    deferred: list[str]
    checkpoint_first_id: int | None


def drop_audit_partitions(older_than_days: int, *, now: dt.datetime | None = None) -> PurgeReport:
    """Drop the monthly audit partitions that end more than ``older_than_days`` days ago.

    Refuses under 185 days. The chain is verified first (a broken chain is investigated, not purged);
    whole months are dropped only while every dropped entry precedes every kept one in id order (two
    writers racing across midnight at a month's end can put an entry of the old month after one of
    the new: that month then waits for the next purge), and a checkpoint records the first kept
    entry's link as the new anchor, so ``grassroots.audit.chain.verify()`` passes afterwards.
    """
    from grassroots.audit import chain
    from grassroots.audit.models import Checkpoint

    if older_than_days < AUDIT_RETENTION_DAYS:
        raise OpsError(
            f"Audit entries are kept at least {AUDIT_RETENTION_DAYS} days (网络安全法 Art. 21); "
            f"refusing to drop anything younger."
        )
    _require_postgresql(AUDIT_LOG)
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=older_than_days)
    with transaction.atomic(), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        if not is_partitioned(cursor, AUDIT_LOG):
            raise OpsError("The audit table is not partitioned: run `grassroots db partition-audit` first.")
        chain.lock_chain()
        cursor.execute(f"LOCK TABLE {AUDIT} IN SHARE ROW EXCLUSIVE MODE")
        _settle(cursor)
        result = chain.verify()
        if not result.ok:
            raise OpsError(
                "The audit chain does not verify; investigate before purging: " + result.problems[0]
            )
        months = partitions(cursor, AUDIT_LOG)
        ids = {}  # partition → (min id, max id), read from each partition's (id, at) index
        for name in [name for name, _month in months] + [DEFAULT_PARTITION]:
            cursor.execute(f"SELECT min(id), max(id) FROM {name}")
            ids[name] = cursor.fetchone()
        candidates = [name for name, month in months if _month_end(month) <= cutoff]
        drop: list[str] = []
        highest = 0
        for name in candidates:
            highest = max(highest, ids[name][1] or 0)
            kept = [low for other, (low, _high) in ids.items() if other not in drop and other != name and low]
            if not kept or highest >= min(kept):
                break  # dropping this month would leave a hole in the chain (or empty it)
            drop.append(name)
        deferred = [name for name in candidates if name not in drop]
        if not drop:
            return PurgeReport([], 0, deferred, None)
        rows = 0
        for name in drop:
            cursor.execute(f"SELECT count(*) FROM {name}")
            rows += cursor.fetchone()[0]
            cursor.execute(f"DROP TABLE {name}")
        cursor.execute(f"SELECT id, prev_hash FROM {AUDIT} ORDER BY id LIMIT 1")
        first_id, anchor = cursor.fetchone()
        cursor.execute(f"SELECT id, hash FROM {AUDIT} ORDER BY id DESC LIMIT 1")
        last_id, last_hash = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM {AUDIT}")
        (count,) = cursor.fetchone()
        Checkpoint.objects.create(
            last_id=last_id, last_hash=last_hash, count=count, first_id=first_id, anchor_hash=anchor
        )
    return PurgeReport(drop, rows, deferred, first_id)


def _month_end(month: dt.date) -> dt.datetime:
    return dt.datetime.combine(_next_month(month), dt.time(), dt.UTC)


@dataclass
class CasePurgeReport:
    dropped: list[str]
    rows: int
    held: dict[str, str]  # partition → why it is kept
    unlinked: int  # attachments whose event went (they stay with their case)
    dry_run: bool = False


def drop_case_partitions(
    older_than_days: int, *, now: dt.datetime | None = None, dry_run: bool = False
) -> CasePurgeReport:
    """Drop the monthly partitions of the case history that end more than ``older_than_days`` ago.

    Refuses under :data:`CASE_RETENTION_DAYS`. A month is dropped only if every case with an event in
    it is finished (closed, rejected or merged) and has not changed for ``older_than_days`` days: an
    open case, or one finished recently, holds its months back, and the report says which and why.
    Attachments of the dropped events stay with their case (their ``event`` set to null, as the
    model's ``on_delete=SET_NULL``). The case rows themselves are kept (``cases_case`` is not
    partitioned). Case writes wait while it runs (the cases table is locked in SHARE mode), so that
    no case is reopened between the check and the drop.
    """
    from grassroots.cases.choices import FINAL_STATUSES
    from grassroots.cases.models import Case, CaseEvent

    if older_than_days < CASE_RETENTION_DAYS:
        raise OpsError(
            f"Case histories are kept at least {CASE_RETENTION_DAYS} days (three years) after the case is "
            "finished; refusing to drop anything younger."
        )
    _require_postgresql(CASE_HISTORY)
    unlink = []
    for relation in CaseEvent._meta.related_objects:
        if relation.on_delete is not SET_NULL:  # a new reference: decide what dropping means
            raise OpsError(f"{relation.related_model.__name__}.{relation.field.name} is not SET_NULL.")
        unlink.append((relation.related_model._meta.db_table, relation.field.column))
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=older_than_days)
    final = sorted(str(status) for status in FINAL_STATUSES)
    held: dict[str, str] = {}
    dropped: list[str] = []
    rows = unlinked = 0
    with transaction.atomic(), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        if not is_partitioned(cursor, CASE_HISTORY):
            raise OpsError("The case history is not partitioned: run `grassroots db partition-cases` first.")
        cursor.execute(f"LOCK TABLE {Case._meta.db_table} IN SHARE MODE")
        _settle(cursor)
        for name, month in partitions(cursor, CASE_HISTORY):
            if _month_end(month) > cutoff:
                continue
            cursor.execute(
                f"SELECT c.number, c.status = ANY(%s) FROM {Case._meta.db_table} c "
                f"WHERE c.id IN (SELECT case_id FROM {name}) AND (c.status <> ALL(%s) OR c.updated_at >= %s) "
                "ORDER BY c.number",
                [final, final, cutoff],
            )
            holding = cursor.fetchall()
            if holding:
                held[name] = _holding(holding, older_than_days)
                continue
            dropped.append(name)
            cursor.execute(f"SELECT count(*) FROM {name}")
            rows += cursor.fetchone()[0]
            if dry_run:
                continue
            for child, column in unlink:
                cursor.execute(
                    f"UPDATE {child} SET {column} = NULL WHERE {column} IN (SELECT id FROM {name})"
                )
                unlinked += cursor.rowcount
            cursor.execute(f"DROP TABLE {name}")
    return CasePurgeReport(dropped, rows, held, unlinked, dry_run)


def _holding(cases: list[tuple[str, bool]], days: int) -> str:
    def some(numbers: list[str]) -> str:
        return ", ".join(numbers[:5]) + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")

    still_open = [number for number, finished in cases if not finished]
    recent = [number for number, finished in cases if finished]
    reasons = []
    if still_open:
        reasons.append(f"{len(still_open)} case(s) not closed ({some(still_open)})")
    if recent:
        reasons.append(f"{len(recent)} case(s) finished or changed within {days} days ({some(recent)})")
    return "; ".join(reasons)
