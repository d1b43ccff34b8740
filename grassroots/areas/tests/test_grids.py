"""Dividing communities into grids and micro-grids: names, codes, sizes, idempotence, stale grids."""

from __future__ import annotations

import io
import math

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError
from hypothesis import given
from hypothesis import strategies as st

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.areas.choices import Kind, Level, Source
from grassroots.areas.grids import (
    CENSUS_POPULATION,
    PERSONS_PER_HOUSEHOLD,
    GridPolicy,
    chinese_number,
    estimate_households,
    generate_grids,
)
from grassroots.areas.models import Area
from grassroots.conftest import COMMUNITY, GRID, OTHER_STREET, STREET

VILLAGE = "140303001200"  # 西河村委会, in 平潭街街道
DEFAULT = GridPolicy(
    urban_grid_households=300,
    village_grid_max_households=300,
    village_grid_households=150,
    microgrid_households=30,
)

# --- Chinese numerals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "一"),
        (2, "二"),
        (9, "九"),
        (10, "十"),
        (11, "十一"),
        (19, "十九"),
        (20, "二十"),
        (21, "二十一"),
        (99, "九十九"),
        (100, "一百"),
        (101, "一百零一"),
        (105, "一百零五"),
        (110, "一百一十"),
        (111, "一百一十一"),
        (999, "九百九十九"),
        (1000, "一千"),
        (1001, "一千零一"),
        (1010, "一千零一十"),
        (1100, "一千一百"),
        (9999, "九千九百九十九"),
    ],
)
def test_chinese_number(n, text):
    assert chinese_number(n) == text


@pytest.mark.parametrize("n", [0, -1, 10000, 123456])
def test_chinese_number_out_of_range_falls_back_to_digits(n):
    assert chinese_number(n) == str(n)


_VALUES = {d: i for i, d in enumerate("零一二三四五六七八九")}
_UNITS = {"十": 10, "百": 100, "千": 1000}


def _parse_chinese(text: str) -> int:
    """An independent reader of the numerals above (a leading 十 means 一十)."""
    total, digit = 0, None
    for char in text:
        if char in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        elif char == "零":
            digit = None
        else:
            digit = _VALUES[char]
    return total + (digit or 0)


@given(st.integers(min_value=1, max_value=9999))
def test_chinese_number_reads_back(n):
    text = chinese_number(n)
    assert _parse_chinese(text) == n
    assert "零零" not in text
    assert not text.endswith("零")
    assert not text.startswith("一十")


# --- Policy -------------------------------------------------------------------------------------------------


def test_policy_from_settings(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "URBAN_GRID_HOUSEHOLDS": 250}
    policy = GridPolicy.from_settings(microgrid_households=25, village_grid_households=None)
    assert policy == GridPolicy(
        urban_grid_households=250,
        village_grid_max_households=settings.GRASSROOTS["VILLAGE_GRID_MAX_HOUSEHOLDS"],
        village_grid_households=settings.GRASSROOTS["VILLAGE_GRID_HOUSEHOLDS"],
        microgrid_households=25,
    )


@pytest.mark.parametrize("size", [0, -30])
def test_policy_rejects_sizes_that_are_not_positive(size):
    with pytest.raises(ValueError, match="positive"):
        GridPolicy.from_settings(microgrid_households=size)


@pytest.mark.parametrize(
    ("kind", "households", "grids"),
    [
        (Kind.COMMUNITY, 10, 1),
        (Kind.COMMUNITY, 449, 1),
        (Kind.COMMUNITY, 451, 2),
        (Kind.COMMUNITY, 2115, 7),
        (Kind.VILLAGE, 20, 1),
        (Kind.VILLAGE, 300, 1),
        (Kind.VILLAGE, 301, 3),
        (Kind.VILLAGE, 450, 3),
        (Kind.VILLAGE, 451, 4),
    ],
)
def test_grid_count(kind, households, grids):
    assert DEFAULT.grid_count(kind, households) == grids


# --- Estimates ----------------------------------------------------------------------------------------------


def _city_pairs(city: str) -> list[tuple[str, str]]:
    return list(Area.objects.within(city).filter(level=Level.COMMUNITY).values_list("code", "kind"))


