"""Staff pages of cases, through HTTP, by persona: scoping, reporting, the lifecycle, administration."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from grassroots.accounts.choices import Role
from grassroots.accounts.models import User
from grassroots.cases import actions, workflow
from grassroots.cases.choices import AttributeType, Channel, Status
from grassroots.cases.models import Case, CaseAttachment, Category, CategoryAttribute, Notice, Unit
from grassroots.conftest import (
    COLLEAGUE_GRID,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    OTHER_DISTRICT,
    STREET,
)
from grassroots.registry.models import Building

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
LAT, LNG = 37.857, 113.583  # 上站街道, inside Yangquan


@pytest.fixture
def streetlight(db) -> Category:
    category = Category.objects.create(
        code="streetlight", name="路灯损坏", group="道路设施", is_public=True, handle_limit=3
    )
    CategoryAttribute.objects.create(
        category=category, code="pole", datatype=AttributeType.STRING, description="路灯编号", order=1
    )
    CategoryAttribute.objects.create(
        category=category,
        code="fault",
        datatype=AttributeType.SINGLE,
        description="故障情况",
        required=True,
        values=[{"key": "off", "name": "不亮"}, {"key": "blink", "name": "闪烁"}],
        order=2,
    )
    CategoryAttribute.objects.create(
        category=category, code="affected", datatype=AttributeType.NUMBER, description="影响人数", order=3
    )
    return category


@pytest.fixture
def noise(db) -> Category:
    return Category.objects.create(code="noise", name="噪音扰民", group="邻里纠纷")


@pytest.fixture
def team(tree, make_user, streetlight) -> Unit:
    """The community's own team, with one member who holds no grant of their own."""
    unit = Unit.objects.create(name="油娄沟社区居委会处置组", area_id=COMMUNITY)
    unit.categories.add(streetlight)
    unit.members.add(User.objects.create_user("team_member", password="x", full_name="处置组队员"))
    return unit


@pytest.fixture
def second_staff(make_user) -> User:
    return make_user("youlougou2", Role.COMMUNITY_STAFF, COMMUNITY, full_name="油娄沟社区第二工作人员")


def report(user, category, *, area=GRID, **kwargs) -> Case:
    kwargs.setdefault("attributes", {"fault": "off"} if category.code == "streetlight" else {})
    intake = actions.do_report(
        user,
        category=category,
        area=_area(area),
        title=kwargs.pop("title", "3号楼门口路灯不亮"),
        description=kwargs.pop("description", "晚上一片漆黑"),
        **kwargs,
    )
    return intake.case


def _area(code):
    from grassroots.areas.models import Area

    return Area.objects.get(code=code)


def act(client, case: Case, action: str, **fields):
    case.refresh_from_db()
    data = {"action": action, f"{action}-version": case.version}
    data.update({f"{action}-{name}": value for name, value in fields.items()})
    return client.post(reverse("cases:act", args=[case.number]), data)


def report_data(category, **overrides) -> dict:
    data = {
        "category": category.pk,
        "title": "路灯不亮",
        "description": "3号楼门口的路灯坏了一周",
        "area": GRID,
        "address": "油娄沟小区3号楼",
        "attr_fault": "off",
    }
    data.update(overrides)
    return data


# --- scoping -------------------------------------------------------------------------------------


def test_list_and_case_page_are_scoped(personas, client_as, streetlight):
    case = report(personas["grid_worker"], streetlight)
    for name in ("grid_worker", "community_staff", "street_staff", "district_staff", "city_admin"):
        client = client_as(personas[name])
        assert case.number in client.get(reverse("cases:list")).content.decode(), name
        assert client.get(reverse("cases:detail", args=[case.number])).status_code == 200, name
    for name in ("colleague", "outsider_community", "outsider_district"):
        client = client_as(personas[name])
        assert case.number not in client.get(reverse("cases:list")).content.decode(), name
        assert client.get(reverse("cases:detail", args=[case.number])).status_code == 404, name
        assert client.post(reverse("cases:act", args=[case.number]), {"action": "accept"}).status_code == 404


