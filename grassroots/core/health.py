"""Probes and logs for operators: ``/readyz``, one JSON object per log line, and a request log.

* ``/healthz`` (in :mod:`grassroots.core.views`) answers while the process runs: liveness.
* ``/readyz`` answers 200 when this instance can serve: the database answers and every migration is
  applied; 503 with the reasons otherwise. A configured replica is reported, but a replica that is
  down or lagging leaves the instance ready ("degraded"): reads fall back to the primary, and taking
  every web instance out of the load balancer because the shared replica failed would turn a slower
  site into no site.
* :class:`JsonFormatter` (``GRASSROOTS_LOG_FORMAT=json``) writes time, level, logger, message and,
  when known, the request id, method, path, status and duration.
* :class:`RequestLogMiddleware` logs each request's method, path, status and duration, never its
  query string (searches carry names and ID numbers), and returns an ``X-Request-ID``.
* :class:`ProxyMiddleware`: behind nginx every request comes from 127.0.0.1; the client's address,
  which the audit log records and the login throttle counts, comes from ``X-Forwarded-For`` when the
  peer is one of ``GRASSROOTS_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import ipaddress
import json
import logging
import re
import time
import uuid

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from . import routers

request_log = logging.getLogger("grassroots.request")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "grassroots_request_id", default=None
)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
QUIET_PATHS = ("/healthz", "/readyz")  # probed every few seconds: logged at DEBUG only


def current_request_id() -> str | None:
    return _request_id.get()


# --- readiness -------------------------------------------------------------------------------------

_migrations_applied = False  # once true, stays true for this process (new code means a new process)


def unapplied_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def readiness() -> tuple[int, dict]:
    global _migrations_applied
    checks: dict[str, object] = {}
    problems = []
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable ({exc.__class__.__name__})"
        problems.append("database")
    if "database" not in problems:
        if _migrations_applied:
            checks["migrations"] = "ok"
        else:
            try:
                pending = unapplied_migrations()
            except Exception as exc:
                pending = [f"cannot read migrations ({exc.__class__.__name__})"]
            if pending:
                checks["migrations"] = {"unapplied": pending}
                problems.append("migrations")
            else:
                _migrations_applied = True
                checks["migrations"] = "ok"
    if routers.replica_configured():
        status = routers.replica_status()
        checks["replica"] = status.as_json()
    if problems:
        return 503, {"status": "unavailable", "failing": problems, "checks": checks}
    degraded = "replica" in checks and checks["replica"]["status"] != "ok"  # type: ignore[index]
    return 200, {"status": "degraded" if degraded else "ok", "checks": checks}


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    status, body = readiness()
    return JsonResponse(body, status=status)


# --- logs ------------------------------------------------------------------------------------------

_QUERY = re.compile(r"(\s/[^\s?\"]*)\?[^\s\"]*")
#: Loggers whose messages quote a request line, query string included.
_REQUEST_LINE_LOGGERS = ("django.server", "gunicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time level logger message`` plus the request's fields if any."""

    FIELDS = ("request_id", "method", "path", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name.startswith(_REQUEST_LINE_LOGGERS):
            message = _QUERY.sub(r"\1", message)
        data: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for name in self.FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        # django.request records carry the request and the status code rather than our fields; they
        # are written after the middleware has returned, so the id comes from the request itself.
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            request = None
        request_id = data.get("request_id") or current_request_id() or getattr(request, "request_id", None)
        if request_id:
            data["request_id"] = request_id
        if request is not None:
            data.setdefault("method", request.method)
            data.setdefault("path", request.path)
        if getattr(record, "status_code", None) is not None:
            data.setdefault("status", record.status_code)  # type: ignore[attr-defined]
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class RequestLogMiddleware:
    """Log ``METHOD /path STATUS duration`` for every request, and give it an id.

    The id is the client's (or proxy's) ``X-Request-ID`` when it looks like one, else a new one; it is
    returned in the response and attached to every log line written while the request runs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response.headers.setdefault("X-Request-ID", request_id)
            return response
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
            request_log.log(
                level,
                "%s %s %s %.1fms",
                request.method,
                request.path,
                status,
                duration_ms,
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
            _request_id.reset(token)


class ProxyMiddleware:
    """Take the client's address from ``X-Forwarded-For`` when the request comes from a trusted proxy.

    The header is read from the right: each proxy appends the address it saw, so the right-most
    address that is not itself a trusted proxy is the client (anything further left was written by
    the client and proves nothing). Without trusted proxies configured this does nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.trusted = {
            ipaddress.ip_address(a) for a in getattr(settings, "GRASSROOTS", {}).get("TRUSTED_PROXIES", ())
        }

    def __call__(self, request):
        if self.trusted:
            client = self.client(
                request.META.get("REMOTE_ADDR", ""), request.headers.get("X-Forwarded-For", "")
            )
            if client:
                request.META["REMOTE_ADDR"] = client
        return self.get_response(request)

    def client(self, peer: str, forwarded: str) -> str | None:
        try:
            if ipaddress.ip_address(peer) not in self.trusted:
                return None
        except ValueError:
            return None
        for item in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
            try:
                address = ipaddress.ip_address(item)
            except ValueError:
                return None  # a malformed hop: trust nothing beyond it
            if address not in self.trusted:
                return str(address)
        return None
