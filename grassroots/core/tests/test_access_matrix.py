"""The access matrix: every URL pattern and API operation × every persona × objects placed in scope, in a
sibling node, in the parent and in another district.

Generated from :mod:`.access_classification` (what each endpoint is and who may reach it) and
:mod:`.factories` (the objects, built once per module with the modules' own actions). The expected
status comes from the persona's grants and the object's area code alone, so the application's scoping
is checked against the rule, not against itself. Every combination is its own test; none is skipped.

Also here: the classification is complete (every pattern and operation, nothing stale), scoped lists
return exactly what the persona may see, and figures shown for a node never exceed the list behind them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from unittest import mock

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from grassroots.accounts.choices import MEDIATION_ROLES, STAFF_ROLES, Role

from .access_classification import BY_KEY, ENTRIES, LOGIN, UNCLASSIFIED_ON_PURPOSE, Entry, covers, placements
from .factories import GRID_CODES, PERSONAS, Obj, Persona, World, world_for_module

# --- the world and one client per persona, once per module ------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    with world_for_module(django_db_blocker, tmp_path_factory.mktemp("access")) as built:
        yield built


@pytest.fixture(autouse=True)
def db(world, django_db_blocker) -> Iterator[None]:
    """This module's ``db``: each test in a savepoint of the module's transaction, rolled back, so
    whatever it wrote is undone.

    It replaces pytest-django's ``db`` here (which would set up a TestCase per test: with some six
    thousand tests that costs a minute); being named ``db`` still tells pytest-django to create the
    test database.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="module", autouse=True)
def _no_template_capture() -> Iterator[None]:
    """The test client copies the context of every template rendered, for assertions this module never
    makes; pages with a field per include pay for it dozens of times per request."""
    import django.test.client

    with mock.patch.object(django.test.client, "store_rendered_templates", lambda *args, **kwargs: None):
        yield


@pytest.fixture(scope="module")
def clients(world, django_db_blocker) -> dict[str, dict[str, Client]]:
    """``clients["page" | "api"][persona]``: a browser session, or a bearer token and no session."""
    pages: dict[str, Client] = {}
    apis: dict[str, Client] = {}
    with django_db_blocker.unblock():
        for name, persona in PERSONAS.items():
            if persona.anonymous:
                pages[name], apis[name] = Client(), Client()
                continue
            pages[name] = Client()
            pages[name].force_login(world.users[name])
            apis[name] = Client(headers={"Authorization": f"Bearer {world.tokens[name]}"})
    for client in [*pages.values(), *apis.values()]:
        client.initial_cookies = SimpleCookie({k: m.value for k, m in client.cookies.items()})
    return {"page": pages, "api": apis}


# --- requests ---------------------------------------------------------------------------------------


def resolve(world: World, kind: str | None, placement: str | None, persona: Persona) -> Obj | None:
    if kind is None:
        return None
    if kind == "token" and placement == "own":
        owner = persona.name if not persona.anonymous else "grid_worker"
        return Obj("token", "own", "", pk=world.token_pks[owner], extra={"owner": "self"})
    found = world.objects.get(kind, {}).get(placement)
    assert found is not None, f"the factories made no {kind} at {placement}"
    return found


def url_for(entry: Entry, obj: Obj | None, world: World) -> str:
    kwargs = entry.args(obj) if entry.args else {}
    kwargs = {name: world.period if value == "$period" else value for name, value in kwargs.items()}
    if entry.api:
        return entry.key.split(" ", 1)[1].format(**kwargs)
    return reverse(entry.key, kwargs=kwargs)


def fresh(client: Client) -> Client:
    """The client with only the cookies it started with (a test may have signed it out)."""
    client.cookies = SimpleCookie({name: morsel.value for name, morsel in client.initial_cookies.items()})
    return client


def call(entry: Entry, method: str, persona: Persona, obj: Obj | None, world: World, clients):
    client = fresh(clients["api" if entry.api else "page"][persona.name])
    url = url_for(entry, obj, world)
    if method == "GET":
        return client.get(url, entry.query)
    data = entry.data(persona, obj, world) if entry.data else {}
    if entry.query:
        url += "?" + "&".join(f"{k}={v}" for k, v in entry.query.items())
    if entry.api and entry.json:
        return client.post(url, data, content_type="application/json")
    return client.post(url, data)


def check(response, expected, *, api: bool, context: str) -> None:
    status = response.status_code
    if expected == LOGIN:
        if api:
            assert status == 401, f"{context}: anonymous got {status}, expected 401"
        else:
            location = response.headers.get("Location", "")
            assert status == 302 and location.startswith("/login/"), (
                f"{context}: anonymous got {status} {location!r}, expected a redirect to the login page"
            )
        return
    assert status in expected, f"{context}: got {status}, expected {sorted(expected)}\n{_body(response)}"


