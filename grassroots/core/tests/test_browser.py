"""A person in a real Chromium: logs in and drills down from their street to a grid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.areas.grids import generate_grids
from grassroots.areas.models import Area
from grassroots.areas.yangquan import load_yangquan

ARTIFACTS = Path(os.environ.get("GRASSROOTS_TEST_ARTIFACTS", "test-artifacts"))
PASSWORD = "Browser-test-2026"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def street_staff(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_yangquan()
    generate_grids("140302001")
    user = User.objects.create_user("shangzhan", password=PASSWORD, full_name="上站街道工作人员")
    Grant.objects.create(user=user, role=Role.STREET_STAFF, area_id="140302001")
    return user


def test_login_and_drill_down_to_a_grid(live_server, browser, street_staff):
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-US")  # a phone
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url

    page.fill("#id_username", "shangzhan")
    page.fill("#id_password", "wrong password")
    page.click("button.primary")
    assert page.locator("[role=alert]").is_visible()

    page.fill("#id_username", "shangzhan")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    # Chinese by default, whatever the browser's language.
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("h1").inner_text() == "上站街道"
    communities = Area.objects.filter(parent_id="140302001").count()
    assert page.locator("table.list tbody tr").count() == min(communities, 50)

    page.click("text=油娄沟社区")
    assert page.locator("h1").inner_text() == "油娄沟社区"
    crumbs = page.locator(".crumbs li").all_inner_texts()
    assert crumbs == ["上站街道", "油娄沟社区"]  # nothing above the user's own node
    grids = Area.objects.filter(parent_id="140302001001").count()
    assert grids >= 1
    assert page.locator("table.list tbody tr").count() == grids

    page.click("table.list >> text=第一网格")
    assert page.locator("h1").inner_text() == "第一网格"
    assert page.locator(".crumbs li").all_inner_texts() == ["上站街道", "油娄沟社区", "第一网格"]
    microgrids = Area.objects.filter(parent_id="140302001001001").count()
    assert page.locator("table.list tbody tr").count() == microgrids

    # Search from the street finds the grid's micro-grids by name, through htmx, within scope only.
    page.click(".crumbs >> text=上站街道")
    page.fill("#q", "油娄沟")
    page.wait_for_selector("#search-results li")
    assert "油娄沟社区" in page.locator("#search-results").inner_text()

    # The English switch.
    page.click("button[name=language][value=en]")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("table.list th").first.inner_text() == "Name"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "drill-down.png"), full_page=True)

    # Outside the scope is "not found".
    response = page.goto(f"{live_server.url}/areas/140303/")
    assert response is not None and response.status == 404
