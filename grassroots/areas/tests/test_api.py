"""The areas API, /api/v1/areas…, for every persona, by bearer token and by session.

Every successful response is checked against the schema the API publishes at /api/v1/openapi.json.
"""

from __future__ import annotations

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count
from django.test import Client

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant
from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.conftest import (
    CITY,
    COLLEAGUE_GRID,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    OTHER_DISTRICT,
    OTHER_STREET,
    SIBLING_COMMUNITY,
    STREET,
)

API = "/api/v1"
MICROGRID = f"{GRID}001"
AREA_PATHS = [
    f"{API}/areas",
    f"{API}/areas/search",
    f"{API}/areas/{{code}}",
    f"{API}/areas/{{code}}/children",
    f"{API}/areas/{{code}}/tree",
]
ACCOUNT_PATHS = [f"{API}/auth/token", f"{API}/me", f"{API}/users", f"{API}/users/{{user_id}}"]


# --- Checking responses against the published schema --------------------------------------------------------


@pytest.fixture(scope="module")
def openapi() -> dict:
    from grassroots.api import api

    # As served: through JSON, so status codes are strings as in /openapi.json.
    return json.loads(json.dumps(api.get_openapi_schema(), cls=DjangoJSONEncoder))


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def check_schema(value, schema: dict, spec: dict, path: str = "$") -> None:
    """A small JSON Schema check (types, required, properties, items, anyOf) for the API's schemas."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        failures = []
        for option in schema["anyOf"]:
            try:
                check_schema(value, option, spec, path)
                return
            except AssertionError as exc:
                failures.append(str(exc))
        raise AssertionError(f"{path}: matches no option: {failures}")
    kind = schema.get("type")
    types = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "null": type(None),
    }
    if kind:
        assert isinstance(value, types[kind]), f"{path}: {value!r} is not {kind}"
        if kind in ("integer", "number"):
            assert not isinstance(value, bool), f"{path}: {value!r} is a boolean"
    if kind == "object":
        for name in schema.get("required", []):
            assert name in value, f"{path}: {name} missing"
        properties = schema.get("properties", {})
        for name, item in value.items():
            assert name in properties, f"{path}: {name} is not in the schema"
            check_schema(item, properties[name], spec, f"{path}.{name}")
    elif kind == "array":
        for i, item in enumerate(value):
            check_schema(item, schema.get("items", {}), spec, f"{path}[{i}]")
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"


@pytest.fixture
def get(openapi):
    """GET an API path and, when it succeeds, check the body against the documented response."""

    def fetch(client: Client, template: str, params: dict | None = None, **path_params):
        response = client.get(template.format(**path_params), params or {})
        if response.status_code == 200:
            operation = openapi["paths"][template]["get"]
            schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
            check_schema(response.json(), schema, openapi)
        return response

    return fetch


AREAS = f"{API}/areas"
SEARCH = f"{API}/areas/search"
DETAIL = f"{API}/areas/{{code}}"
CHILDREN = f"{API}/areas/{{code}}/children"
TREE = f"{API}/areas/{{code}}/tree"


# --- The schema itself --------------------------------------------------------------------------------------


def test_openapi_json_is_served_and_lists_the_paths(anonymous):
    response = anonymous.get(f"{API}/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "Grassroots API"
    for path in AREA_PATHS + ACCOUNT_PATHS:
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    for path in AREA_PATHS:
        assert {"ApiKeyAuth": []} in spec["paths"][path]["get"]["security"]


def test_api_docs_page_is_served(client_as, grid_worker):
    assert client_as(grid_worker).get(f"{API}/docs").status_code == 200


# --- Authentication -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        AREAS,
        f"{SEARCH}?q=油娄沟",
        DETAIL.format(code=CITY),
        CHILDREN.format(code=CITY),
        TREE.format(code=CITY),
        DETAIL.format(code="nonsense"),
    ],
)
def test_anonymous_gets_401(anonymous, tree, url):
    response = anonymous.get(url)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_a_wrong_token_gets_401(tree, city_admin):
    client = Client(headers={"Authorization": "Bearer gr_not-a-real-token"})
    assert client.get(AREAS).status_code == 401
    assert Client(headers={"Authorization": "Basic Y2l0eV9hZG1pbjp4"}).get(AREAS).status_code == 401


@pytest.mark.parametrize("transport", ["token", "session"])
def test_roots_of_the_scope(get, personas, api_as, client_as, transport):
    connect = api_as if transport == "token" else client_as
    expected = {
        "city_admin": [CITY],
        "street_staff": [STREET],
        "grid_worker": [GRID],
        "outsider_district": [OTHER_COMMUNITY],
    }
    for persona, roots in expected.items():
        response = get(connect(personas[persona]), AREAS)
        assert response.status_code == 200
        assert [a["code"] for a in response.json()] == roots


def test_several_roots(get, api_as, make_user):
    user = make_user("two", Role.COMMUNITY_STAFF, COMMUNITY)
    Grant.objects.create(user=user, role=Role.COMMUNITY_STAFF, area_id=OTHER_COMMUNITY)
    Grant.objects.create(user=user, role=Role.GRID_WORKER, area_id=GRID)  # inside the first
    response = get(api_as(user), AREAS)
    assert [a["code"] for a in response.json()] == [COMMUNITY, OTHER_COMMUNITY]


# --- Detail -------------------------------------------------------------------------------------------------

SCOPES = [
    ("city_admin", [CITY, DISTRICT, OTHER_DISTRICT, MICROGRID], ["14"]),
    ("district_staff", [DISTRICT, STREET, GRID], [CITY, OTHER_DISTRICT, OTHER_COMMUNITY]),
    ("street_staff", [STREET, SIBLING_COMMUNITY, GRID], [DISTRICT, "140302002", OTHER_STREET]),
    ("community_staff", [COMMUNITY, GRID, COLLEAGUE_GRID], [STREET, SIBLING_COMMUNITY, OTHER_COMMUNITY]),
    (
        "grid_worker",
        [GRID, MICROGRID],
        [COMMUNITY, COLLEAGUE_GRID, f"{COLLEAGUE_GRID}001", SIBLING_COMMUNITY],
    ),
    ("colleague", [COLLEAGUE_GRID], [GRID, MICROGRID, COMMUNITY]),
    ("outsider_community", [SIBLING_COMMUNITY], [COMMUNITY, GRID]),
    ("outsider_district", [OTHER_COMMUNITY], [COMMUNITY, GRID, DISTRICT]),
]


@pytest.mark.parametrize(("persona", "visible", "hidden"), SCOPES)
def test_scope_of_every_endpoint(get, personas, api_as, persona, visible, hidden):
    client = api_as(personas[persona])
    for code in visible:
        for template in (DETAIL, CHILDREN, TREE):
            response = get(client, template, code=code)
            assert response.status_code == 200, (persona, template, code)
        assert get(client, SEARCH, {"within": code}).status_code == 200
    for code in hidden:
        for template in (DETAIL, CHILDREN, TREE):
            response = get(client, template, code=code)
            assert response.status_code == 404, (persona, template, code)
            assert response.json() == {"detail": "Not Found"}
        assert get(client, SEARCH, {"within": code, "q": "社区"}).status_code == 404


@pytest.mark.parametrize("code", ["abc", "1403x", "14030", "140302999", "1403020010010010010"])
def test_invalid_or_unknown_code_is_404(get, api_as, city_admin, code):
    client = api_as(city_admin)
    for template in (DETAIL, CHILDREN, TREE):
        assert get(client, template, code=code).status_code == 404


def test_detail_of_a_community(get, api_as, community_staff, grid_worker, colleague):
    body = get(api_as(community_staff), DETAIL, code=COMMUNITY).json()
    community = Area.objects.get(code=COMMUNITY)
    assert body["code"] == COMMUNITY
    assert body["name"] == "油娄沟社区居委会"
    assert body["display_name"] == "油娄沟社区"
    assert (body["level"], body["level_name"], body["kind"]) == (5, "Community / village", "community")
    assert body["parent_code"] == STREET
    assert body["households_estimate"] == community.households_estimate
    assert body["center"] is None
    assert [c["code"] for c in body["breadcrumbs"]] == [COMMUNITY]  # the street is out of scope
    expected = dict(
        Area.objects.within(COMMUNITY).exclude(code=COMMUNITY).values_list("level").annotate(n=Count("code"))
    )
    assert {d["level"]: d["count"] for d in body["descendants"]} == expected
    assert [d["level_name"] for d in body["descendants"]] == ["Grid", "Micro-grid"]
    assert body["workers"] == 2


def test_detail_of_a_district_has_its_centre_and_full_breadcrumbs(get, api_as, city_admin):
    body = get(api_as(city_admin), DETAIL, code=DISTRICT).json()
    assert [c["code"] for c in body["breadcrumbs"]] == [CITY, DISTRICT]
    lng, lat = body["center"]
    assert 113 < lng < 114 and 37 < lat < 38.5  # 阳泉
    counts = {d["level"]: d["count"] for d in body["descendants"]}
    assert counts[Level.STREET] == Area.objects.filter(parent_id=DISTRICT).count()
    assert counts[Level.COMMUNITY] == Area.objects.within(DISTRICT).filter(level=Level.COMMUNITY).count()


# --- Children -----------------------------------------------------------------------------------------------


def test_children_with_counts(get, api_as, street_staff, grid_worker, colleague, make_user):
    make_user("micro", Role.GRID_WORKER, MICROGRID)
    make_user("sibling_worker", Role.GRID_WORKER, f"{SIBLING_COMMUNITY}001")
    body = get(api_as(street_staff), CHILDREN, code=STREET).json()
    assert body["count"] == Area.objects.filter(parent_id=STREET).count() == 10
    for child in body["items"]:
        code = child["code"]
        assert child["parent_code"] == STREET
        assert child["counts"]["children"] == Area.objects.filter(parent_id=code).count()
        assert child["counts"]["grids"] == Area.objects.within(code).filter(level=Level.GRID).count()
        workers = (
            Grant.objects.filter(area__code__gte=code, area__code__lt=code[:-1] + chr(ord(code[-1]) + 1))
            .filter(role=Role.GRID_WORKER)
            .values("user")
            .distinct()
            .count()
        )
        assert child["counts"]["workers"] == workers
    by_code = {c["code"]: c["counts"] for c in body["items"]}
    assert by_code[COMMUNITY]["workers"] == 3
    assert by_code[SIBLING_COMMUNITY]["workers"] == 1


def test_children_are_paginated(get, api_as, street_staff):
    client = api_as(street_staff)
    expected = list(Area.objects.filter(parent_id=STREET).order_by("code").values_list("code", flat=True))
    seen = []
    for offset in range(0, 12, 3):
        body = get(client, CHILDREN, {"limit": 3, "offset": offset}, code=STREET).json()
        assert body["count"] == len(expected)
        assert len(body["items"]) == min(3, max(0, len(expected) - offset))
        seen += [c["code"] for c in body["items"]]
    assert seen == expected
    # Counts on a later page belong to that page's children.
    last = get(client, CHILDREN, {"limit": 1, "offset": 9}, code=STREET).json()["items"][0]
    assert last["counts"]["children"] == Area.objects.filter(parent_id=last["code"]).count()


def test_children_of_a_micro_grid_are_empty(get, api_as, grid_worker):
    body = get(api_as(grid_worker), CHILDREN, code=MICROGRID).json()
    assert body == {"items": [], "count": 0}


def test_children_pagination_parameters_are_validated(api_as, street_staff):
    client = api_as(street_staff)
    assert client.get(CHILDREN.format(code=STREET), {"limit": 0}).status_code == 422
    assert client.get(CHILDREN.format(code=STREET), {"offset": -1}).status_code == 422


# --- Tree ---------------------------------------------------------------------------------------------------


def _flatten(node: dict, depth: int = 0) -> list[tuple[str, int]]:
    found = [(node["code"], depth)]
    for child in node["children"]:
        assert child["parent_code"] == node["code"]
        found += _flatten(child, depth + 1)
    return found


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_tree_depth(get, api_as, street_staff, depth):
    body = get(api_as(street_staff), TREE, {"depth": depth}, code=STREET).json()
    nodes = _flatten(body)
    assert nodes[0] == (STREET, 0)
    expected = set(
        Area.objects.within(STREET).filter(level__lte=Level.STREET + depth).values_list("code", flat=True)
    )
    assert {code for code, _ in nodes} == expected
    assert len(nodes) == len(expected)
    assert max(d for _, d in nodes) == depth
    for code, d in nodes:
        assert len(code) == len(STREET) + 3 * d


def test_tree_default_depth_is_one(get, api_as, grid_worker):
    body = get(api_as(grid_worker), TREE, code=GRID).json()
    assert body["code"] == GRID
    assert [c["code"] for c in body["children"]] == list(
        Area.objects.filter(parent_id=GRID).order_by("code").values_list("code", flat=True)
    )
    assert all(c["children"] == [] for c in body["children"])


def test_tree_of_a_district_stays_in_the_district(get, api_as, city_admin):
    body = get(api_as(city_admin), TREE, {"depth": 2}, code=DISTRICT).json()
    codes = {code for code, _ in _flatten(body)}
    assert all(code.startswith(DISTRICT) for code in codes)
    assert (
        len(codes)
        == 1 + Area.objects.within(DISTRICT).filter(level__in=[Level.STREET, Level.COMMUNITY]).count()
    )


@pytest.mark.parametrize("depth", [0, 4, -1, "x"])
def test_tree_depth_is_validated(api_as, street_staff, depth):
    response = api_as(street_staff).get(TREE.format(code=STREET), {"depth": depth})
    assert response.status_code == 422


# --- Search -------------------------------------------------------------------------------------------------


def _codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [a["code"] for a in response.json()["items"]]


def test_search_by_name(get, api_as, city_admin):
    response = get(api_as(city_admin), SEARCH, {"q": "油娄沟"})
    assert _codes(response) == [COMMUNITY]
    assert response.json()["count"] == 1


def test_search_by_code_prefix_and_level(get, api_as, community_staff):
    client = api_as(community_staff)
    codes = _codes(get(client, SEARCH, {"q": COMMUNITY, "limit": 1000}))
    assert codes == list(
        Area.objects.within(COMMUNITY).order_by("level", "code").values_list("code", flat=True)
    )
    grids = _codes(get(client, SEARCH, {"q": COMMUNITY, "level": Level.GRID}))
    assert grids == list(
        Area.objects.filter(parent_id=COMMUNITY).order_by("code").values_list("code", flat=True)
    )


def test_search_within_and_level(get, api_as, city_admin):
    client = api_as(city_admin)
    response = get(client, SEARCH, {"q": "社区", "within": STREET, "level": Level.COMMUNITY})
    codes = _codes(response)
    assert codes == list(
        Area.objects.filter(parent_id=STREET).order_by("code").values_list("code", flat=True)
    )
    assert response.json()["count"] == 10
    # 西河村委会 is a village: "社区" does not find it, "村" does, and only within 平潭街街道.
    assert "140303001200" not in _codes(get(client, SEARCH, {"q": "社区", "within": OTHER_STREET}))
    assert _codes(get(client, SEARCH, {"q": "西河", "within": OTHER_STREET})) == ["140303001200"]
    assert _codes(get(client, SEARCH, {"q": "西河", "within": STREET})) == []


def test_search_is_paginated(get, api_as, city_admin):
    client = api_as(city_admin)
    everything = _codes(get(client, SEARCH, {"q": "社区", "level": Level.COMMUNITY, "limit": 1000}))
    assert len(everything) == Area.objects.filter(level=Level.COMMUNITY, name__contains="社区").count()
    page = get(client, SEARCH, {"q": "社区", "level": Level.COMMUNITY, "limit": 5, "offset": 5}).json()
    assert page["count"] == len(everything)
    assert [a["code"] for a in page["items"]] == everything[5:10]


def test_search_never_leaves_the_scope(get, api_as, grid_worker, outsider_district, community_staff):
    # A code prefix above the grid finds only the grid's own subtree.
    codes = _codes(get(api_as(grid_worker), SEARCH, {"q": COMMUNITY, "limit": 1000}))
    assert codes and all(code.startswith(GRID) for code in codes)
    assert _codes(get(api_as(outsider_district), SEARCH, {"q": "油娄沟"})) == []
    assert _codes(get(api_as(community_staff), SEARCH, {"q": "窑坡"})) == []
    # Without a query: everything in scope.
    codes = _codes(get(api_as(grid_worker), SEARCH, {"limit": 1000}))
    assert set(codes) == set(Area.objects.within(GRID).values_list("code", flat=True))


def test_search_across_several_roots(get, api_as, make_user):
    user = make_user("two", Role.COMMUNITY_STAFF, COMMUNITY)
    Grant.objects.create(user=user, role=Role.COMMUNITY_STAFF, area_id=OTHER_COMMUNITY)
    codes = _codes(get(api_as(user), SEARCH, {"q": "第一网格"}))
    assert codes == [f"{COMMUNITY}001", f"{OTHER_COMMUNITY}001"]


@pytest.mark.parametrize("params", [{"level": 9}, {"level": "x"}, {"q": "x" * 61}])
def test_search_parameters_are_validated(api_as, city_admin, params):
    assert api_as(city_admin).get(SEARCH, params).status_code == 422


def test_session_and_token_see_the_same(get, api_as, client_as, community_staff):
    by_token = get(api_as(community_staff), DETAIL, code=COMMUNITY).json()
    by_session = get(client_as(community_staff), DETAIL, code=COMMUNITY).json()
    assert by_token == by_session


def test_the_schema_check_is_not_vacuous(openapi):
    area = {"$ref": "#/components/schemas/AreaOut"}
    good = {
        "code": CITY,
        "name": "阳泉市",
        "display_name": "阳泉市",
        "level": 2,
        "level_name": "City",
        "kind": "city",
        "parent_code": "14",
    }
    check_schema(good, area, openapi)
    check_schema({**good, "parent_code": None}, area, openapi)
    for bad in ({**good, "level": "2"}, {**good, "extra": 1}, {k: v for k, v in good.items() if k != "kind"}):
        with pytest.raises(AssertionError):
            check_schema(bad, area, openapi)