def _body(response) -> str:
    if response.get("Content-Type", "").startswith(("text/", "application/json")):
        return response.content.decode(errors="replace")[:600]
    return f"<{response.get('Content-Type')}>"


# --- the matrix ---------------------------------------------------------------------------------------


def _cases() -> list[tuple[str, str, str, str | None]]:
    return [
        (entry.key, method, persona, placement)
        for entry in ENTRIES
        for method in entry.methods
        for persona in PERSONAS
        for placement in placements(entry.kind)
    ]


CASES = _cases()


def _id(case) -> str:
    key, method, persona, placement = case
    return f"{key if ' ' not in key else key.split(' ', 1)[1]}|{method}|{persona}|{placement or '-'}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_access(case, world, clients):
    key, method, persona_name, placement = case
    entry, persona = BY_KEY[key], PERSONAS[persona_name]
    obj = resolve(world, entry.kind, placement, persona)
    expected = entry.rules[method](persona, obj)
    response = call(entry, method, persona, obj, world, clients)
    context = f"{method} {key} as {persona_name} on {entry.kind or '-'}@{placement or '-'}"
    if entry.note:
        context += f" ({entry.note})"
    check(response, expected, api=entry.api, context=context)


POST_ONLY = [entry.key for entry in ENTRIES if entry.post_only]


@pytest.mark.parametrize("key", POST_ONLY)
def test_get_on_a_post_only_page_is_405(key, world, clients):
    entry = BY_KEY[key]
    persona = PERSONAS["community"]
    obj = resolve(world, entry.kind, placements(entry.kind)[0], persona)
    response = fresh(clients["page"]["community"]).get(url_for(entry, obj, world))
    assert response.status_code == 405, f"GET {key}: {response.status_code}"


# --- the classification is complete and current ------------------------------------------------------


def _patterns(resolver: URLResolver, prefix: str = "", namespace: tuple[str, ...] = ()) -> Iterator[tuple]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = (*namespace, pattern.namespace) if pattern.namespace else namespace
            yield from _patterns(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespace, pattern.name or ""))
            yield name, prefix + str(pattern.pattern), pattern.callback


def _openapi_path(route: str) -> str:
    return "/" + re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", route)


def test_every_pattern_and_operation_is_classified():
    from grassroots.api import api

    pages: dict[str, list[str]] = {}
    operation_routes: set[str] = set()
    for name, route, callback in _patterns(get_resolver()):
        if route.startswith(("static/", "media/")) or name in UNCLASSIFIED_ON_PURPOSE:
            continue
        if getattr(callback, "__module__", "") == "ninja.operation":
            operation_routes.add(_openapi_path(route))
        else:
            pages.setdefault(name, []).append(route)
    schema = api.get_openapi_schema()
    operations = {f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops}
    classified_pages = {e.key for e in ENTRIES if not e.api}
    classified_ops = {e.key for e in ENTRIES if e.api}

    problems = []
    twice = {name: routes for name, routes in pages.items() if len(routes) > 1}
    if twice:
        problems.append(f"URL names used by more than one pattern (classify by name): {twice}")
    missing = sorted(set(pages) - classified_pages)
    if missing:
        problems.append(
            "URL patterns not classified:\n  " + "\n  ".join(f"{n} ({pages[n][0]})" for n in missing)
        )
    missing_ops = sorted(operations - classified_ops)
    if missing_ops:
        problems.append("API operations not classified:\n  " + "\n  ".join(missing_ops))
    stale = sorted(classified_pages - set(pages))
    if stale:
        problems.append("classified URL names that no longer exist:\n  " + "\n  ".join(stale))
    stale_ops = sorted(classified_ops - operations)
    if stale_ops:
        problems.append("classified operations that no longer exist:\n  " + "\n  ".join(stale_ops))
    paths = {key.split(" ", 1)[1] for key in operations}
    orphans = sorted(operation_routes - paths)
    if orphans:
        problems.append("API routes without an operation in the schema:\n  " + "\n  ".join(orphans))
    assert not problems, "\n".join(problems)


# --- lists return exactly what the persona may see ---------------------------------------------------


def _scoped(rows, persona: Persona) -> set:
    return {key for key, code in rows if covers(persona, code)}


