"""A large import killed with SIGKILL at random moments leaves the registry consistent, and finishes
exactly once.

For the database the suite runs on — SQLite (a file in a scratch data directory) or PostgreSQL (a
scratch database on DATABASE_URL's server, dropped at the end); CI runs the suite on both:
``grassroots migrate``, the Yangquan tree with the grids of 上站街道, a street official; then, at least
:data:`KILLS` times, ``grassroots registry import SHEET --user …`` — or, when a killed job is waiting,
``grassroots registry import --pending`` (the job resumes) — runs as a subprocess and is
killed after a random delay (seeded). After every kill:

* no partial household: every household of the sheet that exists has all its members and exactly one
  head (the sheet's 户主), and no resident of the sheet lies outside a household;
* nobody twice: ``id_number_hash`` is unique among active residents;
* no finished job keeps the plan of its households (``PendingHousehold``);
* SQLite: ``PRAGMA integrity_check`` is ``ok``.

At the end the waiting job resumes to completion: every household of every sheet that was accepted
(has a job) exists exactly once with its members, and nothing of a sheet whose upload was killed before
its job was stored; and a sheet imported again, uninterrupted, adds nothing (all "unchanged").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from grassroots.registry.idnumber import make_id_number

from .factories import sheet_csv, sheet_row

KILLS = 20  # kills that hit a running import, per database
SEED = 20260501
HOUSEHOLDS_PER_SHEET = 1200  # about 3,000 rows
MAX_ROUNDS = 60
STREET = "140302001"
USER = "crash_registrar"
REPO = Path(__file__).resolve().parents[3]
RELATIONS = ["户主", "配偶", "子", "女", "父母"]


# --- the scratch databases ---------------------------------------------------------------------------


def _server_url() -> str:
    """The PostgreSQL server to create the scratch database on: DATABASE_URL's if it is one."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@dataclass
