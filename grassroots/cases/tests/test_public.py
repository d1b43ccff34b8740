"""Public pages: reporting without an account, tracking by code, rating, the public list and map.

They must never show personal data (names, phones, e-mails, addresses), never put the tracking code in
a URL, and must hold up against a flood of reports from one address.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from grassroots.accounts.choices import Role
from grassroots.areas.models import Area
from grassroots.cases import actions, workflow
from grassroots.cases.choices import AttributeType, Channel, Status
from grassroots.cases.models import Case, CaseEvent, Category, CategoryAttribute
from grassroots.conftest import COMMUNITY, DISTRICT, GRID, STREET

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LAT, LNG = 37.857, 113.583


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def streetlight(tree) -> Category:
    category = Category.objects.create(code="streetlight", name="路灯损坏", group="道路设施", is_public=True)
    CategoryAttribute.objects.create(
        category=category,
        code="fault",
        datatype=AttributeType.SINGLE,
        description="故障情况",
        required=True,
        values=[{"key": "off", "name": "不亮"}, {"key": "blink", "name": "闪烁"}],
    )
    CategoryAttribute.objects.create(
        category=category, code="affected", datatype=AttributeType.NUMBER, description="影响人数"
    )
    return category


@pytest.fixture
def dispute(tree) -> Category:
    return Category.objects.create(
        code="neighbour-dispute", name="邻里纠纷", group="邻里纠纷", is_public=False
    )


@pytest.fixture
def staff(make_user):
    first = make_user("youlougou", Role.COMMUNITY_STAFF, COMMUNITY, full_name="油娄沟社区工作人员")
    second = make_user("youlougou2", Role.COMMUNITY_STAFF, COMMUNITY, full_name="油娄沟社区第二工作人员")
    return first, second


def public_data(category, **overrides) -> dict:
    data = {
        "category": category.pk,
        "title": "小区门口路灯不亮",
        "description": "已经一周了，晚上很黑",
        "area": GRID,
        "address": "桃园小区5号楼2单元301",
        "attr_fault": "off",
        "contact_name": "张三丰",
        "contact_phone": "13912345678",
        "contact_email": "zhang@example.com",
        "website": "",
    }
    data.update(overrides)
    return data


def close(case: Case, staff) -> Case:
    first, second = staff
    for user, action, note in (
        (first, "accept", ""),
        (first, "handle", ""),
        (first, "resolve", "已更换灯泡"),
        (second, "verify", ""),
        (first, "close", ""),
    ):
        case = workflow.apply(user, case, action, version=case.version, note=note)
    return case


def token_from(html: str) -> str:
    match = re.search(r'<p class="token" id="tracking-token">([^<]+)</p>', html)
    assert match, "no tracking code on the page"
    return match.group(1).strip()


def test_report_track_and_rate(anonymous, streetlight, staff):
    response = anonymous.get(reverse("cases_public:report"))
    assert response.status_code == 200
    assert "路灯损坏" in response.content.decode()

    photo = SimpleUploadedFile("light.png", PNG, content_type="image/png")
    response = anonymous.post(reverse("cases_public:report"), public_data(streetlight, photo_1=photo))
    assert response.status_code == 302 and response["Location"] == reverse("cases_public:report_done")
    case = Case.objects.get()
    assert case.channel == Channel.PUBLIC and case.reporter is None and case.attachments.count() == 1
    assert case.contact_phone_masked == "139****5678" and "13912345678" not in case.contact_phone_enc

    done = anonymous.get(reverse("cases_public:report_done"))
    assert done["Cache-Control"] == "no-store" and done["Referrer-Policy"] == "same-origin"
    token = token_from(done.content.decode())
    assert case.token_hash == actions.hash_token(token)
    # Shown once: reloading does not show it again.
    again = anonymous.get(reverse("cases_public:report_done"))
    assert again.status_code == 302 and token not in again.content.decode()

    # Another browser follows the case with the code; the code never appears in a URL.
    visitor = Client()
    visitor.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert visitor.get(reverse("cases_public:tracked", args=[case.number])).status_code == 302
    response = visitor.post(reverse("cases_public:track"), {"token": f"  {token} "})
    assert response.status_code == 302 and token not in response["Location"]
    page = visitor.get(response["Location"])
    assert page["Cache-Control"] == "no-store" and page["Referrer-Policy"] == "same-origin"
    html = page.content.decode()
    assert case.number in html and "小区门口路灯不亮" in html and 'id="rate"' not in html

    close(case, staff)
    CaseEvent.objects.create(
        case=case,
        actor_name="上站街道",
        action="supervise",
        to_status=Status.CLOSED,
        note="内部督办意见",
        public=False,
    )
    html = visitor.get(reverse("cases_public:tracked", args=[case.number])).content.decode()
    assert "已更换灯泡" in html and 'id="rate"' in html
    assert "内部督办意见" not in html  # internal entries stay internal
    assert "油娄沟社区工作人员" not in html  # no staff names
    assert "张三丰" not in html and "139****5678" not in html

    rate = reverse("cases_public:rate", args=[case.number])
    response = visitor.post(rate, {"satisfaction": "9"})
    assert response.status_code == 200 and "Select a valid choice." in response.content.decode()
    response = visitor.post(rate, {"satisfaction": "4", "comment": "修得很快"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.satisfaction == 4
    assert case.events.filter(action="rate", note="修得很快").exists()
    # The reporter's own browser still follows it too (the code was remembered at reporting).
    assert anonymous.get(reverse("cases_public:tracked", args=[case.number])).status_code == 200


def test_tracking_needs_the_code(anonymous, streetlight, staff):
    intake = actions.do_report(
        None,
        category=streetlight,
        area=Area.objects.get(code=GRID),
        title="路灯",
        description="不亮",
        channel=Channel.PUBLIC,
        attributes={"fault": "off"},
    )
    response = anonymous.post(reverse("cases_public:track"), {"token": "not-the-code"})
    assert response.status_code == 200 and "No case has this tracking code." in response.content.decode()
    assert anonymous.get(reverse("cases_public:tracked", args=[intake.case.number])).status_code == 302
    assert (
        anonymous.post(
            reverse("cases_public:rate", args=[intake.case.number]), {"satisfaction": 5}
        ).status_code
        == 302
    )
    intake.case.refresh_from_db()
    assert intake.case.satisfaction is None
    # Rating before closure is refused with a clear message.
    anonymous.post(reverse("cases_public:track"), {"token": intake.token})
    response = anonymous.post(reverse("cases_public:rate", args=[intake.case.number]), {"satisfaction": 5})
    assert "You can rate a case once it is closed." in response.content.decode()
    # Forgetting removes it from this browser.
    anonymous.post(reverse("cases_public:forget", args=[intake.case.number]))
    assert anonymous.get(reverse("cases_public:tracked", args=[intake.case.number])).status_code == 302


def test_guessing_codes_is_rate_limited(anonymous, settings, tree):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "TRACK_ATTEMPTS_PER_HOUR": 3}
    for _ in range(3):
        assert anonymous.post(reverse("cases_public:track"), {"token": "guess"}).status_code == 200
    response = anonymous.post(reverse("cases_public:track"), {"token": "guess"})
    assert response.status_code == 429 and "Too many unknown codes" in response.content.decode()


def test_reports_are_rate_limited_per_address(anonymous, streetlight, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PUBLIC_REPORTS_PER_HOUR": 2}
    for _ in range(2):
        assert anonymous.post(reverse("cases_public:report"), public_data(streetlight)).status_code == 302
    response = anonymous.post(reverse("cases_public:report"), public_data(streetlight, title="第三次"))
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many reports from your connection" in html and 'value="第三次"' in html
    assert Case.objects.count() == 2
    # Another address is not affected.
    other = anonymous.post(reverse("cases_public:report"), public_data(streetlight), REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302


def test_robots_filling_the_hidden_field_are_refused(anonymous, streetlight):
    response = anonymous.post(reverse("cases_public:report"), public_data(streetlight, website="http://spam"))
    assert response.status_code == 200 and not Case.objects.exists()


def test_public_form_errors_keep_the_input(anonymous, streetlight):
    data = public_data(streetlight, attr_fault="", attr_affected="lots", area=STREET)
    response = anonymous.post(reverse("cases_public:report"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html and "Enter a number." in html
    assert "Choose the community or grid where it happened." in html
    assert 'value="小区门口路灯不亮"' in html and "已经一周了" in html and 'value="张三丰"' in html
    assert f'name="area" value="{STREET}"' in html  # the picker stays where it was
    bad = SimpleUploadedFile("virus.png", b"MZ\x90\x00", content_type="image/png")
    response = anonymous.post(reverse("cases_public:report"), public_data(streetlight, photo_1=bad))
    assert "virus.png is not a JPEG, PNG or WebP photo." in response.content.decode()
    huge = SimpleUploadedFile(
        "big.png", PNG + b"\x00" * actions.MAX_ATTACHMENT_BYTES, content_type="image/png"
    )
    response = anonymous.post(reverse("cases_public:report"), public_data(streetlight, photo_1=huge))
    assert "big.png is larger than 8 MB." in response.content.decode()
    assert not Case.objects.exists()


def test_inactive_categories_are_not_offered(anonymous, streetlight):
    streetlight.active = False
    streetlight.save()
    assert "路灯损坏" not in anonymous.get(reverse("cases_public:report")).content.decode()
    response = anonymous.post(reverse("cases_public:report"), public_data(streetlight))
    assert response.status_code == 200 and not Case.objects.exists()


def test_place_picker_cascades_from_the_city(anonymous, tree):
    html = anonymous.get(reverse("cases_public:report")).content.decode()
    assert f'value="{DISTRICT}"' in html and "城区" in html
    html = anonymous.get(reverse("cases_public:place"), {"pick": DISTRICT}).content.decode()
    assert f'value="{STREET}"' in html and "上站街道" in html
    html = anonymous.get(reverse("cases_public:place"), {"pick": COMMUNITY}).content.decode()
    assert f'name="area" value="{COMMUNITY}"' in html and f'value="{GRID}"' in html
    html = anonymous.get(reverse("cases_public:place"), {"pick": "999999"}).content.decode()
    assert 'name="area" value=""' in html


def test_public_list_shows_no_personal_data(anonymous, streetlight, dispute, staff):
    public = actions.do_report(
        None,
        category=streetlight,
        area=Area.objects.get(code=GRID),
        title="路灯不亮",
        description="王五家门口的路灯，电话找王五 13600001111",
        channel=Channel.PUBLIC,
        address="桃园小区5号楼2单元301",
        lat=LAT,
        lng=LNG,
        attributes={"fault": "off"},
        contact_name="张三丰",
        contact_phone="13912345678",
        contact_email="zhang@example.com",
    ).case
    hidden = actions.do_report(
        staff[0],
        category=dispute,
        area=Area.objects.get(code=COMMUNITY),
        title="楼上漏水纠纷",
        description="李四与赵六",
        channel=Channel.HOTLINE,
        contact_name="李四",
        contact_phone="13700002222",
    ).case
    response = anonymous.get(reverse("cases_public:cases"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "路灯不亮" in html and "油娄沟社区" in html and "路灯损坏" in html
    assert public.get_status_display() in html
    for secret in (
        "张三丰",
        "13912345678",
        "139****5678",
        "zhang@example.com",
        "桃园小区",
        "王五",
        "13600001111",
        "楼上漏水纠纷",
        "李四",
        "137****2222",
        "油娄沟社区工作人员",
        public.number,
        hidden.number,
        str(LAT),
    ):
        assert secret not in html, secret
    assert "<svg" in html and html.count("<circle") == 1 and "城区" in html

    close(public, staff)
    closed = anonymous.get(reverse("cases_public:cases"), {"state": "closed"}).content.decode()
    assert "路灯不亮" in closed
    assert "路灯不亮" not in anonymous.get(reverse("cases_public:cases"), {"state": "open"}).content.decode()
    assert (
        anonymous.get(reverse("cases_public:cases"), {"category": dispute.pk, "page": "x"}).status_code == 200
    )


def test_public_list_is_paginated(anonymous, streetlight):
    area = Area.objects.get(code=GRID)
    for index in range(25):
        actions.do_report(
            None,
            category=streetlight,
            area=area,
            title=f"路灯{index:02d}",
            description="不亮",
            channel=Channel.PUBLIC,
            attributes={"fault": "off"},
        )
    first = anonymous.get(reverse("cases_public:cases")).content.decode()
    second = anonymous.get(reverse("cases_public:cases"), {"page": 2}).content.decode()
    assert "路灯24" in first and "路灯00" not in first
    assert "路灯00" in second and 'rel="prev"' in second
