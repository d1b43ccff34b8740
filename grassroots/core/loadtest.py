"""``grassroots bench load``: a mixed workload against the production server, and a database restart.

Run it on a throwaway, migrated database (it writes users, a population, cases and sessions)::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/scratch grassroots bench load \\
        [--load-duration 600] [--load-rate 200] [--load-restart]

It seeds what the workload needs with the demo's own functions, confined to one street (Yangquan's
tree, the grids of 上站街道, a synthetic population of ``--load-scale``, the case catalogue,
``--load-cases`` demo cases at every stage, the cockpit's figures, four demo staff of the street: street
staff, community staff and two grid workers), then starts the production server as it is deployed
(``python -m grassroots serve --production 127.0.0.1:PORT --workers N``: gunicorn with its sync
workers, ``GRASSROOTS_PRODUCTION=1``, static files collected; N is ``GRASSROOTS_WORKERS``, else
2 × cores + 1 as docs/deploy.md advises) on the same database, and sends it, from 127.0.0.1:

1. a warm-up, not counted in the load: every kind of request a few times per worker, one at a time;
   the medians of its second half are reported per kind as "alone", what a request costs without
   queueing behind others;
2. the floor, ``--load-floor-duration`` seconds (default a tenth of the load's, 3 to 60 s): ``GET
   /healthz`` from the same clients at the same rate, to the same server. It is Django's whole
   middleware stack and one ``SELECT 1``, without a session, a user, a template or a real query: what
   an HTTP request costs on this machine, server and client together, before the application does any
   work;
3. the load, ``--load-duration`` seconds at ``--load-rate`` requests per second, one HTTP request per
   slot (a public report's three requests take three slots), from ``--load-clients`` threads:

   * staff pages in a signed-in browser session (area page, a grid's register, the case list and a
     case in scope, the cockpit's ``data.json``);
   * the API with a bearer token (households of a grid, cases, cockpit figures, an area) and a staff
     report through it (``POST /api/v1/cases``, a write);
   * the public list of cases, and public reports: GET the form (a CSRF token), POST a report (a
     write), read the tracking code on the page it leads to.

The flows follow a shuffled schedule that holds each kind as often as its weight in :data:`MIX` (the
flow started at slot *i* is the schedule's *i*-th), so the mix is the same whichever thread takes
which slot. Pacing is open-loop: request *i* is due at ``start + i / rate`` whatever the answers
before it; a slot that no client thread was free to send on time goes out late (its lateness is
reported: when it grows, the server is saturated or the client is short of CPU), and slots still
unsent at the end are counted. At most ``--load-clients`` requests are under way at once.

The report: throughput, p50/p99 latency (from sending a request to its last byte) and errors, overall
and per kind, beside the floor's, with the ratios; against the target (:data:`TARGET_RATE`
requests/s with p99 ≤ :data:`TARGET_P99_MS` ms and no error). An error is no answer (refused,
reset, timed out), a 5xx, or any answer a kind does not expect (a 403 or 404 means the workload is
broken, a form shown again means a report refused). Writes: every report answered with success (the
public form's redirect to its tracking code, the API's 201 with a number) is looked up in the
database afterwards by the unique tag in its description: none may be missing (no accepted write
lost), and every tracking code that was shown must be the case's.

With ``--load-restart`` (PostgreSQL on this machine only; it drops every connection of every user of
that server, so it is never the default: a scratch cluster is best) the database server is restarted
(``pg_ctlcluster … restart --mode fast``, or ``immediate`` as after a crash: ``--load-restart-mode``)
half-way through the load, or at ``--load-restart-at``. The report says how many requests failed
from the restart on, when the last of them was sent (errors must stop within
:data:`RECOVERY_SECONDS` s of the restart's start), and shows the seconds around it; the writes check
covers the reports accepted just before and after it. The errors of that window are reported apart:
the target's "no error" counts those outside it.

Only 127.0.0.1 is contacted; the number of requests and the time are bounded; the server is always
stopped at the end. Standalone, without the bench command: ``python -m grassroots.core.loadtest
--load-duration 10``. The options carry a ``load`` prefix because the bench command gives every suite's
options to one parser.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

TARGET_RATE = 200.0
TARGET_P99_MS = 100.0
RECOVERY_SECONDS = 15.0
DEFAULT_DURATION = 600.0
DEFAULT_CLIENTS = 32
DEFAULT_SCALE = 1.0  # of the street's census population: grids of ~300 households, as in a real city
DEFAULT_CASES = 200  # through the real workflows (~5 audited actions each): the slow part of seeding
HOST = "127.0.0.1"
STREET = "140302001"  # 上站街道 (城区, 阳泉): its grids are generated if missing
#: (username, full name, role, node): the demo's accounts within the street (``grassroots demo``).
STAFF = [
    ("shangzhan", "上站街道工作人员", "street_staff", "140302001"),
    ("youlougou", "油娄沟社区工作人员", "community_staff", "140302001001"),
    ("grid_worker", "油娄沟第一网格员", "grid_worker", "140302001001001"),
    ("grid_worker2", "油娄沟第二网格员", "grid_worker", "140302001001002"),
]
REQUEST_TIMEOUT = 10.0
MAX_REQUESTS = 1_000_000  # a bound whatever the duration and rate
WARMUP_ROUNDS = 2  # per worker and kind
LATE_MS = 10.0  # a send later than this after its slot counts as late

#: Flows and their weights (per 100 flows started). Every flow is one request except
#: ``public_report``: the form, the POST, and the page with the tracking code.
MIX = {
    "area_page": 10,
    "grid_page": 10,
    "case_list": 9,
    "case_page": 9,
    "cockpit_data": 7,
    "api_households": 11,
    "api_cases": 11,
    "api_cockpit": 7,
    "api_area": 7,
    "api_report": 3,
    "public_cases": 8,
    "public_report": 8,
}
#: What each kind of request must answer; anything else is an error.
EXPECTED = {"api_report": 201, "public_post": 302}


def add_arguments(parser) -> None:
    """The suite's options (the bench command gives every suite's to one parser: hence the prefix)."""
    group = parser.add_argument_group("load suite (grassroots bench load)")
    group.add_argument(
        "--load-duration",
        type=float,
        default=DEFAULT_DURATION,
        help=f"Seconds of load (default {DEFAULT_DURATION:g}).",
    )
    group.add_argument(
        "--load-rate",
        type=float,
        default=TARGET_RATE,
        help=f"HTTP requests per second (default {TARGET_RATE:g}).",
    )
    group.add_argument(
        "--load-clients",
        type=int,
        default=DEFAULT_CLIENTS,
        help=f"Client threads (default {DEFAULT_CLIENTS}).",
    )
    group.add_argument(
        "--load-workers",
        type=int,
        help="gunicorn workers (default: GRASSROOTS_WORKERS, else 2 × cores + 1).",
    )
    group.add_argument(
        "--load-floor-duration",
        type=float,
        help="Seconds of the /healthz floor (default: a tenth of the load's, 3 to 60 s).",
    )
    group.add_argument(
        "--load-scale",
        type=float,
        default=DEFAULT_SCALE,
        help=f"Population of the street, a share of its census figure (default {DEFAULT_SCALE:g}).",
    )
    group.add_argument(
        "--load-cases",
        type=int,
        default=DEFAULT_CASES,
        help=f"Demo cases seeded in the street if it has none (default {DEFAULT_CASES}).",
    )
    group.add_argument(
        "--load-restart",
        action="store_true",
        help="Restart the PostgreSQL server during the load (it drops every connection of every user "
        "of that server: a scratch cluster is best).",
    )
    group.add_argument(
        "--load-restart-mode",
        choices=("fast", "immediate"),
        default="fast",
        help="fast: a clean restart (sessions ended, a checkpoint); immediate: as after a crash (no "
        "checkpoint, WAL replayed on start). Default fast.",
    )
    group.add_argument(
        "--load-restart-at",
        type=float,
        help="Seconds into the load at which to restart (default: half-way).",
    )
    group.add_argument("--load-port", type=int, help="Server port (default: a free one).")
    group.add_argument("--load-seed", type=int, default=1, help="Seed of the request mix (default 1).")


# --- the data the workload needs -------------------------------------------------------------------


@dataclass
class Staff:
    """A seeded official: a browser session, a bearer token, and what lies in their scope."""

    username: str
    session: str
    token: str
    node: str
    grids: list[str]
    cases: list[str]


@dataclass
class Seed:
    staff: list[Staff]
    grids: list[str]  # where the public and the staff report
    category: int  # the category reports use (public, no required details)
    category_code: str
    households: int
    residents: int
    cases: int
    seconds: float


def seed(*, scale: float = DEFAULT_SCALE, cases: int = DEFAULT_CASES) -> Seed:
    """The demo's data within :data:`STREET`, through the demo's own functions; idempotent."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from grassroots.accounts.models import ApiToken, Grant, User
    from grassroots.areas.choices import Level
    from grassroots.areas.grids import generate_grids
    from grassroots.areas.models import Area
    from grassroots.areas.yangquan import CITY_CODE, load_yangquan
    from grassroots.cases.catalogue import load_catalogue
    from grassroots.cases.models import Case, Category
    from grassroots.cockpit.rollup import refresh
    from grassroots.core.demo_data import seed_activity
    from grassroots.registry.generate import generate_population
    from grassroots.registry.models import Household, Resident

    began = time.monotonic()
    if not Area.objects.filter(code=STREET).exists():
        load_yangquan()
    if not Area.objects.within(STREET).filter(level=Level.GRID).exists():
        generate_grids(STREET)
    generate_population(STREET, scale=scale, seed=1)  # skips the communities it has filled already
    if not Category.objects.filter(active=True, is_public=True).exists():
        load_catalogue(CITY_CODE)
    if not Case.objects.within(STREET).exists():
        seed_activity(STREET, cases=cases)  # (it leaves a database that has cases anywhere alone)
    refresh("now")

    grids = list(
        Area.objects.within(STREET).filter(level=Level.GRID).order_by("code").values_list("code", flat=True)
    )
    category = next(
        c
        for c in Category.objects.filter(active=True, is_public=True).order_by("order", "code")
        if not c.attributes.filter(required=True).exists()
    )
    staff = []
    for username, full_name, role, node in STAFF:
        user, created = User.objects.get_or_create(username=username, defaults={"full_name": full_name})
        if created:
            user.set_unusable_password()  # nobody signs in with a password: the session is made here
        user.is_active, user.password_changed_at = True, timezone.now()  # (not expired, whenever seeded)
        user.save()
        Grant.objects.get_or_create(user=user, role=role, area_id=node)
        store = SessionStore()  # a signed-in browser session, as the login view leaves it
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "grassroots.accounts.security.LockoutBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        visible = Case.objects.visible_to(user).order_by("-pk").values_list("number", flat=True)[:200]
        staff.append(
            Staff(
                username=username,
                session=store.session_key or "",
                token=ApiToken.issue(user=user, name="bench load")[1],
                node=node,
                grids=[code for code in grids if code.startswith(node)] or [node],
                cases=list(visible),
            )
        )
    return Seed(
        staff=staff,
        grids=grids,
        category=category.pk,
        category_code=category.code,
        households=Household.objects.within(STREET).count(),
        residents=Resident.objects.within(STREET).count(),
        cases=Case.objects.within(STREET).count(),
        seconds=time.monotonic() - began,
    )


