"""Read replicas: the router and middleware against a real streaming standby, and their fallbacks.

``test_streaming_replica`` (marked ``replica``) starts a second PostgreSQL cluster on a free local
port with ``pg_basebackup -R`` from the server the suite runs on. For that it creates a role
``replicator`` (REPLICATION LOGIN) and puts ``host replication replicator 127.0.0.1/32 trust`` first in
the server's pg_hba.conf, reloads, and undoes both afterwards; concurrent runs queue on an advisory
lock. It needs the cluster's ``wal_level`` at ``replica`` or ``logical`` (Debian's default), the
PostgreSQL server binaries (``GRASSROOTS_PG_BIN``, default /usr/lib/postgresql/15/bin) and, run as
root, the ``postgres`` OS user. It is skipped on SQLite only; anywhere else a missing piece fails it.

The other tests point the ``replica`` alias at a port where nothing listens, on either engine.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections, router
from django.http import JsonResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path

from grassroots.accounts.models import User
from grassroots.areas.models import Area
from grassroots.cockpit.models import IndicatorValue
from grassroots.core import health, ops, routers

PROBE = "replica-probe"
LOCK = 7_305_312  # serialises standby set-ups of concurrent test runs on one server
PG_BIN = Path(os.environ.get("GRASSROOTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
REPLICA_MIDDLEWARE = "grassroots.core.routers.ReplicaMiddleware"


# --- a tiny site to request: which database served the read? ---------------------------------------


def cockpit_probe(request):
    if request.method == "POST":
        IndicatorValue.objects.create(
            period="now", indicator=PROBE, node=request.POST.get("node", "1403"), level=2, numerator=1
        )
    values = IndicatorValue.objects.filter(indicator=PROBE)
    route = routers.current_route()
    return JsonResponse({"db": values.db, "count": values.count(), "pinned": bool(route and route.pinned)})


def area_probe(request):
    areas = Area.objects.filter(code="1403")
    return JsonResponse({"db": areas.db, "count": areas.count(), "users": User.objects.all().db})


urlpatterns = [
    path("cockpit/probe/", cockpit_probe),
    path("public/probe/", area_probe),
    path("registry/probe/", area_probe),
    path("readyz", health.readyz),
]


def configure(settings, **grassroots) -> None:
    settings.DATABASE_ROUTERS = ["grassroots.core.routers.ReplicaRouter"]
    settings.MIDDLEWARE = [REPLICA_MIDDLEWARE, *settings.MIDDLEWARE]
    settings.GRASSROOTS = {**settings.GRASSROOTS, **grassroots}
    routers.forget_replica_status()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replica_settings(port: int) -> dict:
    primary = connections["default"].settings_dict
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": primary["NAME"],
        "USER": primary["USER"] or "postgres",
        "PASSWORD": primary["PASSWORD"],
        "HOST": "127.0.0.1",
        "PORT": port,
        "OPTIONS": {"connect_timeout": 2},
    }


def until(condition, timeout: float = 30.0, step: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


# --- fallbacks, on any engine ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def replica_slot(django_db_setup):
    """The ``replica`` alias, registered before the tests' database set-up and marked as a test mirror
    of the default database (so the test framework neither creates nor flushes it); each test points
    it at a dead port or at the standby."""
    config = replica_settings(free_port()) | {"NAME": "postgres", "TEST": {"MIRROR": "default"}}
    with ops.database(config, routers.REPLICA):
        yield


def point_replica(port: int, name: str) -> None:
    connections[routers.REPLICA].close()
    connections.settings[routers.REPLICA].update(HOST="127.0.0.1", PORT=port, NAME=name)
    routers.forget_replica_status()


@pytest.fixture
def dead_replica(replica_slot, settings):
    point_replica(free_port(), "postgres")
    configure(settings, REPLICA_PIN_SECONDS=30)
    yield
    routers.forget_replica_status()


def test_without_a_replica_the_router_has_no_opinion(monkeypatch):
    monkeypatch.setattr(routers, "replica_configured", lambda: False)
    with routers.reads():
        assert router.db_for_read(IndicatorValue) == "default"
        assert routers.ReplicaRouter().db_for_read(IndicatorValue) is None


def test_an_unreachable_replica_sends_reads_to_the_primary(dead_replica, django_db_blocker):
    with django_db_blocker.unblock():
        status = routers.replica_status(refresh=True)
        assert not status.ok and status.reason == "unreachable (OperationalError)"
        with routers.reads():
            assert router.db_for_read(IndicatorValue) == "default"
    assert routers.ReplicaRouter().allow_migrate(routers.REPLICA, "cockpit") is False
    assert routers.ReplicaRouter().allow_migrate("default", "cockpit") is None


@pytest.mark.urls(__name__)
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_a_write_pins_the_client_to_the_primary_with_a_signed_cookie(dead_replica):
    client = Client()
    assert client.get("/cockpit/probe/").json()["pinned"] is False
    response = client.post("/cockpit/probe/", {"node": "1403"})
    assert response.json() == {"db": "default", "count": 1, "pinned": True}
    cookie = response.cookies[routers.PIN_COOKIE]
    assert cookie["httponly"] and int(cookie["max-age"]) == 30
    assert client.get("/cockpit/probe/").json()["pinned"] is True
    # forged or stale pins are ignored
    other = Client()
    other.cookies[routers.PIN_COOKIE] = "1:forged:signature"
    assert other.get("/cockpit/probe/").json()["pinned"] is False
    body = Client().get("/readyz").json()
    assert body["status"] == "degraded" and body["checks"]["replica"]["status"].startswith("unreachable")


# --- a real streaming standby ----------------------------------------------------------------------


@dataclass
class Standby:
    port: int
    data: Path
    log: Path
    pg_ctl: list[str]

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def stop(self) -> None:
        subprocess.run([*self.pg_ctl, "stop", "-m", "fast", "-w"], capture_output=True, timeout=60)


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(cmd: list[str], timeout: float = 180) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="module")
def standby(request, django_db_setup, django_db_blocker):
    """A hot standby of the suite's server, streaming from it, on a free port; torn down at the end."""
    if connection.vendor != "postgresql":
        pytest.skip("streaming replicas need PostgreSQL: run with DATABASE_URL=postgresql://…")
    primary = connections["default"].settings_dict
    host, port = primary["HOST"] or "127.0.0.1", str(primary["PORT"] or 5432)
    admin = psycopg.connect(
        host=host, port=port, user=primary["USER"], password=primary["PASSWORD"] or None, dbname="postgres"
    )
    admin.autocommit = True
    request.addfinalizer(admin.close)
    admin.execute("SELECT pg_advisory_lock(%s)", [LOCK])
    request.addfinalizer(lambda: admin.execute("SELECT pg_advisory_unlock(%s)", [LOCK]))

    settings_of = {name: admin.execute(f"SHOW {name}").fetchone()[0] for name in (
        "wal_level", "hba_file", "max_connections", "max_worker_processes", "max_wal_senders",
        "max_prepared_transactions", "max_locks_per_transaction",
    )}  # fmt: skip
    assert settings_of["wal_level"] in ("replica", "logical"), (
        f"wal_level is {settings_of['wal_level']!r}: streaming replication needs 'replica' "
        "(set it in postgresql.conf and restart the server)"
    )
    if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'replicator'").fetchone():
        admin.execute("CREATE ROLE replicator WITH REPLICATION LOGIN")
        request.addfinalizer(lambda: admin.execute("DROP ROLE IF EXISTS replicator"))

    hba = Path(settings_of["hba_file"])
    original = hba.read_text()
    rule = "host replication replicator 127.0.0.1/32 trust"
    if rule not in original:
        marker = f"# grassroots test_replica {os.getpid()}"
        hba.write_text(f"{rule}  {marker}\n{original}")  # first, so that no earlier line matches

        def restore_hba():
            text = hba.read_text()
            hba.write_text("".join(line for line in text.splitlines(True) if marker not in line))
            admin.execute("SELECT pg_reload_conf()")

        request.addfinalizer(restore_hba)
        admin.execute("SELECT pg_reload_conf()")
        time.sleep(0.3)  # the postmaster rereads the file asynchronously

    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="grassroots-standby-"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    if owner:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log = base / "data", base / "server.log"
    basebackup = [
        *_as_postgres(), str(PG_BIN / "pg_basebackup"), "-h", host, "-p", port, "-U", "replicator",
        "-D", str(data), "-R", "-X", "stream", "-c", "fast", "--no-sync", "--no-manifest",
    ]  # fmt: skip
    for attempt in range(3):
        try:
            _run(basebackup)
            break
        except AssertionError:
            if attempt == 2:
                raise
            shutil.rmtree(data, ignore_errors=True)
            time.sleep(1)

    standby_port = free_port()
    (data / "postgresql.conf").write_text(
        "\n".join(
            [
                f"port = {standby_port}",
                "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{base}'",
                "hot_standby = on",
                "shared_buffers = 32MB",
                "fsync = off",
                # a hot standby refuses to start with less of these than its primary
                *(f"{name} = {settings_of[name]}" for name in list(settings_of)[2:]),
                "",
            ]
        )
    )
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    (data / "pg_ident.conf").write_text("")
    if owner:
        for item in [data, *data.rglob("*")]:
            os.chown(item, owner.pw_uid, owner.pw_gid)
    pg_ctl = [*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log)]
    replica = Standby(standby_port, data, log, pg_ctl)
    request.addfinalizer(
        lambda: subprocess.run([*pg_ctl, "stop", "-m", "immediate"], capture_output=True, timeout=60)
    )
    _run([*pg_ctl, "-w", "-t", "60", "start"])

    def accepting():
        try:
            with replica.connect() as conn:
                return conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        except psycopg.OperationalError:
            return False

    until(accepting, timeout=60, what="the standby to accept connections")
    return replica


