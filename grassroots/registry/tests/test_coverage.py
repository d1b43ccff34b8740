"""The coverage audit (格不漏户、户不漏人) on a registry with known gaps: exact counts per child node,
totals, drill-down, the raw-SQL floor, scoping per persona, the API and the command."""

from __future__ import annotations

import datetime as dt
import itertools
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from grassroots.accounts.choices import Role
from grassroots.areas.choices import Kind, Level
from grassroots.areas.models import Area
from grassroots.conftest import (
    CITY,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    OTHER_DISTRICT,
    OTHER_STREET,
    SIBLING_COMMUNITY,
    STREET,
)
from grassroots.registry import actions
from grassroots.registry.choices import EventKind, Relation
from grassroots.registry.coverage import (
    BAND_OVER,
    CHECKS,
    FIGURES,
    Check,
    Norms,
    coverage_table,
    offenders,
    run_checks,
    run_checks_raw_sql,
)
from grassroots.registry.coverage_api import CoverageOffenderOut, CoverageOut
from grassroots.registry.idnumber import make_id_number
from grassroots.registry.models import Household, Resident
from grassroots.registry.protect import seal_id_number

pytestmark = pytest.mark.usefixtures("tree")

G1, G2, G3, G4 = (f"{COMMUNITY}{n:03d}" for n in (1, 2, 3, 4))
M1 = f"{G1}001"  # a micro-grid of the first grid
G3_M1, G3_M2 = f"{G3}001", f"{G3}002"
SIBLING_GRID = f"{SIBLING_COMMUNITY}001"
VILLAGE = "140303001200"  # 西河村, a village of 平潭街街道 with one grid
VILLAGE_GRID = f"{VILLAGE}001"

# Small norms, so that a handful of households put a grid above or below them:
# urban grids are far below under 2 households and far above over 6; village grids over 3.
URBAN_NORM, VILLAGE_MAX = 4, 2

_sequence = itertools.count(1)


def _id_number(region: str = "140302") -> str:
    n = next(_sequence)
    return make_id_number(region, dt.date(1960, 1, 1) + dt.timedelta(days=n), n % 1000)


def _duplicate(household: Household | None, area: str, id_number: str, name: str) -> Resident:
    """A second active record of someone already registered: what the actions refuse, an import may
    still produce, and the audit must find."""
    return Resident.objects.create(
        household=household,
        area_id=area,
        name=name,
        relation=Relation.OTHER_RELATIVE,
        **seal_id_number(id_number).fields(),
    )


@pytest.fixture(autouse=True)
def _norms(settings):
    settings.GRASSROOTS = {
        **settings.GRASSROOTS,
        "URBAN_GRID_HOUSEHOLDS": URBAN_NORM,
        "VILLAGE_GRID_MAX_HOUSEHOLDS": VILLAGE_MAX,
    }


