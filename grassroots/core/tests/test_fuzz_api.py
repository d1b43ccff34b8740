"""Fuzzing the JSON API against its own OpenAPI schema (schemathesis), in process, as several personas.

Every operation of ``/api/v1/openapi.json`` gets a bounded number of generated requests, through
Django's WSGI application (no server, no network), each sent with the bearer token of a persona drawn
at random, half of them aimed at objects that exist (the path parameters replaced by ids and codes of
the world built in :mod:`.factories`), the rest at whatever schemathesis makes up. Each response must:

* not be a server error (5xx);
* have a status code the schema documents for the operation — or one of :data:`EVERYWHERE`, the
  statuses the API's description promises for every operation but the schema does not list (a
  missing or bad token, outside the caller's scope, a request the schema itself refuses);
* have a body matching the documented schema of that status, and a documented content type.

Every request runs in a savepoint that is rolled back: what a POST writes does not leak into the next.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from grassroots.conftest import CITY, COMMUNITY, GRID, OTHER_COMMUNITY, STREET

from .factories import World, savepoint, world_for_module

#: Personas the requests are sent as (bearer tokens); anonymous sends none.
FUZZ_PERSONAS = ("grid_worker", "street", "city_admin", "mediator", "auditor", "anonymous")
#: Generated requests per operation (each as one persona); about a minute and a half in all.
EXAMPLES = 20
#: Statuses any operation may answer: no or a bad token (401); outside the caller's scope (404, the
#: API's documented rule); a request that the schema's own constraints refuse (422, django-ninja).
#: The schema lists none of them per operation (reported: see the module docstring of the report).
EVERYWHERE = frozenset({401, 404, 422})


def _operations() -> list[str]:
    from grassroots.api import api

    schema = api.get_openapi_schema()
    return sorted(f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops)


OPERATIONS = _operations()


# --- the world and the schema, once per module -----------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    with world_for_module(django_db_blocker, tmp_path_factory.mktemp("fuzz")) as built:
        yield built


@pytest.fixture(autouse=True)
def db(world, django_db_blocker) -> Iterator[None]:
    """Each test in a savepoint of the module's transaction (see test_access_matrix.db)."""
    with savepoint(django_db_blocker):
        yield


@pytest.fixture(scope="module")
def schema(world):
    """The schema as the application serves it, bound to Django's WSGI application.

    Django's WSGI handler closes the database connection when a request finishes (``close_old_
    connections``); here that connection holds the test's transaction, so the handler is kept from
    doing so for the module, as Django's own test client does per request.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def known_values(world: World) -> dict[str, list]:
    """Path parameter → values that name existing objects (in and out of the personas' scopes)."""
    ids = lambda kind: [obj.pk for obj in world.objects[kind].values()]  # noqa: E731
    return {
        "code": [GRID, COMMUNITY, STREET, CITY, OTHER_COMMUNITY, "140302001001001001", "14"],
        "household_id": ids("household"),
        "resident_id": ids("resident"),
        "job_id": ids("import_job"),
        "user_id": ids("user") + ids("leader"),
        "number": ids("case") + ids("dispute"),
        "period": ["now", world.period, "2026-Q1", "2026-13"],
        "check": ["households_outside_grid", "residents_outside_household", "duplicate_persons", "nope"],
    }


# --- checks ----------------------------------------------------------------------------------------


def _csrf_refusal(response, case) -> bool:
    """An unsafe request without valid credentials: django-ninja's SessionAuth checks CSRF before it
    looks for a session, so the answer is 403 "CSRF check Failed" rather than 401 (reported)."""
    if case.method.upper() in ("GET", "HEAD", "OPTIONS") or response.status_code != 403:
        return False
    try:
        return response.json() == {"detail": "CSRF check Failed"}
    except ValueError:
        return False


def _unrouted(response) -> bool:
    """A path that matches no route (``/registry/residents/-1`` against ``{int:resident_id}``): Django's
    HTML 404 page rather than the API's JSON (reported)."""
    return response.status_code == 404 and response.headers.get("content-type", [""])[0].startswith(
        "text/html"
    )


def documented_status(ctx, response, case):
    """The status is documented for the operation, or one the API promises everywhere."""
    if response.status_code in EVERYWHERE or _csrf_refusal(response, case):
        return None
    return status_code_conformance(ctx, response, case)


def documented_content_type(ctx, response, case):
    if _unrouted(response):
        return None
    return content_type_conformance(ctx, response, case)


CHECKS = [not_a_server_error, documented_status, response_schema_conformance, documented_content_type]


# --- the fuzzing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", OPERATIONS)
def test_operation_conforms_and_never_fails(key, schema, world, django_db_blocker):
    method, path = key.split(" ", 1)
    operation = schema[path][method]
    known = known_values(world)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
        ],
    )
    @given(case=operation.as_strategy(), persona=st.sampled_from(FUZZ_PERSONAS), data=st.data())
    def fuzz(case, persona, data):
        if case.path_parameters and data.draw(st.booleans(), label="aim at existing objects"):
            for name in list(case.path_parameters):
                if name in known:
                    case.path_parameters[name] = data.draw(st.sampled_from(known[name]), label=name)
        headers = {} if persona == "anonymous" else {"Authorization": f"Bearer {world.tokens[persona]}"}
        with savepoint(django_db_blocker):
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()