# --- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def default_workers() -> int:
    return int(os.environ.get("GRASSROOTS_WORKERS") or 2 * (os.cpu_count() or 1) + 1)


def served_database(folder: Path) -> dict[str, Any]:
    """The settings of the database the server uses: the configured one, or for an in-memory SQLite
    database (the test suite's), which other processes cannot open, a copy of it in ``folder``."""
    from django.db import connection

    db = dict(connection.settings_dict)
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        db["NAME"] = str(folder / "served.sqlite3")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [db["NAME"]])
    return db


def server_environment(db: dict[str, Any]) -> dict[str, str]:
    """The production profile on ``db``, with this process's secret key (the sessions seeded here
    must stay valid) and field keys (the registry's sealed columns must open)."""
    from django.conf import settings

    from grassroots.cases.bench import database_url
    from grassroots.core import crypto

    ring = crypto.keyring()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "grassroots.settings",
        "DATABASE_URL": database_url(db, db["NAME"] if db["ENGINE"].endswith("sqlite3") else None),
        "GRASSROOTS_PRODUCTION": "1",
        "GRASSROOTS_SECRET_KEY": settings.SECRET_KEY,
        "GRASSROOTS_FIELD_KEYS": ",".join(f"{kid}:{_b64(key)}" for kid, key in ring.field_keys),
        "GRASSROOTS_INDEX_KEY": _b64(ring.index_key),
        "GRASSROOTS_ALLOWED_HOSTS": HOST,
        "GRASSROOTS_SSL_REDIRECT": "0",  # plain HTTP: the TLS proxy of a deployment is not under test
        "GRASSROOTS_DATA_DIR": str(settings.DATA_DIR),
        "GRASSROOTS_STATIC_ROOT": str(settings.STATIC_ROOT),
        # One address sends every public report here; the per-address limit is not what is measured.
        "GRASSROOTS_PUBLIC_REPORTS_PER_HOUR": "100000000",
        "GRASSROOTS_LOG_LEVEL": os.environ.get("GRASSROOTS_LOG_LEVEL", "ERROR"),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


