"""Operations end to end: SQLite → PostgreSQL copy, backup/restore round trips on both engines, the
audit log's monthly partitions, readiness and logs.

The copy and backup tests run the real commands in fresh processes against throwaway deployments (a
SQLite data directory, or a database created on the PostgreSQL server for the test and dropped after),
whichever database the rest of the suite uses. They need a reachable PostgreSQL server for the
PostgreSQL side: ``DATABASE_URL``'s when it is one, else ``GRASSROOTS_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); without one they skip and say so.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from grassroots.audit import chain
from grassroots.audit.log import Action, record, record_many
from grassroots.audit.models import AuditEntry, Checkpoint
from grassroots.core import health, ops
from grassroots.registry.idnumber import make_id_number

HEAD_ID = make_id_number("140302", dt.date(1941, 3, 9), 11)

SEED = f"""
import datetime as dt
from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.areas.grids import generate_grids
from grassroots.areas.models import Area
from grassroots.areas.yangquan import load_yangquan
from grassroots.cases.actions import do_report
from grassroots.cases.models import Category
from grassroots.registry import actions
from grassroots.registry.choices import CareGroup, Relation
from grassroots.registry.idnumber import make_id_number

load_yangquan()
generate_grids("140302001")
user = User.objects.create_user("registrar", password="Seed-password-2026", full_name="登记员")
Grant.objects.create(user=user, role=Role.STREET_STAFF, area_id="140302001")
grid = Area.objects.get(code="140302001001001")
building = actions.do_create_building(user, area=grid, name="1号楼", address="油娄沟路1号楼")
home = actions.do_create_household(
    user, area=Area.objects.get(code="140302001001001001"), number="H-001", address="油娄沟路1号",
    building=building, room="2单元301",
)
actions.do_add_resident(user, household=home, name="张伟", id_number="{HEAD_ID}", relation=Relation.HEAD,
                        phone="13812345678", care_groups=(CareGroup.ELDERLY_ALONE,))
spouse_id = make_id_number("140302", dt.date(1944, 8, 30), 22)
actions.do_add_resident(user, household=home, name="李娜", id_number=spouse_id, relation=Relation.SPOUSE)
category = Category.objects.create(code="lamp", name="路灯损坏", group="道路设施")
do_report(user, category=category, area=grid, title="路灯不亮", description="3号楼前路灯不亮",
          lat=37.86, lng=113.57, contact_phone="13900001111")
print("seeded")
"""

MUTATE = """
import datetime as dt
from grassroots.accounts.models import User
from grassroots.areas.models import Area
from grassroots.cases.models import Case
from grassroots.registry import actions
from grassroots.registry.choices import EventKind, Relation
from grassroots.registry.idnumber import make_id_number
from grassroots.registry.models import Resident

user = User.objects.get(username="registrar")
home = actions.do_create_household(
    user, area=Area.objects.get(code="140302001001001002"), number="H-NEW", address="新地址1号"
)
actions.do_add_resident(user, household=home, name="王新", relation=Relation.HEAD,
                        id_number=make_id_number("140302", dt.date(1990, 1, 1), 33))