def expected_sets(world: World, persona: Persona) -> dict[str, set]:
    """Everything in the database, filtered by the persona's grants on codes alone."""
    from grassroots.accounts.models import User
    from grassroots.cases.models import Case, Unit
    from grassroots.disputes.choices import ACTIVE_STATUSES
    from grassroots.disputes.models import Dispute
    from grassroots.imports.models import ImportJob
    from grassroots.registry.models import Building, Household, Organisation, Resident

    me = world.users.get(persona.name)
    users = set()
    leaders = set()
    for user in User.objects.prefetch_related("grants"):
        grants = list(user.grants.all())
        if (me is not None and user.pk == me.pk) or any(covers(persona, g.area_id) for g in grants):
            users.add(user.pk)
        leading = [g for g in grants if g.role in (Role.CITY_ADMIN, Role.DISTRICT_STAFF, Role.STREET_STAFF)]
        if user.is_active and leading and any(covers(persona, g.area_id) for g in grants):
            leaders.add(user.pk)
    if persona.anonymous or not any(role in STAFF_ROLES for role, _code in persona.grants):
        users, leaders = set(), set()  # not even themselves: GET /me is where one finds oneself
    disputes = set()
    for number, code, mediator_id, status in Dispute.objects.values_list(
        "number", "area_id", "mediator", "status"
    ):
        assigned = me is not None and mediator_id == me.pk and covers(persona, code, MEDIATION_ROLES)
        if status in ACTIVE_STATUSES and (covers(persona, code) or assigned):
            disputes.add(number)
    residents = Resident.objects.values_list("pk", "area_id", "name")
    return {
        "households": _scoped(Household.objects.values_list("pk", "area_id"), persona),
        "residents": _scoped(residents.values_list("pk", "area_id"), persona),
        "residents_named": {pk for pk, code, name in residents if "户主" in name and covers(persona, code)},
        "buildings": _scoped(Building.objects.values_list("pk", "area_id"), persona),
        "organisations": _scoped(Organisation.objects.values_list("pk", "area_id"), persona),
        "cases": _scoped(Case.objects.values_list("number", "area_id"), persona),
        "disputes": disputes,
        "imports": _scoped(ImportJob.objects.values_list("pk", "area_id"), persona),
        "units": _scoped(Unit.objects.values_list("pk", "area_id"), persona),
        "users": users,
        "leaders": leaders,
    }


API_LISTS = {
    "/api/v1/registry/households": ("households", "id"),
    "/api/v1/registry/residents": ("residents", "id"),
    "/api/v1/registry/buildings": ("buildings", "id"),
    "/api/v1/registry/organisations": ("organisations", "id"),
    "/api/v1/cases": ("cases", "number"),
    "/api/v1/disputes": ("disputes", "number"),
    "/api/v1/imports": ("imports", "id"),
    "/api/v1/users": ("users", "id"),
}

# page → (expected set, the links that name an item, query)
PAGE_LISTS = {
    "cases:list": ("cases", r'href="/cases/(SJ\d+)/"', {}),
    "disputes:desk": ("disputes", r'href="/disputes/(MD\d+)/"', {}),
    "imports:index": ("imports", r'href="/imports/(\d+)/"', {}),
    "accounts:users": ("users", r'href="/accounts/users/(\d+)/"', {}),
    "registry:search": ("residents_named", r'href="/registry/resident/(\d+)/"', {"q": "户主"}),
    "cockpit:leaders": ("leaders", r'href="/cockpit/leaders/(\d+)/"', {}),
    "cases:units": ("units", r'href="/cases/units/(\d+)/"', {}),
}


@pytest.mark.parametrize("persona_name", list(PERSONAS))
@pytest.mark.parametrize("path", list(API_LISTS))
def test_api_list_is_exactly_the_scope(path, persona_name, world, clients):
    persona = PERSONAS[persona_name]
    response = fresh(clients["api"][persona_name]).get(path, {"limit": 1000})
    if persona.anonymous:
        assert response.status_code == 401
        return
    assert response.status_code == 200, response.content[:300]
    name, field = API_LISTS[path]
    body = response.json()
    got = {item[field] for item in body["items"]}
    assert body["count"] == len(got)
    expected = expected_sets(world, persona)[name]
    assert got == expected, f"{path} as {persona_name}: extra {got - expected}, missing {expected - got}"