@pytest.fixture
def gaps(make_user):
    """A registry with known gaps.

    油娄沟社区 (COMMUNITY), grids G1…G7:
      G1: H1 (micro-grid M1: 甲, 丙), H2 (grid level: 乙), H3 (M1, nobody), H4 (its only member moved
          out), 丁 in no household; worker. → 4 households, 4 residents, 2 empty, 1 outside household.
      G2: H5 (丙 again: registered twice, and 戊) and six households with nobody; worker.
          → 7 households (far above the norm), 6 empty.
      G3: H13 in micro-grid G3_M1 (己); a worker at that micro-grid. → 1 household (far below).
      G4: a grid worker whose account is disabled. G4…G7: no worker, no households (far below).
      the community itself: H6 (庚), placed in no grid.
    窑坡社区 (SIBLING_COMMUNITY): S1 in its first grid (辛, 壬), 癸 in no household. 壬 is registered again
      in 平潭街东社区 (OTHER_COMMUNITY), in household O1 placed in no grid (矿区, the other district).
    西河村 (VILLAGE): four households with nobody in its one grid (far above a village grid's norm).
    """
    registrar = make_user("registrar", Role.STREET_STAFF, STREET)
    registrar2 = make_user("registrar2", Role.STREET_STAFF, OTHER_STREET)
    make_user("worker1", Role.GRID_WORKER, G1)
    make_user("worker2", Role.GRID_WORKER, G2)
    make_user("worker3", Role.GRID_WORKER, G3_M1)
    retired = make_user("retired", Role.GRID_WORKER, G4)
    retired.is_active = False
    retired.save()

    areas = {code: Area.objects.get(code=code) for code in (COMMUNITY, G1, M1, G2, G3_M1, SIBLING_GRID)}
    areas[OTHER_COMMUNITY] = Area.objects.get(code=OTHER_COMMUNITY)

    def household(number: str, code: str, actor=registrar) -> Household:
        return actions.do_create_household(
            actor, area=areas[code], number=number, address=f"{number} 号", room="1单元101"
        )

    def resident(hh: Household, name: str, relation=Relation.HEAD, actor=registrar, id_number=None):
        return actions.do_add_resident(
            actor, household=hh, name=name, id_number=id_number or _id_number(), relation=relation
        )

    h1, h2, _h3, h4 = household("H1", M1), household("H2", G1), household("H3", M1), household("H4", G1)
    resident(h1, "甲")
    twice = _id_number()
    bing = resident(h1, "丙", Relation.CHILD, id_number=twice)
    resident(h2, "乙")
    leaver = resident(h4, "离开")
    actions.do_resident_leaves(registrar, resident=leaver, kind=EventKind.MOVE_OUT)
    ding = _duplicate(None, G1, _id_number(), "丁")  # a person in no household

    h5 = household("H5", G2)
    bing2 = _duplicate(h5, G2, twice, "丙")
    resident(h5, "戊")
    Household.objects.bulk_create(
        Household(area_id=G2, number=f"H{n}", address=f"H{n} 号") for n in range(7, 13)
    )
    h13 = household("H13", G3_M1)
    resident(h13, "己")
    h6 = household("H6", COMMUNITY)
    resident(h6, "庚")

    s1 = household("S1", SIBLING_GRID)
    resident(s1, "辛")
    twice_elsewhere = _id_number()
    ren = resident(s1, "壬", Relation.SPOUSE, id_number=twice_elsewhere)
    gui = _duplicate(None, SIBLING_GRID, _id_number(), "癸")
    o1 = household("O1", OTHER_COMMUNITY, actor=registrar2)
    ren2 = _duplicate(o1, OTHER_COMMUNITY, twice_elsewhere, "壬")
    Household.objects.bulk_create(
        Household(area_id=VILLAGE_GRID, number=f"V{n}", address=f"V{n} 号") for n in range(1, 5)
    )
    return SimpleNamespace(
        twice=twice,
        bing=bing,
        bing2=bing2,
        ding=ding,
        ren=ren,
        ren2=ren2,
        gui=gui,
        households={h.number: h for h in Household.objects.all()},
    )


def figures(**nonzero: int) -> dict[str, int]:
    result = dict.fromkeys(FIGURES, 0)
    result.update(nonzero)
    return result


def _grid_figures(households=0, residents=0, *, worker=False, band=None, **checks) -> dict[str, int]:
    return figures(
        households=households,
        residents=residents,
        grids=1,
        grids_without_worker=0 if worker else 1,
        grids_over_norm=1 if band == "over" else 0,
        grids_under_norm=1 if band == "under" else 0,
        **checks,
    )


# --- the figures -----------------------------------------------------------------------------------


def test_norms_come_from_settings():
    norms = Norms.from_settings()
    assert (norms.urban_low, norms.urban_high, norms.village_high) == (2, 6, 3)
    assert Norms(urban=300, village_max=300).urban_low == 150
    assert Norms(urban=300, village_max=300).urban_high == 450
    assert Norms(urban=301, village_max=300).urban_low == 151  # fewer than 150.5 households