# --- found by the fuzzing: minimal reproductions ---------------------------------------------------


def _as(world: World, persona: str):
    from django.test import Client

    return Client(raise_request_exception=False, headers={"Authorization": f"Bearer {world.tokens[persona]}"})


@pytest.mark.parametrize("query", [{"offset": "99999999999999999999"}, {"limit": "99999999999999999999"}])
def test_a_huge_page_offset_or_limit_is_refused_not_a_server_error(query, world):
    """Every ``@paginate(LimitOffsetPagination)`` list accepted any integer: beyond 2**63 the database
    refused the OFFSET/LIMIT (SQLite "datatype mismatch") and the API answered 500. Fixed by
    ``grassroots.core.pagination.BoundedPagination`` (422)."""
    response = _as(world, "grid_worker").get("/api/v1/users", query)
    assert response.status_code in (200, 422), f"{query}: {response.status_code}"


@pytest.mark.parametrize("query", [{"until": "0001-01-01"}, {"since": "0001-01-01"}])
def test_case_metrics_with_a_date_at_the_edge_of_the_calendar_is_not_a_server_error(query, world):
    """``GET /cases/metrics/{code}?until=0001-01-01``: the local midnight of year 1 is year 0 in UTC;
    SQLite's adapter raised ValueError ("year 0 is out of range") and the API answered 500."""
    response = _as(world, "street").get(f"/api/v1/cases/metrics/{COMMUNITY}", query)
    assert response.status_code in (200, 422), f"{query}: {response.status_code}"


NUL_REQUESTS = [
    ("anonymous", "GET", "/open311/v2/services/lamp%00.json", None),
    ("anonymous", "GET", "/open311/v2/requests.json?service_code=a%00", None),
    ("anonymous", "POST", "/login/", {"username": "a\x00", "password": "x"}),
    ("anonymous", "POST", "/api/v1/auth/token", {"username": "a\x00", "password": "x"}),
    ("street", "GET", "/api/v1/users?q=a%00", None),
    ("street", "GET", "/api/v1/registry/residents?name=a%00", None),
    ("street", "GET", "/registry/search/?q=a%00", None),
    ("street", "GET", "/disputes/new/residents/?prefix=parties-0&parties-0-q=a%00", None),
]


@pytest.mark.parametrize(("persona", "method", "path", "data"), NUL_REQUESTS)
def test_a_nul_character_in_a_request_is_refused_not_a_server_error(persona, method, path, data, world):
    """PostgreSQL text cannot hold NUL (0x00): a query parameter, form field or JSON string with one
    reaches a filter and psycopg raises DataError, so the page or API answers 500 — the login page and
    the public Open311 endpoint included (SQLite stores NUL, so this fails on PostgreSQL only). Found
    by the fuzzing (``POST /api/v1/auth/token``); the same holds for every text that reaches a query.
    Fix, in one place: a middleware early in ``MIDDLEWARE`` (grassroots/core/middleware.py) answering
    400 to a request whose path, query string, form data or JSON body contains NUL (``\\x00``,
    ``%00``, ``\\u0000``)."""
    from django.test import Client

    if persona == "anonymous":
        client = Client(raise_request_exception=False)
    else:
        client = Client(raise_request_exception=False)
        client.force_login(world.users[persona])
    if method == "GET":
        response = client.get(path)
    elif path.startswith("/api/"):
        response = client.post(path, data, content_type="application/json")
    else:
        response = client.post(path, data)
    assert response.status_code < 500, f"{method} {path}: {response.status_code}"
