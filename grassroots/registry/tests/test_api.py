"""The registry API, persona by persona: scoped (outside 404), masked, paginated; reveal audited;
writes through the actions with 422 for invalid input and 403 for a role that may not edit."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from grassroots.audit.models import Action, AuditEntry
from grassroots.conftest import COLLEAGUE_GRID, GRID, OTHER_COMMUNITY
from grassroots.registry import actions
from grassroots.registry.choices import CareGroup, EventKind, Relation, ResidentStatus
from grassroots.registry.models import Household, Organisation, Resident, ResidentEvent
from grassroots.registry.protect import organisation_phone_fields

from .conftest import MICROGRID, assert_no_full_values, person_id

pytestmark = pytest.mark.usefixtures("tree")

API = "/api/v1/registry"
SEE_HOME = ["grid_worker", "community_staff", "street_staff", "district_staff", "city_admin"]
NOT_HOME = ["colleague", "outsider_community", "outsider_district"]


def post(client, path: str, payload: dict):
    return client.post(API + path, json.dumps(payload), content_type="application/json")


def _reads(registry) -> list[str]:
    return [
        f"/households/{registry.home.pk}",
        f"/residents/{registry.head.pk}",
        f"/buildings?within={GRID}",
        f"/households?within={GRID}",
        f"/residents?within={MICROGRID}",
        f"/organisations?within={GRID}",
    ]


@pytest.mark.parametrize("persona", SEE_HOME)
def test_reads_in_scope_are_200_and_masked(persona, personas, api_as, registry):
    client = api_as(personas[persona])
    for path in _reads(registry):
        response = client.get(API + path)
        assert response.status_code == 200, path
        assert_no_full_values(response.content.decode(), registry)
        for key in ("_enc", "_hash"):
            assert key not in response.content.decode()


@pytest.mark.parametrize("persona", NOT_HOME)
def test_reads_outside_scope_are_404(persona, personas, api_as, registry):
    client = api_as(personas[persona])
    for path in _reads(registry):
        assert client.get(API + path).status_code == 404, path


def test_lists_are_scoped_and_paginated(grid_worker, colleague, community_staff, api_as, registry):
    numbers = [h["number"] for h in api_as(grid_worker).get(API + "/households").json()["items"]]
    assert numbers == ["H-002", "H-001"]  # grid before micro-grid by area code
    assert [h["number"] for h in api_as(colleague).get(API + "/households").json()["items"]] == ["H-101"]
    body = api_as(community_staff).get(API + "/households?limit=2&offset=0").json()
    assert body["count"] == 4 and len(body["items"]) == 2
    names = [r["name"] for r in api_as(community_staff).get(API + "/residents").json()["items"]]
    assert sorted(names) == sorted(["张伟", "李娜", "王芳"])


def test_household_detail_has_masked_members(grid_worker, api_as, registry):
    body = api_as(grid_worker).get(f"{API}/households/{registry.home.pk}").json()
    assert body["number"] == "H-001" and body["head_name"] == "张伟" and body["size"] == 2
    assert body["area_code"] == MICROGRID and body["building_name"] == "1号楼"
    head = next(m for m in body["members"] if m["name"] == "张伟")
    assert (
        head["id_number_masked"]
        == registry.secrets["head_id"][:4] + "*" * 10 + registry.secrets["head_id"][-4:]
    )
    assert head["phone_masked"] == "138****5678"
    assert set(head) >= {"gender", "age", "relation", "registration", "status"}


def test_buildings_count_households(grid_worker, api_as, registry):
    [building] = api_as(grid_worker).get(f"{API}/buildings?within={GRID}").json()["items"]
    assert (building["name"], building["households"], building["area_code"]) == ("1号楼", 1, GRID)


def test_resident_filters(community_staff, api_as, registry):
    client = api_as(community_staff)
    assert [r["name"] for r in client.get(API + "/residents?name=张").json()["items"]] == ["张伟"]
    floating = client.get(API + "/residents?registration=floating").json()
    assert floating["count"] == 0
    actions.do_resident_leaves(community_staff, resident=registry.spouse, kind=EventKind.MOVE_OUT)
    moved = client.get(API + "/residents?status=moved_out").json()["items"]
    assert [r["name"] for r in moved] == ["李娜"]
    assert client.get(API + "/residents?status=nonsense").status_code == 422


def test_name_filter_refuses_identity_values(grid_worker, api_as, registry):
    response = api_as(grid_worker).get(API + "/residents?name=" + registry.secrets["head_id"])
    assert response.status_code == 422


def test_within_outside_scope_is_404(grid_worker, api_as, registry):
    client = api_as(grid_worker)
    for path in ["/households", "/residents", "/buildings", "/organisations"]:
        assert client.get(f"{API}{path}?within={COLLEAGUE_GRID}").status_code == 404
        assert client.get(f"{API}{path}?within=abc").status_code == 404


def test_care_groups_only_for_care_roles(personas, api_as, registry):
    for persona in ["grid_worker", "community_staff", "street_staff"]:
        body = api_as(personas[persona]).get(f"{API}/residents/{registry.head.pk}").json()
        assert [c["group"] for c in body["care_groups"]] == [CareGroup.ELDERLY_ALONE]
    actions.do_set_care(
        personas["grid_worker"], resident=registry.head, group=CareGroup.DISABLED, member=True
    )
    for persona in ["district_staff", "city_admin"]:
        body = api_as(personas[persona]).get(f"{API}/residents/{registry.head.pk}").json()
        assert body["care_groups"] is None
        assert all(e["kind"] not in ("care_added", "care_removed") for e in body["events"])
        assert "disabled" not in json.dumps(body)


# --- reveal and identity search ------------------------------------------------------------------


def test_reveal_returns_the_value_and_writes_one_audit_entry(grid_worker, api_as, registry):
    response = post(
        api_as(grid_worker),
        f"/residents/{registry.head.pk}/reveal",
        {"fields": ["id_number"], "reason": "核对身份"},
    )
    assert response.status_code == 200
    assert response.json() == {"id_number": registry.secrets["head_id"], "phone": None}
    assert "no-store" in response["Cache-Control"]
    [entry] = AuditEntry.objects.filter(action=Action.VIEW_FULL)
    assert (entry.actor, entry.reason, entry.fields) == (grid_worker, "核对身份", ["id_number"])


@pytest.mark.parametrize(
    "payload", [{"fields": ["phone"], "reason": ""}, {"fields": ["phone"], "reason": "x"}]
)
def test_reveal_without_reason_is_422_and_not_audited(payload, grid_worker, api_as, registry):
    response = post(api_as(grid_worker), f"/residents/{registry.head.pk}/reveal", payload)
    assert response.status_code == 422
    assert "reason" in response.json()["detail"] or "why" in response.json()["detail"]
    assert not AuditEntry.objects.filter(action=Action.VIEW_FULL).exists()


def test_reveal_of_unknown_fields_or_out_of_scope(grid_worker, colleague, api_as, registry):
    bad = post(
        api_as(grid_worker),
        f"/residents/{registry.head.pk}/reveal",
        {"fields": ["name"], "reason": "核对身份"},
    )
    assert bad.status_code == 422
    outside = post(
        api_as(colleague),
        f"/residents/{registry.head.pk}/reveal",
        {"fields": ["phone"], "reason": "核对身份"},
    )
    assert outside.status_code == 404
    assert not AuditEntry.objects.filter(action=Action.VIEW_FULL).exists()


def test_search_by_id_number_and_phone_is_scoped(grid_worker, colleague, api_as, registry):
    found = post(api_as(grid_worker), "/residents/search", {"query": registry.secrets["head_id"]})
    assert found.status_code == 200 and [r["id"] for r in found.json()] == [registry.head.pk]
    assert_no_full_values(found.content.decode(), registry)
    by_phone = post(api_as(colleague), "/residents/search", {"query": registry.secrets["colleague_phone"]})
    assert [r["name"] for r in by_phone.json()] == ["王芳"]
    assert post(api_as(colleague), "/residents/search", {"query": registry.secrets["head_id"]}).json() == []
    assert post(api_as(grid_worker), "/residents/search", {"query": "张伟"}).status_code == 422
    assert AuditEntry.objects.filter(action=Action.SEARCH).count() == 3


# --- writing -------------------------------------------------------------------------------------


def _head(**overrides) -> dict:
    return {"name": "孙丽", "id_number": person_id(501, dt.date(1988, 9, 9)), "event": "move_in", **overrides}


def test_create_household_with_head(grid_worker, api_as, registry):
    response = post(
        api_as(grid_worker),
        "/households",
        {"area": MICROGRID, "number": "H-777", "address": "油娄沟路7号", "building_id": registry.building.pk,
         "head": _head(phone="13700007777")},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["head_name"] == "孙丽" and body["members"][0]["phone_masked"] == "137****7777"
    assert "13700007777" not in response.content.decode()
    head = Resident.objects.get(name="孙丽")
    assert ResidentEvent.objects.get(resident=head).kind == EventKind.MOVE_IN


def test_create_household_errors(grid_worker, colleague, district_staff, api_as, registry):
    payload = {"area": GRID, "number": "H-001", "address": "x", "head": _head()}
    taken = post(api_as(grid_worker), "/households", payload)
    assert taken.status_code == 422 and "H-001" in taken.json()["detail"]
    bad_id = post(
        api_as(grid_worker), "/households", {**payload, "number": "H-778", "head": _head(id_number="1403")}
    )
    assert bad_id.status_code == 422 and "18 characters" in bad_id.json()["detail"]
    assert not Household.objects.filter(number="H-778").exists()  # rolled back with its head
    assert post(api_as(colleague), "/households", {**payload, "number": "H-779"}).status_code == 404
    assert post(api_as(district_staff), "/households", {**payload, "number": "H-780"}).status_code == 403
    other = post(api_as(grid_worker), "/households", {**payload, "area": OTHER_COMMUNITY, "number": "H-781"})
    assert other.status_code == 404
    building_elsewhere = post(
        api_as(colleague), "/households",
        {**payload, "area": COLLEAGUE_GRID, "number": "H-782", "building_id": registry.building.pk},
    )  # fmt: skip
    assert building_elsewhere.status_code == 422


def test_add_member_newborn_records_birth(grid_worker, api_as, registry):
    born = dt.date.today() - dt.timedelta(days=10)
    response = post(
        api_as(grid_worker),
        f"/households/{registry.home.pk}/members",
        {
            "name": "张小宝",
            "id_number": person_id(601, born),
            "relation": Relation.GRANDCHILD,
            "event": "birth",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["age"] == 0 and [e["kind"] for e in body["events"]] == ["birth"]
    assert body["events"][0]["date"] == born.isoformat()


def test_add_member_validation_and_rights(grid_worker, district_staff, colleague, api_as, registry):
    payload = {"name": "某人", "id_number": registry.secrets["colleague_id"], "relation": "child"}
    duplicate = post(api_as(grid_worker), f"/households/{registry.home.pk}/members", payload)
    assert duplicate.status_code == 422 and "already registered" in duplicate.json()["detail"]
    assert registry.secrets["colleague_id"] not in duplicate.content.decode()
    assert post(api_as(district_staff), f"/households/{registry.home.pk}/members", payload).status_code == 403
    assert post(api_as(colleague), f"/households/{registry.home.pk}/members", payload).status_code == 404
    bad_relation = post(
        api_as(grid_worker), f"/households/{registry.home.pk}/members", {**payload, "relation": "x"}
    )
    assert bad_relation.status_code == 422


def test_leave_death_and_move_out(grid_worker, district_staff, api_as, registry):
    client = api_as(grid_worker)
    response = post(client, f"/residents/{registry.head.pk}/leave", {"kind": "death", "date": "2025-06-01"})
    assert response.status_code == 200 and response.json()["status"] == ResidentStatus.DECEASED
    assert ResidentEvent.objects.get(resident=registry.head, kind=EventKind.DEATH).date == dt.date(2025, 6, 1)
    registry.home.refresh_from_db()
    assert registry.home.head_id is None
    again = post(client, f"/residents/{registry.head.pk}/leave", {"kind": "move_out"})
    assert again.status_code == 422
    assert (
        post(
            api_as(district_staff), f"/residents/{registry.spouse.pk}/leave", {"kind": "move_out"}
        ).status_code
        == 403
    )
    assert post(client, f"/residents/{registry.spouse.pk}/leave", {"kind": "vanished"}).status_code == 422
    before_birth = post(
        client, f"/residents/{registry.spouse.pk}/leave", {"kind": "move_out", "date": "1900-01-01"}
    )
    assert before_birth.status_code == 422 and "birth" in before_birth.json()["detail"]


def test_organisations_are_masked(grid_worker, api_as, registry):
    Organisation.objects.create(
        area_id=GRID,
        name="便民超市",
        kind="shop",
        address="油娄沟路5号",
        **organisation_phone_fields("13611112222"),
    )
    body = api_as(grid_worker).get(f"{API}/organisations?within={GRID}").json()
    assert [o["contact_phone_masked"] for o in body["items"]] == ["136****2222"]
    assert "13611112222" not in json.dumps(body)


def test_openapi_documents_the_registry_without_protected_columns(city_admin, client_as):
    from grassroots.api import api

    paths = [p for p in api.get_openapi_schema()["paths"] if p.startswith(API)]
    expected = [
        "/buildings",
        "/households",
        "/households/{household_id}",
        "/households/{household_id}/members",
        "/residents",
        "/residents/{resident_id}",
        "/residents/{resident_id}/reveal",
        "/residents/{resident_id}/leave",
        "/residents/search",
        "/organisations",
    ]
    assert sorted(paths) == sorted(API + path for path in expected)
    schema = api.get_openapi_schema()
    registry_schemas = {
        name: body for name, body in schema["components"]["schemas"].items() if name.endswith(("Out", "In"))
    }
    for name, body in registry_schemas.items():
        for field_name in body.get("properties", {}):
            assert not field_name.endswith(("_enc", "_hash")), (name, field_name)