def test_community_table_per_grid(gaps):
    table = coverage_table(Area.objects.get(code=COMMUNITY))
    grids = list(Area.objects.filter(parent_id=COMMUNITY).order_by("code").values_list("code", flat=True))
    assert [row.area.code for row in table.rows] == grids
    by_code = {row.area.code: row.figures for row in table.rows}
    assert by_code[G1] == _grid_figures(
        4, 4, worker=True, empty_households=2, residents_outside_household=1, duplicate_persons=1
    )
    assert by_code[G2] == _grid_figures(
        7, 2, worker=True, band="over", empty_households=6, duplicate_persons=1
    )
    assert by_code[G3] == _grid_figures(1, 1, worker=True, band="under")
    assert by_code[G4] == _grid_figures(band="under")  # its only worker's account is disabled
    for code in grids[4:]:
        assert by_code[code] == _grid_figures(band="under")

    assert table.direct is not None
    assert table.direct.figures == figures(households=1, residents=1, households_outside_grid=1)
    others = len(grids) - 3
    assert table.total.figures == figures(
        households=13,
        residents=8,
        grids=len(grids),
        households_outside_grid=1,
        residents_outside_household=1,
        duplicate_persons=1,  # 丙, in G1 and in G2: once in each row, once in the total
        empty_households=8,
        grids_without_worker=others,
        grids_over_norm=1,
        grids_under_norm=1 + others,
    )
    assert not table.all_clear


def _assert_total_is_sum(table) -> None:
    rows = [*table.rows, *([table.direct] if table.direct else [])]
    for key in FIGURES:
        summed = sum(row.figures[key] for row in rows)
        if key == Check.DUPLICATE_PERSONS:
            assert table.total.figures[key] <= summed
        else:
            assert table.total.figures[key] == summed, key


@pytest.mark.parametrize("code", [CITY, DISTRICT, STREET, COMMUNITY, G1, G3, M1, OTHER_STREET, VILLAGE])
def test_total_is_the_sum_of_rows_and_each_row_is_its_nodes_audit(gaps, code):
    table = coverage_table(Area.objects.get(code=code))
    _assert_total_is_sum(table)
    assert table.total.figures == run_checks(code)
    for row in table.rows:
        assert row.figures == run_checks(row.area.code), row.area.code


@pytest.mark.parametrize(
    "code",
    [
        CITY,
        DISTRICT,
        OTHER_DISTRICT,
        STREET,
        COMMUNITY,
        SIBLING_COMMUNITY,
        OTHER_COMMUNITY,
        G1,
        G2,
        M1,
        VILLAGE,
    ],
)
def test_raw_sql_agrees_with_the_orm(gaps, code):
    assert run_checks_raw_sql(code) == run_checks(code)


def test_raw_sql_agrees_on_an_empty_registry():
    for code in (CITY, COMMUNITY, G1):
        assert run_checks_raw_sql(code) == run_checks(code)


def test_street_table(gaps):
    table = coverage_table(Area.objects.get(code=STREET))
    by_code = {row.area.code: row.figures for row in table.rows}
    community = run_checks(COMMUNITY)
    assert by_code[COMMUNITY] == community
    sibling_grids = Area.objects.filter(parent_id=SIBLING_COMMUNITY).count()
    assert by_code[SIBLING_COMMUNITY] == figures(
        households=1,
        residents=3,
        grids=sibling_grids,
        residents_outside_household=1,
        duplicate_persons=1,  # 壬, registered again in the other district
        grids_without_worker=sibling_grids,
        grids_under_norm=sibling_grids,
    )
    for code, row in by_code.items():
        if code not in (COMMUNITY, SIBLING_COMMUNITY):
            assert row == figures(
                grids=row["grids"], grids_without_worker=row["grids"], grids_under_norm=row["grids"]
            )
    assert table.direct is None
    assert table.total.figures[Check.DUPLICATE_PERSONS] == 2


def test_a_person_registered_in_two_districts_counts_in_both_and_once_in_the_city(gaps):
    table = coverage_table(Area.objects.get(code=CITY))
    duplicates = {row.area.code: row.figures[Check.DUPLICATE_PERSONS] for row in table.rows}
    assert duplicates[DISTRICT] == 2  # 丙 (twice inside 城区) and 壬
    assert duplicates[OTHER_DISTRICT] == 1  # 壬
    assert table.total.figures[Check.DUPLICATE_PERSONS] == 2


