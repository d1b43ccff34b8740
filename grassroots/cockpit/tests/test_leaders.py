"""领导包联·包案: places assigned by a higher level's administrator, visits logged by the leader, the
cases and disputes a leader took, and who may see a leader's page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from grassroots.areas.models import Area
from grassroots.audit.models import AuditEntry
from grassroots.cases import actions as case_actions
from grassroots.cockpit import leaders
from grassroots.cockpit.models import LeaderContact, Visit
from grassroots.conftest import (
    COMMUNITY,
    GRID,
    OTHER_COMMUNITY,
    OTHER_STREET,
    SIBLING_COMMUNITY,
    STREET,
)
from grassroots.disputes.models import Dispute

pytestmark = pytest.mark.usefixtures("tree")


def area(code: str) -> Area:
    return Area.objects.get(code=code)


def test_a_higher_administrator_assigns_places(personas):
    city, district, street = personas["city_admin"], personas["district_staff"], personas["street_staff"]
    contact = leaders.do_assign_contact(city, leader=district, area=area(STREET), note="包联上站街道")
    assert contact.leader == district and contact.area_id == STREET
    leaders.do_assign_contact(district, leader=street, area=area(COMMUNITY))
    entry = AuditEntry.objects.filter(object_type="cockpit.leadercontact").latest("at")
    assert entry.action == "create" and entry.area_code == COMMUNITY and entry.actor == district
    with pytest.raises(ValidationError):  # twice
        leaders.do_assign_contact(district, leader=street, area=area(COMMUNITY))
    with pytest.raises(PermissionDenied):  # not above the leader
        leaders.do_assign_contact(street, leader=district, area=area(STREET))
    with pytest.raises(PermissionDenied):  # oneself
        leaders.do_assign_contact(district, leader=district, area=area(STREET))
    with pytest.raises(ValidationError):  # outside the leader's node
        leaders.do_assign_contact(city, leader=district, area=area(OTHER_STREET))
    with pytest.raises(ValidationError):  # the leader's own node is not "a place below"
        leaders.do_assign_contact(city, leader=street, area=area(STREET))
    with pytest.raises(ValidationError):  # grids are not contact places
        leaders.do_assign_contact(district, leader=street, area=area(GRID))
    with pytest.raises(ValidationError):  # only leaders answer for places
        leaders.do_assign_contact(city, leader=personas["community_staff"], area=area(GRID))


def test_a_leader_logs_visits(personas):
    street = personas["street_staff"]
    visit = leaders.do_log_visit(street, area=area(COMMUNITY), note="走访油娄沟社区，查看矛盾纠纷台账")
    assert visit.leader == street and visit.area_id == COMMUNITY
    assert AuditEntry.objects.filter(object_type="cockpit.visit", object_id=str(visit.pk)).exists()
    with pytest.raises(PermissionDenied):
        leaders.do_log_visit(street, area=area(OTHER_COMMUNITY), note="越界")
    with pytest.raises(ValidationError):
        leaders.do_log_visit(
            street, area=area(COMMUNITY), note="明天", at=timezone.now() + dt.timedelta(days=1)
        )
    with pytest.raises(ValidationError):
        leaders.do_log_visit(street, area=area(COMMUNITY), note="  ")
    with pytest.raises(PermissionDenied):
        leaders.do_log_visit(personas["community_staff"], area=area(COMMUNITY), note="不是领导")


def test_who_sees_which_leaders(personas):
    def seen(viewer):
        return set(leaders.leaders_visible_to(viewer).values_list("username", flat=True))

    assert seen(personas["city_admin"]) == {"city_admin", "chengqu", "shangzhan"}
    assert seen(personas["district_staff"]) == {"chengqu", "shangzhan"}
    assert seen(personas["street_staff"]) == {"shangzhan"}
    assert seen(personas["community_staff"]) == set()


@pytest.fixture
def busy_leader(world, personas):
    """The street leader: answers for 油娄沟社区, took a case and a dispute, visited twice."""
    street, district = personas["street_staff"], personas["district_staff"]
    leaders.do_assign_contact(district, leader=street, area=area(COMMUNITY), note="重点社区")
    leaders.do_assign_contact(district, leader=street, area=area(SIBLING_COMMUNITY))
    case_actions.do_take_case(street, world.cases["C4"], note="包案")
    # disputes.actions.do_take passes a set to in_scope(), which caches by roles and needs a frozenset:
    # TypeError (reported). What it would write:
    Dispute.objects.filter(pk=world.disputes["D1"].pk).update(leader=street)
    leaders.do_log_visit(
        street, area=area(COMMUNITY), note="第一次走访", at=timezone.now() - dt.timedelta(days=3)
    )
    leaders.do_log_visit(street, area=area(SIBLING_COMMUNITY), note="第二次走访")
    return street


def test_the_leader_page(refreshed, busy_leader, personas, client_as):
    url = f"/cockpit/leaders/{busy_leader.pk}/"
    page = client_as(personas["district_staff"]).get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "油娄沟社区" in html and "重点社区" in html and "窑坡社区" in html
    assert world_case_number(busy_leader) in html  # the case taken personally
    assert "第一次走访" in html and "第二次走访" in html
    assert f'action="/cockpit/leaders/{busy_leader.pk}/contacts/"' in html  # the district assigns
    assert f'action="/cockpit/leaders/{busy_leader.pk}/visits/"' not in html  # only the leader logs
    own = client_as(busy_leader).get(url).content.decode()
    assert f'action="/cockpit/leaders/{busy_leader.pk}/visits/"' in own
    assert f'action="/cockpit/leaders/{busy_leader.pk}/contacts/"' not in own
    for persona in ("community_staff", "outsider_district", "grid_worker"):
        assert client_as(personas[persona]).get(url).status_code == 404, persona
    listing = client_as(personas["district_staff"]).get("/cockpit/leaders/").content.decode()
    row = listing.split(f"/cockpit/leaders/{busy_leader.pk}/")[1].split("</tr>")[0]
    assert [int(v) for v in __import__("re").findall(r'data-value="(\d+)"', row)] == [2, 1, 1, 1, 2]


def world_case_number(leader) -> str:
    from grassroots.cases.models import Case

    return Case.objects.get(leader=leader).number


def test_logging_a_visit_through_the_page(busy_leader, personas, client_as):
    url = f"/cockpit/leaders/{busy_leader.pk}/visits/"
    at = timezone.localtime().replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    data = {"area": COMMUNITY, "at": at.strftime("%Y-%m-%dT%H:%M"), "note": "检查网格员工作"}
    assert client_as(personas["district_staff"]).post(url, data).status_code == 403
    response = client_as(busy_leader).post(url, data)
    assert response.status_code == 302
    assert Visit.objects.filter(leader=busy_leader, note="检查网格员工作", at=at).exists()
    bad = client_as(busy_leader).post(url, {**data, "area": OTHER_COMMUNITY})
    assert bad.status_code == 422  # not one of the leader's places


def test_assigning_and_removing_through_the_page(personas, client_as):
    street = personas["street_staff"]
    url = f"/cockpit/leaders/{street.pk}/contacts/"
    assert client_as(street).post(url, {"area": COMMUNITY}).status_code == 403
    response = client_as(personas["district_staff"]).post(url, {"area": COMMUNITY, "note": "联系点"})
    assert response.status_code == 302
    contact = LeaderContact.objects.get(leader=street, area_id=COMMUNITY)
    remove = f"/cockpit/leaders/contacts/{contact.pk}/remove/"
    assert client_as(personas["outsider_district"]).post(remove).status_code == 404
    assert client_as(street).post(remove).status_code == 403
    assert client_as(personas["community_staff"]).post(remove).status_code == 403  # sees it, may not
    assert client_as(personas["district_staff"]).post(remove).status_code == 302
    assert not LeaderContact.objects.filter(pk=contact.pk).exists()
    entry = AuditEntry.objects.get(object_type="cockpit.leadercontact", action="delete")
    assert entry.actor == personas["district_staff"] and entry.area_code == COMMUNITY


def test_the_api_gives_a_leaders_page(refreshed, busy_leader, personas, api_as):
    body = api_as(personas["district_staff"]).get(f"/api/v1/cockpit/leaders/{busy_leader.pk}").json()
    assert body["username"] == "shangzhan" and body["nodes"] == [STREET]
    assert [p["code"] for p in body["places"]] == [COMMUNITY, SIBLING_COMMUNITY]
    assert body["places"][0]["values"]["cases.open"] == 2  # live figures of the place
    assert body["places"][0]["values"]["cases.on_time_rate"] == pytest.approx(0.75)
    assert [c["number"] for c in body["cases"]] == [world_case_number(busy_leader)]
    assert len(body["disputes"]) == 1 and len(body["visits"]) == 2
    assert (
        api_as(personas["community_staff"]).get(f"/api/v1/cockpit/leaders/{busy_leader.pk}").status_code
        == 404
    )
