"""The tree pages (root, node, search) for every persona: in scope the real content, out of scope 404."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Count
from django.urls import reverse

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant
from grassroots.areas.choices import Level
from grassroots.areas.grids import chinese_number
from grassroots.areas.models import Area
from grassroots.conftest import (
    CITY,
    COLLEAGUE_GRID,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    OTHER_DISTRICT,
    OTHER_STREET,
    PASSWORD,
    SIBLING_COMMUNITY,
    STREET,
)

MICROGRID = f"{GRID}001"

# (persona, codes they see, codes that must be 404 for them)
SCOPES = [
    ("city_admin", [CITY, DISTRICT, STREET, COMMUNITY, GRID, MICROGRID, OTHER_DISTRICT], ["14"]),
    (
        "district_staff",
        [DISTRICT, STREET, COMMUNITY, GRID, MICROGRID],
        [CITY, OTHER_DISTRICT, OTHER_COMMUNITY],
    ),
    ("street_staff", [STREET, COMMUNITY, SIBLING_COMMUNITY, GRID], [DISTRICT, "140302002", OTHER_STREET]),
    (
        "community_staff",
        [COMMUNITY, GRID, COLLEAGUE_GRID, MICROGRID],
        [STREET, SIBLING_COMMUNITY, OTHER_COMMUNITY],
    ),
    (
        "grid_worker",
        [GRID, MICROGRID],
        [COMMUNITY, COLLEAGUE_GRID, f"{COLLEAGUE_GRID}001", SIBLING_COMMUNITY, CITY],
    ),
    ("colleague", [COLLEAGUE_GRID], [GRID, MICROGRID, COMMUNITY]),
    ("outsider_community", [SIBLING_COMMUNITY], [COMMUNITY, GRID, STREET]),
    (
        "outsider_district",
        [OTHER_COMMUNITY, f"{OTHER_COMMUNITY}001"],
        [COMMUNITY, GRID, DISTRICT, OTHER_STREET],
    ),
]


class _Table(HTMLParser):
    """The rows of the page's list table, as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_body = self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.rows[-1][-1] += data.strip()


def table_rows(html: str) -> list[list[str]]:
    parser = _Table()
    parser.feed(html)
    return parser.rows


def _stat(html: str, label: str) -> str:
    match = re.search(rf'<div class="value">([^<]*)</div><div class="label">{re.escape(label)}</div>', html)
    assert match, f"no {label!r} figure on the page"
    return match.group(1)


# --- Anonymous ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        reverse("home"),
        reverse("areas:root"),
        reverse("areas:node", args=[CITY]),
        reverse("areas:node", args=["nonsense"]),
        reverse("areas:search", args=[STREET]) + "?q=油娄沟",
    ],
)
def test_anonymous_is_sent_to_login(anonymous, tree, url):
    response = anonymous.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    login = anonymous.get(response["Location"])
    assert login.status_code == 200
    assert 'name="password"' in login.content.decode()