def test_village_grids_are_flagged_only_above_the_norm(gaps):
    assert run_checks(VILLAGE_GRID)[Check.GRIDS_OVER_NORM] == 1
    table = coverage_table(Area.objects.get(code=OTHER_STREET))
    villages = [row for row in table.rows if row.area.kind == Kind.VILLAGE]
    assert villages
    for row in villages:
        assert row.figures[Check.GRIDS_UNDER_NORM] == 0
    assert table.total.figures[Check.GRIDS_OVER_NORM] == 1


def test_micro_grid_without_gaps_is_all_clear(gaps):
    table = coverage_table(Area.objects.get(code=G3_M2))
    assert table.rows == [] and table.direct is None
    assert table.all_clear
    assert table.total.figures == figures()


def test_table_takes_a_fixed_number_of_queries(gaps):
    for code in (CITY, STREET, COMMUNITY, G1):
        node = Area.objects.get(code=code)
        with CaptureQueriesContext(connection) as queries:
            coverage_table(node)
        # children; households, empty households, residents, duplicates, grids; the node's duplicates
        assert len(queries) == 7, code
    with CaptureQueriesContext(connection) as queries:
        run_checks(CITY)
    assert len(queries) == 5
    with CaptureQueriesContext(connection) as queries:
        run_checks_raw_sql(CITY)
    assert len(queries) == 1


# --- drill-down ------------------------------------------------------------------------------------


def _listed(user, code: str, check: str, **kwargs) -> list[str]:
    node = Area.objects.get(code=code)
    records = offenders(user, node, check, **kwargs)
    return [getattr(r, "number", None) or getattr(r, "name", None) or r.code for r in records]


def test_offenders_are_exactly_the_counted_records(gaps, city_admin):
    community = Area.objects.get(code=COMMUNITY)
    listed = {check: _listed(city_admin, COMMUNITY, check) for check in CHECKS}
    assert listed[Check.HOUSEHOLDS_OUTSIDE_GRID] == ["H6"]
    assert listed[Check.RESIDENTS_OUTSIDE_HOUSEHOLD] == ["丁"]
    assert listed[Check.DUPLICATE_PERSONS] == ["丙", "丙"]
    assert sorted(listed[Check.EMPTY_HOUSEHOLDS]) == sorted(["H3", "H4", *(f"H{n}" for n in range(7, 13))])
    grids = Area.objects.filter(parent_id=COMMUNITY).order_by("code")
    others = [g.code for g in grids][3:]
    grid_codes = {
        check: [r.code for r in offenders(city_admin, community, check)]
        for check in (Check.GRIDS_WITHOUT_WORKER, Check.GRIDS_OVER_NORM, Check.GRIDS_UNDER_NORM)
    }
    assert grid_codes[Check.GRIDS_WITHOUT_WORKER] == others
    assert grid_codes[Check.GRIDS_OVER_NORM] == [G2]
    assert grid_codes[Check.GRIDS_UNDER_NORM] == [G3, *others]
    # Every count but duplicates (persons, not records) is the number of records behind it.
    total = coverage_table(community).total.figures
    for check in CHECKS:
        if check != Check.DUPLICATE_PERSONS:
            assert len(listed[check]) == total[check], check


def test_offender_details(gaps, city_admin):
    community = Area.objects.get(code=COMMUNITY)
    grid = offenders(city_admin, community, Check.GRIDS_OVER_NORM).get()
    assert (grid.active_households, grid.workers, grid.band, grid.norm_low, grid.norm_high) == (
        7,
        1,
        BAND_OVER,
        2,
        6,
    )
    records = list(offenders(city_admin, community, Check.DUPLICATE_PERSONS))
    assert {r.pk for r in records} == {gaps.bing.pk, gaps.bing2.pk}
    assert all(r.records == 2 for r in records)


