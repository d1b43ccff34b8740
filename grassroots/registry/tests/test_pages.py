"""Registry pages through HTTP, persona by persona: in scope 200, outside 404, no edit right 403;
masked everywhere except the audited reveal; life events recorded; care groups only for CARE_ROLES."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from grassroots.audit.models import Action, AuditEntry
from grassroots.conftest import COLLEAGUE_GRID, COMMUNITY, GRID, STREET
from grassroots.registry.choices import CareGroup, EventKind, HouseholdStatus, Relation, ResidentStatus
from grassroots.registry.models import (
    Building,
    CareMembership,
    Household,
    Organisation,
    Resident,
    ResidentEvent,
)

from .conftest import MICROGRID, assert_no_full_values, person_id

pytestmark = pytest.mark.usefixtures("tree")

SEE_HOME = ["grid_worker", "community_staff", "street_staff", "district_staff", "city_admin"]
NOT_HOME = ["colleague", "outsider_community", "outsider_district"]
EDITORS = ["grid_worker", "community_staff", "street_staff"]
READERS = ["district_staff", "city_admin"]


def url(name: str, *args) -> str:
    return reverse(f"registry:{name}", args=args)


def _pages(registry) -> list[str]:
    return [
        url("grid", GRID),
        url("grid", MICROGRID),
        url("building", registry.building.pk),
        url("household", registry.home.pk),
        url("resident", registry.head.pk),
        url("organisations", GRID),
    ]


def _edit_pages(registry) -> list[str]:
    return [
        url("household_create", GRID),
        url("building_create", GRID),
        url("organisation_create", GRID),
        url("household_edit", registry.home.pk),
        url("member_add", registry.home.pk),
        url("household_move_out", registry.home.pk),
        url("resident_edit", registry.head.pk),
        url("resident_leave", registry.head.pk),
        url("resident_transfer", registry.head.pk),
    ]


# --- scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", SEE_HOME)
def test_pages_in_scope_are_200_and_masked(persona, personas, client_as, registry):
    client = client_as(personas[persona])
    for page in _pages(registry):
        response = client.get(page)
        assert response.status_code == 200, page
        assert_no_full_values(response.content.decode(), registry)


@pytest.mark.parametrize("persona", NOT_HOME)
def test_pages_outside_scope_are_404(persona, personas, client_as, registry):
    client = client_as(personas[persona])
    for page in _pages(registry):
        assert client.get(page).status_code == 404, page


@pytest.mark.parametrize("persona", NOT_HOME)
def test_edit_pages_outside_scope_are_404(persona, personas, client_as, registry):
    client = client_as(personas[persona])
    for page in _edit_pages(registry):
        assert client.get(page).status_code == 404, page
        assert client.post(page, {}).status_code == 404, page


@pytest.mark.parametrize("persona", READERS)
def test_edit_pages_without_edit_role_are_403(persona, personas, client_as, registry):
    client = client_as(personas[persona])
    for page in _edit_pages(registry):
        assert client.get(page).status_code == 403, page
        assert client.post(page, {}).status_code == 403, page
    post_only = [url("set_head", registry.home.pk), url("resident_care", registry.head.pk)]
    for page in post_only:
        assert client.post(page, {"resident": registry.spouse.pk, "group": "disabled"}).status_code == 403


@pytest.mark.parametrize("persona", EDITORS)
def test_edit_pages_for_editors(persona, personas, client_as, registry):
    client = client_as(personas[persona])
    for page in _edit_pages(registry):
        response = client.get(page)
        assert response.status_code == 200, page
        assert_no_full_values(response.content.decode(), registry)


def test_anonymous_is_sent_to_login(anonymous, registry):
    response = anonymous.get(url("household", registry.home.pk))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_stale_and_invalid_ids_are_404(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    for page in [
        url("household", 999999),
        url("resident", 999999),
        url("building", 999999),
        url("grid", "x1"),
    ]:
        assert client.get(page).status_code == 404
    assert client.get(url("grid", STREET)).status_code == 404  # above the registry levels
    assert client.post(url("set_head", registry.home.pk), {"resident": "abc"}).status_code == 404
    assert (
        client.post(url("set_head", registry.home.pk), {"resident": registry.colleague_head.pk}).status_code
        == 404
    )


def test_community_page_lists_grids_with_counts(community_staff, grid_worker, client_as, registry):
    response = client_as(community_staff).get(url("grid", COMMUNITY))
    assert response.status_code == 200
    grids = {grid.code: (households, residents) for grid, households, residents in response.context["grids"]}
    assert grids[GRID] == (2, 2)
    assert grids[COLLEAGUE_GRID] == (1, 1)
    assert response.context["totals"] == {"households": 4, "residents": 3}
    assert [h.number for h in response.context["outside_page"]] == ["H-301"]
    assert client_as(grid_worker).get(url("grid", COMMUNITY)).status_code == 404


def test_grid_page_counts_buildings_and_loose_households(
    grid_worker, client_as, registry, django_assert_max_num_queries
):
    client = client_as(grid_worker)
    with django_assert_max_num_queries(20):
        response = client.get(url("grid", GRID))
    assert response.context["totals"] == {"households": 2, "residents": 2, "buildings": 1}
    [building] = response.context["building_page"].object_list
    assert building.household_count == 1
    assert [h.number for h in response.context["loose_page"]] == ["H-002"]
    microgrids = dict((m.code, n) for m, n in response.context["microgrids"])
    assert microgrids[MICROGRID] == 1
    content = response.content.decode()
    assert "1号楼" in content and "H-002" in content


def test_grid_page_query_count_does_not_grow_with_buildings(grid_worker, registrar, client_as, registry):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from grassroots.areas.models import Area
    from grassroots.registry import actions

    client = client_as(grid_worker)
    with CaptureQueriesContext(connection) as before:
        client.get(url("grid", GRID))
    grid = Area.objects.get(code=GRID)
    for n in range(2, 8):
        b = actions.do_create_building(registrar, area=grid, name=f"{n}号楼", address=f"油娄沟路{n}号楼")
        actions.do_create_household(registrar, area=grid, number=f"B-{n}", address="x", building=b)
    with CaptureQueriesContext(connection) as after:
        client.get(url("grid", GRID))
    assert len(after) <= len(before)  # the first request may also save the session


def test_building_partial_for_htmx(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    response = client.get(url("building", registry.building.pk), headers={"HX-Request": "true"})
    content = response.content.decode()
    assert response.status_code == 200 and "<html" not in content
    assert "张伟" in content and "2单元301" in content
    assert_no_full_values(content, registry)
    full = client.get(url("building", registry.building.pk))
    assert "<html" in full.content.decode()
    other_microgrid = client.get(url("building", registry.building.pk) + f"?within={GRID}002")
    assert "张伟" not in other_microgrid.content.decode()


def test_microgrid_worker_sees_the_buildings_of_their_grid(make_user, client_as, registry):
    from grassroots.accounts.choices import Role

    worker = make_user("micro", Role.GRID_WORKER, MICROGRID)
    client = client_as(worker)
    response = client.get(url("grid", MICROGRID))
    assert response.status_code == 200
    assert [b.name for b in response.context["building_page"].object_list] == ["1号楼"]
    assert client.get(url("building", registry.building.pk)).status_code == 200
    assert client.get(url("household", registry.loose.pk)).status_code == 404  # grid level, not theirs


# --- the reveal ----------------------------------------------------------------------------------


def test_reveal_shows_the_full_value_once_and_audits_it(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    response = client.post(
        url("resident_reveal", registry.head.pk),
        {"show": ["id_number", "phone"], "reason": "核对低保申请身份"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert registry.secrets["head_id"] in content and registry.secrets["head_phone"] in content
    assert "no-store" in response["Cache-Control"]
    [entry] = AuditEntry.objects.filter(action=Action.VIEW_FULL)
    assert entry.actor == grid_worker and entry.reason == "核对低保申请身份"
    assert entry.object_id == str(registry.head.pk) and entry.fields == ["id_number", "phone"]
    assert registry.secrets["head_id"] not in str(entry.detail) + entry.reason + entry.object_label
    # The page itself, reloaded, is masked again.
    assert registry.secrets["head_id"] not in client.get(url("resident", registry.head.pk)).content.decode()


@pytest.mark.parametrize("reason", ["", "  ", "ab"])
def test_reveal_without_a_reason_shows_an_error_and_writes_nothing(reason, grid_worker, client_as, registry):
    client = client_as(grid_worker)
    response = client.post(
        url("resident_reveal", registry.head.pk), {"show": ["id_number"], "reason": reason}
    )
    assert response.status_code == 200
    assert response.context["reveal_form"].errors
    assert_no_full_values(response.content.decode(), registry)
    assert not AuditEntry.objects.filter(action=Action.VIEW_FULL).exists()


def test_reveal_is_post_only_and_scoped(grid_worker, colleague, client_as, registry):
    assert client_as(grid_worker).get(url("resident_reveal", registry.head.pk)).status_code == 405
    response = client_as(colleague).post(
        url("resident_reveal", registry.head.pk), {"show": ["id_number"], "reason": "curiosity here"}
    )
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action=Action.VIEW_FULL).exists()


def test_district_staff_may_reveal_with_a_reason(district_staff, client_as, registry):
    response = client_as(district_staff).post(
        url("resident_reveal", registry.head.pk), {"show": ["phone"], "reason": "信访核实联系方式"}
    )
    assert registry.secrets["head_phone"] in response.content.decode()
    assert registry.secrets["head_id"] not in response.content.decode()
    assert AuditEntry.objects.filter(action=Action.VIEW_FULL, actor=district_staff).count() == 1


# --- search --------------------------------------------------------------------------------------


def test_search_by_exact_id_number_within_scope_only(grid_worker, colleague, client_as, registry):
    query = registry.secrets["head_id"]
    response = client_as(grid_worker).post(url("search"), {"q": query})
    assert response.status_code == 200
    assert [r.pk for r in response.context["results"]] == [registry.head.pk]
    assert query not in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    other = client_as(colleague).post(url("search"), {"q": query})
    assert other.context["results"] == []
    assert "Nobody with this ID number" in other.content.decode()
    searches = AuditEntry.objects.filter(action=Action.SEARCH).order_by("id")
    assert [(e.actor, e.detail["matches"], e.fields) for e in searches] == [
        (grid_worker, 1, ["id_number"]),
        (colleague, 0, ["id_number"]),
    ]
    assert all(query not in str(e.detail) for e in searches)


def test_search_by_phone(grid_worker, client_as, registry):
    response = client_as(grid_worker).post(url("search"), {"q": "138 1234 5678"})
    assert [r.pk for r in response.context["results"]] == [registry.head.pk]


def test_search_by_name_redirects_to_a_get_and_paginates(community_staff, client_as, registry):
    client = client_as(community_staff)
    response = client.post(url("search"), {"q": "王"})
    assert response.status_code == 302 and response["Location"] == url("search") + "?q=%E7%8E%8B"
    page = client.get(response["Location"])
    assert [r.name for r in page.context["page"]] == ["王芳"]
    assert_no_full_values(page.content.decode(), registry)
    assert client.get(url("search") + "?q=赵").context["page"].paginator.count == 0  # other community


def test_identity_never_searched_through_a_url(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    response = client.get(url("search") + "?q=" + registry.secrets["head_id"])
    assert response.status_code == 302 and response["Location"] == url("search")
    assert not AuditEntry.objects.filter(action=Action.SEARCH).exists()
    bad = client.post(url("search"), {"q": "12345678"})
    assert "Enter a full 18-character ID number" in bad.content.decode()
    assert "12345678" not in bad.content.decode()


def test_search_empty_state(grid_worker, client_as, registry):
    response = client_as(grid_worker).get(url("search") + "?q=不存在的人")
    assert "Nobody in your area" in response.content.decode()


# --- households ----------------------------------------------------------------------------------


def _head_data(prefix="head", **overrides):
    data = {
        f"{prefix}-name": "孙丽",
        f"{prefix}-id_number": person_id(101, dt.date(1990, 1, 2)),
        f"{prefix}-phone": "13700001234",
        f"{prefix}-ethnicity": "汉族",
        f"{prefix}-registration": "registered",
        f"{prefix}-event": "move_in",
        f"{prefix}-date": "2024-05-01",
    }
    data.update(overrides)
    return data


def test_create_household_with_a_new_building_and_its_head(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    data = {
        "number": "H-900",
        "area": MICROGRID,
        "building": "",
        "new_building_name": "9号楼",
        "new_building_address": "油娄沟路9号楼",
        "room": "1单元101",
        "address": "",
        **_head_data(),
    }
    response = client.post(url("household_create", GRID), data)
    household = Household.objects.get(number="H-900")
    assert response.status_code == 302 and response["Location"] == url("household", household.pk)
    assert household.building.name == "9号楼" and household.address == "油娄沟路9号楼1单元101"
    assert household.head.name == "孙丽" and household.head.relation == Relation.HEAD
    assert household.head.area_id == MICROGRID
    assert ResidentEvent.objects.get(resident=household.head).kind == EventKind.MOVE_IN
    page = client.get(response["Location"])
    assert "孙丽" in page.content.decode() and "13700001234" not in page.content.decode()


def test_create_household_error_keeps_the_input_and_rolls_back(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    data = {
        "number": "H-901",
        "area": MICROGRID,
        "new_building_name": "10号楼",
        "new_building_address": "油娄沟路10号楼",
        "address": "",
        **_head_data(**{"head-id_number": registry.secrets["spouse_id"]}),  # already registered
    }
    response = client.post(url("household_create", GRID), data)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]  # the typed ID number is echoed back into the form
    assert "already registered" in response.content.decode()
    assert response.context["head"].errors["id_number"]
    assert response.context["form"]["number"].value() == "H-901"
    assert not Household.objects.filter(number="H-901").exists()
    assert not Building.objects.filter(name="10号楼").exists()


def test_create_household_checksum_error_is_on_the_field(grid_worker, client_as, registry):
    bad = person_id(7)[:-1] + ("0" if person_id(7)[-1] != "0" else "1")
    response = client_as(grid_worker).post(
        url("household_create", GRID),
        {"number": "H-902", "area": GRID, "address": "x路1号", **_head_data(**{"head-id_number": bad})},
    )
    assert "check character" in str(response.context["head"].errors["id_number"])
    assert not Household.objects.filter(number="H-902").exists()


def test_create_household_outside_the_workers_grid_is_refused(grid_worker, client_as, registry):
    response = client_as(grid_worker).post(
        url("household_create", GRID),
        {"number": "H-903", "area": COLLEAGUE_GRID, "address": "x路1号", **_head_data()},
    )
    assert response.status_code == 200 and response.context["form"].errors["area"]


def test_add_newborn_records_a_birth(grid_worker, client_as, registry):
    born = dt.date.today() - dt.timedelta(days=30)
    response = client_as(grid_worker).post(
        url("member_add", registry.home.pk),
        {
            "name": "张小宝",
            "id_number": person_id(123, born),
            "relation": Relation.GRANDCHILD,
            "ethnicity": "汉族",
            "registration": "registered",
            "event": EventKind.BIRTH,
            "date": "",
        },
    )
    assert response.status_code == 302
    baby = Resident.objects.get(name="张小宝")
    event = ResidentEvent.objects.get(resident=baby)
    assert (event.kind, event.date, event.to_household_id) == (EventKind.BIRTH, born, registry.home.pk)


def test_member_moves_out_and_dies(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    response = client.post(
        url("resident_leave", registry.spouse.pk),
        {"kind": "move_out", "date": "2025-01-05", "note": "去太原"},
    )
    assert response.status_code == 302
    registry.spouse.refresh_from_db()
    assert registry.spouse.status == ResidentStatus.MOVED_OUT
    event = ResidentEvent.objects.get(resident=registry.spouse, kind=EventKind.MOVE_OUT)
    assert (event.kind, event.date, event.from_household_id) == (
        EventKind.MOVE_OUT,
        dt.date(2025, 1, 5),
        registry.home.pk,
    )
    client.post(url("resident_leave", registry.head.pk), {"kind": "death", "date": "2025-02-01"})
    registry.head.refresh_from_db()
    assert registry.head.status == ResidentStatus.DECEASED
    assert ResidentEvent.objects.filter(resident=registry.head, kind=EventKind.DEATH).count() == 1
    again = client.post(url("resident_leave", registry.head.pk), {"kind": "death", "date": "2025-02-01"})
    assert again.status_code == 200 and "no longer lives here" in again.content.decode()


def test_leave_in_the_future_is_refused(grid_worker, client_as, registry):
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    response = client_as(grid_worker).post(
        url("resident_leave", registry.spouse.pk), {"kind": "move_out", "date": future}
    )
    assert response.status_code == 200 and response.context["form"].errors["date"]


def test_transfer_to_another_household_by_number(community_staff, grid_worker, client_as, registry):
    response = client_as(community_staff).post(
        url("resident_transfer", registry.spouse.pk),
        {"household_number": "H-101", "relation": Relation.SPOUSE, "date": "2025-03-01"},
    )
    assert response.status_code == 302
    registry.spouse.refresh_from_db()
    assert registry.spouse.household_id == registry.colleague_home.pk
    assert registry.spouse.area_id == COLLEAGUE_GRID
    event = ResidentEvent.objects.get(resident=registry.spouse, kind=EventKind.TRANSFER)
    assert (event.from_household_id, event.to_household_id) == (registry.home.pk, registry.colleague_home.pk)


def test_transfer_target_outside_scope_is_a_form_error(grid_worker, client_as, registry):
    response = client_as(grid_worker).post(
        url("resident_transfer", registry.spouse.pk),
        {"household_number": "H-101", "relation": Relation.SPOUSE, "date": "2025-03-01"},
    )
    assert response.status_code == 200 and response.context["form"].errors["household_number"]
    registry.spouse.refresh_from_db()
    assert registry.spouse.household_id == registry.home.pk


def test_set_head(grid_worker, client_as, registry):
    response = client_as(grid_worker).post(
        url("set_head", registry.home.pk), {"resident": registry.spouse.pk}
    )
    assert response.status_code == 302
    registry.home.refresh_from_db()
    assert registry.home.head_id == registry.spouse.pk


def test_whole_household_moves_out(grid_worker, client_as, registry):
    response = client_as(grid_worker).post(
        url("household_move_out", registry.home.pk), {"date": "2025-04-01"}
    )
    assert response.status_code == 302
    registry.home.refresh_from_db()
    assert registry.home.status == HouseholdStatus.MOVED_OUT
    assert ResidentEvent.objects.filter(from_household=registry.home, kind=EventKind.MOVE_OUT).count() == 2
    page = client_as(grid_worker).get(url("household", registry.home.pk))
    assert not page.context["can_edit"]
    again = client_as(grid_worker).post(url("household_move_out", registry.home.pk), {"date": "2025-04-02"})
    assert again.status_code == 302
    assert AuditEntry.objects.filter(object_type="registry.household", action=Action.EVENT).count() == 1


def test_place_an_unplaced_household_in_a_grid(community_staff, client_as, registry):
    from grassroots.registry import actions

    actions.do_add_resident(
        community_staff,
        household=registry.unplaced,
        name="周敏",
        id_number=person_id(301),
        relation=Relation.HEAD,
    )
    client = client_as(community_staff)
    form = client.get(url("household_edit", registry.unplaced.pk)).context["form"]
    assert {a.code for a in form.fields["area"].queryset} >= {COMMUNITY, GRID, MICROGRID, COLLEAGUE_GRID}
    response = client.post(
        url("household_edit", registry.unplaced.pk),
        {"area": COLLEAGUE_GRID, "building": "", "room": "", "address": registry.unplaced.address},
    )
    assert response.status_code == 302
    registry.unplaced.refresh_from_db()
    assert registry.unplaced.area_id == COLLEAGUE_GRID
    assert Resident.objects.get(name="周敏").area_id == COLLEAGUE_GRID
    page = client.get(url("household", registry.unplaced.pk))
    assert page.context["changes"][0].fields == ["area"]


def test_household_edit_with_building_of_another_grid_is_an_error(community_staff, client_as, registry):
    response = client_as(community_staff).post(
        url("household_edit", registry.colleague_home.pk),
        {"area": COLLEAGUE_GRID, "building": registry.building.pk, "room": "", "address": "x"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["building"]


def test_building_create(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    response = client.post(
        url("building_create", GRID), {"name": "2号楼", "address": "油娄沟路2号楼", "kind": "residential"}
    )
    assert response.status_code == 302
    assert Building.objects.get(name="2号楼").area_id == GRID
    duplicate = client.post(
        url("building_create", GRID), {"name": "3号楼", "address": "油娄沟路2号楼", "kind": "residential"}
    )
    assert duplicate.status_code == 200 and "exists already" in duplicate.content.decode()


# --- residents and care --------------------------------------------------------------------------


def test_edit_resident_details_keeps_or_changes_the_phone(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    base = {"name": "张伟", "ethnicity": "回族", "registration": "registered"}  # the head keeps "head"
    assert client.post(url("resident_edit", registry.head.pk), {**base, "phone": ""}).status_code == 302
    registry.head.refresh_from_db()
    assert registry.head.ethnicity == "回族" and registry.head.phone_masked == "138****5678"
    client.post(url("resident_edit", registry.head.pk), {**base, "phone": "13900002222"})
    registry.head.refresh_from_db()
    assert registry.head.phone_masked == "139****2222"
    bad = client.post(url("resident_edit", registry.head.pk), {**base, "phone": "12345"})
    assert bad.status_code == 200 and bad.context["form"].errors["phone"]
    assert bad.context["form"]["ethnicity"].value() == "回族"
    assert ResidentEvent.objects.filter(resident=registry.head, kind=EventKind.CHANGE).count() == 2
    spouse_form = client.get(url("resident_edit", registry.spouse.pk)).context["form"]
    assert Relation.HEAD not in dict(spouse_form.fields["relation"].choices)


def test_care_groups_visible_to_care_roles_only(personas, client_as, registry):
    from grassroots.registry import actions

    actions.do_set_care(
        personas["grid_worker"], resident=registry.spouse, group=CareGroup.DISABLED, member=True
    )
    label = "Elderly living alone"
    for persona in ["grid_worker", "community_staff", "street_staff"]:
        client = client_as(personas[persona])
        assert label in client.get(url("household", registry.home.pk)).content.decode()
        resident = client.get(url("resident", registry.spouse.pk))
        assert "Care group added" in resident.content.decode()
    for persona in READERS:
        client = client_as(personas[persona])
        household = client.get(url("household", registry.home.pk)).content.decode()
        assert label not in household and "Care group" not in household
        resident = client.get(url("resident", registry.spouse.pk))
        assert "Disabled" not in resident.content.decode() and "Care group" not in resident.content.decode()
        assert all(
            e.kind not in (EventKind.CARE_ADDED, EventKind.CARE_REMOVED) for e in resident.context["events"]
        )


def test_add_and_remove_a_care_group(grid_worker, client_as, registry):
    client = client_as(grid_worker)
    response = client.post(
        url("resident_care", registry.spouse.pk), {"group": "empty_nest", "member": "1", "note": "子女在外"}
    )
    assert response.status_code == 302
    assert CareMembership.objects.filter(resident=registry.spouse, group="empty_nest").exists()
    client.post(url("resident_care", registry.spouse.pk), {"group": "empty_nest", "member": "0"})
    assert not CareMembership.objects.filter(resident=registry.spouse).exists()
    kinds = list(ResidentEvent.objects.filter(resident=registry.spouse).values_list("kind", flat=True))
    assert EventKind.CARE_ADDED in kinds and EventKind.CARE_REMOVED in kinds


def test_forms_carry_csrf_tokens(grid_worker, registry):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(grid_worker)
    assert (
        client.post(
            url("resident_reveal", registry.head.pk), {"show": ["id_number"], "reason": "核对身份"}
        ).status_code
        == 403
    )
    page = client.get(url("resident", registry.head.pk)).content.decode()
    assert "csrfmiddlewaretoken" in page


# --- organisations -------------------------------------------------------------------------------


def test_organisations_create_list_edit(grid_worker, colleague, district_staff, client_as, registry):
    client = client_as(grid_worker)
    data = {
        "name": "油娄沟便民超市",
        "kind": "shop",
        "credit_code": "91140302MA0K12345X",
        "address": "油娄沟路5号",
        "contact_name": "刘强",
        "contact_phone": "13611112222",
        "employees": "4",
    }
    assert client.post(url("organisation_create", GRID), data).status_code == 302
    organisation = Organisation.objects.get()
    assert organisation.contact_phone_masked == "136****2222" and organisation.area_id == GRID
    listing = client.get(url("organisations", GRID)).content.decode()
    assert "油娄沟便民超市" in listing and "13611112222" not in listing
    edit = client.post(
        url("organisation_edit", organisation.pk), {**data, "contact_phone": "", "name": "便民超市"}
    )
    assert edit.status_code == 302
    organisation.refresh_from_db()
    assert organisation.name == "便民超市" and organisation.contact_phone_masked == "136****2222"
    duplicate = client.post(url("organisation_create", GRID), {**data, "name": "另一家"})
    assert duplicate.status_code == 200 and duplicate.context["form"].errors["credit_code"]
    assert client_as(colleague).get(url("organisation_edit", organisation.pk)).status_code == 404
    assert client_as(district_staff).get(url("organisation_edit", organisation.pk)).status_code == 403
    assert client_as(district_staff).get(url("organisations", GRID)).status_code == 200
    assert AuditEntry.objects.filter(object_type="registry.organisation").count() == 2


def test_index_redirects_to_the_users_area(grid_worker, city_admin, client_as):
    assert client_as(grid_worker).get(url("index"))["Location"] == url("grid", GRID)
    assert client_as(city_admin).get(url("index"))["Location"] == url("search")