@contextlib.contextmanager
def production_server(port: int, workers: int, env: dict[str, str], log_path: Path) -> Iterator[list[str]]:
    """gunicorn through ``grassroots serve --production``, stopped (with its workers) on exit; yields
    its command line."""
    command = [
        sys.executable,
        "-m",
        "grassroots",
        "serve",
        "--production",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
    ]
    # The server's output goes to a file: a pipe nobody reads fills up with the tracebacks of a database
    # restart, and gunicorn's workers then block on writing to it.
    log = log_path.open("ab")
    process = subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,  # one process group: gunicorn and its workers go together
    )
    try:
        deadline = time.monotonic() + 120
        answer = "no answer"
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped: {log_path.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection(HOST, port, timeout=2)
                connection.request("GET", "/readyz")
                response = connection.getresponse()
                answer = f"{response.status} {response.read()[:500].decode(errors='replace')}"
                if response.status == 200:
                    break
            if time.monotonic() > deadline:  # (unapplied migrations, say: run `grassroots migrate`)
                raise RuntimeError(f"the server was not ready within 120 s: /readyz answers {answer}")
            time.sleep(0.3)
        yield command
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # whatever of the group is left
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        log.close()


# --- the workload ----------------------------------------------------------------------------------


@dataclass
class Result:
    kind: str
    started: float  # seconds since the phase began
    ms: float
    status: int  # 0: no answer (connection refused, reset, timed out)
    error: str = ""
    late_ms: float = 0.0  # sent this long after its slot was due


@dataclass
class Write:
    kind: str  # public_report or api_report
    tag: str  # unique, in the description
    number: str = ""  # known when the answer (or the tracking page) said it
    token: str = ""  # the tracking code shown
    sent: float = 0.0


@dataclass
class Recorder:
    results: list[Result] = field(default_factory=list)
    accepted: list[Write] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)

    def accept(self, write: Write) -> None:
        with self.lock:
            self.accepted.append(write)