def test_offenders_directly_at_the_node(gaps, city_admin):
    assert _listed(city_admin, COMMUNITY, Check.HOUSEHOLDS_OUTSIDE_GRID, direct=True) == ["H6"]
    assert _listed(city_admin, COMMUNITY, Check.EMPTY_HOUSEHOLDS, direct=True) == []
    assert _listed(city_admin, G1, Check.EMPTY_HOUSEHOLDS, direct=True) == ["H4"]  # H3 is in a micro-grid
    assert _listed(city_admin, G1, Check.RESIDENTS_OUTSIDE_HOUSEHOLD, direct=True) == ["丁"]


def test_duplicates_are_listed_only_within_the_callers_scope(gaps, make_user):
    sibling = make_user("sibling_staff", Role.COMMUNITY_STAFF, SIBLING_COMMUNITY)
    node = Area.objects.get(code=SIBLING_COMMUNITY)
    # 壬 is counted here, but the other record (in 矿区) is neither listed nor reachable.
    assert [r.pk for r in offenders(sibling, node, Check.DUPLICATE_PERSONS)] == [gaps.ren.pk]
    street = Area.objects.get(code=STREET)
    assert offenders(sibling, street, Check.DUPLICATE_PERSONS).count() == 1


# --- pages -----------------------------------------------------------------------------------------