class Target:
    vendor: str
    env: dict[str, str]
    data_dir: Path
    url: str = ""

    def rows(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        """Run one statement on a connection of its own (``%s`` placeholders) and return its rows."""
        if self.vendor == "sqlite":
            connection = sqlite3.connect(self.data_dir / "grassroots.sqlite3", timeout=30)
            try:
                cursor = connection.execute(sql.replace("%s", "?") if params else sql, params)
                found = cursor.fetchall()
                connection.commit()
                return found
            finally:
                connection.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            cursor = connection.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else []


@contextlib.contextmanager
def scratch(vendor: str, directory: Path) -> Iterator[Target]:
    """A database of its own: a SQLite file in ``directory``, or a PostgreSQL database dropped after."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "GRASSROOTS_", "DJANGO_SETTINGS_MODULE", "PYTEST"))
    }
    env.update(GRASSROOTS_DATA_DIR=str(directory), GRASSROOTS_LOG_LEVEL="ERROR", PYTHONPATH=str(REPO))
    if vendor == "sqlite":
        yield Target("sqlite", env, directory)
        return
    import psycopg

    server = _server_url()
    name = f"crash_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {server} is needed for this test: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    env["DATABASE_URL"] = url
    try:
        yield Target("postgresql", env, directory, url)
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def _vendors() -> list[str]:
    """The database the suite runs on (CI runs it once on SQLite and once on PostgreSQL, so each run
    covers one); ``GRASSROOTS_CRASH_VENDORS=sqlite,postgresql`` runs both in one go."""
    chosen = os.environ.get("GRASSROOTS_CRASH_VENDORS")
    if chosen:
        return [vendor.strip() for vendor in chosen.split(",") if vendor.strip()]
    url = os.environ.get("DATABASE_URL", "")
    return ["postgresql"] if url.startswith(("postgres://", "postgresql://")) else ["sqlite"]


@pytest.fixture(params=_vendors())
def target(request, tmp_path) -> Iterator[Target]:
    with scratch(request.param, tmp_path) as made:
        yield made


def grassroots(target: Target, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "grassroots", *args],
        env=target.env,
        cwd=target.data_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"grassroots {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def prepare(target: Target) -> list[str]:
    """Schema, tree, grids and the importing official; returns the grids of the street."""
    grassroots(target, "migrate", "--verbosity", "0")
    grassroots(target, "areas", "yangquan")
    grassroots(target, "areas", "grids", STREET)
    script = (
        "from grassroots.accounts.models import Grant, User\n"
        f"u = User.objects.create_user({USER!r}, password='Crash-test-2026')\n"
        f"Grant.objects.create(user=u, role='street_staff', area_id={STREET!r})\n"
        "from grassroots.core import crypto; crypto.keyring()\n"
    )
    grassroots(target, "shell", "-c", script)
    rows = target.rows(
        "SELECT code FROM areas_area WHERE level = 6 AND code >= %s AND code < %s ORDER BY code",
        [STREET, STREET[:-1] + chr(ord(STREET[-1]) + 1)],
    )
    return [code for (code,) in rows]


# --- the sheets --------------------------------------------------------------------------------------


@dataclass
class Sheet:
    path: Path
    members: dict[str, int] = field(default_factory=dict)  # household number → members


def write_sheet(directory: Path, prefix: str, grids: list[str], rng: random.Random, first: int) -> Sheet:
    rows = []
    sheet = Sheet(directory / f"{prefix}.csv")
    person = first
    for index in range(HOUSEHOLDS_PER_SHEET):
        number = f"{prefix}-{index:05d}"
        grid = grids[index % len(grids)]
        size = rng.choice((1, 2, 2, 3, 3, 4))
        sheet.members[number] = size
        for member in range(size):
            person += 1  # a distinct ID number for every person of every sheet
            born = dt.date(1940, 1, 1) + dt.timedelta(days=person // 1000)
            id_number = make_id_number("140302", born, person % 1000)
            relation = RELATIONS[min(member, len(RELATIONS) - 1)]
            phone = f"139{person:08d}" if member == 0 else ""
            rows.append(sheet_row(number, grid, f"居民{person}", id_number, relation, phone=phone))
    sheet.path.write_bytes(sheet_csv(rows))
    return sheet


# --- the checks --------------------------------------------------------------------------------------


def _rows(target: Target, sql: str) -> list[tuple]:
    return target.rows(sql)


def check_consistent(target: Target, sheets: list[Sheet], when: str) -> int:
    """The invariants; returns how many households of the sheets exist."""
    expected = {number: size for sheet in sheets for number, size in sheet.members.items()}
    households = _rows(target, "SELECT id, number, head_id FROM registry_household WHERE number LIKE 'CR%'")
    members = dict(
        _rows(
            target,
            "SELECT household_id, COUNT(*) FROM registry_resident WHERE status = 'active' "
            "AND household_id IS NOT NULL GROUP BY household_id",
        )
    )
    heads = dict(
        _rows(
            target,
            "SELECT household_id, COUNT(*) FROM registry_resident WHERE status = 'active' "
            "AND relation = 'head' GROUP BY household_id",
        )
    )
    head_of = dict(_rows(target, "SELECT id, household_id FROM registry_resident WHERE relation = 'head'"))
    numbers = Counter(number for _id, number, _head in households)
    assert not [n for n, c in numbers.items() if c > 1], f"{when}: a household number twice"
    for pk, number, head in households:
        assert number in expected, f"{when}: household {number} is not on any sheet"
        assert members.get(pk, 0) == expected[number], (
            f"{when}: household {number} has {members.get(pk, 0)} of its {expected[number]} members"
        )
        assert heads.get(pk, 0) == 1 and head is not None and head_of.get(head) == pk, (
            f"{when}: household {number} has {heads.get(pk, 0)} heads (head_id {head})"
        )
    loose = _rows(target, "SELECT COUNT(*) FROM registry_resident WHERE household_id IS NULL")[0][0]
    assert loose == 0, f"{when}: {loose} residents outside every household"
    twice = _rows(
        target,
        "SELECT id_number_hash, COUNT(*) FROM registry_resident WHERE status = 'active' "
        "GROUP BY id_number_hash HAVING COUNT(*) > 1",
    )
    assert not twice, f"{when}: {len(twice)} persons registered twice"
    leftover = _rows(
        target,
        "SELECT COUNT(*) FROM imports_pendinghousehold p JOIN imports_importjob j ON j.id = p.job_id "
        "WHERE j.status IN ('done', 'failed')",
    )[0][0]
    assert leftover == 0, f"{when}: finished jobs kept {leftover} planned households"
    if target.vendor == "sqlite":
        assert _rows(target, "PRAGMA integrity_check") == [("ok",)], f"{when}: integrity_check failed"
    return len(households)


def unfinished_jobs(target: Target) -> int:
    return _rows(target, "SELECT COUNT(*) FROM imports_importjob WHERE status IN ('queued', 'running')")[0][0]


def unfinished_job(target: Target) -> int | None:
    """The job a killed process left waiting (one at most: a sheet is uploaded only when none is)."""
    return _rows(target, "SELECT MAX(id) FROM imports_importjob WHERE status IN ('queued', 'running')")[0][0]


def age_heartbeats(target: Target) -> None:
    """Make running jobs look abandoned (their worker was killed), so that ``--pending`` resumes them
    now rather than after ``STALE_AFTER``."""
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    value = long_ago.strftime("%Y-%m-%d %H:%M:%S") if target.vendor == "sqlite" else long_ago
    target.rows("UPDATE imports_importjob SET heartbeat_at = %s WHERE status = 'running'", [value])


def calibrate(target: Target, sheet: Sheet) -> tuple[float, float]:
    """Import ``sheet`` uninterrupted: seconds until its job existed, and in all (the kills then fall
    between the two, whatever the speed of the machine)."""
    begun = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "grassroots", "registry", "import", str(sheet.path), "--user", USER],
        env=target.env,
        cwd=target.data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    job_at = None
    while process.poll() is None:
        if job_at is None and target.rows("SELECT COUNT(*) FROM imports_importjob")[0][0]:
            job_at = time.monotonic() - begun
        time.sleep(0.1)
    full = time.monotonic() - begun
    assert process.wait() == 0, "the uninterrupted import failed"
    return job_at if job_at is not None else full / 3, full


def kill_window(job_at: float, full: float) -> tuple[float, float]:
    """The delays to kill after: from about the job's creation to the end of a full import."""
    return max(0.3, 0.8 * job_at), max(job_at + 1.0, 0.95 * full)


def job_of(target: Target, sheet: Sheet) -> int | None:
    """The job of ``sheet``, if its upload was stored (a sheet has one job until the last step)."""
    rows = target.rows("SELECT MAX(id) FROM imports_importjob WHERE original_name = %s", [sheet.path.name])
    return rows[0][0]


def phase_of(target: Target, job_id: int | None) -> str:
    """What the killed process was doing, as its job's row tells (no job: its upload was not stored)."""
    rows = target.rows(
        "SELECT status, checked_at, households_loaded, households_planned FROM imports_importjob "
        "WHERE id = %s",
        [job_id or 0],
    )
    if not rows:
        return "uploading"
    status, checked_at, loaded, planned = rows[0]
    if status == "queued":
        return "starting"
    if status in ("done", "failed"):
        return "finishing"
    if checked_at is None:
        return "checking"
    return "loading" if loaded < planned else "finishing"


def has_job(target: Target, sheet: Sheet) -> bool:
    return job_of(target, sheet) is not None


# --- the test ------------------------------------------------------------------------------------------


def test_killed_imports_leave_the_registry_consistent_and_finish_exactly_once(target, tmp_path):
    rng = random.Random(f"{SEED}-{target.vendor}")
    grids = prepare(target)
    assert grids, "no grids under the street"
    sheets = [write_sheet(tmp_path, "CR0", grids, rng, first=0)]
    job_at, full = calibrate(target, sheets[0])
    low, high = kill_window(job_at, full)
    check_consistent(target, sheets, "after the first, uninterrupted import")
    kills = rounds = 0
    phases: Counter[str] = Counter()
    started = time.monotonic()
    while kills < KILLS:
        rounds += 1
        assert rounds <= MAX_ROUNDS, f"only {kills} kills hit a running import in {MAX_ROUNDS} rounds"
        waiting = unfinished_job(target)
        if waiting is not None:
            age_heartbeats(target)
            args = ["registry", "import", "--pending"]
        else:
            if not sheets or has_job(target, sheets[-1]):  # else: killed before its job was stored
                sheets.append(
                    write_sheet(tmp_path, f"CR{len(sheets)}", grids, rng, first=len(sheets) * 10_000)
                )
            args = ["registry", "import", str(sheets[-1].path), "--user", USER]
        log = tmp_path / f"round-{rounds}.log"
        with log.open("wb") as output:
            begun = time.monotonic()
            process = subprocess.Popen(
                [sys.executable, "-m", "grassroots", *args],
                env=target.env,
                cwd=target.data_dir,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                process.wait(timeout=rng.uniform(low, high))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                kills += 1
                process.wait(timeout=60)
                phases[phase_of(target, waiting if waiting is not None else job_of(target, sheets[-1]))] += 1
            else:
                if waiting is None and process.returncode == 0:
                    # A whole import ran faster than when calibrated (the machine is less busy now):
                    # keep the kills within an import.
                    elapsed = time.monotonic() - begun
                    job_at, full = job_at * min(1.0, elapsed / full), min(full, elapsed)
                    low, high = kill_window(job_at, full)
        output_text = log.read_text(errors="replace")
        assert process.returncode in (0, -signal.SIGKILL), (
            f"the import failed by itself:\n{output_text[-2000:]}"
        )
        check_consistent(target, sheets, f"after round {rounds}")
    dropped = not has_job(target, sheets[-1])
    if dropped:
        # The last upload was killed before its job was stored: that sheet was never accepted, and
        # nothing of it may be in the registry (check_consistent: no household off the sheets).
        sheets.pop()
    # The waiting jobs resume to the end; then every sheet again, uninterrupted: nothing new.
    age_heartbeats(target)
    grassroots(target, "registry", "import", "--pending")
    assert unfinished_jobs(target) == 0
    imported = check_consistent(target, sheets, "after resuming")
    again = rng.choice(sheets)
    output = grassroots(target, "registry", "import", str(again.path), "--user", USER).stdout
    assert "households imported 0 " in output and f"unchanged {len(again.members)}," in output, output
    total = check_consistent(target, sheets, "after importing a sheet again")
    expected = sum(len(sheet.members) for sheet in sheets)
    assert imported == total == expected, f"{total} households of {expected} ({len(sheets)} sheets)"
    failed = _rows(target, "SELECT COUNT(*) FROM imports_importjob WHERE status = 'failed'")[0][0]
    assert phases["checking"] + phases["loading"], f"no kill hit an import at work: {dict(phases)}"
    print(
        json.dumps(
            {
                "vendor": target.vendor,
                "kills": kills,
                "rounds": rounds,
                "sheets": len(sheets),
                "last_sheet_never_stored": dropped,
                "households": total,
                "failed_jobs": failed,
                "killed_while": dict(phases),
                "seconds": round(time.monotonic() - started, 1),
                "full_import_s": round(full, 1),
                "kill_delay_s": [round(low, 1), round(high, 1)],
            }
        )
    )