class Client:
    """One simulated user: plain HTTP/1.1 to 127.0.0.1, a new connection per request (gunicorn's sync
    workers close each), cookies kept by hand (the production cookies are ``Secure``)."""

    def __init__(self, port: int, seeded: Seed, rng: random.Random, recorder: Recorder, name: str):
        self.port, self.seed, self.rng, self.recorder, self.name = port, seeded, rng, recorder, name
        self.me = rng.choice(seeded.staff)
        self.serial = itertools.count(1)
        self.run_tag = "load"  # the run's own id, in the tags of its writes
        self.t0 = 0.0  # the phase's start (monotonic)
        self.due = 0.0  # when the current slot was due (monotonic)
        self.slot = 0
        self.schedule: list[str] = list(MIX)

    def request(self, kind: str, method: str, path: str, *, body=None, headers=None, must: bytes = b""):
        """Send one request and record it; an error unless it answers what ``kind`` expects (and
        its body holds ``must``)."""
        started = time.monotonic()
        try:
            connection = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
            try:
                connection.request(method, path, body=body, headers=headers or {})
                response = connection.getresponse()
                content = response.read()
            finally:
                connection.close()
            status = response.status
            expected = EXPECTED.get(kind, 200)
            error = "" if status == expected else f"HTTP {status}"
            if not error and must and must not in content:
                error = f"no {must.decode()}"
        except (OSError, http.client.HTTPException) as exc:
            response, content, status, error = None, b"", 0, type(exc).__name__
        ended = time.monotonic()
        self.recorder.add(
            Result(
                kind,
                started - self.t0,
                (ended - started) * 1000,
                status,
                error,
                max(0.0, (started - self.due) * 1000) if self.due else 0.0,
            )
        )
        return status, content, response

    # Each flow is a generator that yields after each of its requests: one request per slot.

    def flows(self) -> Iterator[None]:
        """The load: the flow started at slot *i* is the schedule's *i*-th (mod its length)."""
        while True:
            yield from getattr(self, self.schedule[self.slot % len(self.schedule)])()

    def _staff(self, kind: str, path: str) -> Iterator[None]:
        self.request(kind, "GET", path, headers={"Cookie": f"sessionid={self.me.session}"})
        yield

    def _api(self, kind: str, path: str) -> Iterator[None]:
        self.request(kind, "GET", path, headers={"Authorization": f"Bearer {self.me.token}"})
        yield

    def _grid(self) -> str:
        return self.rng.choice(self.me.grids)

    def area_page(self):
        return self._staff("area_page", f"/areas/{self.me.node}/")

    def grid_page(self):
        return self._staff("grid_page", f"/registry/grid/{self._grid()}/")

    def case_list(self):
        return self._staff("case_list", "/cases/")

    def case_page(self):
        cases = self.me.cases
        return self._staff("case_page", f"/cases/{self.rng.choice(cases)}/" if cases else "/cases/")

    def cockpit_data(self):
        return self._staff("cockpit_data", f"/cockpit/{self.me.node}/data.json")

    def api_households(self):
        return self._api("api_households", f"/api/v1/registry/households?within={self._grid()}&limit=20")

    def api_cases(self):
        return self._api("api_cases", "/api/v1/cases?limit=20")

    def api_cockpit(self):
        return self._api("api_cockpit", f"/api/v1/cockpit/{self.me.node}")

    def api_area(self):
        return self._api("api_area", f"/api/v1/areas/{self._grid()}")

    def public_cases(self) -> Iterator[None]:
        self.request("public_cases", "GET", "/public/cases/")
        yield

    def _tag(self) -> str:
        return f"[{self.run_tag}:{self.name}:{next(self.serial)}]"

    def api_report(self) -> Iterator[None]:
        """A staff report through the API: 201 and the case's number."""
        write = Write("api_report", self._tag(), sent=time.monotonic() - self.t0)
        body = json.dumps(
            {
                "category": self.seed.category_code,
                "place": self._grid(),
                "title": "楼道堆放杂物",
                "description": f"网格员巡查发现楼道堆放杂物，已劝导。{write.tag}",
            },
            ensure_ascii=False,
        ).encode()
        status, content, _response = self.request(
            "api_report",
            "POST",
            "/api/v1/cases",
            body=body,
            headers={"Authorization": f"Bearer {self.me.token}", "Content-Type": "application/json"},
        )
        if status == 201:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                write.number = json.loads(content)["number"]
            self.recorder.accept(write)
        yield

    def public_report(self) -> Iterator[None]:
        """GET the form (a CSRF cookie and token), POST a report, read the tracking code once."""
        status, content, response = self.request(
            "public_form", "GET", "/public/report/", must=b"csrfmiddlewaretoken"
        )
        yield
        cookie = _cookie(response, "csrftoken")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content)
        if status != 200 or not cookie or not token:
            return
        write = Write("public_report", self._tag(), sent=time.monotonic() - self.t0)
        fields = {
            "csrfmiddlewaretoken": token.group(1).decode(),
            "category": str(self.seed.category),
            "title": "路灯不亮",
            "description": f"门口路灯不亮，晚上出行不便。{write.tag}",
            "area": self.rng.choice(self.seed.grids),
            "website": "",
        }
        status, _content, response = self.request(
            "public_post",
            "POST",
            "/public/report/",
            body=urlencode(fields),
            headers={"Cookie": f"csrftoken={cookie}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        location = (response.getheader("Location") or "") if response is not None else ""
        accepted = status == 302 and "/public/report/done/" in location
        if accepted:  # the success answer: the report is in (recorded now: the phase may end here)
            self.recorder.accept(write)
        yield
        session = _cookie(response, "sessionid")
        if not accepted or not session:
            return
        status, content, _response = self.request(
            "public_done",
            "GET",
            "/public/report/done/",
            headers={"Cookie": f"sessionid={session}"},
            must=b'id="tracking-token"',  # shown once, right after the report
        )
        number = re.search(rb'<strong class="code">([^<]+)</strong>', content)
        code = re.search(rb'id="tracking-token">([^<]+)<', content)
        if status == 200 and number and code:
            write.number, write.token = number.group(1).decode().strip(), code.group(1).decode().strip()
        yield

    def healthz(self) -> Iterator[None]:
        while True:
            self.request("floor_healthz", "GET", "/healthz")
            yield


def mix_schedule(seed: int) -> list[str]:
    """Every kind of flow as often as its weight, shuffled: the mix is exact in every 100 flows and
    the same whichever client thread takes which slot."""
    schedule = [kind for kind, weight in MIX.items() for _ in range(weight)]
    random.Random(seed).shuffle(schedule)
    return schedule


def _cookie(response: http.client.HTTPResponse | None, name: str) -> str:
    for header in (response.headers.get_all("Set-Cookie") or []) if response is not None else []:
        match = re.match(rf"\s*{name}=([^;]*)", header)
        if match:
            return match.group(1)
    return ""


@dataclass
class Phase:
    results: list[Result]
    seconds: float
    slots: int  # due within the phase
    unsent: int  # due, but no client thread was free to send it before the end


def drive(
    clients: list[Client],
    steps: Callable[[Client], Iterator[None]],
    *,
    rate: float,
    duration: float,
    recorder: Recorder,
    on_start: Callable[[float], None] | None = None,
) -> Phase:
    """Open-loop pacing: slot *i* is due at ``start + i / rate``; each client thread takes the next
    slot, waits until it is due and sends its flow's next request. A slot taken late goes out at once
    (the server's slowness shows in the latencies and the lateness, not in a lower rate than it could
    take). Returns when every slot due before the end was sent (or the end passed) and answered."""
    slots = min(MAX_REQUESTS, math.ceil(rate * duration))
    counter = iter(range(slots))
    counter_lock = threading.Lock()
    start = time.monotonic() + 0.05
    end = start + duration
    stop = threading.Event()

    def worker(client: Client) -> None:
        client.t0 = start
        flow = steps(client)
        while not stop.is_set():
            with counter_lock:
                slot = next(counter, None)
            if slot is None:
                return
            due = start + slot / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif time.monotonic() >= end:  # a slot that could not be sent in time is left unsent
                with counter_lock:
                    unsent.append(slot)
                continue
            client.due, client.slot = due, slot
            next(flow)

    unsent: list[int] = []
    threads = [threading.Thread(target=worker, args=(client,), daemon=True) for client in clients]
    if on_start is not None:
        on_start(start)
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(timeout=max(0.0, end - time.monotonic()) + 2 * REQUEST_TIMEOUT + 5)
    finally:
        stop.set()
    with recorder.lock:
        results = sorted(recorder.results, key=lambda r: r.started)
    return Phase(results=results, seconds=duration, slots=slots, unsent=len(unsent))


def warm_up(port: int, seeded: Seed, workers: int) -> dict[str, float | None]:
    """Every kind of request a few times per worker, one at a time, not counted in the load (imports,
    templates, database connections, caches). Returns each kind's median latency over the second
    half of the rounds: what a request costs alone, without queueing behind others."""
    recorder = Recorder()
    client = Client(port, seeded, random.Random(0), recorder, "warm")
    client.run_tag = "warm"  # (its reports are real, but not checked)
    rounds = WARMUP_ROUNDS * workers
    for round_ in range(rounds):
        if round_ == rounds // 2:
            recorder.results.clear()
        client.me = seeded.staff[round_ % len(seeded.staff)]
        for kind in MIX:
            for _ in getattr(client, kind)():
                pass
        for _ in itertools.islice(client.healthz(), 1):
            pass
    alone: dict[str, list[float]] = defaultdict(list)
    for result in recorder.results:
        if not result.error:
            alone[result.kind].append(result.ms)
    return {kind: _round(percentile(values, 0.5)) for kind, values in sorted(alone.items())}


# --- restarting PostgreSQL -------------------------------------------------------------------------


def restart_command(mode: str = "fast") -> tuple[list[str], str]:
    """How to restart the server the default database lives on (it must be on this machine)."""
    from django.db import connection

    host = connection.settings_dict.get("HOST") or ""
    if host not in ("", "localhost", "127.0.0.1", "::1") and not host.startswith("/"):
        raise SystemExit(f"--load-restart restarts PostgreSQL on this machine; the database is on {host}.")
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        data_directory = cursor.fetchone()[0].rstrip("/")
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    if shutil.which("pg_lsclusters") and shutil.which("pg_ctlcluster"):  # Debian's postgresql-common
        listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30)
        for line in listing.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 6 and parts[5].rstrip("/") == data_directory:
                return ["pg_ctlcluster", "--mode", mode, parts[0], parts[1], "restart"], data_directory
    pg_ctl = f"/usr/lib/postgresql/{major}/bin/pg_ctl"
    command = f"{pg_ctl} restart -D {data_directory} -m {mode} -w -l {data_directory}/restart.log"
    if os.geteuid() == 0:
        return ["su", "postgres", "-c", command], data_directory
    return command.split(), data_directory


def restart_postgresql(command: list[str]) -> tuple[float, float]:
    """Run the restart; returns when it began and ended (monotonic)."""
    began = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return began, time.monotonic()


# --- writes ----------------------------------------------------------------------------------------


def check_writes(db: dict[str, Any], run_tag: str, accepted: list[Write]) -> dict[str, Any]:
    """Every accepted write is in the served database (found by its tag), with its number and the
    hash of the tracking code it showed."""
    from grassroots.cases.actions import hash_token
    from grassroots.cases.bench import connect_raw
    from grassroots.cases.models import Case

    mark = "?" if db["ENGINE"].endswith("sqlite3") else "%s"
    conn = connect_raw(db)
    try:
        cursor = conn.cursor()
        cursor.execute(
            f"SELECT number, description, token_hash, channel FROM {Case._meta.db_table} "
            f"WHERE description LIKE {mark}",
            [f"%[{run_tag}:%"],
        )
        rows = cursor.fetchall()
    finally:
        conn.close()
    by_tag = {}
    for number, description, token_hash, channel in rows:
        match = re.search(r"\[[^\]]+\]$", description)
        if match:
            by_tag[match.group(0)] = (number, token_hash, channel)
    lost, wrong = [], []
    for write in accepted:
        found = by_tag.get(write.tag)
        if found is None:
            lost.append(write)
            continue
        number, token_hash, _channel = found
        if (write.number and write.number != number) or (
            write.token and hash_token(write.token) != token_hash
        ):
            wrong.append(write)
    kinds = Counter(w.kind for w in accepted)
    return {
        "accepted": len(accepted),
        "accepted_by_kind": dict(sorted(kinds.items())),
        "tracking_codes_shown": sum(1 for w in accepted if w.token),
        "in_database": len(rows),  # written in this run: accepted ones, and any whose answer was lost
        "lost": len(lost),
        "mismatched": len(wrong),
        "lost_samples": [f"{w.kind} {w.tag} {w.number}".strip() for w in lost[:10]],
    }


# --- figures ---------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def summary(results: list[Result], seconds: float) -> dict[str, Any]:
    ms = [r.ms for r in results if r.status]
    errors = [r for r in results if r.error]
    return {
        "requests": len(results),
        "ok": len(results) - len(errors),
        "throughput": round((len(results) - len(errors)) / seconds, 1) if seconds else 0.0,
        "p50_ms": _round(percentile(ms, 0.50)),
        "p99_ms": _round(percentile(ms, 0.99)),
        "max_ms": _round(max(ms, default=None)),
        "errors": len(errors),
    }


def figures(phase: Phase) -> dict[str, Any]:
    results = phase.results
    errors = [r for r in results if r.error]
    late = [r.late_ms for r in results]
    by_kind: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_kind[result.kind].append(result)
    return {
        **summary(results, phase.seconds),
        "seconds": round(phase.seconds, 1),
        "sent_per_second": round(len(results) / phase.seconds, 1) if phase.seconds else 0.0,
        "slots": phase.slots,
        "unsent": phase.unsent,
        "late": {
            "over_ms": LATE_MS,
            "count": sum(1 for value in late if value > LATE_MS),
            "p99_ms": _round(percentile(late, 0.99)),
            "max_ms": _round(max(late, default=None)),
        },
        "error_kinds": dict(Counter(f"{r.kind}: {r.error}" for r in errors).most_common(12)),
        "statuses": {str(k): v for k, v in sorted(Counter(r.status for r in results).items())},
        "by_kind": {kind: summary(rows, phase.seconds) for kind, rows in sorted(by_kind.items())},
    }


def timeline(results: list[Result], step: float, since: float = 0.0, until: float | None = None) -> list:
    buckets: dict[int, list[Result]] = defaultdict(list)
    for result in results:
        if result.started >= since and (until is None or result.started < until):
            buckets[math.floor((result.started - since) / step)].append(result)
    rows = []
    for index in sorted(buckets):
        rows_in = buckets[index]
        ms = [r.ms for r in rows_in if r.status]
        rows.append(
            {
                "t": round(since + index * step, 1),
                "requests": len(rows_in),
                "errors": sum(1 for r in rows_in if r.error),
                "p50_ms": _round(percentile(ms, 0.5)),
                "p99_ms": _round(percentile(ms, 0.99)),
            }
        )
    return rows


def in_restart_window(result: Result, began: float) -> bool:
    """Under way when the restart began (answered after it), or sent within :data:`RECOVERY_SECONDS`
    of it."""
    return result.started + result.ms / 1000 >= began and result.started < began + RECOVERY_SECONDS


def restart_figures(results: list[Result], began: float, ended: float) -> dict[str, Any]:
    """``began`` and ``ended`` in seconds since the load began."""
    window_end = began + RECOVERY_SECONDS
    failed = [r for r in results if r.error and r.started + r.ms / 1000 >= began]
    last = max((r.started for r in failed), default=None)
    in_window = [r for r in results if in_restart_window(r, began)]
    return {
        "began_s": round(began, 1),
        "took_s": round(ended - began, 1),
        "errors": len(failed),
        "error_kinds": dict(Counter(f"{r.kind}: {r.error}" for r in failed).most_common(8)),
        "last_error_after_s": None if last is None else round(last - began, 1),  # (sent)
        "within_s": RECOVERY_SECONDS,
        "recovered": last is None or last - began <= RECOVERY_SECONDS,
        "errors_later": sum(1 for r in results if r.error and r.started >= window_end),
        "window": summary(in_window, RECOVERY_SECONDS),
        "per_second": timeline(results, 1.0, since=max(0.0, math.floor(began) - 3), until=began + 20),
    }


def ratio(value: float | None, floor: float | None) -> float | None:
    return round(value / floor, 1) if value and floor else None


# --- the suite -------------------------------------------------------------------------------------


def run(options: dict, out) -> dict:
    """Seed, serve, warm up, floor, load (and restart), check the writes; print and return the
    figures (JSON-serialisable)."""
    from django.conf import settings
    from django.db import connection

    from grassroots.areas.bench import Printer, environment

    say = Printer(out)
    load_average_start = _load_average()
    duration = float(options.get("load_duration") or DEFAULT_DURATION)
    rate = float(options.get("load_rate") or TARGET_RATE)
    clients_n = int(options.get("load_clients") or DEFAULT_CLIENTS)
    workers = int(options.get("load_workers") or default_workers())
    floor_duration = options.get("load_floor_duration")
    floor_duration = (
        float(floor_duration) if floor_duration is not None else min(60.0, max(3.0, duration / 10))
    )
    restart = bool(options.get("load_restart"))
    restart_at = options.get("load_restart_at")
    restart_at = float(restart_at) if restart_at is not None else duration / 2
    if duration <= 0 or rate <= 0 or clients_n < 1 or workers < 1 or floor_duration < 0:
        raise SystemExit("--load-duration, --load-rate, --load-clients and --load-workers must be positive.")
    if rate * duration > MAX_REQUESTS:
        raise SystemExit(f"At most {MAX_REQUESTS:,} requests: lower --load-rate or --load-duration.")
    if restart and connection.vendor != "postgresql":
        raise SystemExit("--load-restart restarts PostgreSQL: the configured database is not PostgreSQL.")
    if restart and not 0 < restart_at < duration:
        raise SystemExit("--load-restart-at must fall within the load.")
    restart_mode = options.get("load_restart_mode") or "fast"
    if restart_mode not in ("fast", "immediate"):
        raise SystemExit("--load-restart-mode is fast or immediate.")
    command, data_directory = restart_command(restart_mode) if restart else (None, None)
    from grassroots.core.health import unapplied_migrations

    pending = unapplied_migrations()
    if pending:  # the production server would not be ready (/readyz)
        raise SystemExit(f"Unapplied migrations ({', '.join(pending)}): run `grassroots migrate` first.")

    env_info = environment()
    say("Grassroots benchmark: load (a mixed workload against the production server, beside /healthz)")
    say(
        f"  database  {env_info['database']} {env_info['database_version']} "
        f"at {env_info['database_location']}"
    )
    say(f"  machine   {env_info['machine']}, {env_info['cpu_count']} CPUs; python {env_info['python']}")
    say(f"Seeding street {STREET} (scale {options.get('load_scale') or DEFAULT_SCALE:g}) …", end="")
    seeded = seed(
        scale=float(options.get("load_scale") or DEFAULT_SCALE),
        cases=int(options.get("load_cases") or DEFAULT_CASES),
    )
    say(
        f" {seeded.households:,} households, {seeded.residents:,} residents, {seeded.cases:,} cases, "
        f"{len(seeded.grids)} grids, {len(seeded.staff)} staff in {seeded.seconds:.1f} s"
    )
    run_tag = secrets.token_hex(4)
    folder = Path(tempfile.mkdtemp(prefix="grassroots-load-"))
    report: dict[str, Any] = {"environment": env_info}
    try:
        db = served_database(folder)
        connection.close()  # (the restart would break it; the server has its own)
        port = int(options.get("load_port") or 0) or free_port()
        log_path = folder / "server.log"
        with production_server(port, workers, server_environment(db), log_path) as server_command:
            say(f"Server: {' '.join(Path(a).name if i == 0 else a for i, a in enumerate(server_command))}")
            say(
                f"  gunicorn, {workers} sync workers, production profile, http://{HOST}:{port}/; "
                f"log {log_path}"
            )
            say(f"Warm-up: every kind of request {WARMUP_ROUNDS * workers} times, not counted …", end="")
            began = time.monotonic()
            alone = warm_up(port, seeded, workers)
            say(f" {time.monotonic() - began:.1f} s")

            mix_seed = options.get("load_seed") or 1
            schedule = mix_schedule(mix_seed)

            def make_clients(prefix: str, recorder: Recorder) -> list[Client]:
                made = []
                for index in range(clients_n):
                    rng = random.Random(f"{mix_seed}-{prefix}-{index}")
                    client = Client(port, seeded, rng, recorder, f"{prefix}{index}")
                    client.run_tag, client.schedule = run_tag, schedule
                    made.append(client)
                return made

            floor = None
            if floor_duration > 0:
                say(
                    f"Floor: GET /healthz, {rate:g} requests/s for {floor_duration:g} s "
                    f"from {clients_n} clients …"
                )
                floor_recorder = Recorder()
                floor = figures(
                    drive(
                        make_clients("f", floor_recorder),
                        Client.healthz,
                        rate=rate,
                        duration=floor_duration,
                        recorder=floor_recorder,
                    )
                )
                say(_line("  floor", floor))

            restart_window: dict[str, float] = {}
            restart_error: list[str] = []
            timer: threading.Timer | None = None

            def schedule_restart(start: float) -> None:
                nonlocal timer
                if command is None:
                    return

                def restart_now() -> None:
                    say(
                        f"  {time.monotonic() - start:.1f} s: restarting PostgreSQL ({data_directory}): "
                        + " ".join(command)
                    )
                    try:
                        began, ended = restart_postgresql(command)
                    except (subprocess.SubprocessError, OSError) as exc:
                        restart_error.append(f"{type(exc).__name__}: {exc}")
                        say(f"  the restart failed: {restart_error[-1]}")
                        return
                    restart_window.update(began=began - start, ended=ended - start)
                    say(f"  {ended - start:.1f} s: PostgreSQL is back ({ended - began:.1f} s)")

                timer = threading.Timer(max(0.0, start + restart_at - time.monotonic()), restart_now)
                timer.daemon = True
                timer.start()

            say(
                f"Load: {rate:g} requests/s for {duration:g} s from {clients_n} clients"
                + (f", PostgreSQL restarted at {restart_at:g} s" if restart else "")
                + " …"
            )
            recorder = Recorder()
            phase = drive(
                make_clients("c", recorder),
                Client.flows,
                rate=rate,
                duration=duration,
                recorder=recorder,
                on_start=schedule_restart,
            )
            if timer is not None:
                timer.join(timeout=150)
        accepted = list(recorder.accepted)
        load = figures(phase)
        for kind, row in load["by_kind"].items():
            row["alone_p50_ms"] = alone.get(kind)
        if floor:
            floor["by_kind"]["floor_healthz"]["alone_p50_ms"] = alone.get("floor_healthz")
        report.update(load)  # the load's figures at the top, beside the floor's and the rest
        report["floor"] = floor
        report["ratio"] = {
            "p50": ratio(load["p50_ms"], floor["p50_ms"] if floor else None),
            "p99": ratio(load["p99_ms"], floor["p99_ms"] if floor else None),
        }
        report["timeline_10s"] = timeline(phase.results, 10.0)
        report["writes"] = check_writes(db, run_tag, accepted)
        outside = load["errors"]
        if restart_window:
            report["restart"] = restart_figures(
                phase.results, restart_window["began"], restart_window["ended"]
            )
            began = restart_window["began"]
            outside = sum(1 for r in phase.results if r.error and not in_restart_window(r, began))
        elif restart:
            report["restart"] = {"failed": restart_error[0] if restart_error else "did not run"}
        report["target"] = {
            "rate": TARGET_RATE,
            "p99_ms": TARGET_P99_MS,
            "errors_outside_restart": outside,
            "met": bool(
                load["throughput"] >= TARGET_RATE * 0.98
                and (load["p99_ms"] or math.inf) <= TARGET_P99_MS
                and outside == 0
            ),
        }
        report["load_average"] = {"start": load_average_start, "end": _load_average()}
        report["settings"] = {
            "rate": rate,
            "duration_s": duration,
            "floor_duration_s": floor_duration,
            "clients": clients_n,
            "workers": workers,
            "restart_at_s": restart_at if restart else None,
            "restart_mode": restart_mode if restart else None,
            "mix": MIX,
            "seed": {
                "street": STREET,
                "households": seeded.households,
                "residents": seeded.residents,
                "cases": seeded.cases,
                "grids": len(seeded.grids),
                "seconds": round(seeded.seconds, 1),
            },
            "server": "python -m grassroots serve --production (gunicorn, sync workers)",
            "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
            "conn_health_checks": settings.DATABASES["default"].get("CONN_HEALTH_CHECKS"),
        }
        if load["errors"] or report["writes"]["lost"]:  # keep the server's log (its tracebacks)
            kept = Path(settings.DATA_DIR) / f"loadtest-{run_tag}-server.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log_path, kept)
            report["server_log"] = str(kept)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _print(report, say)
    return report


def _load_average() -> list[float] | None:
    """The machine's (1, 5, 15 min): other work on a shared machine shows in the figures."""
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def _line(label: str, row: dict[str, Any]) -> str:
    alone = row.get("alone_p50_ms")
    return (
        f"{label:<20} {row['requests']:>7,} requests {row['throughput']:>7.1f}/s ok  "
        f"p50 {row['p50_ms'] or 0:>7.1f} ms  p99 {row['p99_ms'] or 0:>7.1f} ms  errors {row['errors']:>4}"
        + (f"  (alone: p50 {alone:.1f} ms)" if alone is not None else "")
    )


def _print(report: dict[str, Any], say) -> None:
    load, floor = report, report["floor"]
    say("")
    say("Summary")
    averages = report.get("load_average") or {}
    if averages.get("start") and averages.get("end"):
        say(
            "  machine load average (1/5/15 min): "
            + " / ".join(f"{x:g}" for x in averages["start"])
            + " at the start, "
            + " / ".join(f"{x:g}" for x in averages["end"])
            + " at the end"
        )
    say(_line("  load", load))
    if floor:
        say(_line("  floor /healthz", floor))
        say(f"  load / floor: p50 {report['ratio']['p50']}×, p99 {report['ratio']['p99']}×")
    late = load["late"]
    say(
        f"  sent {load['sent_per_second']}/s of {load['slots']:,} slots, {load['unsent']} unsent; "
        f"{late['count']:,} sent over {late['over_ms']:g} ms late (p99 lateness {late['p99_ms']} ms, "
        f"max {late['max_ms']} ms)"
    )
    say("  per kind (alone: its latency one request at a time, during the warm-up):")
    for kind, row in load["by_kind"].items():
        say(_line(f"    {kind}", row))
    if floor:
        say(_line("    floor_healthz", floor["by_kind"]["floor_healthz"]))
    if load["error_kinds"]:
        say(f"  errors: {load['error_kinds']}")
    writes = report["writes"]
    say(
        f"  writes accepted {writes['accepted']:,} ({writes['accepted_by_kind']}), tracking codes shown "
        f"{writes['tracking_codes_shown']:,}; in the database afterwards: {writes['in_database']:,}; "
        f"lost {writes['lost']}, mismatched {writes['mismatched']}"
    )
    if report.get("server_log"):
        say(f"  the server's log: {report['server_log']}")
    if "restart" in report:
        restart = report["restart"]
        if "failed" in restart:
            say(f"  restart: FAILED ({restart['failed']})")
        else:
            say(
                f"  restart at {restart['began_s']} s took {restart['took_s']} s: {restart['errors']} errors "
                f"{restart['error_kinds'] or ''}; the last sent {restart['last_error_after_s']} s after "
                "it began: "
                f"{'recovered' if restart['recovered'] else 'NOT recovered'} "
                f"within {restart['within_s']:g} s; "
                f"errors later: {restart['errors_later']}"
            )
            say("  around the restart, per second:")
            for row in restart["per_second"]:
                say(
                    f"    {row['t']:>6.0f} s  {row['requests']:>4} requests  {row['errors']:>4} errors  "
                    f"p50 {row['p50_ms'] or 0:>7.1f} ms  p99 {row['p99_ms'] or 0:>7.1f} ms"
                )
    target = report["target"]
    say(
        f"Target {target['rate']:g} requests/s with p99 ≤ {target['p99_ms']:g} ms and no error"
        + (" outside the restart" if "restart" in report else "")
        + f": {'PASS' if target['met'] else 'FAIL'}"
    )
    say(f"No accepted write lost: {'PASS' if writes['lost'] == 0 and writes['mismatched'] == 0 else 'FAIL'}")


def main(argv: list[str] | None = None) -> None:
    """``python -m grassroots.core.loadtest [--load-duration S] [--load-restart] …``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grassroots.settings")
    import django

    django.setup()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    add_arguments(parser)
    parser.add_argument("--json", dest="json_path", type=Path, help="Also write the results to this file.")
    options = vars(parser.parse_args(argv))
    report = run(options, sys.stdout)
    if options["json_path"]:
        options["json_path"].write_text(
            json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    if report["writes"]["lost"] or report["target"]["errors_outside_restart"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
