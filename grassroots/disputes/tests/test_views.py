"""The dispute pages through HTTP: the desk, recording, the dispute page and its actions, the colour
board, the rules and the stations — with the personas of the confidentiality rule."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from grassroots.conftest import CITY, COMMUNITY, DISTRICT, GRID, OTHER_COMMUNITY, STREET
from grassroots.disputes import actions
from grassroots.disputes.grading import DEFAULT_RULES
from grassroots.disputes.models import Dispute, Referral, RuleSet, Station
from grassroots.registry.choices import Relation
from grassroots.registry.idnumber import make_id_number
from grassroots.registry.models import Resident
from grassroots.registry.protect import seal_id_number

from .conftest import PHONE


def html(response) -> str:
    return response.content.decode()


# --- the desk -----------------------------------------------------------------------------------------


def test_the_desk_lists_red_first_then_late_follow_ups(people, record, client_as):
    blue = record(inputs={"alcohol": True}, title="蓝色纠纷")
    red = record(inputs={"weapons": True}, title="红色纠纷")
    yellow_on_time = record(inputs={"police_calls": 4}, title="黄色按时")
    yellow_late = record(inputs={"police_calls": 4}, title="黄色逾期")
    Dispute.objects.filter(pk=yellow_late.pk).update(next_follow_up=timezone.now() - dt.timedelta(hours=2))
    settled = record(title="已经和解")
    actions.do_settle(people["community"], settled, note="和解")

    page = html(client_as(people["community"]).get("/disputes/"))
    order = [page.index(d.title) for d in (red, yellow_late, yellow_on_time, blue)]
    assert order == sorted(order)
    assert settled.title not in page  # active only by default
    assert 'class="badge late"' in page


def test_the_desk_filters_are_allow_listed(people, record, client_as):
    record(inputs={"weapons": True}, title="红色纠纷")
    record(title="绿色纠纷", type="neighbours")
    client = client_as(people["street"])
    assert "绿色纠纷" not in html(client.get("/disputes/?colour=red"))
    assert "红色纠纷" not in html(client.get("/disputes/?type=neighbours"))
    late = html(client.get("/disputes/?late=1"))
    assert "红色纠纷" not in late and "绿色纠纷" not in late
    # unknown names and values are ignored, not errors
    page = client.get("/disputes/?colour=purple&order_by=password&status=nope")
    assert page.status_code == 200 and "红色纠纷" in html(page) and "绿色纠纷" in html(page)
    assert "绿色纠纷" in html(client.get("/disputes/?status=all"))


def test_a_mediator_sees_only_assigned_disputes(people, record, client_as):
    mine = record(title="派给我的")
    record(title="别人的")
    actions.do_assign(people["community"], mine, mediator=people["mediator"])
    page = html(client_as(people["mediator"]).get("/disputes/"))
    assert "派给我的" in page and "别人的" not in page
    assert "别人的" not in html(client_as(people["mediator2"]).get("/disputes/"))


# --- recording ----------------------------------------------------------------------------------------


def form_data(**changes) -> dict:
    data = {
        "type": "family",
        "title": "婆媳矛盾",
        "description": "婆媳因赡养问题长期不和。",
        "place": GRID,
        "source": "walk_in",
        "case_number": "",
        "parties-TOTAL_FORMS": "2",
        "parties-INITIAL_FORMS": "0",
        "parties-MIN_NUM_FORMS": "2",
        "parties-MAX_NUM_FORMS": "8",
        "parties-0-role": "applicant",
        "parties-0-name": "刘芳",
        "parties-0-phone": PHONE,
        "parties-1-role": "respondent",
        "parties-1-name": "刘母",
        "parties-1-phone": "",
        "ind-ind_violence": "on",
        "ind-ind_children": "on",
        "ind-ind_police_calls": "2",
        "ind-ind_people": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_record_shows_the_indicators_of_the_rules_in_force(people, client_as):
    page = html(client_as(people["grid"]).get("/disputes/new/"))
    for item in DEFAULT_RULES["indicators"]:
        assert item["label"] in page and item["label_en"] in page
    assert 'type="checkbox" name="ind-ind_violence"' in page
    assert 'type="number" name="ind-ind_police_calls"' in page
    assert f'value="{GRID}" selected' in page  # the grid worker's only place


def test_record_grades_and_shows_the_colour_and_the_explanation(people, client_as):
    client = client_as(people["grid"])
    response = client.post("/disputes/new/", form_data())
    dispute = Dispute.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/disputes/{dispute.number}/"
    # violence 30 (forces orange) + children 10 + two police calls 16 = 56
    assert (dispute.colour, dispute.score) == ("orange", 56)
    assert dispute.grading.assumed["people"] == 2
    page = html(client.get(response["Location"]))
    assert "colour colour-orange big" in page
    assert "有家暴或暴力史" in page and "History of violence" in page
    assert "assumed" in page and "rules v1" in page
    assert "139****5678" in page and PHONE not in page
    assert f"Dispute {dispute.number} is recorded" in page


def test_record_keeps_the_input_on_error(people, client_as):
    response = client_as(people["grid"]).post(
        "/disputes/new/", form_data(title="", **{"parties-1-phone": "12345", "ind-ind_police_calls": "-3"})
    )
    assert response.status_code == 200
    page = html(response)
    assert "婆媳因赡养问题长期不和。" in page and "刘芳" in page and 'value="12345"' in page
    assert 'id="id_ind-ind_violence" checked' in page
    assert "is not an 11-digit mobile number" in page
    assert Dispute.objects.count() == 0


def test_record_refuses_places_outside_the_area(people, client_as):
    response = client_as(people["grid"]).post("/disputes/new/", form_data(place=OTHER_COMMUNITY))
    assert response.status_code == 200 and Dispute.objects.count() == 0
    assert client_as(people["mediator"]).get("/disputes/new/").status_code == 403


def test_parties_can_be_added_and_linked_to_registered_residents(people, client_as):
    resident = Resident.objects.create(
        area_id=GRID,
        name="刘芳",
        relation=Relation.HEAD,
        **seal_id_number(make_id_number("140302", dt.date(1980, 5, 1), 7)).fields(),
    )
    Resident.objects.create(
        area_id=OTHER_COMMUNITY,
        name="刘芳芳",
        relation=Relation.HEAD,
        **seal_id_number(make_id_number("140303", dt.date(1981, 5, 1), 9)).fields(),
    )
    client = client_as(people["grid"])
    row = html(client.get("/disputes/new/party/", {"parties-TOTAL_FORMS": "2"}))
    assert 'name="parties-2-name"' in row and 'value="3"' in row and "hx-swap-oob" in row
    found = html(client.get("/disputes/new/residents/", {"prefix": "parties-0", "parties-0-q": "刘芳"}))
    assert f'value="{resident.pk}"' in found and "刘芳芳" not in found  # the other one is out of scope
    assert resident.id_number_masked in found
    assert client.get("/disputes/new/residents/", {"prefix": "x<script>"}).status_code == 400
    outsider = Resident.objects.get(name="刘芳芳")
    refused = client.post("/disputes/new/", form_data(**{"parties-0-resident": str(outsider.pk)}))
    assert refused.status_code == 200 and "刘芳芳" not in html(refused)  # never named, even when posted
    client.post("/disputes/new/", form_data(**{"parties-0-resident": str(resident.pk), "parties-0-name": ""}))
    party = Dispute.objects.get().parties.get(role="applicant")
    assert (party.resident_id, party.name) == (resident.pk, "刘芳")


# --- the dispute page ---------------------------------------------------------------------------------


def test_confidentiality_of_the_dispute_page(people, record, client_as):
    dispute = record(inputs={"police_calls": 4})
    actions.do_assign(people["community"], dispute, mediator=people["mediator"])
    url = f"/disputes/{dispute.number}/"
    for name in ("mediator", "street", "district", "community", "grid"):
        assert client_as(people[name]).get(url).status_code == 200, name
    for name in ("mediator2", "adviser", "sibling", "outsider"):
        assert client_as(people[name]).get(url).status_code == 404, name
        assert (
            client_as(people[name]).post(f"{url}act/follow_up/", {"follow_up-note": "x"}).status_code == 404
        )
    assert client_as(people["mediator2"]).get(f"{url}agreement/1.pdf").status_code == 404


def test_the_page_offers_what_the_person_may_do(people, record, client_as):
    dispute = record(inputs={"police_calls": 4})
    url = f"/disputes/{dispute.number}/"
    community = html(client_as(people["community"]).get(url))
    for name in (
        "incident",
        "follow_up",
        "indicators",
        "assign",
        "session",
        "agreement",
        "refer",
        "settle",
        "escalate",
    ):
        assert f'id="act-{name}"' in community, name
    assert 'id="act-take"' not in community
    assert 'id="act-take"' in html(client_as(people["street"]).get(url))
    admin = html(client_as(people["admin"]).get(url))  # the city administrator reads, handles nothing
    assert 'id="act-follow_up"' not in admin and 'id="act-take"' in admin
    assert "王调解" in community and "李调解" in community  # both mediators serve the community


def post_act(client, dispute, name, data):
    return client.post(f"/disputes/{dispute.number}/act/{name}/", {f"{name}-{k}": v for k, v in data.items()})


def test_actions_from_the_page(people, record, client_as):
    dispute = record(inputs={"alcohol": True})
    client = client_as(people["community"])
    assert (
        post_act(client, dispute, "incident", {"description": "又动手了", "violence": "on"}).status_code
        == 302
    )
    dispute.refresh_from_db()
    assert dispute.colour == "orange" and dispute.incidents.count() == 1
    assert (
        post_act(client, dispute, "follow_up", {"kind": "phone", "note": "电话回访，情绪稳定"}).status_code
        == 302
    )
    assert dispute.follow_ups.count() == 1
    assert post_act(client, dispute, "assign", {"mediator": people["mediator"].pk}).status_code == 302
    assert (
        post_act(client, dispute, "indicators", {"ind_violence": "", "ind_alcohol": "on"}).status_code == 302
    )
    dispute.refresh_from_db()
    assert dispute.inputs["violence"] is False and dispute.gradings.last().reason == "review"
    mediator = client_as(people["mediator"])
    held = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    response = post_act(
        mediator, dispute, "session", {"held_at": held, "attendees": "双方", "notes": "和好", "agreed": "on"}
    )
    assert response.status_code == 302
    assert post_act(mediator, dispute, "agreement", {"terms": "互相尊重，不再争吵。"}).status_code == 302
    agreement = dispute.agreements.get()
    page = html(client.get(f"/disputes/{dispute.number}/"))
    assert f"/disputes/{dispute.number}/agreement/{agreement.pk}.pdf" in page
    assert client.post(f"/disputes/{dispute.number}/agreement/{agreement.pk}/sign/").status_code == 302
    agreement.refresh_from_db()
    assert agreement.signed_at is not None
    assert post_act(client, dispute, "settle", {"note": "协议履行"}).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == "settled"
    assert "This dispute is finished." in html(client.get(f"/disputes/{dispute.number}/"))


def test_errors_of_actions_show_on_the_form_and_write_nothing(people, record, client_as):
    dispute = record()
    client = client_as(people["community"])
    response = post_act(client, dispute, "refer", {"kind": "arbitration", "body": "", "reference": "R-1"})
    assert response.status_code == 200
    page = html(response)
    assert "Name the receiving body" in page and 'value="R-1"' in page
    assert '<details class="act" open id="act-refer">' in page
    assert Referral.objects.count() == 0
    response = post_act(client, dispute, "refer", {"kind": "confirmation", "body": "城区法院"})
    assert "needs a mediation agreement" in html(response) and Referral.objects.count() == 0
    actions.do_refer(people["community"], dispute, kind="litigation", body="城区法院")
    response = post_act(client, dispute, "settle", {"note": "和解"})
    assert "A referral is still pending" in html(response)
    dispute.refresh_from_db()
    assert dispute.status == "referred"
    referral = dispute.referrals.get()
    response = client.post(
        f"/disputes/{dispute.number}/referral/{referral.pk}/outcome/",
        {f"outcome-{referral.pk}-outcome": "judgment"},
    )
    assert response.status_code == 302
    actions.do_settle(people["community"], dispute, note="判决履行")
    response = post_act(client, dispute, "follow_up", {"kind": "visit", "note": "回访"})
    assert response.status_code == 200 and dispute.follow_ups.count() == 0  # no form offered, refused


# --- the colour board ---------------------------------------------------------------------------------


def test_the_board_shows_counts_and_no_personal_data(people, record, client_as):
    record(inputs={"weapons": True}, title="秘密标题甲")
    record(inputs={"police_calls": 4}, title="秘密标题乙")
    response = client_as(people["district"]).get(f"/disputes/board/{DISTRICT}/")
    assert response.status_code == 200
    page = html(response)
    assert "上站街道" in page and f"/disputes/board/{STREET}/" in page
    for secret in ("秘密标题甲", "秘密标题乙", "张丽", "王强", "139****5678"):
        assert secret not in page
    assert response.context["node"].red == 1 and response.context["node"].yellow == 1
    drill = client_as(people["district"]).get(f"/disputes/board/{STREET}/")
    assert drill.context["node"].active == 2
    assert [row["f"].active for row in drill.context["table"] if row["f"].active] == [2]


def test_a_mediator_board_and_desk_reveal_nothing_unassigned(people, record, client_as):
    record(title="未分派的纠纷")
    client = client_as(people["mediator"])
    assert client.get(f"/disputes/board/{COMMUNITY}/").status_code == 404
    assert client.get("/disputes/board/").status_code == 404
    assert "未分派的纠纷" not in html(client.get("/disputes/"))
    assert client_as(people["outsider"]).get(f"/disputes/board/{STREET}/").status_code == 404
    assert client_as(people["admin"]).get(f"/disputes/board/{CITY}/").status_code == 200


# --- rules and stations -------------------------------------------------------------------------------


def rules_data(**changes) -> dict:
    data = {
        "name": "第二版",
        "note": "提高报警权重",
        "stable_days": "20",
        "indicators": json.dumps(DEFAULT_RULES["indicators"], ensure_ascii=False),
        "thresholds": json.dumps(DEFAULT_RULES["thresholds"]),
        "policies": json.dumps(DEFAULT_RULES["policies"]),
    }
    data.update(changes)
    return data


def test_rules_are_read_by_staff_and_published_by_the_city_administrator(people, client_as):
    page = html(client_as(people["mediator"]).get("/disputes/rules/"))
    assert "涉及凶器" in page and "Publish a new version" not in page
    assert client_as(people["street"]).post("/disputes/rules/", rules_data()).status_code == 403
    admin = client_as(people["admin"])
    assert "Publish a new version" in html(admin.get("/disputes/rules/"))
    response = admin.post("/disputes/rules/", rules_data())
    assert response.status_code == 302
    assert RuleSet.objects.get(active=True).version == 2
    assert RuleSet.objects.get(version=2).stable_days == 20


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"thresholds": "{red: 1}"}, "Not valid JSON"),
        ({"thresholds": "[1, 2]"}, "Expected a JSON object"),
        (
            {"thresholds": json.dumps({"red": 1, "orange": 45, "yellow": 25, "blue": 10})},
            "Thresholds must be",
        ),
        ({"indicators": json.dumps([{"code": "a", "kind": "maybe", "weight": 1}])}, "unknown kind"),
        ({"indicators": json.dumps(["violence"])}, "must be a JSON object"),
        (
            {
                "policies": json.dumps(
                    {**DEFAULT_RULES["policies"], "red": {"level": 4, "follow_up_days": "x"}}
                )
            },
            "whole number",
        ),
    ],
)
def test_invalid_rules_show_clear_errors_and_keep_the_input(people, client_as, changes, message):
    response = client_as(people["admin"]).post("/disputes/rules/", rules_data(**changes))
    assert response.status_code == 200
    page = html(response)
    assert message in page
    assert RuleSet.objects.filter(version=2).count() == 0
    assert "提高报警权重" in page


def test_stations_are_listed_and_added_in_scope(people, client_as):
    client = client_as(people["community"])
    response = client.post(
        "/disputes/stations/",
        {
            "name": "油娄沟人民调解室",
            "kind": "mediation",
            "area": COMMUNITY,
            "address": "社区二楼",
            "hours": "周一至周五",
        },
    )
    assert response.status_code == 302
    assert "油娄沟人民调解室" in html(client.get("/disputes/stations/"))
    refused = client.post("/disputes/stations/", {"name": "越界", "kind": "legal", "area": STREET})
    assert refused.status_code == 200 and not Station.objects.filter(name="越界").exists()
    assert "油娄沟人民调解室" not in html(client_as(people["outsider"]).get("/disputes/stations/"))
    assert client_as(people["grid"]).post("/disputes/stations/", {"name": "x"}).status_code == 403
