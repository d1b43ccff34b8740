"""The staff JSON API for cases: scoped, with transitions and their errors as HTTP statuses."""

from __future__ import annotations

import pytest

from grassroots.accounts.choices import Role
from grassroots.accounts.models import ApiToken
from grassroots.cases.models import Case, Category, CategoryAttribute, Unit
from grassroots.conftest import COMMUNITY, GRID, OTHER_COMMUNITY, STREET


@pytest.fixture
def world(make_user):
    category = Category.objects.create(code="lamp", name="路灯损坏", group="道路设施")
    CategoryAttribute.objects.create(
        category=category, code="pole", datatype="string", description="路灯编号", required=True
    )
    unit = Unit.objects.create(name="油娄沟社区处置组", area_id=COMMUNITY)
    people = {
        "gw": make_user("gw", Role.GRID_WORKER, GRID),
        "cs": make_user("cs", Role.COMMUNITY_STAFF, COMMUNITY),
        "cs2": make_user("cs2", Role.COMMUNITY_STAFF, COMMUNITY),
        "st": make_user("st", Role.STREET_STAFF, STREET),
        "out": make_user("out", Role.COMMUNITY_STAFF, OTHER_COMMUNITY),
    }
    return {"category": category, "unit": unit, **people}


def bearer(user) -> dict:
    _, key = ApiToken.issue(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post(client, user, path, data):
    return client.post(path, data, content_type="application/json", **bearer(user))


def new_case(client, world) -> dict:
    response = post(
        client,
        world["gw"],
        "/api/v1/cases",
        {
            "category": "lamp",
            "place": GRID,
            "title": "路灯不亮",
            "description": "门口路灯",
            "attributes": {"pole": "L-12"},
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_report_validation_errors_are_422_and_write_nothing(client, world):
    bad = post(
        client,
        world["gw"],
        "/api/v1/cases",
        {"category": "lamp", "place": GRID, "title": "x", "description": "y", "attributes": {}},
    )
    assert bad.status_code == 422 and "路灯编号" in bad.json()["detail"]
    unknown = post(
        client,
        world["gw"],
        "/api/v1/cases",
        {"category": "nope", "place": GRID, "title": "x", "description": "y"},
    )
    assert unknown.status_code == 422
    outside = post(
        client,
        world["gw"],
        "/api/v1/cases",
        {"category": "lamp", "place": OTHER_COMMUNITY, "title": "x", "description": "y"},
    )
    assert outside.status_code == 404
    far = post(
        client,
        world["gw"],
        "/api/v1/cases",
        {
            "category": "lamp",
            "place": GRID,
            "title": "x",
            "description": "y",
            "lat": 31.2,
            "lng": 121.5,
            "attributes": {"pole": "1"},
        },
    )
    assert far.status_code == 422 and far.json()["detail"]
    assert Case.objects.count() == 0


def test_lifecycle_over_the_api(client, world):
    case = new_case(client, world)
    number = case["number"]
    assert (
        case["status"] == "reported"
        and case["holder"] == COMMUNITY
        and case["actions"] == ["resolve_on_spot"]
    )
    detail = client.get(f"/api/v1/cases/{number}", **bearer(world["cs"])).json()
    assert set(detail["actions"]) >= {"accept", "reject", "escalate"}

    def move(user, action, version, **extra):
        return post(
            client,
            user,
            f"/api/v1/cases/{number}/transitions",
            {"action": action, "version": version, **extra},
        )

    assert move(world["out"], "accept", 0).status_code == 404
    assert move(world["gw"], "accept", 0).status_code == 403
    accepted = move(world["cs"], "accept", 0)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert move(world["cs2"], "reject", 0, note="stale").status_code == 409
    assert move(world["cs"], "escalate", 1).status_code == 422  # a reason is required
    handled = move(world["cs"], "handle", 1)
    resolved = move(world["cs"], "resolve", handled.json()["version"], note="换了灯泡")
    assert resolved.json()["status"] == "resolved"
    assert move(world["cs"], "verify", resolved.json()["version"]).status_code == 403
    verified = move(world["cs2"], "verify", resolved.json()["version"])
    closed = move(world["cs2"], "close", verified.json()["version"], satisfaction=5)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert [e["action"] for e in closed.json()["events"]] == [
        "report",
        "accept",
        "handle",
        "resolve",
        "verify",
        "close",
    ]


def test_lists_are_scoped_and_metrics_add_up(client, world):
    new_case(client, world)
    new_case(client, world)
    mine = client.get("/api/v1/cases", **bearer(world["st"])).json()
    assert mine["count"] == 2
    assert client.get("/api/v1/cases", **bearer(world["out"])).json()["count"] == 0
    assert client.get(f"/api/v1/cases?within={OTHER_COMMUNITY}", **bearer(world["st"])).status_code == 404
    figures = client.get(f"/api/v1/cases/metrics/{STREET}", **bearer(world["st"])).json()
    assert figures["node"]["volume"] == 2
    assert sum(row["volume"] for row in figures["children"]) == 2
    assert client.get(f"/api/v1/cases/metrics/{STREET}", **bearer(world["out"])).status_code == 404
    inbox = client.get("/api/v1/cases/inbox", **bearer(world["cs"])).json()
    assert inbox["count"] == 2 and inbox["items"][0]["kind"] == "assigned"
    assert client.get("/api/v1/cases").status_code == 401


def test_categories_are_listed_with_their_fields(client, world):
    data = client.get("/api/v1/cases/categories", **bearer(world["gw"])).json()
    assert data[0]["code"] == "lamp" and data[0]["attributes"][0]["code"] == "pole"


def test_dispatch_needs_a_serving_unit(client, world):
    number = new_case(client, world)["number"]
    other_unit = Unit.objects.create(name="别处", area_id=OTHER_COMMUNITY)
    post(client, world["cs"], f"/api/v1/cases/{number}/transitions", {"action": "accept", "version": 0})
    refused = post(
        client,
        world["cs"],
        f"/api/v1/cases/{number}/transitions",
        {"action": "dispatch", "version": 1, "unit": other_unit.pk},
    )
    assert refused.status_code == 422
    done = post(
        client,
        world["cs"],
        f"/api/v1/cases/{number}/transitions",
        {"action": "dispatch", "version": 1, "unit": world["unit"].pk},
    )
    assert done.json()["status"] == "dispatched" and done.json()["unit"] == "油娄沟社区处置组"
