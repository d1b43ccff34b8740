"""/api/v1/cockpit…: in the OpenAPI schema, every answer checked against it, scoped like the pages."""

from __future__ import annotations

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from grassroots.areas.models import Area
from grassroots.cockpit.indicators import REGISTRY
from grassroots.cockpit.models import Refresh
from grassroots.conftest import CITY, COMMUNITY, DISTRICT, GRID, OTHER_DISTRICT, STREET

pytestmark = pytest.mark.usefixtures("tree")
API = "/api/v1/cockpit"
PATHS = [
    f"{API}/{{code}}",
    f"{API}/indicators",
    f"{API}/evaluation/{{period}}/{{code}}",
    f"{API}/leaders/{{user_id}}",
]


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def check_schema(value, schema: dict, spec: dict, path: str = "$") -> None:
    """The areas API's small JSON Schema check, plus ``additionalProperties`` (maps keyed by code)."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return check_schema(value, option, spec, path)
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{path}: matches no option: {errors}")
    kind = schema.get("type")
    if kind == "null":
        assert value is None, f"{path}: {value!r} is not null"
        return None
    if kind:
        ok = isinstance(value, TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))
        assert ok, f"{path}: {value!r} is not {kind}"
    if kind == "object":
        for name in schema.get("required", []):
            assert name in value, f"{path}: {name} missing"
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for name, item in value.items():
            assert name in properties or extra, f"{path}: {name} is not in the schema"
            check_schema(item, properties.get(name) or extra, spec, f"{path}.{name}")
    elif kind == "array":
        for i, item in enumerate(value):
            check_schema(item, schema.get("items", {}), spec, f"{path}[{i}]")
    return None


@pytest.fixture(scope="module")
def openapi() -> dict:
    from grassroots.api import api

    return json.loads(json.dumps(api.get_openapi_schema(), cls=DjangoJSONEncoder))


@pytest.fixture
def get(openapi):
    def fetch(client, template: str, params: dict | None = None, **path_params):
        response = client.get(template.format(**path_params), params or {})
        if response.status_code == 200:
            operation = openapi["paths"][template]["get"]
            schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
            check_schema(response.json(), schema, openapi)
        return response

    return fetch


def test_the_check_is_not_vacuous(openapi):
    schema = {"$ref": "#/components/schemas/CockpitOut"}
    with pytest.raises(AssertionError):
        check_schema({"node": {}}, schema, openapi)
    with pytest.raises(AssertionError):
        check_schema({"values": {"x": {"value": "high"}}}, schema, openapi, "$")


def test_the_paths_are_documented(openapi):
    for path in PATHS:
        assert path in openapi["paths"], path
        assert openapi["paths"][path]["get"]["tags"] == ["cockpit"]


def test_the_indicators(api_as, personas, get):
    body = get(api_as(personas["grid_worker"]), f"{API}/indicators").json()
    assert {i["code"] for i in body} == set(REGISTRY)
    rate = next(i for i in body if i["code"] == "cases.on_time_rate")
    assert (rate["unit"], rate["direction"], rate["module"]) == ("rate", "higher", "cases")


def test_a_node_and_its_children(refreshed, api_as, personas, get):
    body = get(api_as(personas["street_staff"]), f"{API}/{{code}}", {"period": "now"}, code=STREET).json()
    assert body["node"]["code"] == STREET and body["period"] == "now"
    assert body["values"]["cases.open"]["value"] == 3
    assert body["values"]["cases.on_time_rate"] == {"value": 0.8, "numerator": 4.0, "denominator": 5.0}
    children = {c["code"]: c["values"] for c in body["children"]}
    assert set(children) == set(Area.objects.filter(parent_id=STREET).values_list("code", flat=True))
    assert children[COMMUNITY]["cases.open"] == 2 and children[COMMUNITY]["registry.grid_coverage"] == 0.75
    assert "trend" not in body


def test_by_session_too(refreshed, client_as, personas, get):
    response = get(client_as(personas["city_admin"]), f"{API}/{{code}}", code=CITY)
    assert response.status_code == 200 and len(response.json()["children"]) == 5


@pytest.mark.parametrize(
    "persona,allowed,denied",
    [
        ("street_staff", [STREET, GRID], [DISTRICT, CITY, "140302002"]),
        ("outsider_district", ["140303001001"], [STREET, OTHER_DISTRICT]),
        ("city_admin", [CITY, OTHER_DISTRICT], ["14"]),
    ],
)
def test_scoped(api_as, personas, get, persona, allowed, denied):
    client = api_as(personas[persona])
    for code in allowed:
        assert get(client, f"{API}/{{code}}", code=code).status_code == 200, code
    for code in denied:
        assert client.get(f"{API}/{code}").status_code == 404, code
        assert client.get(f"{API}/evaluation/now/{code}").status_code == 404, code


def test_without_figures_every_value_is_no_data(api_as, personas, get):
    Refresh.objects.all().delete()
    body = get(api_as(personas["city_admin"]), f"{API}/{{code}}", code=CITY).json()
    assert body["refreshed_at"] is None
    assert {v["value"] for v in body["values"].values()} == {None}


def test_a_bad_period_is_not_found(api_as, personas):
    assert api_as(personas["city_admin"]).get(f"{API}/{CITY}", {"period": "2026-13"}).status_code == 404
    assert api_as(personas["city_admin"]).get(f"{API}/evaluation/2026-Q5/{CITY}").status_code == 404


def test_anonymous_is_refused(anonymous):
    assert anonymous.get(f"{API}/{CITY}").status_code == 401
