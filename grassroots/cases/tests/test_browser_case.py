"""In a real Chromium: a resident reports a broken streetlight, community staff handle it, a colleague
verifies it, and the resident follows the case to its closure and rates it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.areas.grids import generate_grids
from grassroots.areas.yangquan import load_yangquan
from grassroots.cases.catalogue import load_catalogue
from grassroots.cases.choices import Status
from grassroots.cases.models import Case

ARTIFACTS = Path(os.environ.get("GRASSROOTS_TEST_ARTIFACTS", "test-artifacts"))
PASSWORD = "Browser-test-2026"
COMMUNITY = "140302001001"
GRID = "140302001001001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def city(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path
    load_yangquan()
    generate_grids("140302001")
    load_catalogue()
    staff = []
    for username, name in (("youlougou", "油娄沟社区工作人员"), ("youlougou2", "油娄沟社区第二工作人员")):
        user = User.objects.create_user(username, password=PASSWORD, full_name=name)
        Grant.objects.create(user=user, role=Role.COMMUNITY_STAFF, area_id=COMMUNITY)
        staff.append(user)
    return staff


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def log_in(browser, live_server, username: str):
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")  # a phone
    page.goto(f"{live_server.url}/login/?next=/cases/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(re.compile(r"/cases/$"))
    return page


def do(page, action: str, note: str = "") -> None:
    """Open the transition's panel on the case page, fill the note, submit, and wait for the reload."""
    page.click(f"details:has(#act-{action}) > summary")
    if note:
        page.fill(f"#id_{action}-note", note)
    with page.expect_navigation():
        page.click(f"#act-{action} button[type=submit]")
    assert page.locator(".message.success").is_visible(), action


def pick(page, selector: str, **option) -> None:
    """Choose in a select that htmx swapped in: once htmx has settled, so its change handler is bound.

    ``wait_for_selector`` returns as soon as the new picker is in the document; htmx binds its
    triggers while settling, and a change made in between (a machine is faster than a person) is
    never sent."""
    page.wait_for_selector(selector)
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
    page.select_option(selector, **option)


def test_from_a_public_report_to_its_closure(live_server, browser, city):
    # A resident reports on their phone, without an account.
    resident = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    resident.goto(f"{live_server.url}/public/report/")
    resident.select_option("#id_category", label="路灯损坏")
    resident.wait_for_selector("[name=attr_fault]")  # the category's own questions, loaded by htmx
    resident.select_option("[name=attr_fault]", label="不亮")
    resident.fill("#id_attr_pole_number", "YLG-017")
    resident.fill("#id_title", "小区门口路灯不亮")
    resident.fill("#id_description", "油娄沟小区东门的路灯一周没亮了，晚上很黑。")
    pick(resident, "#pick-1", label="城区")
    pick(resident, "#pick-2", label="上站街道")
    pick(resident, "#pick-3", label="油娄沟社区")
    pick(resident, "#pick-4", value=GRID)
    expect(resident.locator("input[name=area]")).to_have_value(GRID)
    resident.set_input_files("#id_photo_1", {"name": "light.png", "mimeType": "image/png", "buffer": PNG})
    shot(resident, "case-public-report.png")
    with resident.expect_navigation():
        resident.click("button.primary")
    token = resident.locator("#tracking-token").inner_text().strip()
    assert len(token) >= 16
    shot(resident, "case-public-token.png")
    case = Case.objects.get()
    assert (case.area_id, case.holder_id, case.attachments.count()) == (GRID, COMMUNITY, 1)

    # Community staff accept it and handle it themselves.
    staff = log_in(browser, live_server, "youlougou")
    staff.click("a.case-title:has-text('小区门口路灯不亮')")
    staff.wait_for_selector("#act-accept", state="attached")
    assert staff.locator(".thumbs img").count() == 1
    do(staff, "accept")
    do(staff, "handle")
    do(staff, "resolve", note="已更换灯泡，恢复照明。")
    assert staff.locator("#act-verify").count() == 0  # whoever resolved it cannot verify it
    shot(staff, "case-staff-resolved.png")

    # A colleague verifies and closes it.
    colleague = log_in(browser, live_server, "youlougou2")
    colleague.goto(f"{live_server.url}/cases/{case.number}/")
    do(colleague, "verify")
    do(colleague, "close")
    assert colleague.locator(".badge.status-closed").is_visible()
    shot(colleague, "case-staff-closed.png")

    # The resident, in another browser, follows the case with the code and rates it.
    visitor = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()
    visitor.goto(f"{live_server.url}/public/track/")
    visitor.fill("#id_token", token)
    with visitor.expect_navigation():
        visitor.click("button.primary")
    assert token not in visitor.url
    assert visitor.locator(".badge.status-closed").is_visible()
    assert "已更换灯泡" in visitor.locator("main").inner_text()
    visitor.check("input[name=satisfaction][value='5']")
    with visitor.expect_navigation():
        visitor.click("#rate button.primary")
    assert visitor.locator(".message.success").is_visible()
    shot(visitor, "case-public-tracked.png")
    case.refresh_from_db()
    assert (case.status, case.satisfaction) == (Status.CLOSED, 5)