def test_login_page_logs_in_with_a_password(anonymous, street_staff):
    response = anonymous.post(reverse("login"), {"username": "shangzhan", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in anonymous.session
    response = anonymous.post(reverse("login"), {"username": "shangzhan", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("areas:node", args=[STREET])
    assert response.context["area"].code == STREET


# --- Root ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "root"),
    [
        ("city_admin", CITY),
        ("street_staff", STREET),
        ("grid_worker", GRID),
        ("outsider_district", OTHER_COMMUNITY),
    ],
)
def test_root_redirects_to_the_only_node(personas, client_as, persona, root):
    response = client_as(personas[persona]).get(reverse("areas:root"))
    assert response.status_code == 302
    assert response["Location"] == reverse("areas:node", args=[root])


def test_home_leads_to_the_tree(client_as, grid_worker):
    response = client_as(grid_worker).get(reverse("home"), follow=True)
    assert [url for url, _ in response.redirect_chain] == [
        reverse("areas:root"),
        reverse("areas:node", args=[GRID]),
    ]


def test_root_lists_several_roots(client_as, make_user):
    user = make_user("two_grids", Role.GRID_WORKER, GRID)
    Grant.objects.create(user=user, role=Role.GRID_WORKER, area_id=f"{OTHER_COMMUNITY}001")
    Grant.objects.create(user=user, role=Role.GRID_WORKER, area_id=MICROGRID)  # nested: not a root
    response = client_as(user).get(reverse("areas:root"))
    assert response.status_code == 200
    assert [a.code for a in response.context["roots"]] == [GRID, f"{OTHER_COMMUNITY}001"]
    html = response.content.decode()
    assert reverse("areas:node", args=[GRID]) in html
    assert reverse("areas:node", args=[f"{OTHER_COMMUNITY}001"]) in html
    assert reverse("areas:node", args=[MICROGRID]) not in html


def test_root_without_any_grant(client_as, make_user):
    user = make_user("nobody", Role.GRID_WORKER, GRID)
    user.grants.all().delete()
    response = client_as(user).get(reverse("areas:root"))
    assert response.status_code == 200
    assert response.context["roots"] == []
    assert "holds no role" in response.content.decode()
    assert client_as(user).get(reverse("areas:node", args=[GRID])).status_code == 404


# --- Node: scope --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "visible", "hidden"), SCOPES)
def test_node_scope(personas, client_as, persona, visible, hidden):
    client = client_as(personas[persona])
    for code in visible:
        response = client.get(reverse("areas:node", args=[code]))
        assert response.status_code == 200, (persona, code)
        assert response.context["area"].code == code
    for code in hidden:
        response = client.get(reverse("areas:node", args=[code]))
        assert response.status_code == 404, (persona, code)
        assert Area.objects.get(code=code).name not in response.content.decode()


@pytest.mark.parametrize("code", ["abc", "1403x", "14030", "1403020010010010010", "140302999", "１４０３"])
def test_node_invalid_or_unknown_code_is_404(client_as, city_admin, code):
    assert client_as(city_admin).get(reverse("areas:node", args=[code])).status_code == 404


def test_inactive_user_sees_nothing(client_as, street_staff):
    client = client_as(street_staff)
    street_staff.is_active = False
    street_staff.save()
    response = client.get(reverse("areas:node", args=[STREET]))
    assert response.status_code == 302  # the session no longer authenticates an inactive user
    assert response["Location"].startswith(reverse("login"))


# --- Node: content ------------------------------------------------------------------------------------------


def test_community_page_counts_are_the_real_numbers(
    client_as, community_staff, grid_worker, colleague, make_user
):
    # A third worker at a micro-grid of grid 1, and one holding two grids, counted once.
    make_user("micro", Role.GRID_WORKER, MICROGRID)
    twice = make_user("twice", Role.GRID_WORKER, f"{COMMUNITY}003")
    Grant.objects.create(user=twice, role=Role.GRID_WORKER, area_id=f"{COMMUNITY}004")
    make_user("elsewhere", Role.GRID_WORKER, f"{SIBLING_COMMUNITY}001")

    response = client_as(community_staff).get(reverse("areas:node", args=[COMMUNITY]))
    assert response.status_code == 200
    html = response.content.decode()
    grids = Area.objects.filter(parent_id=COMMUNITY).count()
    micro = Area.objects.filter(parent__parent_id=COMMUNITY).count()
    summary = response.context["summary"]
    assert summary.by_level == {Level.GRID: grids, Level.MICROGRID: micro}
    assert summary.workers == 4
    assert _stat(html, "Grid") == intcomma(grids)
    assert _stat(html, "Micro-grid") == intcomma(micro)
    assert _stat(html, "Grid workers") == "4"
    community = Area.objects.get(code=COMMUNITY)
    assert _stat(html, "Planned households") == intcomma(community.households_estimate)
    assert "<h1>油娄沟社区</h1>" in html
    assert "油娄沟社区居委会" in html  # the full name under the heading

    rows = table_rows(html)
    assert [row[0] for row in rows] == [f"第{chinese_number(n)}网格" for n in range(1, grids + 1)]
    by_code = {row[1]: row for row in rows}
    workers = {GRID: "2", COLLEAGUE_GRID: "1", f"{COMMUNITY}003": "1", f"{COMMUNITY}004": "1"}
    for code, row in by_code.items():
        assert row[3] == str(Area.objects.filter(parent_id=code).count())  # micro-grids
        assert row[4] == "1"  # grids in the subtree, the node included: the grid itself
        assert row[5] == workers.get(code, "0")


def test_street_page_counts_per_community(client_as, street_staff, grid_worker, colleague):
    response = client_as(street_staff).get(reverse("areas:node", args=[STREET]))
    html = response.content.decode()
    rows = {row[1]: row for row in table_rows(html)}
    expected = Area.objects.filter(parent_id=STREET).annotate(n=Count("children")).values_list("code", "n")
    assert len(rows) == 10
    for code, children in expected:
        grids = Area.objects.within(code).filter(level=Level.GRID).count()
        assert rows[code][3] == intcomma(children)
        assert rows[code][4] == intcomma(grids) == intcomma(children)
        assert rows[code][5] == ("2" if code == COMMUNITY else "0")
    assert _stat(html, "Grid workers") == "2"
    assert _stat(html, "Community / village") == "10"
    # Names as people say them, not as registered.
    assert "油娄沟社区</a>" in html


def test_city_page_lists_districts_with_counts(client_as, city_admin, grid_worker, outsider_district):
    response = client_as(city_admin).get(reverse("areas:node", args=[CITY]))
    html = response.content.decode()
    rows = {row[1]: row for row in table_rows(html)}
    assert set(rows) == {"140302", "140303", "140311", "140321", "140322"}
    assert rows[DISTRICT][0] == "城区"
    streets = Area.objects.filter(parent_id=DISTRICT).count()
    assert rows[DISTRICT][3] == str(streets)
    assert rows[DISTRICT][4] == intcomma(Area.objects.within(DISTRICT).filter(level=Level.GRID).count())
    assert rows[DISTRICT][5] == "1"
    assert rows[OTHER_DISTRICT][4] == intcomma(
        Area.objects.within(OTHER_DISTRICT).filter(level=Level.GRID).count()
    )
    assert rows[OTHER_DISTRICT][5] == "0"  # community staff are not grid workers
    assert rows["140311"][4] == "0"  # 郊区 has no grids yet
    assert _stat(html, "District / county") == "5"
    assert _stat(html, "Street / township") == "43"
    assert _stat(html, "Community / village") == "777"


def test_breadcrumbs_stop_at_the_scope(client_as, community_staff, city_admin):
    response = client_as(community_staff).get(reverse("areas:node", args=[MICROGRID]))
    assert [a.code for a in response.context["crumbs"]] == [COMMUNITY, GRID, MICROGRID]
    response = client_as(city_admin).get(reverse("areas:node", args=[MICROGRID]))
    assert [a.code for a in response.context["crumbs"]] == [
        CITY,
        DISTRICT,
        STREET,
        COMMUNITY,
        GRID,
        MICROGRID,
    ]
    html = response.content.decode()
    assert reverse("areas:node", args=["14"]) not in html


def test_grid_worker_sees_their_micro_grids(client_as, grid_worker):
    response = client_as(grid_worker).get(reverse("areas:node", args=[GRID]))
    assert response.status_code == 200
    rows = table_rows(response.content.decode())
    assert [row[1] for row in rows] == list(
        Area.objects.filter(parent_id=GRID).order_by("code").values_list("code", flat=True)
    )
    assert rows[0][0] == "第一微网格"
    assert [a.code for a in response.context["crumbs"]] == [GRID]
    # No link up the tree to what they may not see.
    assert reverse("areas:node", args=[COMMUNITY]) not in response.content.decode()


def test_ungridded_community(client_as, district_staff):
    response = client_as(district_staff).get(reverse("areas:node", args=["140302002001"]))
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "has not been divided into grids yet" in response.content.decode()


def test_node_page_paginates_children(client_as, district_staff, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PAGE_SIZE": 4}
    client = client_as(district_staff)
    children = list(Area.objects.filter(parent_id=DISTRICT).order_by("code").values_list("code", flat=True))
    seen = []
    for page in range(1, 10):
        response = client.get(reverse("areas:node", args=[DISTRICT]), {"page": page})
        assert response.status_code == 200
        codes = [row[1] for row in table_rows(response.content.decode())]
        if response.context["page"].number < page:  # past the end: Django shows the last page
            break
        seen += codes
    assert seen == children


def test_the_page_speaks_chinese_by_default(client_as, street_staff):
    client = client_as(street_staff)
    del client.cookies["django_language"]
    response = client.get(reverse("areas:node", args=[STREET]), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"


# --- Search -------------------------------------------------------------------------------------------------


def test_search_by_name_within_scope(client_as, street_staff):
    response = client_as(street_staff).get(reverse("areas:search", args=[STREET]), {"q": "油娄沟"})
    assert response.status_code == 200
    assert [a.code for a in response.context["results"]] == [COMMUNITY]
    html = response.content.decode()
    assert "<html" in html  # a full page without htmx
    assert reverse("areas:node", args=[COMMUNITY]) in html


def test_search_by_code_prefix(client_as, community_staff):
    response = client_as(community_staff).get(reverse("areas:search", args=[COMMUNITY]), {"q": GRID})
    codes = [a.code for a in response.context["results"]]
    expected = list(Area.objects.within(GRID).order_by("level", "code").values_list("code", flat=True))
    assert codes == expected[: response.context["limit"]]
    assert codes[0] == GRID


def test_search_htmx_gets_the_partial(client_as, street_staff):
    response = client_as(street_staff).get(
        reverse("areas:search", args=[STREET]), {"q": "社区"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "<body" not in html
    assert response.templates[0].name == "areas/_search_results.html"
    assert html.count("<li>") == 10  # the ten communities of 上站街道
    assert "窑坡社区" in html


def test_search_never_leaves_the_scope(client_as, community_staff, grid_worker, outsider_district):
    # Community staff searching their whole community for the sibling's name: nothing.
    response = client_as(community_staff).get(reverse("areas:search", args=[COMMUNITY]), {"q": "窑坡"})
    assert response.context["results"] == []
    assert "Nothing matches" in response.content.decode()
    # A grid worker searching a code prefix sees only their own grid.
    response = client_as(grid_worker).get(reverse("areas:search", args=[GRID]), {"q": COMMUNITY})
    codes = {a.code for a in response.context["results"]}
    assert codes and all(code.startswith(GRID) for code in codes)
    # A grid worker may not search the community at all.
    assert (
        client_as(grid_worker).get(reverse("areas:search", args=[COMMUNITY]), {"q": "x"}).status_code == 404
    )
    assert (
        client_as(outsider_district).get(reverse("areas:search", args=[STREET]), {"q": "x"}).status_code
        == 404
    )


def test_empty_search_shows_no_results(client_as, street_staff):
    response = client_as(street_staff).get(reverse("areas:search", args=[STREET]), {"q": "  "})
    assert response.status_code == 200
    assert response.context["results"] == []
    assert response.context["query"] == ""


def test_search_results_are_capped(client_as, city_admin):
    response = client_as(city_admin).get(reverse("areas:search", args=[CITY]), {"q": "社区"})
    limit = response.context["limit"]
    assert len(response.context["results"]) == limit
    assert "Showing the first" in response.content.decode()


def test_search_invalid_code_is_404(client_as, city_admin):
    assert client_as(city_admin).get(reverse("areas:search", args=["xyz"]), {"q": "a"}).status_code == 404
