"""The tree model: levels, database constraints, and subtree queries answered by an index range."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from grassroots.accounts.choices import Role
from grassroots.areas.choices import Kind, Level, Source
from grassroots.areas.codes import LENGTH_BY_LEVEL
from grassroots.areas.models import Area
from grassroots.conftest import COMMUNITY, GRID, OTHER_STREET, STREET

pytestmark = pytest.mark.usefixtures("tree")


def _descendants_by_prefix(code: str) -> set[str]:
    """The oracle: every code that starts with ``code``, found without any range logic."""
    return {c for c in Area.objects.values_list("code", flat=True) if c.startswith(code)}


def test_yangquan_has_its_real_shape():
    counts = dict(Area.objects.within("1403").values_list("level").annotate(n=Count("code")))
    assert counts[Level.CITY] == 1
    assert counts[Level.DISTRICT] == 5
    assert counts[Level.STREET] == 43
    assert counts[Level.COMMUNITY] == 777
    assert Area.objects.get(code="14").level == Level.PROVINCE


def test_every_code_length_matches_its_level_and_parent_is_its_prefix():
    for code, level, parent in Area.objects.values_list("code", "level", "parent_id"):
        assert len(code) == LENGTH_BY_LEVEL[level]
        if level == Level.PROVINCE:
            assert parent is None
        else:
            assert code.startswith(parent)
            assert len(parent) == LENGTH_BY_LEVEL[level - 1]


def test_names_kinds_and_display_names():
    community = Area.objects.get(code=COMMUNITY)
    assert community.name == "油娄沟社区居委会"
    assert community.display_name == "油娄沟社区"
    assert community.kind == Kind.COMMUNITY
    assert community.parent.name == "上站街道"
    village = Area.objects.get(code="140303001200")
    assert village.name == "西河村委会"
    assert village.display_name == "西河村"
    assert village.kind == Kind.VILLAGE
    grid = Area.objects.get(code=GRID)
    assert (grid.level, grid.kind, grid.name, grid.is_grid) == (Level.GRID, Kind.GRID, "第一网格", True)
    assert not community.is_grid
    assert grid.ancestor_codes() == ["14", "1403", "140302", STREET, COMMUNITY]


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("14030200", Level.STREET, "140302"),  # 8 digits at the street level
        ("1403020011", Level.STREET, "140302"),  # 10 digits
        ("140302001999", Level.STREET, "140302"),  # a community-length code at the street level
        ("140302001001099", Level.COMMUNITY, COMMUNITY),
    ],
)
def test_code_length_must_match_level(code, level, parent):
    with pytest.raises(IntegrityError), transaction.atomic():
        Area.objects.create(code=code, level=level, kind=Kind.STREET, name="x", parent_id=parent)
    assert not Area.objects.filter(code=code).exists()


def test_only_provinces_have_no_parent():
    with pytest.raises(IntegrityError), transaction.atomic():
        Area.objects.create(code="140399", level=Level.DISTRICT, kind=Kind.COUNTY, name="无父县")
    with pytest.raises(IntegrityError), transaction.atomic():
        Area.objects.create(code="15", level=Level.PROVINCE, kind=Kind.PROVINCE, name="x", parent_id="14")
    Area.objects.create(code="15", level=Level.PROVINCE, kind=Kind.PROVINCE, name="内蒙古自治区")
    assert Area.objects.get(code="15").parent is None


def test_parent_must_exist():
    with pytest.raises(IntegrityError), transaction.atomic():
        Area.objects.create(code="140399", level=Level.DISTRICT, kind=Kind.COUNTY, name="x", parent_id="1499")
        # Foreign keys are checked at the end of the transaction on both databases.
        connection.check_constraints(table_names=[Area._meta.db_table])


def test_an_area_with_children_cannot_be_deleted():
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        Area.objects.get(code=COMMUNITY).delete()


@pytest.mark.parametrize("code", ["1403", "140302", STREET, COMMUNITY, GRID, f"{GRID}001", OTHER_STREET])
def test_subtree_is_exactly_the_descendants(code):
    within = set(Area.objects.within(code).values_list("code", flat=True))
    assert within == _descendants_by_prefix(code)
    assert code in within


def test_subtree_of_a_code_ending_in_nines_stops_at_the_next_sibling():
    """140399 → bound 1404: neither the next city nor a neighbour of 1403 leaks in, nor is lost."""
    Area.objects.create(code="1404", level=Level.CITY, kind=Kind.CITY, name="长治市", parent_id="14")
    Area.objects.create(
        code="140401", level=Level.DISTRICT, kind=Kind.URBAN_DISTRICT, name="x", parent_id="1404"
    )
    Area.objects.create(code="140399", level=Level.DISTRICT, kind=Kind.COUNTY, name="y", parent_id="1403")
    Area.objects.create(code="140399999", level=Level.STREET, kind=Kind.TOWN, name="z镇", parent_id="140399")
    assert set(Area.objects.within("140399").values_list("code", flat=True)) == {"140399", "140399999"}
    assert set(Area.objects.within("1403").values_list("code", flat=True)) == _descendants_by_prefix("1403")
    assert "140401" not in set(Area.objects.within("1403").values_list("code", flat=True))
    assert set(Area.objects.within("1404").values_list("code", flat=True)) == {"1404", "140401"}


def test_subtree_counts_per_level_match_the_generated_grids():
    grids = Area.objects.within(COMMUNITY).filter(level=Level.GRID)
    micro = Area.objects.within(COMMUNITY).filter(level=Level.MICROGRID)
    assert grids.count() == Area.objects.filter(parent_id=COMMUNITY).count() > 0
    assert micro.count() == Area.objects.filter(parent__parent_id=COMMUNITY).count() > grids.count()
    assert set(grids.values_list("source", flat=True)) == {Source.GENERATED}


def test_subtree_sql_is_a_range_never_like():
    with CaptureQueriesContext(connection) as ctx:
        list(Area.objects.within(STREET))
    (query,) = ctx.captured_queries
    sql = query["sql"].upper()
    assert "LIKE" not in sql
    assert '"CODE" >=' in sql
    assert '"CODE" <' in sql
    assert "'140302001'" in sql
    assert "'140302002'" in sql


def test_scoped_queries_are_ranges_too(make_user):
    user = make_user("someone", Role.STREET_STAFF, STREET)
    with CaptureQueriesContext(connection) as ctx:
        codes = set(Area.objects.visible_to(user).values_list("code", flat=True))
    assert codes == _descendants_by_prefix(STREET)
    assert not any("LIKE" in q["sql"].upper() for q in ctx.captured_queries)


def test_node_page_never_filters_codes_with_like(make_user, client_as):
    user = make_user("someone", Role.CITY_ADMIN, "1403")
    with CaptureQueriesContext(connection) as ctx:
        response = client_as(user).get(reverse("areas:node", args=[STREET]))
    assert response.status_code == 200
    assert ctx.captured_queries
    assert not any("LIKE" in q["sql"].upper() for q in ctx.captured_queries)


def _plan(queryset) -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # With sequential scans priced out, the planner shows whether an index can answer at all.
            cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()
    return queryset.explain()


@pytest.mark.parametrize("code", ["1403", STREET, COMMUNITY])
def test_subtree_query_plan_uses_an_index(code):
    plan = _plan(Area.objects.within(code))
    if connection.vendor == "sqlite":
        assert "SEARCH" in plan, plan
        assert "INDEX" in plan or "PRIMARY KEY" in plan, plan
        assert "SCAN areas_area" not in plan, plan
    elif connection.vendor == "postgresql":
        assert "Index Scan" in plan or "Index Only Scan" in plan or "Bitmap Index Scan" in plan, plan
        conditions = [line for line in plan.splitlines() if "Index Cond" in line]
        assert any("(code)::text >=" in line and "(code)::text <" in line for line in conditions), plan
        assert "~~" not in plan, plan  # PostgreSQL's LIKE operator
    else:  # pragma: no cover - the suite runs on SQLite and PostgreSQL
        pytest.skip(f"no plan check for {connection.vendor}")


def test_plan_check_tells_a_scan_from_a_search():
    """The assertion above is not vacuous: a filter on the unindexed name is a full scan."""
    plan = _plan(Area.objects.filter(name="上站街道"))
    if connection.vendor == "sqlite":
        assert "SCAN" in plan and "SEARCH" not in plan, plan
    else:
        assert "Index Cond" not in plan, plan
