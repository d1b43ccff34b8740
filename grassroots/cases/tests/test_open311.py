"""Open311 GeoReport v2 conformance, written from the spec (http://wiki.open311.org/GeoReport_v2).

Every method in both formats, every error the spec names (an array of code + description, HTTP
400/403/404), the filters and default limits of GET requests, and our mapping: jurisdiction_id is a
node of the tree, API keys open non-public categories in their jurisdiction, and no response ever
carries personal data.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from grassroots.accounts.choices import Role
from grassroots.areas.models import Area
from grassroots.audit.models import AuditEntry
from grassroots.cases import actions, apikeys, open311, workflow
from grassroots.cases.choices import Channel, Clock, Status
from grassroots.cases.models import ApiKey, Case, CaseEvent, Category, CategoryAttribute, Unit
from grassroots.conftest import (
    CITY,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    OTHER_DISTRICT,
    SIBLING_COMMUNITY,
    STREET,
)
from grassroots.core.workcalendar import forget

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
BASE = "/open311/v2/"
# Yangquan, inside the deployment's bounds.
LAT, LNG = 37.857412, 113.569871

NAME, PHONE, MASKED, EMAIL = "王小明", "13912345678", "139****5678", "wxm@example.com"
EXACT_ADDRESS = "油娄沟小区3号楼2单元501室"


# --- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(tree) -> dict[str, Category]:
    forget()
    pothole = Category.objects.create(
        code="pothole",
        name="道路坑洼",
        name_en="Pothole",
        group="市政设施",
        description="路面破损、坑洼",
        keywords="道路, 坑, 路面",
        is_public=True,
        order=1,
    )
    CategoryAttribute.objects.create(
        category=pothole, code="depth", datatype="number", description="坑深（厘米）", required=True, order=1
    )
    CategoryAttribute.objects.create(
        category=pothole,
        code="size",
        datatype="singlevaluelist",
        description="大小",
        datatype_description="选一项",
        required=True,
        order=2,
        values=[{"key": "small", "name": "小于脸盆"}, {"key": "large", "name": "大于脸盆"}],
    )
    CategoryAttribute.objects.create(
        category=pothole,
        code="hazards",
        datatype="multivaluelist",
        description="危险",
        order=3,
        values=[
            {"key": "traffic", "name": "影响通行"},
            {"key": "children", "name": "靠近学校"},
            {"key": "night", "name": "夜间无照明"},
        ],
    )
    CategoryAttribute.objects.create(
        category=pothole, code="seen", datatype="datetime", description="发现时间", order=4
    )
    graffiti = Category.objects.create(
        code="graffiti", name="乱涂乱画", group="市容环境", is_public=True, order=2
    )
    dispute = Category.objects.create(
        code="dispute", name="邻里纠纷", name_en="Neighbour dispute", group="矛盾纠纷", order=3
    )
    retired = Category.objects.create(
        code="retired", name="旧类别", group="其他", active=False, is_public=True, order=4
    )
    return {"pothole": pothole, "graffiti": graffiti, "dispute": dispute, "retired": retired}


@pytest.fixture
def admin(make_user):
    return make_user("o311admin", Role.CITY_ADMIN, CITY)


@pytest.fixture
def district_key(admin, catalogue) -> str:
    """A live key for 城区 (the district holding COMMUNITY and GRID)."""
    return apikeys.issue_api_key(admin, "城区 app", Area.objects.get(code=DISTRICT))[1]


@pytest.fixture
def other_key(admin, catalogue) -> str:
    """A live key for 矿区, the other district."""
    return apikeys.issue_api_key(admin, "矿区 app", Area.objects.get(code=OTHER_DISTRICT))[1]


@pytest.fixture
def client() -> Client:
    return Client()


def report(category: Category, *, code: str = GRID, days_ago: float = 0, **kwargs) -> Case:
    """A case reported by the public (not through Open311), optionally in the past."""
    return actions.do_report(
        None,
        category=category,
        area=Area.objects.get(code=code),
        title=kwargs.pop("title", "路面有坑"),
        description=kwargs.pop("description", "油娄沟路口路面有坑"),
        channel=Channel.PUBLIC,
        now=timezone.now() - dt.timedelta(days=days_ago),
        **kwargs,
    ).case


def pothole_params(key: str, **overrides) -> dict[str, object]:
    params: dict[str, object] = {
        "api_key": key,
        "service_code": "pothole",
        "address_id": GRID,
        "lat": str(LAT),
        "long": str(LNG),
        "description": "油娄沟路口有一个大坑\n晚上看不见",
        "attribute[depth]": "12",
        "attribute[size]": "large",
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


# --- Reading responses ----------------------------------------------------------------------------


def parse(response, fmt: str):
    """The body, after checking the spec's Content-Type and, for XML, the UTF-8 declaration."""
    assert response["Content-Type"] == CONTENT_TYPES[fmt]
    if fmt == "json":
        return response.json()
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def records(response, fmt: str, root: str, item: str) -> list[dict]:
    """The items of a list response as dicts; for XML, checks the root and item element names."""
    body = parse(response, fmt)
    if fmt == "json":
        assert isinstance(body, list)
        return body
    assert body.tag == root
    assert all(child.tag == item for child in body)
    return [{field.tag: field.text for field in child} for child in body]


