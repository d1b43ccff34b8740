"""Read replicas: which reads may be served by the ``replica`` database, and when they may not.

With ``GRASSROOTS_REPLICA_URL`` set, settings add a ``replica`` alias (a PostgreSQL hot standby fed by
streaming replication) and :class:`ReplicaRouter`. Within a web request (:class:`ReplicaMiddleware`
marks it), a read goes to the replica when

* it reads the cockpit (app ``cockpit``: indicator values, evaluations), or the request is a GET/HEAD
  on a public page or a report (``GRASSROOTS_REPLICA_PATHS``: ``/cockpit/``, ``/public/`` …);
* it does not read who may do what or the audit chain (``PRIMARY_ONLY_APPS``);
* it is not inside a transaction (a transaction reads what it is about to write);
* the client has not written recently: any POST/PUT/PATCH/DELETE sets a signed cookie that pins that
  browser's reads to the primary for ``GRASSROOTS_REPLICA_PIN_SECONDS`` (read-your-writes);
* the replica is reachable and no more than ``GRASSROOTS_REPLICA_MAX_LAG`` seconds behind (checked
  with one query, cached for ``GRASSROOTS_REPLICA_CHECK_SECONDS``).

Everything else, all writes, and all work outside requests (worker, commands) use the primary. If a
replica query fails during a GET, the middleware marks the replica down and runs the view again on
the primary, so a replica that dies between two checks costs a retry, not an error page.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

log = logging.getLogger("grassroots.replica")

REPLICA = "replica"
DEFAULT = DEFAULT_DB_ALIAS
PIN_COOKIE = "grassroots_primary"
PIN_SALT = "grassroots.core.routers.pin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Read from the replica in any request.
REPLICA_APPS = frozenset({"cockpit"})
#: Never read from the replica: grants, sessions and tokens decide access and must be current; the
#: audit chain's head must be the primary's, or two appends would fork it.
PRIMARY_ONLY_APPS = frozenset({"accounts", "auth", "contenttypes", "sessions", "audit"})
DEFAULTS = {
    "REPLICA_MAX_LAG": 10.0,  # seconds behind the primary before reads fall back
    "REPLICA_PIN_SECONDS": 15,  # read-your-writes window after a write
    "REPLICA_CHECK_SECONDS": 5.0,  # how long a replica status is trusted
    "REPLICA_PATHS": ("/cockpit/", "/public/", "/open311/", "/coverage/", "/api/v1/cockpit/"),
}

# The SQL of the lag check. A standby whose received WAL is all replayed is current, whatever the time
# of the last replayed commit (an idle primary commits nothing); otherwise the lag is the age of the
# last replayed commit. A server not in recovery (a promoted standby, or the primary itself in a small
# set-up) has no lag.
LAG_SQL = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    END
"""


def conf(name: str):
    return getattr(settings, "GRASSROOTS", {}).get(name, DEFAULTS[name])


def replica_configured() -> bool:
    return REPLICA in connections.settings


@dataclass(frozen=True)
class ReplicaStatus:
    ok: bool
    lag: float | None  # seconds, None when unknown
    reason: str  # "ok", "lagging", "unreachable (OperationalError)", "not configured"
    checked_at: float  # time.monotonic()

    def as_json(self) -> dict:
        return {"status": self.reason, "lag_seconds": None if self.lag is None else round(self.lag, 3)}


_status: ReplicaStatus | None = None
_status_lock = threading.Lock()


def replica_status(*, refresh: bool = False) -> ReplicaStatus:
    """The replica's state, measured at most every REPLICA_CHECK_SECONDS per process."""
    global _status
    if not replica_configured():
        return ReplicaStatus(ok=False, lag=None, reason="not configured", checked_at=time.monotonic())
    current = _status
    if not refresh and current and time.monotonic() - current.checked_at < conf("REPLICA_CHECK_SECONDS"):
        return current
    with _status_lock:
        current = _status
        if not refresh and current and time.monotonic() - current.checked_at < conf("REPLICA_CHECK_SECONDS"):
            return current
        _status = _measure()
        if not _status.ok:
            log.warning("replica not used: %s (lag %s s)", _status.reason, _status.lag)
        return _status