actions.do_resident_leaves(user, resident=Resident.objects.get(name="李娜"), kind=EventKind.MOVE_OUT)
Case.objects.all().delete()
Area.objects.filter(code="140302001").update(name="改名街道")
print("mutated")
"""

CHECK_TARGET = """
from grassroots.audit.chain import verify
from grassroots.core import crypto
from grassroots.registry.models import Resident
head = Resident.objects.get(name="张伟")
print(crypto.decrypt(head.id_number_enc, context="resident.id_number"))
result = verify()
print("chain", result.ok, result.checked)
"""


# --- helpers ---------------------------------------------------------------------------------------


def run(args: list[str], data_dir: Path, database_url: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env["GRASSROOTS_DATA_DIR"] = str(data_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "grassroots", *args], env=env, capture_output=True, text=True, timeout=600
    )


def shell(script: str, data_dir: Path, database_url: str | None = None) -> str:
    result = run(["shell", "--no-imports", "-c", script], data_dir, database_url)
    assert result.returncode == 0, result.stderr
    return result.stdout


def server_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = os.environ.get("GRASSROOTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(with_database(url, "postgres"), connect_timeout=3):
            return url
    except psycopg.Error:
        return None


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def postgres() -> str:
    url = server_url()
    if url is None:
        pytest.skip(
            "no PostgreSQL server reachable (set GRASSROOTS_TEST_POSTGRES_URL) for the copy and dumps"
        )
    return url


@pytest.fixture
def scratch_database(postgres):
    """A new, empty PostgreSQL database for this test, dropped afterwards."""
    created = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{os.getpid()}"
        with psycopg.connect(with_database(postgres, "postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        created.append(name)
        return with_database(postgres, name)

    yield make
    with psycopg.connect(with_database(postgres, "postgres"), autocommit=True) as conn:
        for name in created:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Path:
    """A SQLite deployment with a tree, a household with residents (sealed ID numbers and phones), a
    case and audit entries, built once per module; tests work on copies."""
    data = tmp_path_factory.mktemp("deployment")
    migrated = run(["migrate", "-v0"], data)
    assert migrated.returncode == 0, migrated.stderr
    assert "seeded" in shell(SEED, data)
    return data


@pytest.fixture
def sqlite_copy(deployment, tmp_path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(deployment, data)
    return data


def sqlite_url(data: Path) -> str:
    return f"sqlite:///{data / 'grassroots.sqlite3'}"


# --- copy ------------------------------------------------------------------------------------------


def test_copy_moves_a_sqlite_deployment_into_an_empty_postgresql_database(
    sqlite_copy, scratch_database, django_db_blocker
):
    target = scratch_database("copytest")
    result = run(["db", "copy", "--to", target], sqlite_copy)
    assert result.returncode == 0, result.stderr
    assert "Row counts match" in result.stdout and "rows/s" in result.stdout
    assert "rows" in result.stderr  # the progress bar

    with (
        django_db_blocker.unblock(),
        ops.database(sqlite_url(sqlite_copy), "src"),
        ops.database(target, "dst"),
    ):
        source, copied = ops.snapshot("src"), ops.snapshot("dst")
        assert copied.keys() == source.keys()
        for table in source:
            assert copied[table] == source[table], table
        assert sum(map(len, source.values())) > 2000
        assert len(source["audit_auditentry"]) >= 4 and len(source["registry_resident"]) == 2
        assert ops.verify_chain("dst").ok
        with connections["dst"].cursor() as cursor:  # sequences continue after the copied ids
            cursor.execute("SELECT nextval(pg_get_serial_sequence('audit_auditentry', 'id'))")
            assert cursor.fetchone()[0] > max(row[0] for row in source["audit_auditentry"])

    # The same key file decrypts the copied values; the chain verifies in a process on the target.
    out = shell(CHECK_TARGET, sqlite_copy, database_url=target).split()
    assert out[0] == HEAD_ID and out[1:3] == ["chain", "True"]

    with django_db_blocker.unblock(), ops.database(target, "dst"):
        before = ops.raw_snapshot("dst")
    again = run(["db", "copy", "--to", target], sqlite_copy)
    assert again.returncode != 0
    assert "not empty" in again.stderr and "nothing was written" in again.stderr
    with django_db_blocker.unblock(), ops.database(target, "dst"):
        assert ops.raw_snapshot("dst") == before


def test_copy_refuses_a_target_that_is_not_postgresql(sqlite_copy, tmp_path):
    result = run(["db", "copy", "--to", f"sqlite:///{tmp_path / 'other.sqlite3'}"], sqlite_copy)
    assert result.returncode != 0 and "postgresql://" in result.stderr


# --- backup and restore ----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_backup_and_restore_round_trip(engine, sqlite_copy, tmp_path, request, django_db_blocker):
    if engine == "sqlite":
        data, url, out = sqlite_copy, sqlite_url(sqlite_copy), []
        env_url = None
    else:
        url = request.getfixturevalue("scratch_database")("backuptest")
        data, env_url, out = tmp_path / "pgdata", url, ["--out", str(tmp_path / "saved.dump")]
        data.mkdir()
        shutil.copy(sqlite_copy / "keys.json", data / "keys.json")
        assert run(["migrate", "-v0"], data, env_url).returncode == 0
        assert "seeded" in shell(SEED, data, env_url)

    made = run(["backup", *out], data, env_url)
    assert made.returncode == 0, made.stderr
    path = Path(re.search(r" to (\S+) \(", made.stdout).group(1))
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    if engine == "sqlite":
        assert path.parent == data / "backups" and path.suffix == ".sqlite3"
    with django_db_blocker.unblock(), ops.database(url, "live"):
        saved = ops.raw_snapshot("live")

    assert "mutated" in shell(MUTATE, data, env_url)
    with django_db_blocker.unblock(), ops.database(url, "live"):
        changed = ops.raw_snapshot("live")
    assert changed != saved
    assert len(changed["audit_auditentry"][1]) > len(saved["audit_auditentry"][1])
    assert not changed["cases_case"][1] and saved["cases_case"][1]

    refused = run(["restore", str(path)], data, env_url)
    assert refused.returncode != 0 and "--force" in refused.stderr and "Nothing was changed" in refused.stderr
    with django_db_blocker.unblock(), ops.database(url, "live"):
        assert ops.raw_snapshot("live") == changed

    restored = run(["restore", str(path), "--force"], data, env_url)
    assert restored.returncode == 0, restored.stderr
    assert "Restored" in restored.stdout
    with django_db_blocker.unblock(), ops.database(url, "live"):
        back = ops.raw_snapshot("live")
        assert back.keys() == saved.keys()
        for table in saved:
            assert back[table] == saved[table], table
        assert ops.verify_chain("live").ok


def test_restore_refuses_a_backup_of_the_other_engine(sqlite_copy, tmp_path):
    fake = tmp_path / "x.dump"
    fake.write_bytes(b"PGDMP\x01\x0f\x00")
    result = run(["restore", str(fake)], sqlite_copy)
    assert result.returncode != 0 and "postgresql backup but the database is sqlite" in result.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello")
    result = run(["restore", str(junk)], sqlite_copy)
    assert result.returncode != 0 and "neither" in result.stderr


# --- audit partitions ------------------------------------------------------------------------------


def _entries_at(*moments: dt.datetime) -> None:
    record_many(
        AuditEntry(at=moment, actor_name="system", action=Action.EVENT, object_type="test", object_id=str(i))
        for i, moment in enumerate(moments)
    )


@pytest.mark.django_db
def test_retention_refuses_less_than_185_days():
    with pytest.raises(CommandError, match="185 days"):
        call_command("db", "drop-audit-partitions", "--older-than-days", "184")


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite refusal")
def test_partitioning_needs_postgresql():
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("db", "partition-audit")


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="declarative partitioning is PostgreSQL's")
def test_audit_log_in_monthly_partitions_keeps_its_chain_through_a_purge(capsys):
    assert not AuditEntry.objects.exists(), "this test needs the session's audit log empty"
    now = dt.datetime.now(dt.UTC)
    ago = lambda days: now - dt.timedelta(days=days)  # noqa: E731
    month = ago(240).replace(day=1, hour=12)  # ends at least 209 days ago: old enough to purge
    # ids in time order, except one entry of that month written after one of 90 days ago (writers
    # racing at a month's end): the month must wait, or the chain would have a hole.
    _entries_at(
        ago(330), ago(300), month + dt.timedelta(days=2), ago(90), month + dt.timedelta(days=5), ago(10)
    )
    assert chain.verify().ok

    call_command("db", "partition-audit", "--ahead", "2")
    assert "now partitioned by month: 6 entries" in capsys.readouterr().out
    with connection.cursor() as cursor:
        assert ops.is_partitioned(cursor, ops.AUDIT_LOG)
        months = [month for _name, month in ops.partitions(cursor, ops.AUDIT_LOG)]
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_auditentry'")
        indexes = {name for (name,) in cursor.fetchall()}
    assert months[0] == ago(330).date().replace(day=1) and len(months) >= 12
    assert {"audit_auditentry_pkey", "audit_object"} <= indexes
    assert AuditEntry.objects.count() == 6 and chain.verify().ok

    # appends continue the chain and land in this month's partition; the table stays append-only
    entry = record(actor=None, action=Action.EVENT, object_type="test", object_id="after")
    assert entry.id > max(AuditEntry.objects.exclude(pk=entry.pk).values_list("id", flat=True))
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditentry SET reason = 'x' WHERE id = %s", [entry.id])
    call_command("db", "partition-audit")  # idempotent
    assert "already partitioned" in capsys.readouterr().out
    assert ops.ensure_audit_partitions(2) == []

    call_command("db", "drop-audit-partitions", "--older-than-days", "185")
    out = capsys.readouterr().out
    assert "Dropped" in out and "Kept for now" in out
    kept = sorted(AuditEntry.objects.values_list("object_id", flat=True))
    # 330 and 300 days ago are gone; the month with the straggler waits
    assert kept == sorted(["2", "3", "4", "5", "after"])
    result = chain.verify()
    assert result.ok, result.problems
    assert Checkpoint.objects.first().first_id == min(AuditEntry.objects.values_list("id", flat=True))


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="declarative partitioning is PostgreSQL's")
def test_a_missing_month_is_created_even_when_its_rows_went_to_the_default_partition():
    ops.partition_audit(ahead=0)
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=200)  # beyond the partitions made
    _entries_at(far)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {ops.DEFAULT_PARTITION}")
        assert cursor.fetchone()[0] == 1
        created = ops._create_month(cursor, ops.AUDIT_LOG, far.date().replace(day=1))
        cursor.execute(f"SELECT count(*) FROM {created}")
        assert cursor.fetchone()[0] == 1
        cursor.execute(f"SELECT count(*) FROM {ops.DEFAULT_PARTITION}")
        assert cursor.fetchone()[0] == 0
    assert chain.verify().ok


# --- readiness and logs ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_checks_the_database_and_migrations(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    response = health.readyz(RequestFactory().get("/readyz"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}

    monkeypatch.setattr(health, "_migrations_applied", False)
    monkeypatch.setattr(health, "unapplied_migrations", lambda alias="default": ["cases.0002_new"])
    response = health.readyz(RequestFactory().get("/readyz"))
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable" and body["failing"] == ["migrations"]
    assert body["checks"]["migrations"] == {"unapplied": ["cases.0002_new"]}


def test_request_log_is_json_without_query_strings(caplog):
    formatter = health.JsonFormatter()
    middleware = health.RequestLogMiddleware(lambda request: HttpResponse("ok", status=201))
    request = RequestFactory().get("/registry/search/?q=140302194103091234", HTTP_X_REQUEST_ID="req-12345678")
    with caplog.at_level(logging.INFO, logger="grassroots.request"):
        response = middleware(request)
    assert response["X-Request-ID"] == "req-12345678"
    line = formatter.format(caplog.records[-1])
    data = json.loads(line)
    assert data["logger"] == "grassroots.request" and data["level"] == "INFO"
    assert data["request_id"] == "req-12345678" and data["method"] == "GET"
    assert data["path"] == "/registry/search/" and data["status"] == 201
    assert isinstance(data["duration_ms"], float) and "time" in data
    assert "1403021941" not in line and "?" not in line

    # a client's id that does not look like one is replaced
    response = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="bad id\n"))
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_json_formatter_strips_query_strings_from_server_logs_and_keeps_exceptions():
    formatter = health.JsonFormatter()
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s', ("GET /public/track/?n=1 HTTP/1.1", 200), None
    )
    assert json.loads(formatter.format(record))["message"] == '"GET /public/track/ HTTP/1.1" 200'
    try:
        raise ValueError("boom")
    except ValueError:
        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    data = json.loads(formatter.format(failing))
    assert data["level"] == "ERROR" and "ValueError: boom" in data["exception"]


def test_the_client_address_comes_from_a_trusted_proxy_only(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "TRUSTED_PROXIES": ["127.0.0.1", "10.0.0.2"]}
    seen = []
    middleware = health.ProxyMiddleware(
        lambda request: seen.append(request.META["REMOTE_ADDR"]) or HttpResponse()
    )

    def client(peer: str, forwarded: str | None) -> str:
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        middleware(RequestFactory().get("/", REMOTE_ADDR=peer, **extra))
        return seen.pop()

    assert client("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    # what the client wrote itself (left of the last untrusted hop) is ignored
    assert client("127.0.0.1", "1.2.3.4, 203.0.113.7, 10.0.0.2") == "203.0.113.7"
    assert client("198.51.100.1", "203.0.113.7") == "198.51.100.1"  # not from a proxy: kept
    assert client("127.0.0.1", "junk") == "127.0.0.1"
    assert client("127.0.0.1", None) == "127.0.0.1"
    settings.GRASSROOTS = {**settings.GRASSROOTS, "TRUSTED_PROXIES": []}
    untrusting = health.ProxyMiddleware(
        lambda request: seen.append(request.META["REMOTE_ADDR"]) or HttpResponse()
    )
    untrusting(RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7"))
    assert seen.pop() == "127.0.0.1"
