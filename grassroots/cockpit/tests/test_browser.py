"""A city administrator in a real Chromium drills from the city to a grid by clicking the map and the
table, and the figures shown at every level are the database's. ``browser`` is the shared fixture in
grassroots/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grassroots.cases.models import Case
from grassroots.cockpit.rollup import refresh
from grassroots.conftest import CITY, COMMUNITY, DISTRICT, GRID, PASSWORD, STREET
from grassroots.disputes.choices import ACTIVE_STATUSES
from grassroots.disputes.models import Dispute
from grassroots.registry.models import Resident

ARTIFACTS = Path(os.environ.get("GRASSROOTS_TEST_ARTIFACTS", "test-artifacts"))

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expected(code: str) -> dict[str, int]:
    """What the figures must say, counted from the lists themselves."""
    return {
        "cases.open": Case.objects.within(code).open().count(),
        "cases.overdue": Case.objects.within(code).open().filter(clock="overdue").count(),
        "registry.residents": Resident.objects.within(code).filter(status="active").count(),
        "disputes.red": Dispute.objects.within(code).filter(status__in=ACTIVE_STATUSES, colour="red").count(),
        "disputes.green": Dispute.objects.within(code)
        .filter(status__in=ACTIVE_STATUSES, colour="green")
        .count(),
    }


def check_figures(page, code: str) -> None:
    for indicator, count in expected(code).items():
        figure = page.locator(f'#ck-figures [data-figure="{indicator}"]')
        assert figure.get_attribute("data-value") == str(count), (code, indicator)
        assert str(count) in figure.inner_text(), (code, indicator)


def click_on_map(page, code: str) -> None:
    """Click the child ``code`` on the map, at the label point its shape was given."""
    page.wait_for_selector("[data-cockpit][data-ready=true]")
    point = page.evaluate(
        """(code) => {
            const root = document.querySelector('[data-cockpit]');
            const feature = root.cockpit.geo.features.find((f) => f.properties.code === code);
            const chart = echarts.getInstanceByDom(root.querySelector('[data-chart=map]'));
            return chart.convertToPixel({seriesIndex: 0}, feature.properties.cp);
        }""",
        code,
    )
    box = page.locator("[data-chart=map]").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    page.wait_for_url(f"**/cockpit/{code}/**")


def test_drill_from_the_city_to_a_grid(live_server, browser, world, personas):
    refresh("now")
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="en-US")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "city_admin")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.goto(f"{live_server.url}/cockpit/")
    page.wait_for_url(f"**/cockpit/{CITY}/")
    assert page.locator("h1").inner_text() == "阳泉市"
    check_figures(page, CITY)
    page.wait_for_selector("[data-cockpit][data-ready=true]")
    assert page.locator("[data-map-note]").inner_text()  # real boundaries, said so
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cockpit-city.png"), full_page=True)

    click_on_map(page, DISTRICT)  # 城区, a real boundary
    assert page.locator("h1").inner_text() == "城区"
    check_figures(page, DISTRICT)
    click_on_map(page, STREET)  # 上站街道, a schematic slice of 城区
    assert page.locator("h1").inner_text() == "上站街道"
    check_figures(page, STREET)
    page.click(f'#ck-table a[href^="/cockpit/{COMMUNITY}/"]')  # the children table
    page.wait_for_url(f"**/cockpit/{COMMUNITY}/**")
    assert page.locator("h1").inner_text() == "油娄沟社区"
    check_figures(page, COMMUNITY)
    click_on_map(page, GRID)
    assert page.locator("h1").inner_text() == "第一网格"
    check_figures(page, GRID)
    crumbs = page.locator(".crumbs li").all_inner_texts()
    assert crumbs == ["阳泉市", "城区", "上站街道", "油娄沟社区", "第一网格"]
    page.wait_for_selector("[data-cockpit][data-ready=true]")
    page.screenshot(path=str(ARTIFACTS / "cockpit-grid.png"), full_page=True)

    # The wall display of the district, at a wall's resolution.
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{live_server.url}/cockpit/{DISTRICT}/wall/")
    page.wait_for_selector("[data-cockpit][data-ready=true]")
    check_figures(page, DISTRICT)
    page.screenshot(path=str(ARTIFACTS / "cockpit-wall.png"))
    assert not errors, errors