def _measure() -> ReplicaStatus:
    connection = connections[REPLICA]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            (lag,) = cursor.fetchone()
    except Exception as exc:  # any failure means "do not use it now", never an error for the user
        connection.close()
        return ReplicaStatus(False, None, f"unreachable ({exc.__class__.__name__})", time.monotonic())
    if lag is None:
        return ReplicaStatus(False, None, "lag unknown", time.monotonic())
    lag = max(float(lag), 0.0)
    ok = lag <= float(conf("REPLICA_MAX_LAG"))
    return ReplicaStatus(ok, lag, "ok" if ok else "lagging", time.monotonic())


def mark_replica_down(reason: str) -> None:
    global _status
    _status = ReplicaStatus(False, None, reason, time.monotonic())


def forget_replica_status() -> None:
    global _status
    _status = None


# --- where this request may read --------------------------------------------------------------------


@dataclass
class Route:
    """The reading rules of the current request (or of a block of code that opted in)."""

    pinned: bool = False  # every read on the primary (a write request, or one just after a write)
    replica_paths: bool = False  # a public page or a report: any non-sensitive read may use the replica
    used_replica: bool = False
    retried: bool = False


_route: contextvars.ContextVar[Route | None] = contextvars.ContextVar("grassroots_route", default=None)


def current_route() -> Route | None:
    return _route.get()


@contextmanager
def reads(*, pinned: bool = False, replica_paths: bool = False) -> Iterator[Route]:
    """Apply the replica rules to a block outside a request (a report job, a test)."""
    route = Route(pinned=pinned, replica_paths=replica_paths)
    token = _route.set(route)
    try:
        yield route
    finally:
        _route.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        route = _route.get()
        if route is None or not replica_configured():
            return None  # outside requests: Django's default (the primary, or the instance's database)
        app = model._meta.app_label
        if route.pinned or app in PRIMARY_ONLY_APPS:
            return DEFAULT
        if app not in REPLICA_APPS and not route.replica_paths:
            return DEFAULT
        if connections[DEFAULT].in_atomic_block:
            return DEFAULT
        if not replica_status().ok:
            return DEFAULT
        route.used_replica = True
        return REPLICA

    def db_for_write(self, model, **hints):
        return DEFAULT if replica_configured() else None

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the primary's rows: an object read there may be linked to one read here.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None  # a standby is read-only; it follows the primary


class ReplicaMiddleware:
    """Sets the request's reading rules and keeps read-your-writes with a short-lived signed cookie.

    The cookie (``grassroots_primary``, signed and time-stamped, HttpOnly) holds no data; its age is
    checked on the server, so a client can end its pin early but cannot extend it. Clients that keep
    no cookies (API scripts) may read a replica's slightly older state right after they write.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_configured():
            return self.get_response(request)
        writes = request.method not in SAFE_METHODS
        route = Route(
            pinned=writes or self._pinned(request),
            replica_paths=request.path_info.startswith(tuple(conf("REPLICA_PATHS"))),
        )
        request.db_route = route
        token = _route.set(route)
        try:
            response = self.get_response(request)
        finally:
            _route.reset(token)
        if writes:
            response.set_signed_cookie(
                PIN_COOKIE,
                "1",
                salt=PIN_SALT,
                max_age=int(conf("REPLICA_PIN_SECONDS")),
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    @staticmethod
    def _pinned(request) -> bool:
        value = request.get_signed_cookie(
            PIN_COOKIE, default=None, salt=PIN_SALT, max_age=int(conf("REPLICA_PIN_SECONDS"))
        )
        return value is not None

    def process_exception(self, request, exception):
        """A GET whose replica failed mid-way: mark the replica down and run the view on the primary."""
        route = _route.get()
        if (
            route is None
            or route.retried
            or not route.used_replica
            or request.method not in SAFE_METHODS
            or not isinstance(exception, DatabaseError)
            or not connections[REPLICA].errors_occurred
        ):
            return None
        log.warning("replica failed during %s; retrying on the primary", request.path)
        mark_replica_down(f"failed ({exception.__class__.__name__})")
        connections[REPLICA].close()
        route.pinned, route.retried = True, True
        match = request.resolver_match
        return match.func(request, *match.args, **match.kwargs)