def test_estimates_are_deterministic_and_follow_the_census(tree):
    pairs = _city_pairs("1403")
    first = estimate_households(pairs)
    assert estimate_households(list(reversed(pairs))) == first
    assert len(first) == 777
    target = CENSUS_POPULATION["1403"] / PERSONS_PER_HOUSEHOLD
    assert abs(sum(first.values()) - target) < len(first)  # rounding of each estimate
    assert min(first.values()) >= 20
    kinds = dict(pairs)
    communities = [v for c, v in first.items() if kinds[c] == Kind.COMMUNITY]
    villages = [v for c, v in first.items() if kinds[c] == Kind.VILLAGE]
    # Urban communities are much larger than villages on average.
    assert sum(communities) / len(communities) > 3 * sum(villages) / len(villages)


def test_estimates_of_a_street_are_those_of_the_whole_city(tree):
    """Generating one street must not pour the city's whole population into it."""
    city = estimate_households(_city_pairs("1403"))
    street = dict(
        Area.objects.within(STREET).filter(level=Level.COMMUNITY).values_list("code", "households_estimate")
    )
    assert len(street) == 10
    assert street == {code: city[code] for code in street}


def test_estimates_do_not_depend_on_the_subtree_generated(tree):
    before = dict(
        Area.objects.within(STREET).filter(level=Level.COMMUNITY).values_list("code", "households_estimate")
    )
    Area.objects.within(STREET).filter(level=Level.COMMUNITY).update(households_estimate=None)
    generate_grids(COMMUNITY)
    assert Area.objects.get(code=COMMUNITY).households_estimate == before[COMMUNITY]
    generate_grids(STREET)
    after = dict(
        Area.objects.within(STREET).filter(level=Level.COMMUNITY).values_list("code", "households_estimate")
    )
    assert after == before


def test_a_planning_figure_set_by_hand_is_kept(tree):
    Area.objects.filter(code=COMMUNITY).update(households_estimate=900)
    generate_grids(COMMUNITY, policy=DEFAULT)
    assert Area.objects.get(code=COMMUNITY).households_estimate == 900
    assert Area.objects.filter(parent_id=COMMUNITY).count() == 3


# --- The generated tree -------------------------------------------------------------------------------------


def test_grid_codes_extend_the_community_code(tree):
    community = Area.objects.get(code=COMMUNITY)
    grids = list(Area.objects.filter(parent=community).order_by("code"))
    expected = DEFAULT.grid_count(community.kind, community.households_estimate)
    assert len(grids) == expected > 1
    for number, grid in enumerate(grids, 1):
        assert grid.code == f"{COMMUNITY}{number:03d}"
        assert grid.number == number
        assert grid.name == f"第{chinese_number(number)}网格"
        assert (grid.level, grid.kind, grid.source) == (Level.GRID, Kind.GRID, Source.GENERATED)
    assert [g.name for g in grids[:3]] == ["第一网格", "第二网格", "第三网格"]


def test_grid_households_add_up(tree):
    community = Area.objects.get(code=COMMUNITY)
    sizes = list(Area.objects.filter(parent=community).values_list("households_estimate", flat=True))
    assert sum(sizes) == community.households_estimate
    assert max(sizes) - min(sizes) <= 1


def test_micro_grids_hold_about_thirty_households(tree):
    grids = Area.objects.within(STREET).filter(level=Level.GRID)
    assert grids.count() > 10
    for grid in grids:
        micro = list(Area.objects.filter(parent=grid).order_by("code"))
        assert len(micro) == max(1, round(grid.households_estimate / 30))
        assert sum(m.households_estimate for m in micro) == grid.households_estimate
        for number, m in enumerate(micro, 1):
            assert m.code == f"{grid.code}{number:03d}"
            assert m.name == f"第{chinese_number(number)}微网格"
            assert (m.level, m.kind) == (Level.MICROGRID, Kind.MICROGRID)
            assert 20 <= m.households_estimate <= 45


def test_generated_counts_match_the_report(tree):
    report = generate_grids(STREET, policy=DEFAULT)
    assert report.communities == 10
    assert report.grids == Area.objects.within(STREET).filter(level=Level.GRID).count()
    assert report.microgrids == Area.objects.within(STREET).filter(level=Level.MICROGRID).count()


@pytest.mark.parametrize(("households", "grids"), [(120, 1), (300, 1), (301, 3), (600, 4)])
def test_villages_up_to_the_threshold_are_one_grid(tree, households, grids):
    village = Area.objects.get(code=VILLAGE)
    assert village.kind == Kind.VILLAGE
    Area.objects.filter(code=VILLAGE).update(households_estimate=households)
    generate_grids(VILLAGE, policy=DEFAULT)
    names = list(Area.objects.filter(parent_id=VILLAGE).order_by("code").values_list("name", flat=True))
    assert len(names) == grids
    if households > 300:
        assert grids == math.ceil(households / 150)
    assert names[0] == "第一网格"