@pytest.mark.parametrize("persona_name", list(PERSONAS))
@pytest.mark.parametrize("name", list(PAGE_LISTS))
def test_list_page_is_exactly_the_scope(name, persona_name, world, clients):
    persona = PERSONAS[persona_name]
    entry = BY_KEY[name]
    expected_status = entry.rules["GET"](persona, None)
    kind, pattern, query = PAGE_LISTS[name]
    response = fresh(clients["page"][persona_name]).get(reverse(name), query)
    if expected_status == LOGIN or 200 not in expected_status:
        check(response, expected_status, api=False, context=f"{name} as {persona_name}")
        return
    assert response.status_code == 200
    got = set(re.findall(pattern, response.content.decode()))
    expected = {str(item) for item in expected_sets(world, persona)[kind]}
    if name == "accounts:users":
        got.discard(str(world.users[persona_name].pk))  # the list links the viewer as any other
        expected.discard(str(world.users[persona_name].pk))
    assert got == expected, f"{name} as {persona_name}: extra {got - expected}, missing {expected - got}"


# --- figures never exceed the list behind them -------------------------------------------------------


def _count(client, path: str, **query) -> int:
    response = client.get(path, {"limit": 1, **query})
    assert response.status_code == 200, response.content[:300]
    return response.json()["count"]


@pytest.mark.parametrize("persona_name", [p for p in PERSONAS if p != "anonymous"])
@pytest.mark.parametrize("placement", list(GRID_CODES))
def test_figures_for_a_node_never_exceed_the_scoped_lists(placement, persona_name, world, clients):
    persona = PERSONAS[persona_name]
    client = fresh(clients["api"][persona_name])
    node = GRID_CODES[placement]
    figures = {
        "coverage": client.get(f"/api/v1/coverage/{node}"),
        "cases": client.get(f"/api/v1/cases/metrics/{node}"),
        "disputes": client.get(f"/api/v1/disputes/board/{node}"),
        "cockpit": client.get(f"/api/v1/cockpit/{node}"),
        "area": client.get(f"/api/v1/areas/{node}"),
    }
    if not covers(persona, node):
        assert {name: r.status_code for name, r in figures.items()} == dict.fromkeys(figures, 404)
        return
    assert {name: r.status_code for name, r in figures.items()} == dict.fromkeys(figures, 200)
    households = _count(client, "/api/v1/registry/households", within=node, status="active")
    residents = _count(client, "/api/v1/registry/residents", within=node, status="active")
    cases = _count(client, "/api/v1/cases", within=node)
    disputes = _count(client, "/api/v1/disputes", within=node)
    coverage = figures["coverage"].json()["total"]["figures"]
    assert coverage["households"] <= households and coverage["residents"] <= residents
    assert figures["cases"].json()["node"]["volume"] <= cases
    assert figures["disputes"].json()["node"]["active"] <= disputes
    values = figures["cockpit"].json()["values"]
    assert (values["registry.households"]["value"] or 0) <= households
    assert (values["registry.residents"]["value"] or 0) <= residents
    assert (values["cases.open"]["value"] or 0) <= cases
    # the children's figures are each no more than their own lists
    for child in figures["cockpit"].json()["children"]:
        inside = _count(client, "/api/v1/registry/households", within=child["code"], status="active")
        assert (child["values"]["registry.households"] or 0) <= inside


# --- care groups: only the roles that visit ----------------------------------------------------------


@pytest.mark.parametrize("persona_name", [p for p in PERSONAS if p != "anonymous"])
def test_care_groups_only_for_care_roles(persona_name, world, clients):
    """The head of the ``here`` household lives alone (a care group). Those who see the resident see
    the group only if a care role (street, community, grid) covers them; leaders above see no group."""
    from grassroots.accounts.choices import CARE_ROLES

    persona = PERSONAS[persona_name]
    resident = world.obj("resident", "here")
    household = world.obj("household", "here")
    api = fresh(clients["api"][persona_name]).get(f"/api/v1/registry/residents/{resident.pk}")
    page = fresh(clients["page"][persona_name]).get(f"/registry/resident/{resident.pk}/")
    home = fresh(clients["page"][persona_name]).get(f"/registry/household/{household.pk}/")
    if not covers(persona, resident.code):
        assert (api.status_code, page.status_code, home.status_code) == (404, 404, 404)
        return
    assert (api.status_code, page.status_code, home.status_code) == (200, 200, 200)
    groups = api.json()["care_groups"]
    events = {event["kind"] for event in api.json()["events"]}
    if covers(persona, resident.code, CARE_ROLES):
        assert [g["group"] for g in groups] == ["elderly_alone"]
        assert 'class="badge reg-care"' in page.content.decode()
    else:
        assert groups is None, f"{persona_name} sees care groups: {groups}"
        assert "reg-care" not in page.content.decode() and "reg-care" not in home.content.decode()
        assert not events & {"care_added", "care_removed"}
