"""The cockpit pages per persona: scope (outside is 404), the figures shown, data.json, the partials,
the map's shapes, the wall display, and no inline script anywhere."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from grassroots.accounts.choices import Role
from grassroots.areas.models import Area
from grassroots.cockpit.data import REGISTRY
from grassroots.cockpit.models import Refresh
from grassroots.cockpit.rollup import refresh
from grassroots.conftest import (
    CITY,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_DISTRICT,
    OTHER_STREET,
    SIBLING_COMMUNITY,
    STREET,
)

from .conftest import MICROGRID, value

pytestmark = pytest.mark.usefixtures("tree")
SIBLING_STREET = "140302002"


def figures_on(html: str) -> dict[str, str]:
    """``data-figure`` → ``data-value`` of the key figures shown."""
    return dict(re.findall(r'data-figure="([^"]+)" data-value="([^"]*)"', html))


def test_anonymous_is_sent_to_log_in(anonymous):
    for url in ("/cockpit/", f"/cockpit/{CITY}/", f"/cockpit/{CITY}/data.json", f"/cockpit/{CITY}/wall/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    "persona,root",
    [("city_admin", CITY), ("district_staff", DISTRICT), ("street_staff", STREET), ("grid_worker", GRID)],
)
def test_the_cockpit_opens_at_the_users_own_node(client_as, personas, persona, root):
    response = client_as(personas[persona]).get("/cockpit/")
    assert response.status_code == 302 and response["Location"] == f"/cockpit/{root}/"


def test_an_auditor_sees_no_cockpit(client_as, make_user):
    auditor = make_user("auditor", Role.AUDITOR, CITY)
    client = client_as(auditor)
    assert "holds no role" in client.get("/cockpit/").content.decode()
    for url in (f"/cockpit/{CITY}/", f"/cockpit/{CITY}/data.json", f"/api/v1/cockpit/{CITY}"):
        assert client.get(url).status_code == 404


SCOPE = {
    # persona: (visible, not visible)
    "city_admin": ([CITY, DISTRICT, STREET, OTHER_DISTRICT, OTHER_STREET, GRID, MICROGRID], ["14"]),
    "district_staff": ([DISTRICT, STREET, SIBLING_STREET, GRID], [CITY, OTHER_DISTRICT, OTHER_STREET]),
    "street_staff": ([STREET, COMMUNITY, GRID, MICROGRID], [DISTRICT, CITY, SIBLING_STREET, OTHER_STREET]),
    "community_staff": ([COMMUNITY, GRID], [STREET, SIBLING_COMMUNITY, DISTRICT]),
    "grid_worker": ([GRID, MICROGRID], [COMMUNITY, f"{COMMUNITY}002"]),
}


@pytest.mark.parametrize("persona", sorted(SCOPE))
def test_scope_outside_is_not_found(client_as, personas, persona):
    client = client_as(personas[persona])
    visible, hidden = SCOPE[persona]
    for code in visible:
        assert client.get(f"/cockpit/{code}/").status_code == 200, code
        assert client.get(f"/cockpit/{code}/data.json").status_code == 200, code
    for code in hidden:
        for suffix in ("", "wall/", "data.json", "geo.json", "figures/", "figures/?part=table"):
            assert client.get(f"/cockpit/{code}/{suffix}").status_code == 404, (code, suffix)
        assert client.get(f"/api/v1/cockpit/{code}").status_code == 404, code


def test_a_street_leader_sees_neither_a_sibling_street_nor_the_district_total(refreshed, client_as, personas):
    client = client_as(personas["street_staff"])
    assert client.get(f"/cockpit/{DISTRICT}/").status_code == 404
    assert client.get(f"/cockpit/{SIBLING_STREET}/data.json").status_code == 404
    data = client.get(f"/cockpit/{STREET}/data.json").json()
    assert data["node"]["code"] == STREET
    assert {child["code"] for child in data["children"]} == set(
        Area.objects.filter(parent_id=STREET).values_list("code", flat=True)
    )
    html = client.get(f"/cockpit/{STREET}/").content.decode()
    assert f"/cockpit/{DISTRICT}/" not in html and "城区" not in html  # no crumb above the user's node


def test_unknown_codes_and_periods_are_not_found(client_as, personas):
    client = client_as(personas["city_admin"])
    assert client.get("/cockpit/1403999/").status_code == 404  # not a division code length
    assert client.get("/cockpit/140399/").status_code == 404  # a code with no area
    assert client.get(f"/cockpit/{CITY}/?period=2026-13").status_code == 404
    assert client.get(f"/cockpit/{CITY}/data.json?period=yesterday").status_code == 404
    assert client.get(f"/cockpit/{CITY}/?period=2026-Q4").status_code == 200


def test_the_figures_shown_are_the_databases(refreshed, client_as, personas):
    client = client_as(personas["street_staff"])
    html = client.get(f"/cockpit/{STREET}/").content.decode()
    shown = figures_on(html)
    for code in ("cases.open", "cases.overdue", "registry.residents", "disputes.red", "disputes.blue"):
        assert float(shown[code]) == value(code, STREET), code
    assert float(shown["cases.on_time_rate"]) == pytest.approx(0.8)
    assert ">80.0%<" in html.replace("<span", "<")  # the rate, formatted
    assert "data-data-url" in html and 'hx-trigger="every 60s"' in html


def test_no_inline_script_on_any_cockpit_page(refreshed, client_as, personas):
    client = client_as(personas["city_admin"])
    for url in (f"/cockpit/{CITY}/", f"/cockpit/{GRID}/", f"/cockpit/{CITY}/wall/", f"/cockpit/{MICROGRID}/"):
        html = client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (url, tag)
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), url
        assert not re.search(r"\son[a-z]+=", html), url  # no inline event handlers
        assert "cockpit/vendor/echarts-5.6.0.min.js" in html and "cdn" not in html.lower()


def test_data_json_is_one_payload_for_the_charts(refreshed, client_as, personas):
    client = client_as(personas["city_admin"])
    response = client.get(f"/cockpit/{CITY}/data.json")
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["node"] == {
        "code": CITY,
        "name": "阳泉市",
        "full_name": "阳泉市",
        "level": 2,
        "level_name": "City",
        "kind": "City",
    }
    assert data["period"] == "now" and data["refreshed_at"]
    assert {i["code"] for i in data["indicators"]} == set(REGISTRY)
    assert data["values"]["cases.open"] == {"value": 3, "numerator": 3, "denominator": None}
    assert data["values"]["cases.on_time_rate"]["value"] == pytest.approx(5 / 6)
    children = {child["code"]: child for child in data["children"]}
    assert set(children) == set(Area.objects.filter(parent_id=CITY).values_list("code", flat=True))
    assert children[DISTRICT]["values"]["cases.open"] == 3
    assert children[OTHER_DISTRICT]["values"]["cases.open"] == 0  # no row: a count of 0
    assert children[OTHER_DISTRICT]["values"]["cases.satisfaction"] == 2.0
    assert children["140321"]["values"]["cases.on_time_rate"] is None  # no row: no data
    assert len(data["trend"]["months"]) == 12
    assert data["trend"]["months"][-1] == f"{timezone.localdate():%Y-%m}"
    assert data["trend"]["values"]["cases.volume"][-1] == 10
    assert data["trend"]["values"]["cases.volume"][0] is None  # never computed


def test_data_json_is_served_warm_with_a_handful_of_queries(
    refreshed, client_as, personas, django_assert_max_num_queries
):
    client = client_as(personas["street_staff"])
    client.get(f"/cockpit/{STREET}/data.json")  # warm
    with django_assert_max_num_queries(4):  # session, user, grants (scope), refresh stamps
        response = client.get(f"/cockpit/{STREET}/data.json")
    assert response.status_code == 200


def test_a_refresh_shows_at_once(refreshed, client_as, personas, people):
    client = client_as(personas["street_staff"])
    before = client.get(f"/cockpit/{STREET}/data.json").json()["values"]["cases.open"]["value"]
    from grassroots.cases.models import Case

    Case.objects.within(STREET).filter(status="reported").update(status="rejected")
    assert client.get(f"/cockpit/{STREET}/data.json").json()["values"]["cases.open"]["value"] == before
    refresh("now")
    after = client.get(f"/cockpit/{STREET}/data.json").json()["values"]["cases.open"]["value"]
    assert after == Case.objects.visible_to(personas["street_staff"]).open().count() < before


def test_before_any_refresh_the_page_says_so(client_as, personas):
    Refresh.objects.all().delete()
    html = client_as(personas["city_admin"]).get(f"/cockpit/{CITY}/").content.decode()
    assert "No figures computed for this period yet." in html
    assert figures_on(html)["cases.open"] == ""  # no data rather than a made-up 0


def test_the_partials_refresh_figures_and_table(refreshed, client_as, personas):
    client = client_as(personas["community_staff"])
    partial = client.get(f"/cockpit/{COMMUNITY}/figures/").content.decode()
    assert "<html" not in partial and float(figures_on(partial)["cases.open"]) == 2
    table = client.get(f"/cockpit/{COMMUNITY}/figures/?part=table").content.decode()
    grids = list(Area.objects.filter(parent_id=COMMUNITY).values_list("code", flat=True))
    assert re.findall(r'<tr data-code="(\d+)"', table) == grids
    assert f'href="/cockpit/{GRID}/?period=now"' in table
    row = table.split(f'data-code="{GRID}"')[1].split("</tr>")[0]
    assert 'data-value="2"' in row  # open cases in the first grid


def test_period_selector_lists_computed_periods(refreshed, client_as, personas):
    refresh("2026-Q1")
    html = client_as(personas["city_admin"]).get(f"/cockpit/{CITY}/?period=2026-Q1").content.decode()
    options = re.findall(
        r'<option value="([^"]+)"( selected)?>', html.split('id="ck-period"')[1].split("</select>")[0]
    )
    assert [o[0] for o in options][:1] == ["now"]
    assert ("2026-Q1", " selected") in options and (f"{timezone.localdate():%Y-%m}", "") in options


def test_geo_json_real_boundaries_at_the_city(client_as, personas):
    geo = client_as(personas["city_admin"]).get(f"/cockpit/{CITY}/geo.json").json()
    assert geo["kind"] == "real"
    codes = {f["properties"]["code"] for f in geo["features"]}
    assert codes == set(Area.objects.filter(parent_id=CITY).values_list("code", flat=True))
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in geo["features"])


@pytest.mark.parametrize("code", [DISTRICT, STREET, COMMUNITY, GRID])
def test_geo_json_schematic_below_the_districts(client_as, personas, code):
    geo = client_as(personas["city_admin"]).get(f"/cockpit/{code}/geo.json").json()
    assert geo["kind"] == "schematic"
    codes = [f["properties"]["code"] for f in geo["features"]]
    assert codes == list(Area.objects.filter(parent_id=code).values_list("code", flat=True))
    assert all(f["properties"]["cp"] for f in geo["features"])


def test_geo_json_nothing_below_a_micro_grid(client_as, personas):
    geo = client_as(personas["city_admin"]).get(f"/cockpit/{MICROGRID}/geo.json").json()
    assert geo == {"type": "FeatureCollection", "kind": "none", "features": []}


def test_the_wall_display_is_dark_large_and_navigation_free(refreshed, client_as, personas):
    html = client_as(personas["city_admin"]).get(f"/cockpit/{CITY}/wall/").content.decode()
    assert '<body class="wall">' in html and "data-wall" in html
    assert "mainnav" not in html and "Log out" not in html
    assert 'hx-get="/cockpit/1403/figures/?period=now&amp;wall=1"' in html
    assert 'hx-trigger="every 60s"' in html and "data-clock" in html
    assert 'data-node-url="/cockpit/__CODE__/wall/?period=now"' in html


def test_chinese_by_default_english_by_choice(refreshed, client_as, personas):
    from django.utils import translation

    client = client_as(personas["city_admin"])
    assert "Open cases" in client.get(f"/cockpit/{CITY}/").content.decode()
    client.cookies.pop("django_language", None)
    html = client.get(f"/cockpit/{CITY}/").content.decode()
    assert 'lang="zh-hans"' in html
    with translation.override("zh-hans"):
        for message in ("City brain", "Open cases", "Wall display"):
            assert translation.gettext(message) in html, message


def test_city_admins_refresh_now(client_as, personas):
    Refresh.objects.all().delete()
    response = client_as(personas["street_staff"]).post("/cockpit/refresh/")
    assert response.status_code == 403 and not Refresh.objects.exists()
    response = client_as(personas["city_admin"]).post("/cockpit/refresh/", {"next": f"/cockpit/{CITY}/"})
    assert response.status_code == 302 and response["Location"] == f"/cockpit/{CITY}/"
    month = f"{timezone.localdate():%Y-%m}"
    assert set(Refresh.objects.values_list("period", flat=True)) == {"now", month}
    response = client_as(personas["city_admin"]).post("/cockpit/refresh/", {"next": "https://evil.example/"})
    assert response["Location"] == "/cockpit/"