def test_rerun_writes_nothing(tree):
    before = list(Area.objects.within(STREET).values_list("code", "name", "households_estimate", "number"))
    report = generate_grids(STREET)
    assert (report.inserted, report.updated, report.removed) == (0, 0, 0)
    assert report.unchanged == len(before) - 1  # the street itself is not staged
    after = list(Area.objects.within(STREET).values_list("code", "name", "households_estimate", "number"))
    assert after == before


def test_a_new_policy_removes_stale_generated_grids(tree):
    old = set(Area.objects.within(STREET).filter(level__gte=Level.GRID).values_list("code", flat=True))
    manual = Area.objects.create(
        code=f"{COMMUNITY}099", parent_id=COMMUNITY, level=Level.GRID, kind=Kind.GRID, name="手工网格"
    )

    report = generate_grids(STREET, policy=GridPolicy(600, 300, 150, 60))

    new = set(Area.objects.within(STREET).filter(level__gte=Level.GRID).values_list("code", flat=True))
    assert manual.code in new  # only generated grids are removed
    new.discard(manual.code)
    assert report.removed == len(old - new) > 0
    assert report.inserted == len(new - old)
    for community in Area.objects.within(STREET).filter(level=Level.COMMUNITY):
        generated = community.children.filter(source=Source.GENERATED).count()
        assert generated == max(1, round(community.households_estimate / 600))
    assert generate_grids(STREET, policy=GridPolicy(600, 300, 150, 60)).removed == 0


def test_regenerating_one_street_leaves_other_streets_alone(tree):
    other = set(Area.objects.within(OTHER_STREET).values_list("code", "name", "households_estimate"))
    generate_grids(STREET, policy=GridPolicy(900, 300, 150, 90))
    assert set(Area.objects.within(OTHER_STREET).values_list("code", "name", "households_estimate")) == other


@pytest.mark.parametrize("code", [GRID, f"{GRID}001"])
def test_generating_below_a_community_changes_nothing(tree, code):
    """A grid or micro-grid has no communities below it: nothing to generate and nothing to remove."""
    before = set(Area.objects.within(COMMUNITY).values_list("code", flat=True))
    report = generate_grids(code)
    assert (report.communities, report.grids, report.removed) == (0, 0, 0)
    assert set(Area.objects.within(COMMUNITY).values_list("code", flat=True)) == before


@pytest.mark.django_db(transaction=True)
def test_a_stale_grid_still_in_use_stops_the_whole_run(tree):
    """A grid someone is assigned to is not deleted behind their back: the run rolls back."""
    last = Area.objects.filter(parent_id=COMMUNITY).order_by("-code").first()
    assert last.number > 2
    user = User.objects.create_user("gw")
    Grant.objects.create(user=user, role=Role.GRID_WORKER, area=last)
    before = set(Area.objects.within(STREET).values_list("code", "households_estimate"))

    with pytest.raises(IntegrityError):
        generate_grids(STREET, policy=GridPolicy(3000, 300, 150, 30))

    assert set(Area.objects.within(STREET).values_list("code", "households_estimate")) == before


# --- The management command ---------------------------------------------------------------------------------


def test_command_generates_and_reports(tree):
    out = io.StringIO()
    call_command("areas", "grids", COMMUNITY, "--urban-households", "600", stdout=out)
    grids = Area.objects.filter(parent_id=COMMUNITY).count()
    assert grids == max(1, round(Area.objects.get(code=COMMUNITY).households_estimate / 600))
    assert out.getvalue().startswith(f"1 communities/villages → {grids} grids, ")
    out = io.StringIO()
    call_command("areas", "grids", COMMUNITY, "--urban-households", "600", stdout=out)
    assert out.getvalue().strip().endswith("0 new, 0 changed, 0 removed.")


@pytest.mark.parametrize("code", ["140302999", "abc", "1403020"])
def test_command_rejects_unknown_codes(tree, code):
    with pytest.raises(CommandError, match="no area with code"):
        call_command("areas", "grids", code, stdout=io.StringIO())


def test_command_rejects_sizes_that_are_not_positive(tree):
    with pytest.raises(CommandError, match="positive"):
        call_command("areas", "grids", COMMUNITY, "--microgrid-households", "0", stdout=io.StringIO())