def test_community_page(gaps, community_staff, client_as, django_assert_max_num_queries):
    client = client_as(community_staff)
    client.get(f"/coverage/{G1}/")  # the first request of a session does some one-off work
    with django_assert_max_num_queries(12):
        response = client.get(f"/coverage/{COMMUNITY}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Coverage audit" in html
    assert f'href="/coverage/{G1}/"' in html
    assert f'href="/coverage/{G2}/{Check.GRIDS_OVER_NORM}/"' in html
    assert f'href="/coverage/{COMMUNITY}/{Check.HOUSEHOLDS_OUTSIDE_GRID}/here/"' in html
    assert f'href="/coverage/{COMMUNITY}/{Check.EMPTY_HOUSEHOLDS}/"' in html
    assert f'href="/coverage/{G1}/{Check.GRIDS_OVER_NORM}/"' not in html  # zero: no link
    assert "Not in any grid" in html
    assert f'href="/coverage/{STREET}/"' not in html  # above the user's scope: no crumb
    assert "Nothing missing" not in html


def test_page_query_count_does_not_grow_with_the_tree(gaps, city_admin, client_as):
    client = client_as(city_admin)
    client.get(f"/coverage/{M1}/")  # the first request of a session does some one-off work
    counts = []
    for code in (CITY, STREET, COMMUNITY, G1, M1):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/coverage/{code}/").status_code == 200
        counts.append(len(queries))
    assert max(counts) <= 12
    assert len(set(counts[:4])) == 1, counts


def test_offenders_page_shows_masked_values_only(gaps, community_staff, client_as):
    client = client_as(community_staff)
    response = client.get(f"/coverage/{COMMUNITY}/{Check.DUPLICATE_PERSONS}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("丙") >= 2
    assert gaps.bing.id_number_masked in html
    assert gaps.twice not in html
    assert gaps.twice[6:14] not in html  # not even the birth date
    response = client.get(f"/coverage/{COMMUNITY}/{Check.RESIDENTS_OUTSIDE_HOUSEHOLD}/")
    assert "丁" in response.content.decode()
    response = client.get(f"/coverage/{COMMUNITY}/{Check.EMPTY_HOUSEHOLDS}/")
    html = response.content.decode()
    assert "H3" in html and "H12" in html and "H1<" not in html
    response = client.get(f"/coverage/{COMMUNITY}/{Check.GRIDS_UNDER_NORM}/")
    assert "第三网格" in response.content.decode()


def test_offenders_page_is_paginated(gaps, community_staff, client_as, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PAGE_SIZE": 5}
    client = client_as(community_staff)
    first = client.get(f"/coverage/{COMMUNITY}/{Check.EMPTY_HOUSEHOLDS}/").content.decode()
    second = client.get(f"/coverage/{COMMUNITY}/{Check.EMPTY_HOUSEHOLDS}/?page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert "8 records" in first


def test_empty_state(gaps, city_admin, client_as):
    html = client_as(city_admin).get(f"/coverage/{G3_M2}/").content.decode()
    assert "Nothing missing" in html
    html = client_as(city_admin).get(f"/coverage/{G3_M2}/{Check.EMPTY_HOUSEHOLDS}/").content.decode()
    assert "Nothing missing here" in html


@pytest.mark.parametrize(
    ("persona", "allowed", "denied"),
    [
        ("grid_worker", [G1, M1], [COMMUNITY, G2, STREET]),
        ("community_staff", [COMMUNITY, G1, G2], [SIBLING_COMMUNITY, STREET, OTHER_COMMUNITY]),
        ("street_staff", [STREET, COMMUNITY, SIBLING_COMMUNITY], [DISTRICT, OTHER_STREET, OTHER_COMMUNITY]),
        ("outsider_community", [SIBLING_COMMUNITY], [COMMUNITY, G1]),
        ("outsider_district", [OTHER_COMMUNITY], [COMMUNITY, STREET, CITY]),
        ("city_admin", [CITY, OTHER_COMMUNITY, G1], []),
    ],
)
def test_scoping(gaps, personas, client_as, api_as, persona, allowed, denied):
    user = personas[persona]
    client, api = client_as(user), api_as(user)
    for code in allowed:
        assert client.get(f"/coverage/{code}/").status_code == 200, code
        assert client.get(f"/coverage/{code}/{Check.EMPTY_HOUSEHOLDS}/").status_code == 200, code
        assert api.get(f"/api/v1/coverage/{code}").status_code == 200, code
    for code in denied:
        assert client.get(f"/coverage/{code}/").status_code == 404, code
        assert client.get(f"/coverage/{code}/{Check.EMPTY_HOUSEHOLDS}/").status_code == 404, code
        assert client.get(f"/coverage/{code}/{Check.EMPTY_HOUSEHOLDS}/here/").status_code == 404, code
        assert api.get(f"/api/v1/coverage/{code}").status_code == 404, code
        assert api.get(f"/api/v1/coverage/{code}/{Check.EMPTY_HOUSEHOLDS}").status_code == 404, code


def test_grid_worker_sees_their_grid(gaps, grid_worker, client_as):
    client = client_as(grid_worker)
    assert client.get("/coverage/").url == f"/coverage/{GRID}/"
    html = client.get(f"/coverage/{GRID}/").content.decode()
    assert "Not in any micro-grid" in html  # H2, H4 and 丁 sit at the grid itself
    assert f'href="/coverage/{M1}/{Check.EMPTY_HOUSEHOLDS}/"' in html


def test_street_supervisor_sees_the_street_table(gaps, street_staff, client_as):
    html = client_as(street_staff).get(f"/coverage/{STREET}/").content.decode()
    assert f'href="/coverage/{COMMUNITY}/"' in html and f'href="/coverage/{SIBLING_COMMUNITY}/"' in html
    assert f'href="/coverage/{SIBLING_COMMUNITY}/{Check.DUPLICATE_PERSONS}/"' in html


def test_login_roles_and_bad_addresses(gaps, anonymous, make_user, client_as, city_admin):
    response = anonymous.get(f"/coverage/{COMMUNITY}/")
    assert response.status_code == 302 and "/login/" in response.url
    auditor = make_user("auditor", Role.AUDITOR, CITY)  # reads the audit trail, not the registry
    assert client_as(auditor).get(f"/coverage/{COMMUNITY}/").status_code == 404
    assert client_as(auditor).get("/coverage/").status_code == 404
    client = client_as(city_admin)
    assert client.get(f"/coverage/{COMMUNITY}/no_such_check/").status_code == 404
    assert client.get("/coverage/14030x/").status_code == 404
    assert client.get("/coverage/1403020019/").status_code == 404


# --- API -------------------------------------------------------------------------------------------


def test_api_table(gaps, community_staff, api_as):
    response = api_as(community_staff).get(f"/api/v1/coverage/{COMMUNITY}")
    assert response.status_code == 200
    data = response.json()
    CoverageOut.model_validate(data)  # the response matches the schema the API publishes
    table = coverage_table(Area.objects.get(code=COMMUNITY))
    assert data["code"] == COMMUNITY and data["level"] == Level.COMMUNITY
    assert [c["key"] for c in data["checks"]] == list(CHECKS)
    assert [row["code"] for row in data["children"]] == [row.area.code for row in table.rows]
    assert [row["figures"] for row in data["children"]] == [row.figures for row in table.rows]
    assert data["direct"]["code"] is None and data["direct"]["figures"] == table.direct.figures
    assert data["total"]["figures"] == table.total.figures
    assert data["total"]["gaps"] == table.total.gaps
    assert data["all_clear"] is False
    assert data["norms"] == {"urban": 4, "urban_low": 2, "urban_high": 6, "village_high": 3}


def test_api_offenders(gaps, community_staff, api_as):
    api = api_as(community_staff)
    data = api.get(f"/api/v1/coverage/{COMMUNITY}/{Check.EMPTY_HOUSEHOLDS}?limit=3").json()
    assert data["count"] == 8 and len(data["items"]) == 3
    for check in CHECKS:
        for item in api.get(f"/api/v1/coverage/{COMMUNITY}/{check}").json()["items"]:
            CoverageOffenderOut.model_validate(item)
    assert {item["kind"] for item in data["items"]} == {"household"}
    data = api.get(f"/api/v1/coverage/{COMMUNITY}/{Check.DUPLICATE_PERSONS}").json()
    assert data["count"] == 2
    assert {item["id_number_masked"] for item in data["items"]} == {gaps.bing.id_number_masked}
    assert gaps.twice not in str(data)
    assert {item["records"] for item in data["items"]} == {2}
    data = api.get(f"/api/v1/coverage/{COMMUNITY}/{Check.HOUSEHOLDS_OUTSIDE_GRID}?direct=true").json()
    assert [item["name"] for item in data["items"]] == ["H6"]
    data = api.get(f"/api/v1/coverage/{COMMUNITY}/{Check.GRIDS_OVER_NORM}").json()
    assert data["items"] == [
        {
            "kind": "grid",
            "id": G2,
            "name": "第二网格",
            "area_code": G2,
            "place": "第二网格",
            "household_number": None,
            "id_number_masked": None,
            "address": None,
            "records": None,
            "households": 7,
            "workers": 1,
            "norm_low": 2,
            "norm_high": 6,
        }
    ]
    assert api.get(f"/api/v1/coverage/{COMMUNITY}/no_such_check").status_code == 422


def test_api_is_in_the_openapi_schema(city_admin, api_as):
    schema = api_as(city_admin).get("/api/v1/openapi.json").json()
    assert "/api/v1/coverage/{code}" in schema["paths"]
    assert "/api/v1/coverage/{code}/{check}" in schema["paths"]
    figures_schema = schema["components"]["schemas"]["CoverageFiguresOut"]
    assert set(figures_schema["properties"]) == set(FIGURES)


# --- command ---------------------------------------------------------------------------------------


def test_command_prints_the_table(gaps):
    out = StringIO()
    with translation.override("en"):
        call_command("audit", "coverage", COMMUNITY, stdout=out)
    text = out.getvalue()
    assert "油娄沟社区" in text and G1 in text and "Total" in text
    total_line = next(line for line in text.splitlines() if line.startswith("Total"))
    total = run_checks(COMMUNITY)
    assert total_line.split()[2:] == [str(total[key]) for key in FIGURES]
    out = StringIO()
    with translation.override("en"):
        call_command("audit", "coverage", stdout=out)  # the city by default
    assert "阳泉市 1403" in out.getvalue() and "城区" in out.getvalue()


@pytest.mark.parametrize("code", ["1499", "14030x", "1403020019"])
def test_command_refuses_unknown_codes(code):
    with pytest.raises(CommandError):
        call_command("audit", "coverage", code, stdout=StringIO())