def test_anonymous_is_sent_to_login(anonymous):
    response = anonymous.get(reverse("cases:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_list_filters_counts_and_order(personas, client_as, streetlight, noise):
    staff = personas["community_staff"]
    late = report(staff, noise, area=COMMUNITY, title="楼上装修噪音")
    Case.objects.filter(pk=late.pk).update(deadline=timezone.now() - dt.timedelta(hours=1))
    soon = report(staff, streetlight, title="路灯闪烁")
    Case.objects.filter(pk=soon.pk).update(
        warn_at=timezone.now() - dt.timedelta(minutes=5), deadline=timezone.now() + dt.timedelta(hours=3)
    )
    calm = report(personas["grid_worker"], streetlight, title="另一盏路灯")
    workflow.apply(staff, calm, "accept", version=0)
    client = client_as(staff)

    page = client.get(reverse("cases:list")).content.decode()
    assert page.index(late.number) < page.index(soon.number) < page.index(calm.number)  # late first
    assert "clock-overdue" in page and "clock-warning" in page

    def listed(**params) -> str:
        response = client.get(reverse("cases:list"), params)
        assert response.status_code == 200
        return response.content.decode()

    only = listed(clock="overdue")
    assert late.number in only and soon.number not in only
    only = listed(clock="warning")
    assert soon.number in only and late.number not in only
    only = listed(status="accepted")
    assert calm.number in only and late.number not in only
    only = listed(category=noise.pk)
    assert late.number in only and calm.number not in only
    only = listed(q=calm.number)
    assert calm.number in only and late.number not in only
    only = listed(q="闪烁")
    assert soon.number in only and calm.number not in only
    only = listed(mine="reported")
    assert late.number in only and calm.number not in only
    only = listed(mine="holder")
    assert calm.number in only
    # Values outside the allow-list are ignored, never an error.
    assert calm.number in listed(
        status="nonsense", clock="x", level="99", category="abc", mine="all", page="9"
    )


def test_counts_by_status_on_top(personas, client_as, streetlight):
    staff = personas["community_staff"]
    for _ in range(2):
        report(staff, streetlight)
    accepted = report(staff, streetlight)
    workflow.apply(staff, accepted, "accept", version=0)
    response = client_as(staff).get(reverse("cases:list"))
    counts = {value: n for value, _label, n in response.context["status_counts"]}
    assert counts[Status.REPORTED] == 2 and counts[Status.ACCEPTED] == 1
    assert response.context["total"] == 3


# --- reporting -----------------------------------------------------------------------------------


def test_report_form_defaults_to_the_own_grid_and_offers_only_the_scope(personas, client_as, streetlight):
    response = client_as(personas["grid_worker"]).get(reverse("cases:new"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'name="area" value="{GRID}"' in html
    assert 'capture="environment"' in html and 'accept="image/*"' in html
    assert "<optgroup" in html and "道路设施" in html

    street = client_as(personas["street_staff"]).get(reverse("cases:new")).content.decode()
    assert "油娄沟社区" in street  # the street's communities to pick from
    assert "平潭街东社区" not in street


def test_place_picker_walks_down_the_scope(personas, client_as):
    client = client_as(personas["street_staff"])
    html = client.get(reverse("cases:place"), {"pick": COMMUNITY}).content.decode()
    assert f'name="area" value="{COMMUNITY}"' in html
    assert "第一网格" in html and f'value="{GRID}"' in html
    # A code outside the scope is not a choice.
    html = client.get(reverse("cases:place"), {"pick": OTHER_COMMUNITY}).content.decode()
    assert f'value="{OTHER_COMMUNITY}"' not in html


def test_attribute_fields_follow_the_category(personas, client_as, streetlight, noise):
    client = client_as(personas["grid_worker"])
    html = client.get(
        reverse("cases:attributes"), {"category": streetlight.pk, "area": GRID}
    ).content.decode()
    assert 'name="attr_fault"' in html and "不亮" in html and 'name="attr_affected"' in html
    html = client.get(reverse("cases:attributes"), {"category": noise.pk}).content.decode()
    assert "attr_fault" not in html
    assert 'id="duplicates"' in html and "hx-swap-oob" in html


def test_report_through_the_form(personas, client_as, streetlight):
    building = Building.objects.create(area_id=GRID, name="3号楼", address="油娄沟小区3号楼")
    client = client_as(personas["grid_worker"])
    data = report_data(
        streetlight,
        building=building.pk,
        lat=LAT,
        lng=LNG,
        attr_pole="YLG-017",
        attr_affected="30",
        photo_1=SimpleUploadedFile("light.png", PNG, content_type="image/png"),
    )
    response = client.post(reverse("cases:new"), data)
    assert response.status_code == 302
    case = Case.objects.get()
    assert response["Location"] == reverse("cases:detail", args=[case.number])
    assert (case.area_id, case.channel, case.building, case.reporter) == (
        GRID,
        Channel.STAFF,
        building,
        personas["grid_worker"],
    )
    assert case.attributes == {"fault": "off", "pole": "YLG-017", "affected": 30.0}
    assert case.attachments.count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "YLG-017" in page and "不亮" in page and "3号楼" in page


def test_attribute_errors_are_shown_and_nothing_is_lost(personas, client_as, streetlight):
    client = client_as(personas["grid_worker"])
    response = client.post(
        reverse("cases:new"), report_data(streetlight, attr_fault="", attr_affected="many", title="我的标题")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "attr_fault" in form.errors and "attr_affected" in form.errors
    html = response.content.decode()
    assert "This field is required." in html and "Enter a number." in html
    assert 'value="我的标题"' in html and "3号楼门口的路灯坏了一周" in html and 'value="many"' in html
    assert f'name="area" value="{GRID}"' in html
    assert not Case.objects.exists()


def test_location_must_be_complete_and_inside_the_city(personas, client_as, streetlight):
    client = client_as(personas["grid_worker"])
    response = client.post(reverse("cases:new"), report_data(streetlight, lat=LAT))
    assert "Give both latitude and longitude" in response.content.decode()
    response = client.post(reverse("cases:new"), report_data(streetlight, lat=39.9, lng=116.4))
    assert "outside the city" in response.content.decode()
    assert not Case.objects.exists()


def test_photos_must_be_small_images(personas, client_as, streetlight):
    client = client_as(personas["grid_worker"])
    fake = SimpleUploadedFile("notes.png", b"MZ\x90\x00 not an image at all", content_type="image/png")
    response = client.post(reverse("cases:new"), report_data(streetlight, photo_1=fake))
    html = response.content.decode()
    assert response.status_code == 200
    assert "notes.png is not a JPEG, PNG or WebP photo." in html
    assert "choose your photos again" in html

    huge = SimpleUploadedFile(
        "big.jpg", JPEG + b"\x00" * actions.MAX_ATTACHMENT_BYTES, content_type="image/jpeg"
    )
    response = client.post(reverse("cases:new"), report_data(streetlight, photo_2=huge))
    assert "big.jpg is larger than 8 MB." in response.content.decode()
    assert not Case.objects.exists()


def test_a_place_outside_the_scope_is_refused(personas, client_as, streetlight):
    client = client_as(personas["grid_worker"])
    response = client.post(reverse("cases:new"), report_data(streetlight, area=COLLEAGUE_GRID))
    assert "Choose the community or grid where it happened." in response.content.decode()
    response = client.post(reverse("cases:new"), report_data(streetlight, area=STREET))
    assert "Choose the community or grid where it happened." in response.content.decode()
    assert not Case.objects.exists()


def test_duplicates_are_suggested_within_the_scope(personas, client_as, streetlight):
    earlier = report(personas["community_staff"], streetlight, area=COLLEAGUE_GRID, lat=LAT, lng=LNG)
    params = {"category": streetlight.pk, "area": COMMUNITY, "lat": LAT, "lng": LNG + 0.0005}
    html = client_as(personas["community_staff"]).get(reverse("cases:duplicates"), params).content.decode()
    assert earlier.number in html
    far = {**params, "lng": LNG + 0.05}
    assert (
        earlier.number
        not in client_as(personas["community_staff"]).get(reverse("cases:duplicates"), far).content.decode()
    )
    # The grid worker of the neighbouring grid does not see that case, so it is not suggested to them.
    own = {**params, "area": GRID}
    assert (
        earlier.number
        not in client_as(personas["grid_worker"]).get(reverse("cases:duplicates"), own).content.decode()
    )
    picker = client_as(personas["community_staff"]).get(
        reverse("cases:place"), {"pick": GRID, "category": streetlight.pk}
    )
    assert earlier.number in picker.content.decode()


def test_hotline_call_keeps_the_phone_masked(personas, client_as, streetlight):
    client = client_as(personas["community_staff"])
    data = report_data(
        streetlight,
        area=COMMUNITY,
        contact_name="王大妈",
        contact_phone="139 1234 5678",
        contact_email="wang@example.com",
    )
    response = client.post(reverse("cases:hotline"), data)
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.channel == Channel.HOTLINE and case.contact_phone_masked == "139****5678"
    html = client.get(response["Location"]).content.decode()
    assert "139****5678" in html and "13912345678" not in html and "139 1234 5678" not in html
    assert "w***@example.com" in html and "wang@example.com" not in html

    response = client.post(reverse("cases:hotline"), {**data, "contact_phone": "12345"})
    assert "is not an 11-digit mobile number" in response.content.decode()


# --- the lifecycle -------------------------------------------------------------------------------


def test_full_lifecycle_through_http(personas, client_as, streetlight, team):
    grid_worker, staff = personas["grid_worker"], personas["community_staff"]
    member = team.members.get()
    response = client_as(grid_worker).post(reverse("cases:new"), report_data(streetlight))
    case = Case.objects.get()
    assert response.status_code == 302 and case.holder_id == COMMUNITY

    staff_client = client_as(staff)
    page = staff_client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert 'id="act-accept"' in page and 'id="act-reject"' in page
    assert act(staff_client, case, "accept").status_code == 302

    page = staff_client.get(reverse("cases:detail", args=[case.number]))
    dispatch = next(f for f in page.context["transition_forms"] if f.transition.action == "dispatch")
    offered = {choice for _group, options in dispatch.fields["unit"].choices[1:] for choice, _ in options}
    assert team.pk in offered
    assert act(staff_client, case, "dispatch", unit=team.pk).status_code == 302
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.unit == team

    member_client = client_as(member)
    assert case.number in member_client.get(reverse("cases:list"), {"mine": "units"}).content.decode()
    assert Notice.objects.filter(user=member, case=case).exists()
    assert act(member_client, case, "start").status_code == 302
    response = act(member_client, case, "resolve", note="")
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert act(member_client, case, "resolve", note="已更换灯泡").status_code == 302
    assert act(member_client, case, "verify").status_code == 403  # the resolver cannot verify

    page = staff_client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert 'id="act-verify"' in page
    assert act(staff_client, case, "verify").status_code == 302
    assert act(staff_client, case, "close", satisfaction="5").status_code == 302
    case.refresh_from_db()
    assert case.status == Status.CLOSED and case.satisfaction == 5 and case.verified_by == staff
    assert list(case.events.values_list("action", flat=True)) == [
        "report",
        "accept",
        "dispatch",
        "start",
        "resolve",
        "verify",
        "close",
    ]
    page = staff_client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "已更换灯泡" in page and "This case is finished." in page


def test_who_handles_it_cannot_verify_it(personas, client_as, streetlight, second_staff):
    staff = personas["community_staff"]
    case = report(personas["grid_worker"], streetlight)
    client = client_as(staff)
    for action, fields in (("accept", {}), ("handle", {}), ("resolve", {"note": "修好了"})):
        assert act(client, case, action, **fields).status_code == 302, action
    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert 'id="act-verify"' not in page
    assert act(client, case, "verify").status_code == 403
    colleague = client_as(second_staff)
    assert 'id="act-verify"' in colleague.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert act(colleague, case, "verify").status_code == 302


def test_a_stale_form_is_refused(personas, client_as, streetlight, second_staff):
    case = report(personas["grid_worker"], streetlight)
    first, second = client_as(personas["community_staff"]), client_as(second_staff)
    seen = case.version
    assert act(first, case, "accept").status_code == 302
    response = second.post(
        reverse("cases:act", args=[case.number]),
        {"action": "reject", "reject-version": seen, "reject-note": "重复上报"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "The case changed while you were looking at it." in html
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED
    # The form that is still possible keeps what they typed, with the version they now see.
    response = second.post(
        reverse("cases:act", args=[case.number]),
        {"action": "escalate", "escalate-version": seen, "escalate-note": "需要街道协调"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "需要街道协调" in html and f'name="escalate-version" value="{case.version}"' in html


def test_escalation_with_a_reason_reaches_the_street(personas, client_as, noise):
    case = report(personas["grid_worker"], noise)
    client = client_as(personas["community_staff"])
    response = act(client, case, "escalate", note="")
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert act(client, case, "escalate", note="涉及多个社区，需要街道协调").status_code == 302
    case.refresh_from_db()
    assert (case.holder_id, case.status) == (STREET, Status.REPORTED)

    street = client_as(personas["street_staff"])
    assert case.number in street.get(reverse("cases:list"), {"mine": "holder"}).content.decode()
    page = street.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "上站街道" in page and 'id="act-accept"' in page
    assert "涉及多个社区" in page
    assert 'id="act-accept"' not in client.get(reverse("cases:detail", args=[case.number])).content.decode()


def test_dispatch_offers_only_units_on_the_branch(personas, client_as, streetlight, team):
    far = Unit.objects.create(name="平潭街东社区居委会处置组", area_id=OTHER_COMMUNITY)
    district = Unit.objects.create(name="城区城市管理局", area_id=DISTRICT)
    other_district = Unit.objects.create(name="矿区城市管理局", area_id=OTHER_DISTRICT)
    case = report(personas["grid_worker"], streetlight)
    client = client_as(personas["community_staff"])
    act(client, case, "accept")
    page = client.get(reverse("cases:detail", args=[case.number]))
    dispatch = next(f for f in page.context["transition_forms"] if f.transition.action == "dispatch")
    offered = {choice for _group, options in dispatch.fields["unit"].choices[1:] for choice, _ in options}
    assert {team.pk, district.pk} <= offered and not offered & {far.pk, other_district.pk}
    response = act(client, case, "dispatch", unit=far.pk)
    assert response.status_code == 200 and "Select a valid choice." in response.content.decode()
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED


def test_reject_and_merge(personas, client_as, streetlight):
    client = client_as(personas["community_staff"])
    first = report(personas["grid_worker"], streetlight)
    second = report(personas["grid_worker"], streetlight)
    response = act(client, second, "merge", into="SJ000")
    assert "No other case with this number in your area." in response.content.decode()
    assert act(client, second, "merge", into=first.number).status_code == 302
    second.refresh_from_db()
    assert second.status == Status.MERGED and second.merged_into == first
    assert act(client, first, "reject", note="不属于本社区").status_code == 302


def test_pause_and_resume_the_clock(personas, client_as, streetlight):
    case = report(personas["grid_worker"], streetlight)
    client = client_as(personas["community_staff"])
    url = reverse("cases:pause", args=[case.number])
    response = client.post(url, {"note": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert client.post(url, {"note": "等待居民提供照片"}).status_code == 302
    case.refresh_from_db()
    assert case.paused_at is not None
    assert "clock-paused" in client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert client.post(reverse("cases:resume", args=[case.number])).status_code == 302
    case.refresh_from_db()
    assert case.paused_at is None
    # A grid worker neither holds nor handles it.
    assert client_as(personas["grid_worker"]).post(url, {"note": "x"}).status_code == 403


def test_supervision_and_leaders_taking_a_case(personas, client_as, streetlight):
    case = report(personas["grid_worker"], streetlight)
    staff, street = client_as(personas["community_staff"]), client_as(personas["street_staff"])
    assert (
        "Issue a supervision order"
        not in staff.get(reverse("cases:detail", args=[case.number])).content.decode()
    )
    page = street.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "Issue a supervision order" in page and "Take this case" in page

    url = reverse("cases:supervise", args=[case.number])
    past = (timezone.localtime() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = street.post(url, {"note": "请尽快处理", "deadline": past})
    assert "The deadline must be in the future." in response.content.decode()
    future = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert street.post(url, {"note": "请尽快处理", "deadline": future}).status_code == 302
    assert staff.post(url, {"note": "x", "deadline": future}).status_code == 403

    order = case.supervisions.get()
    answer = reverse("cases:answer", args=[case.number, order.pk])
    assert street.post(answer, {f"answer-{order.pk}-answer": "好"}).status_code == 403
    assert staff.post(answer, {f"answer-{order.pk}-answer": "明天上午修复"}).status_code == 302
    order.refresh_from_db()
    assert order.answer == "明天上午修复"

    assert street.post(reverse("cases:take", args=[case.number]), {"note": "我来包案"}).status_code == 302
    case.refresh_from_db()
    assert case.leader == personas["street_staff"]
    page = street.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "Take this case" not in page and 'id="act-accept"' in page  # the leader now holds it


def test_photos_are_served_only_within_the_scope(personas, client_as, streetlight, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    photo = SimpleUploadedFile("light.jpg", JPEG, content_type="image/jpeg")
    case = report(personas["grid_worker"], streetlight, photos=[photo])
    attachment = CaseAttachment.objects.get()
    url = reverse("cases:attachment", args=[case.number, attachment.pk])
    response = client_as(personas["community_staff"]).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == JPEG
    assert "private" in response["Cache-Control"]
    assert client_as(personas["outsider_community"]).get(url).status_code == 404
    page = (
        client_as(personas["community_staff"])
        .get(reverse("cases:detail", args=[case.number]))
        .content.decode()
    )
    assert url in page and "/media/" not in page


def test_inbox_unread_first_and_mark_read(personas, client_as, streetlight):
    staff = personas["community_staff"]
    first = report(personas["grid_worker"], streetlight, title="第一件")
    report(personas["grid_worker"], streetlight, title="第二件")
    client = client_as(staff)
    notices = list(Notice.objects.filter(user=staff))
    assert len(notices) == 2
    older = next(n for n in notices if n.case_id == first.pk)
    response = client.post(reverse("cases:inbox_read"), {"notice": older.pk, "open": "1"})
    assert response["Location"] == reverse("cases:detail", args=[first.number])
    html = client.get(reverse("cases:inbox")).content.decode()
    assert html.index("第二件") < html.index("第一件")  # unread first
    client.post(reverse("cases:inbox_read"), {"all": "1"})
    assert not Notice.objects.filter(user=staff, read_at__isnull=True).exists()
    other = client_as(personas["street_staff"]).post(reverse("cases:inbox_read"), {"notice": older.pk})
    assert other.status_code == 404


# --- administration ------------------------------------------------------------------------------


def test_categories_are_managed_by_city_admins(personas, client_as, streetlight):
    assert client_as(personas["community_staff"]).get(reverse("cases:categories")).status_code == 403
    client = client_as(personas["city_admin"])
    assert "路灯损坏" in client.get(reverse("cases:categories")).content.decode()
    url = reverse("cases:category_edit", args=[streetlight.pk])
    form = client.get(url).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None and name != "code"}
    data.update({"handle_limit": 2, "is_public": "", "active": "on", "escalate_when_overdue": "on"})
    rows = list(streetlight.attributes.order_by("order"))
    data.update(
        {
            "attributes-TOTAL_FORMS": len(rows) + 1,
            "attributes-INITIAL_FORMS": len(rows),
            "attributes-MIN_NUM_FORMS": 0,
            "attributes-MAX_NUM_FORMS": 1000,
        }
    )
    for index, row in enumerate(rows):
        data.update(
            {
                f"attributes-{index}-id": row.pk,
                f"attributes-{index}-code": row.code,
                f"attributes-{index}-description": row.description,
                f"attributes-{index}-datatype": row.datatype,
                f"attributes-{index}-order": row.order,
                f"attributes-{index}-values_text": "\n".join(f"{v['key']} = {v['name']}" for v in row.values),
            }
        )
    data[f"attributes-{len(rows)}-code"] = "damage"
    data[f"attributes-{len(rows)}-description"] = "损坏程度"
    data[f"attributes-{len(rows)}-datatype"] = AttributeType.SINGLE
    data[f"attributes-{len(rows)}-order"] = 9
    response = client.post(url, data)
    assert response.status_code == 200
    assert "A list needs at least one value." in response.content.decode()
    data[f"attributes-{len(rows)}-values_text"] = "轻微\n严重"
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    streetlight.refresh_from_db()
    assert streetlight.handle_limit == 2 and not streetlight.is_public
    damage = streetlight.attributes.get(code="damage")
    assert damage.values == [{"key": "v1", "name": "轻微"}, {"key": "v2", "name": "严重"}]


def test_units_are_managed_within_the_scope(personas, client_as, team, make_user):
    admin = client_as(personas["city_admin"])
    response = admin.post(
        reverse("cases:unit_create"), {"name": "城区城市管理局", "area": DISTRICT, "active": "on"}
    )
    assert response.status_code == 302
    unit = Unit.objects.get(name="城区城市管理局")
    assert (
        admin.post(reverse("cases:unit_create"), {"name": "城区城市管理局", "area": DISTRICT}).status_code
        == 200
    )

    staff = client_as(personas["community_staff"])
    assert "城区城市管理局" not in staff.get(reverse("cases:units")).content.decode()
    assert staff.get(reverse("cases:unit_edit", args=[unit.pk])).status_code == 404
    edit = reverse("cases:unit_edit", args=[team.pk])
    assert staff.get(edit).status_code == 200
    response = staff.post(edit, {"part": "members", "add": "pingtan"})
    assert (
        response.status_code == 200
        and "No active account “pingtan” in your area." in response.content.decode()
    )
    personas["outsider_district"]  # exists, but outside the community's scope
    assert staff.post(edit, {"part": "members", "add": "grid_worker"}).status_code == 302
    assert team.members.filter(username="grid_worker").exists()
    removed = team.members.get(username="team_member")
    assert staff.post(edit, {"part": "members", "remove": [removed.pk]}).status_code == 302
    assert not team.members.filter(pk=removed.pk).exists()
    assert client_as(personas["grid_worker"]).get(reverse("cases:units")).status_code == 403


def test_a_city_admin_creates_a_category(personas, client_as):
    client = client_as(personas["city_admin"])
    management = {
        "attributes-TOTAL_FORMS": 1,
        "attributes-INITIAL_FORMS": 0,
        "attributes-MIN_NUM_FORMS": 0,
        "attributes-MAX_NUM_FORMS": 1000,
        "attributes-0-order": 0,
    }
    data = {
        "code": "snow",
        "name": "积雪清理",
        "group": "城市管理",
        "handling_level": 5,
        "limit_unit": "working_hours",
        "accept_hours": 2,
        "dispatch_hours": 2,
        "handle_limit": 8,
        "verify_hours": 8,
        "close_hours": 8,
        "warn_share": 5,
        "order": 40,
        "active": "on",
        **management,
    }
    response = client.post(reverse("cases:category_create"), data)
    assert response.status_code == 200 and "warn_share" in response.context["form"].errors
    assert client.post(reverse("cases:category_create"), {**data, "warn_share": 80}).status_code == 302
    category = Category.objects.get(code="snow")
    assert (category.handle_limit, category.limit_unit, category.attributes.count()) == (
        8,
        "working_hours",
        0,
    )