def errors(response, fmt: str, status: int) -> list[tuple[int, str]]:
    """The spec's error array: (code, description) pairs; the HTTP status is the first error's."""
    assert response.status_code == status, response.content
    rows = records(response, fmt, "errors", "error")
    assert rows, "an error response carries at least one error"
    pairs = [(int(row["code"]), row["description"]) for row in rows]
    assert all(description for _code, description in pairs)
    assert pairs[0][0] == status
    return pairs


def post(client: Client, fmt: str, params: dict, **headers):
    return client.post(f"{BASE}requests.{fmt}", params, headers=headers)


def get(client: Client, path: str, fmt: str, params: dict | None = None, **headers):
    return client.get(f"{BASE}{path}.{fmt}", params or {}, headers=headers)


def ids(response, fmt: str) -> list[str]:
    return [row["service_request_id"] for row in records(response, fmt, "service_requests", "request")]


# --- Discovery ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", ["/open311/discovery", "/open311/v2/discovery"])
def test_discovery_lists_the_endpoint_and_its_formats(client, catalogue, fmt, path):
    response = client.get(f"{path}.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "xml":
        assert body.tag == "discovery"
        assert [e.tag for e in body] == ["changeset", "contact", "key_service", "endpoints"]
        endpoint = body.find("endpoints/endpoint")
        body = {
            "endpoints": [
                {
                    "specification": endpoint.findtext("specification"),
                    "url": endpoint.findtext("url"),
                    "type": endpoint.findtext("type"),
                    "changeset": endpoint.findtext("changeset"),
                    "formats": [f.text for f in endpoint.findall("formats/format")],
                }
            ],
            "key_service": body.findtext("key_service"),
        }
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2/"
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert dt.datetime.fromisoformat(endpoint["changeset"]).tzinfo is not None
    assert "/open311/keys/" in body["key_service"]


# --- Service list and definitions -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_list_shows_active_categories(client, catalogue, fmt):
    response = get(client, "services", fmt)
    assert response.status_code == 200
    services = records(response, fmt, "services", "service")
    assert [s["service_code"] for s in services] == ["pothole", "graffiti", "dispute"]  # not "retired"
    pothole = services[0]
    expected_fields = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
    assert list(pothole) == expected_fields
    assert pothole["service_name"] == "道路坑洼"  # Chinese by default
    assert pothole["group"] == "市政设施" and pothole["keywords"] == "道路, 坑, 路面"
    assert pothole["type"] == "realtime"
    metadata = {s["service_code"]: s["metadata"] for s in services}
    if fmt == "json":
        assert metadata == {"pothole": True, "graffiti": False, "dispute": False}
    else:
        assert metadata == {"pothole": "true", "graffiti": "false", "dispute": "false"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_names_follow_accept_language(client, catalogue, fmt):
    response = get(client, "services", fmt, **{"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    names = {s["service_code"]: s["service_name"] for s in records(response, fmt, "services", "service")}
    assert names == {"pothole": "Pothole", "graffiti": "乱涂乱画", "dispute": "Neighbour dispute"}
    assert response["Content-Language"] == "en"
    response = get(client, "services", fmt, **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert records(response, fmt, "services", "service")[0]["service_name"] == "道路坑洼"


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_list_with_a_jurisdiction(client, catalogue, fmt):
    assert get(client, "services", fmt, {"jurisdiction_id": DISTRICT}).status_code == 200
    (error,) = errors(get(client, "services", fmt, {"jurisdiction_id": "999999"}), fmt, 404)
    assert "jurisdiction_id" in error[1]
    errors(get(client, "services", fmt, {"jurisdiction_id": "yangquan"}), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(client, catalogue, fmt):
    response = get(client, "services/pothole", fmt)
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "xml":
        assert body.tag == "service_definition"
        assert body.findtext("service_code") == "pothole"
        attributes = body.findall("attributes/attribute")
        assert [a.findtext("code") for a in attributes] == ["depth", "size", "hazards", "seen"]
        size = attributes[1]
        assert [e.tag for e in size] == [
            "variable", "code", "datatype", "required", "datatype_description", "order", "description",
            "values",
        ]  # fmt: skip
        assert (size.findtext("variable"), size.findtext("required"), size.findtext("order")) == (
            "true",
            "true",
            "2",
        )
        assert size.findtext("datatype") == "singlevaluelist"
        assert [(v.findtext("key"), v.findtext("name")) for v in size.findall("values/value")] == [
            ("small", "小于脸盆"),
            ("large", "大于脸盆"),
        ]
        assert attributes[3].findtext("datatype") == "datetime" and attributes[3].find("values") is None
        assert attributes[0].find("datatype_description").text is None
        return
    assert body["service_code"] == "pothole"
    depth, size, hazards, seen = body["attributes"]
    assert depth == {
        "variable": True,
        "code": "depth",
        "datatype": "number",
        "required": True,
        "datatype_description": None,
        "order": 1,
        "description": "坑深（厘米）",
    }
    assert size["values"] == [{"key": "small", "name": "小于脸盆"}, {"key": "large", "name": "大于脸盆"}]
    assert size["datatype_description"] == "选一项"
    assert hazards["datatype"] == "multivaluelist" and hazards["required"] is False
    assert [v["key"] for v in hazards["values"]] == ["traffic", "children", "night"]
    assert seen["datatype"] == "datetime" and "values" not in seen


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_without_attributes(client, catalogue, fmt):
    body = parse(get(client, "services/graffiti", fmt), fmt)
    if fmt == "json":
        assert body == {"service_code": "graffiti", "attributes": []}
    else:
        assert body.findtext("service_code") == "graffiti" and list(body.find("attributes")) == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["nonsense", "retired", "a.b"])
def test_service_definition_unknown_or_retired_is_404(client, catalogue, fmt, code):
    (error,) = errors(get(client, f"services/{code}", fmt), fmt, 404)
    assert "service_code" in error[1] and code in error[1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_unknown_jurisdiction_is_404(client, catalogue, fmt):
    errors(get(client, "services/pothole", fmt, {"jurisdiction_id": "140399"}), fmt, 404)


# --- POST a request -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_then_get_by_id_and_by_token(client, catalogue, district_key, fmt):
    response = post(
        client,
        fmt,
        pothole_params(
            district_key,
            **{
                "attribute[hazards][]": ["traffic", "night"],
                "first_name": "小明",
                "last_name": "王",
                "phone": PHONE,
                "email": EMAIL,
                "address_string": EXACT_ADDRESS,
                "media_url": "https://photos.example.com/p/1.jpg",
                "device_id": "device-1",
                "account_id": "acct-1",
            },
        ),
    )
    assert response.status_code == 200, response.content
    (created,) = records(response, fmt, "service_requests", "request")
    assert list(created) == ["service_request_id", "token", "service_notice", "account_id"]
    number, token = created["service_request_id"], created["token"]
    assert number.startswith("SJ") and token
    assert "5" in created["service_notice"]  # handled within 5 working days (the category's default)

    case = Case.objects.get(number=number)
    assert case.channel == Channel.OPEN311 and case.status == Status.REPORTED
    assert (case.area_id, case.holder_id, case.category.code) == (GRID, COMMUNITY, "pothole")
    assert case.attributes == {"depth": 12.0, "size": "large", "hazards": ["traffic", "night"]}
    assert (case.contact_name, case.contact_phone_masked, case.contact_email) == (NAME, MASKED, EMAIL)
    assert case.address == EXACT_ADDRESS and (case.lat, case.lng) == (LAT, LNG)
    assert case.token_hash == actions.hash_token(token) and token not in case.token_hash
    assert case.title == "油娄沟路口有一个大坑"

    # GET one request: the same request back, in the spec's shape, without personal data.
    response = get(client, f"requests/{number}", fmt)
    assert response.status_code == 200
    (row,) = records(response, fmt, "service_requests", "request")
    assert list(row) == [
        "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
        "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
        "address", "address_id", "zipcode", "lat", "long", "media_url",
    ]  # fmt: skip
    assert row["service_request_id"] == number
    assert (row["status"], row["status_notes"]) == ("open", "已上报")
    assert (row["service_code"], row["service_name"]) == ("pothole", "道路坑洼")
    assert row["description"] == "油娄沟路口有一个大坑\n晚上看不见"
    assert row["media_url"] == "https://photos.example.com/p/1.jpg"
    assert row["agency_responsible"] == "油娄沟社区"
    assert row["address"] == "油娄沟社区" and row["address_id"] == GRID
    assert float(row["lat"]) == 37.857 and float(row["long"]) == 113.570
    assert dt.datetime.fromisoformat(row["requested_datetime"]) == case.created_at.replace(microsecond=0)
    assert dt.datetime.fromisoformat(row["expected_datetime"]) == case.deadline.replace(microsecond=0)
    assert row["requested_datetime"].endswith("+08:00")
    for text in (NAME, PHONE, MASKED, EMAIL, EXACT_ADDRESS, "小明"):
        assert text not in response.content.decode()

    # GET tokens/{token}: the token turns into the request id.
    response = get(client, f"tokens/{token}", fmt)
    assert response.status_code == 200
    assert records(response, fmt, "service_requests", "request") == [
        {"service_request_id": number, "token": token}
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_urlencoded_with_repeated_list_values(client, catalogue, district_key, fmt):
    body = urlencode(
        [
            ("api_key", district_key),
            ("service_code", "pothole"),
            ("address_id", COMMUNITY),
            ("description", "坑"),
            ("attribute[depth]", "3.5"),
            ("attribute[size]", "small"),
            ("attribute[hazards][]", "children"),
            ("attribute[hazards][]", "traffic"),
            ("attribute[seen]", "2026-03-01T08:00:00+08:00"),
        ]
    )
    response = client.post(f"{BASE}requests.{fmt}", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    number = records(response, fmt, "service_requests", "request")[0]["service_request_id"]
    case = Case.objects.get(number=number)
    assert case.attributes["hazards"] == ["children", "traffic"] and case.attributes["depth"] == 3.5
    assert case.area_id == COMMUNITY and case.lat is None


def test_post_needs_no_csrf_token_and_ignores_sessions(catalogue, district_key, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = post(client, "json", pothole_params(district_key))
    assert response.status_code == 200
    case = Case.objects.get(number=response.json()[0]["service_request_id"])
    assert case.reporter is None  # the session's user is not the reporter


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_a_category_without_attributes_at_the_keys_community(client, admin, catalogue, fmt):
    key = apikeys.issue_api_key(admin, "社区屏", Area.objects.get(code=COMMUNITY))[1]
    # The jurisdiction is a community, so address_id may be left out; address_string is the location.
    params = {
        "api_key": key,
        "service_code": "graffiti",
        "address_string": "社区大门",
        "description": "墙上涂鸦",
    }
    response = post(client, fmt, params)
    assert response.status_code == 200, response.content
    case = Case.objects.get(
        number=records(response, fmt, "service_requests", "request")[0]["service_request_id"]
    )
    assert case.area_id == COMMUNITY and case.address == "社区大门"


POST_ERRORS = [
    # (overrides, HTTP status, words in the description)
    ({"api_key": None}, 403, "api_key"),
    ({"api_key": "o311_wrong"}, 403, "api_key"),
    ({"service_code": None}, 400, "service_code"),
    ({"service_code": "nonsense"}, 400, "service_code"),
    ({"service_code": "retired"}, 400, "service_code"),
    ({"jurisdiction_id": "999999"}, 400, "jurisdiction_id"),
    ({"description": None}, 400, "description"),
    ({"description": "   "}, 400, "description"),
    ({"address_id": None, "lat": None, "long": None}, 400, "location"),
    ({"address_id": None}, 400, "address_id"),  # a district key: which community?
    ({"address_id": STREET}, 400, "community or grid"),
    ({"address_id": "140302001999"}, 400, "address_id"),
    ({"address_id": "not-a-code"}, 400, "address_id"),
    ({"jurisdiction_id": SIBLING_COMMUNITY}, 400, "outside jurisdiction_id"),
    ({"address_id": OTHER_COMMUNITY}, 403, "api_key"),  # outside the key's jurisdiction
    ({"jurisdiction_id": OTHER_DISTRICT, "address_id": OTHER_COMMUNITY}, 403, "api_key"),
    ({"long": None}, 400, "lat and long"),
    ({"lat": "north"}, 400, "lat and long"),
    ({"lat": "39.9", "long": "116.4"}, 400, "outside the city"),  # Beijing
    ({"email": "not-an-email"}, 400, "email"),
    ({"media_url": "ftp://example.com/a.jpg"}, 400, "media_url"),
    ({"phone": "12345"}, 400, "mobile"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("overrides", "status", "words"), POST_ERRORS)
def test_post_errors(client, catalogue, district_key, fmt, overrides, status, words):
    response = post(client, fmt, pothole_params(district_key, **overrides), **{"Accept-Language": "en"})
    described = " ".join(description for _code, description in errors(response, fmt, status))
    assert words in described
    assert not Case.objects.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_with_a_revoked_key_is_403(client, admin, catalogue, fmt):
    api_key, key = apikeys.issue_api_key(admin, "旧应用", Area.objects.get(code=DISTRICT))
    apikeys.revoke_api_key(admin, api_key)
    errors(post(client, fmt, pothole_params(key)), fmt, 403)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_reports_every_problem_at_once(client, catalogue, district_key, fmt):
    response = post(client, fmt, pothole_params(district_key, service_code=None, description=None))
    found = errors(response, fmt, 400)
    assert len(found) == 2 and {code for code, _d in found} == {400}
    overrides = {"description": None, "attribute[size]": "huge", "email": "nobody"}
    found = errors(post(client, fmt, pothole_params(district_key, **overrides)), fmt, 400)
    assert len(found) == 3
    assert any("attribute[size]" in d for _c, d in found) and any("description" in d for _c, d in found)


ATTRIBUTE_ERRORS = [
    ({"attribute[depth]": None}, ["attribute[depth]"]),  # required, missing
    ({"attribute[depth]": None, "attribute[size]": None}, ["attribute[depth]", "attribute[size]"]),
    ({"attribute[size]": "huge"}, ["attribute[size]"]),  # not a key of the singlevaluelist
    ({"attribute[depth]": "deep"}, ["attribute[depth]"]),
    ({"attribute[hazards][]": ["traffic", "lava"]}, ["attribute[hazards]"]),
    ({"attribute[seen]": "yesterday"}, ["attribute[seen]"]),
    ({"attribute[colour]": "red"}, ["colour"]),  # not an attribute of the service
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("overrides", "fields"), ATTRIBUTE_ERRORS)
def test_post_attribute_validation(client, catalogue, district_key, fmt, overrides, fields):
    found = errors(post(client, fmt, pothole_params(district_key, **overrides)), fmt, 400)
    assert len(found) == len(fields)
    for field, (_code, description) in zip(fields, sorted(found, key=lambda e: e[1]), strict=True):
        assert field in description
    assert not Case.objects.exists()


def test_post_is_rate_limited_per_key(client, catalogue, district_key, other_key, settings, monkeypatch):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "OPEN311_RATE_LIMIT": 2}
    monkeypatch.setattr(open311, "time", SimpleNamespace(time=lambda: 6_000_000.0))  # one fixed minute
    assert post(client, "json", pothole_params(district_key)).status_code == 200
    assert post(client, "json", pothole_params(district_key)).status_code == 200
    (error,) = errors(post(client, "xml", pothole_params(district_key)), "xml", 429)
    assert "2 per minute" in error[1]
    # Another key has its own allowance.
    other = pothole_params(other_key, address_id=OTHER_COMMUNITY)
    assert post(client, "json", other).status_code == 200


# --- GET requests ---------------------------------------------------------------------------------


@pytest.fixture
def cases(catalogue) -> dict[str, Case]:
    """Cases of several categories, places and ages (all reported by the public)."""
    return {
        "new": report(catalogue["pothole"], attributes={"depth": 5, "size": "small"}),
        "graffiti": report(catalogue["graffiti"], code=COMMUNITY, days_ago=10),
        "old": report(catalogue["graffiti"], days_ago=100),
        "other_district": report(catalogue["graffiti"], code=OTHER_COMMUNITY, days_ago=1),
        "dispute": report(catalogue["dispute"], days_ago=2, description="楼上漏水纠纷"),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_defaults_to_90_days_and_public_categories(client, cases, fmt):
    response = get(client, "requests", fmt)
    assert response.status_code == 200
    # Newest first; not the 100-day-old case, not the non-public dispute.
    assert ids(response, fmt) == [cases[k].number for k in ("new", "other_district", "graffiti")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_by_jurisdiction(client, cases, fmt):
    listed = ids(get(client, "requests", fmt, {"jurisdiction_id": DISTRICT}), fmt)
    assert cases["other_district"].number not in listed and cases["new"].number in listed
    listed = ids(get(client, "requests", fmt, {"jurisdiction_id": OTHER_COMMUNITY}), fmt)
    assert listed == [cases["other_district"].number]
    listed = ids(get(client, "requests", fmt, {"jurisdiction_id": CITY}), fmt)
    assert cases["other_district"].number in listed
    # A request of another district is not found through this district.
    path = f"requests/{cases['other_district'].number}"
    errors(get(client, path, fmt, {"jurisdiction_id": DISTRICT}), fmt, 404)
    assert get(client, path, fmt, {"jurisdiction_id": OTHER_DISTRICT}).status_code == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_unknown_jurisdiction_is_404(client, cases, fmt):
    (error,) = errors(get(client, "requests", fmt, {"jurisdiction_id": "140399"}), fmt, 404)
    assert "jurisdiction_id" in error[1]
    errors(get(client, f"requests/{cases['new'].number}", fmt, {"jurisdiction_id": "14039"}), fmt, 404)
    errors(get(client, "tokens/whatever", fmt, {"jurisdiction_id": "140399"}), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_by_service_request_ids_overrides_other_filters(client, cases, fmt):
    wanted = [cases["old"].number, cases["new"].number, "SJ000000000000"]
    params = {"service_request_id": ",".join(wanted), "status": "closed", "service_code": "pothole"}
    assert ids(get(client, "requests", fmt, params), fmt) == [cases["new"].number, cases["old"].number]


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_by_service_codes(client, cases, fmt):
    listed = ids(get(client, "requests", fmt, {"service_code": "pothole"}), fmt)
    assert listed == [cases["new"].number]
    listed = ids(get(client, "requests", fmt, {"service_code": "pothole,graffiti"}), fmt)
    assert listed == [cases[k].number for k in ("new", "other_district", "graffiti")]
    found = errors(get(client, "requests", fmt, {"service_code": "pothole,nonsense,bogus"}), fmt, 404)
    assert [d for _c, d in found] == [
        "service_code provided was not found: nonsense",
        "service_code provided was not found: bogus",
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_by_dates(client, cases, fmt):
    now = timezone.localtime()
    w3c = lambda days: (now - dt.timedelta(days=days)).isoformat(timespec="seconds")  # noqa: E731
    listed = ids(get(client, "requests", fmt, {"start_date": w3c(150)}), fmt)
    assert listed == [cases["old"].number]  # the default span is 90 days from start_date
    listed = ids(get(client, "requests", fmt, {"start_date": w3c(200), "end_date": w3c(-1)}), fmt)
    assert listed == [cases[k].number for k in ("new", "other_district", "graffiti", "old")]
    listed = ids(get(client, "requests", fmt, {"start_date": w3c(11), "end_date": w3c(5)}), fmt)
    assert listed == [cases["graffiti"].number]
    # Only end_date: the 90 days before it.
    listed = ids(get(client, "requests", fmt, {"end_date": w3c(5)}), fmt)
    assert listed == [cases["graffiti"].number]
    # UTC ("Z") and a date alone are W3C datetimes too.
    utc = (timezone.now() - dt.timedelta(days=11)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cases["graffiti"].number in ids(get(client, "requests", fmt, {"start_date": utc}), fmt)
    day = (now - dt.timedelta(days=101)).date().isoformat()
    assert cases["old"].number in ids(get(client, "requests", fmt, {"start_date": day}), fmt)
    # A "+" left unencoded in the query string arrives as a space: still understood.
    raw = f"{BASE}requests.{fmt}?start_date={w3c(11).replace('+', '%20')}"
    assert cases["graffiti"].number in ids(client.get(raw), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "last week"},
        {"end_date": "2026-13-01"},
        {"start_date": "2026-03-02T00:00:00+08:00", "end_date": "2026-03-01T00:00:00+08:00"},
        {"status": "pending"},
    ],
)
def test_list_bad_parameters_are_400(client, cases, fmt, params):
    errors(get(client, "requests", fmt, params), fmt, 400)


@pytest.fixture
def handled(cases, make_user) -> dict[str, object]:
    """new → dispatched to a unit; graffiti → rejected; a duplicate merged into new."""
    staff = make_user("ylg", Role.COMMUNITY_STAFF, COMMUNITY)
    unit = Unit.objects.create(name="城区城市管理局油娄沟中队", area_id=COMMUNITY)
    new = workflow.apply(staff, cases["new"], "accept")
    new = workflow.apply(staff, new, "dispatch", unit=unit)
    rejected = workflow.apply(staff, cases["graffiti"], "reject", note="不属实")
    duplicate = report(cases["new"].category, attributes={"depth": 5, "size": "small"})
    merged = workflow.apply(staff, duplicate, "merge", into=new)
    return {"new": new, "rejected": rejected, "merged": merged, "unit": unit, "staff": staff}


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_by_status(client, handled, cases, fmt):
    listed = ids(get(client, "requests", fmt, {"status": "open"}), fmt)
    assert listed == [handled["new"].number, cases["other_district"].number]
    listed = ids(get(client, "requests", fmt, {"status": "closed"}), fmt)
    assert listed == [handled["merged"].number, handled["rejected"].number]
    both = ids(get(client, "requests", fmt, {"status": "open,closed"}), fmt)
    assert both == ids(get(client, "requests", fmt), fmt) and len(both) == 4


@pytest.mark.parametrize("fmt", FORMATS)
def test_status_notes_and_agency(client, handled, fmt):
    rows = {
        row["service_request_id"]: row
        for row in records(get(client, "requests", fmt), fmt, "service_requests", "request")
    }
    new = rows[handled["new"].number]
    assert (new["status"], new["status_notes"]) == ("open", "已派遣：城区城市管理局油娄沟中队")
    assert new["agency_responsible"] == "城区城市管理局油娄沟中队"
    last_event = CaseEvent.objects.filter(case=handled["new"]).latest("at").at
    assert dt.datetime.fromisoformat(new["updated_datetime"]) == last_event.replace(microsecond=0)
    assert dt.datetime.fromisoformat(new["expected_datetime"]) == handled["new"].deadline.replace(
        microsecond=0
    )
    merged = rows[handled["merged"].number]
    assert (merged["status"], merged["status_notes"]) == ("closed", f"已合并至 {handled['new'].number}")
    assert merged["expected_datetime"] in (None, "")
    rejected = rows[handled["rejected"].number]
    assert (rejected["status"], rejected["status_notes"]) == ("closed", "不予受理")
    assert "不属实" not in get(client, "requests", fmt).content.decode()  # internal notes stay inside

    english = {
        row["service_request_id"]: row["status_notes"]
        for row in records(
            get(client, "requests", fmt, **{"Accept-Language": "en"}), fmt, "service_requests", "request"
        )
    }
    assert english[handled["new"].number] == "dispatched: 城区城市管理局油娄沟中队"
    assert english[handled["merged"].number] == f"merged into {handled['new'].number}"
    assert english[handled["rejected"].number] == "rejected"


@pytest.mark.parametrize("fmt", FORMATS)
def test_status_notes_show_overdue_and_escalation(client, handled, make_user, fmt):
    Case.objects.filter(pk=handled["new"].pk).update(clock=Clock.OVERDUE)
    path = f"requests/{handled['new'].number}"
    (row,) = records(get(client, path, fmt, **{"Accept-Language": "en"}), fmt, "service_requests", "request")
    assert row["status_notes"] == "dispatched: 城区城市管理局油娄沟中队; overdue"
    (row,) = records(get(client, path, fmt), fmt, "service_requests", "request")
    assert row["status_notes"] == "已派遣：城区城市管理局油娄沟中队；已超期"
    case = workflow.apply(handled["staff"], handled["new"], "escalate", note="需要街道协调")
    (row,) = records(get(client, path, fmt, **{"Accept-Language": "en"}), fmt, "service_requests", "request")
    assert row["status_notes"] == "reported; escalated to 上站街道"
    assert row["agency_responsible"] == "上站街道" and case.holder_id == STREET


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_is_limited_to_1000_newest(client, cases, fmt, monkeypatch):
    assert open311.MAX_RESULTS == 1000
    monkeypatch.setattr(open311, "MAX_RESULTS", 2)
    assert ids(get(client, "requests", fmt), fmt) == [cases["new"].number, cases["other_district"].number]
    many = ",".join(case.number for case in cases.values())
    assert len(ids(get(client, "requests", fmt, {"service_request_id": many}), fmt)) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_public_categories_need_a_key_of_their_jurisdiction(client, cases, district_key, other_key, fmt):
    dispute = cases["dispute"].number
    assert dispute not in ids(get(client, "requests", fmt), fmt)
    errors(get(client, f"requests/{dispute}", fmt), fmt, 404)
    assert dispute in ids(get(client, "requests", fmt, {"api_key": district_key}), fmt)
    (row,) = records(
        get(client, f"requests/{dispute}", fmt, {"api_key": district_key}), fmt, "service_requests", "request"
    )
    assert row["service_code"] == "dispute" and row["description"] == "楼上漏水纠纷"
    # A key of the other district opens non-public categories there only.
    assert dispute not in ids(get(client, "requests", fmt, {"api_key": other_key}), fmt)
    errors(get(client, f"requests/{dispute}", fmt, {"api_key": other_key}), fmt, 404)
    # A key never hides the public cases.
    assert cases["new"].number in ids(get(client, "requests", fmt, {"api_key": other_key}), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_reading_with_a_bad_key_is_403(client, cases, fmt):
    errors(get(client, "requests", fmt, {"api_key": "o311_nope"}), fmt, 403)
    errors(get(client, f"requests/{cases['new'].number}", fmt, {"api_key": "o311_nope"}), fmt, 403)


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_personal_data_in_any_response(client, catalogue, district_key, fmt):
    personal = {
        "contact_name": NAME,
        "contact_phone": PHONE,
        "contact_email": EMAIL,
        "address": EXACT_ADDRESS,
        "lat": LAT,
        "lng": LNG,
    }
    public = report(catalogue["graffiti"], **personal)
    private = report(catalogue["dispute"], **personal)
    posted = post(
        client,
        "json",
        pothole_params(
            district_key,
            first_name="小明",
            last_name="王",
            phone=PHONE,
            email=EMAIL,
            address_string=EXACT_ADDRESS,
        ),
    ).json()[0]
    assert Case.objects.filter(contact_name=NAME).count() == 3
    responses = [
        get(client, "requests", fmt),
        get(client, "requests", fmt, {"api_key": district_key}),
        get(client, f"requests/{public.number}", fmt),
        get(client, f"requests/{private.number}", fmt, {"api_key": district_key}),
        get(client, f"requests/{posted['service_request_id']}", fmt),
        get(client, f"tokens/{posted['token']}", fmt),
    ]
    for response in responses:
        assert response.status_code == 200
        text = response.content.decode()
        for value in (NAME, "小明", PHONE, MASKED, EMAIL, EXACT_ADDRESS, str(LAT), str(LNG)):
            assert value not in text
        for field in ("contact", "phone", "email", "first_name", "last_name"):
            assert field not in text
    rows = records(responses[1], fmt, "service_requests", "request")
    assert len(rows) == 3 and {row["address"] for row in rows} == {"油娄沟社区"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_request_and_token_are_404(client, cases, fmt):
    (error,) = errors(get(client, "requests/SJ202601010000001", fmt), fmt, 404)
    assert "service_request_id" in error[1]
    (error,) = errors(get(client, "tokens/not-a-token", fmt), fmt, 404)
    assert "token" in error[1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_of_another_jurisdiction_is_404(client, catalogue, other_key, fmt):
    created = post(client, "json", pothole_params(other_key, address_id=OTHER_COMMUNITY)).json()[0]
    errors(get(client, f"tokens/{created['token']}", fmt, {"jurisdiction_id": DISTRICT}), fmt, 404)
    ok = get(client, f"tokens/{created['token']}", fmt, {"jurisdiction_id": OTHER_DISTRICT})
    assert (
        records(ok, fmt, "service_requests", "request")[0]["service_request_id"]
        == created["service_request_id"]
    )


# --- Protocol edges -------------------------------------------------------------------------------


def test_xml_stays_well_formed_whatever_the_text(client, catalogue, district_key):
    created = post(
        client, "json", pothole_params(district_key, description="坑\x0b<很深> & \x01危险")
    ).json()[0]
    response = get(client, f"requests/{created['service_request_id']}", "xml")
    (row,) = records(response, "xml", "service_requests", "request")
    assert row["description"] == "坑<很深> & 危险"
    assert get(client, f"requests/{created['service_request_id']}", "json").json()[0]["description"] == (
        "坑\x0b<很深> & \x01危险"
    )


def test_listing_costs_a_fixed_number_of_queries(client, cases, handled, django_assert_num_queries):
    with django_assert_num_queries(2):  # the cases with their category, unit and holder; the communities
        assert len(ids(get(client, "requests", "json"), "json")) == 4
    for _ in range(5):
        report(cases["new"].category, attributes={"depth": 1, "size": "small"})
    with django_assert_num_queries(2):
        assert len(ids(get(client, "requests", "xml"), "xml")) == 9


@pytest.mark.parametrize("fmt", FORMATS)
def test_head_is_answered_like_get(client, catalogue, fmt):
    response = client.head(f"{BASE}services.{fmt}")
    assert response.status_code == 200 and response["Content-Type"] == CONTENT_TYPES[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", ["services", "services/pothole", "requests/SJ1", "tokens/abc", "discovery"])
def test_wrong_method_is_405_with_an_error_array(client, catalogue, fmt, path):
    response = client.put(f"{BASE}{path}.{fmt}")
    errors(response, fmt, 405)
    assert "GET" in response["Allow"]
    if path != "discovery":
        errors(client.post(f"{BASE}{path}.{fmt}", {}), fmt, 405)


@pytest.mark.parametrize(("path", "fmt"), [("nothing.json", "json"), ("services.csv", "xml"), ("", "xml")])
def test_unknown_resources_are_404_in_the_spec_format(client, catalogue, path, fmt):
    errors(client.get(f"{BASE}{path}"), fmt, 404)


# --- API keys -------------------------------------------------------------------------------------


def test_only_a_hash_of_the_key_is_stored(admin, catalogue):
    api_key, key = apikeys.issue_api_key(admin, "热线系统", Area.objects.get(code=DISTRICT))
    assert key.startswith("o311_") and len(key) > 40
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.key_hash == actions.hash_token(key) and key not in stored.key_hash
    assert stored.key_hint == key[:10] and stored.issued_by == admin and stored.jurisdiction_id == DISTRICT
    assert apikeys.authenticate(key) == stored and apikeys.authenticate(key + "x") is None
    entry = AuditEntry.objects.get(object_type="cases.apikey", object_id=str(api_key.pk))
    assert entry.area_code == DISTRICT and key not in str(entry.detail) + entry.object_label
    apikeys.revoke_api_key(admin, stored)
    assert apikeys.authenticate(key) is None
    assert AuditEntry.objects.filter(object_type="cases.apikey", fields=["revoked_at"]).count() == 1


@pytest.mark.parametrize(
    ("role", "grant_at", "jurisdiction", "allowed"),
    [
        (Role.CITY_ADMIN, CITY, CITY, True),
        (Role.CITY_ADMIN, CITY, GRID, True),
        (Role.DISTRICT_STAFF, DISTRICT, STREET, True),
        (Role.DISTRICT_STAFF, DISTRICT, DISTRICT, False),  # not at their own level
        (Role.DISTRICT_STAFF, DISTRICT, OTHER_COMMUNITY, False),
        (Role.STREET_STAFF, STREET, COMMUNITY, True),
        (Role.COMMUNITY_STAFF, COMMUNITY, COMMUNITY, False),
        (Role.COMMUNITY_STAFF, COMMUNITY, SIBLING_COMMUNITY, False),
        (Role.GRID_WORKER, GRID, GRID, False),
        (Role.AUDITOR, CITY, DISTRICT, False),
    ],
)
def test_who_may_issue_keys(make_user, catalogue, role, grant_at, jurisdiction, allowed):
    actor = make_user("issuer", role, grant_at)
    area = Area.objects.get(code=jurisdiction)
    if allowed:
        api_key, _key = apikeys.issue_api_key(actor, "client", area)
        apikeys.revoke_api_key(actor, api_key)
    else:
        with pytest.raises(PermissionDenied):
            apikeys.issue_api_key(actor, "client", area)
        assert not ApiKey.objects.exists()


def test_keys_page(client_as, anonymous, admin, make_user, catalogue):
    assert anonymous.get("/open311/keys/").status_code == 302  # to the login page
    assert client_as(make_user("gw", Role.GRID_WORKER, GRID)).get("/open311/keys/").status_code == 403

    browser = client_as(admin)
    assert browser.get("/open311/keys/").status_code == 200
    response = browser.post("/open311/keys/", {"name": "随手拍 app", "jurisdiction": DISTRICT})
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="随手拍 app")
    shown = response.content.decode().split('data-testid="new-key">')[1].split("<")[0]
    assert apikeys.authenticate(shown) == api_key  # shown once, on this page only
    assert shown not in browser.get("/open311/keys/").content.decode()
    assert api_key.key_hint in browser.get("/open311/keys/").content.decode()

    response = browser.post("/open311/keys/", {"name": "x", "jurisdiction": "999999"})
    assert response.status_code == 200 and ApiKey.objects.count() == 1

    # Staff of another district neither see nor revoke it.
    outsider = client_as(make_user("kq", Role.DISTRICT_STAFF, OTHER_DISTRICT))
    assert "随手拍" not in outsider.get("/open311/keys/").content.decode()
    assert outsider.post(f"/open311/keys/{api_key.pk}/revoke/").status_code == 404
    assert outsider.post("/open311/keys/", {"name": "y", "jurisdiction": DISTRICT}).status_code == 200
    assert ApiKey.objects.count() == 1

    assert browser.get(f"/open311/keys/{api_key.pk}/revoke/").status_code == 405
    assert browser.post(f"/open311/keys/{api_key.pk}/revoke/").status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None and apikeys.authenticate(shown) is None