@pytest.fixture
def replica_alias(standby, replica_slot, settings):
    point_replica(standby.port, connections["default"].settings_dict["NAME"])
    # a generous lag limit: the suite's server is shared, and a busy standby can fall a second behind
    configure(settings, REPLICA_MAX_LAG=30.0, REPLICA_PIN_SECONDS=2, REPLICA_CHECK_SECONDS=0.2)
    yield standby
    routers.forget_replica_status()


def _on_replica():
    return IndicatorValue.objects.using(routers.REPLICA).filter(indicator=PROBE).count()


@pytest.mark.replica
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="streaming replicas need PostgreSQL (SQLite run)"
)
@pytest.mark.urls(__name__)
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_streaming_replica(replica_alias, settings, tree):
    standby = replica_alias
    # 1. A write on the primary reaches the standby.
    IndicatorValue.objects.create(period="now", indicator=PROBE, node="14", level=1, numerator=1)
    until(lambda: _on_replica() == 1, what="the write to replay on the standby")
    assert routers.replica_status(refresh=True).reason == "ok"

    # 2. Cockpit reads go to the standby, writes and everything else to the primary.
    with routers.reads():
        assert router.db_for_read(IndicatorValue) == routers.REPLICA
        assert router.db_for_write(IndicatorValue) == "default"
        assert router.db_for_read(Area) == "default"
        with CaptureQueriesContext(connections[routers.REPLICA]) as on_replica:
            assert IndicatorValue.objects.filter(indicator=PROBE).count() == 1
        assert len(on_replica) == 1
    with routers.reads(replica_paths=True):  # a public page or report: any non-sensitive read
        assert router.db_for_read(Area) == routers.REPLICA
        assert router.db_for_read(User) == "default"  # who may do what: always the primary
    with routers.reads(pinned=True):
        assert router.db_for_read(IndicatorValue) == "default"

    client = Client()
    assert client.get("/cockpit/probe/").json() == {"db": "replica", "count": 1, "pinned": False}
    assert client.get("/public/probe/").json() == {"db": "replica", "count": 1, "users": "default"}
    assert client.get("/registry/probe/").json()["db"] == "default"

    # 3. Read-your-writes: right after a POST the client reads the primary, even while the standby has
    #    not replayed the write (replay paused), then the replica again once the pin expires.
    with standby.connect(connections["default"].settings_dict["NAME"]) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            assert client.post("/cockpit/probe/", {"node": "1403"}).json()["db"] == "default"
            assert client.get("/cockpit/probe/").json() == {"db": "default", "count": 2, "pinned": True}
            assert Client().get("/cockpit/probe/").json()["count"] in (1, 2)  # replica, or fallback
            assert _on_replica() == 1

            # 4. A standby lagging more than REPLICA_MAX_LAG seconds is not read.
            settings.GRASSROOTS = {**settings.GRASSROOTS, "REPLICA_MAX_LAG": 1.0}
            lagging = until(
                lambda: (s := routers.replica_status(refresh=True)).reason == "lagging" and s,
                timeout=20,
                what="the paused standby to lag",
            )
            assert lagging.lag > 1.0
            assert Client().get("/cockpit/probe/").json() == {"db": "default", "count": 2, "pinned": False}
            assert client.get("/readyz").json()["status"] == "degraded"
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
            settings.GRASSROOTS = {**settings.GRASSROOTS, "REPLICA_MAX_LAG": 30.0}
    until(lambda: _on_replica() == 2, what="replay to resume")
    until(lambda: routers.replica_status(refresh=True).ok, what="the standby to catch up")
    time.sleep(2.1)  # the pin expires
    assert client.get("/cockpit/probe/").json() == {"db": "replica", "count": 2, "pinned": False}
    assert client.get("/readyz").json()["status"] == "ok"

    # 5. The standby stops between two checks: the request that meets the dead connection is served
    #    from the primary (the middleware retries it there), and later ones skip the standby.
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REPLICA_CHECK_SECONDS": 60}
    assert routers.replica_status(refresh=True).ok
    standby.stop()
    response = Client().get("/cockpit/probe/")
    assert response.status_code == 200
    assert response.json() == {"db": "default", "count": 2, "pinned": True}
    assert not routers.replica_status().ok
    assert Client().get("/cockpit/probe/").json()["db"] == "default"
    assert routers.replica_status(refresh=True).reason.startswith("unreachable")
    body = Client().get("/readyz").json()
    assert body["status"] == "degraded" and body["checks"]["database"] == "ok"
