"""The indicators on a world with known answers: formulas at every level, roll-ups that equal the sum
of their parts, and figures that equal the scoped lists they summarise."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.utils import timezone

from grassroots.areas.codes import LEVEL_BY_LENGTH, child_length
from grassroots.areas.models import Area
from grassroots.cases import actions as case_actions
from grassroots.cases.models import Case, Category
from grassroots.cockpit.indicators import REGISTRY, Period
from grassroots.cockpit.models import IndicatorValue, Refresh
from grassroots.cockpit.rollup import refresh
from grassroots.conftest import (
    CITY,
    COLLEAGUE_GRID,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    OTHER_DISTRICT,
    SIBLING_COMMUNITY,
    STREET,
)
from grassroots.disputes.choices import ACTIVE_STATUSES, Colour
from grassroots.disputes.models import Dispute
from grassroots.registry.choices import HouseholdStatus, ResidentStatus
from grassroots.registry.models import Household, Resident

from .conftest import SIBLING_GRID, value

pytestmark = pytest.mark.usefixtures("tree")

# indicator → {node: expected value}; see the world in conftest.py
KNOWN = {
    "registry.households": {GRID: 2, COLLEAGUE_GRID: 1, COMMUNITY: 4, SIBLING_COMMUNITY: 1, STREET: 5,
                            DISTRICT: 5, OTHER_COMMUNITY: 1, CITY: 6},
    "registry.residents": {GRID: 3, COLLEAGUE_GRID: 3, COMMUNITY: 7, SIBLING_COMMUNITY: 2, STREET: 9,
                           OTHER_DISTRICT: 1, CITY: 10},
    "registry.grid_coverage": {GRID: 1.0, COMMUNITY: 0.75, STREET: 0.8, CITY: 5 / 6},
    "registry.care": {GRID: 1, COLLEAGUE_GRID: 0, COMMUNITY: 1, CITY: 1},
    "registry.outside_household": {CITY: 0},
    "cases.volume": {GRID: 6, COLLEAGUE_GRID: 1, COMMUNITY: 7, SIBLING_COMMUNITY: 2, STREET: 9, CITY: 10},
    "cases.open": {GRID: 2, COLLEAGUE_GRID: 0, COMMUNITY: 2, SIBLING_COMMUNITY: 1, STREET: 3,
                   OTHER_COMMUNITY: 0, CITY: 3},
    "cases.overdue": {GRID: 1, COMMUNITY: 1, SIBLING_COMMUNITY: 0, STREET: 1, CITY: 1},
    "cases.on_time_rate": {GRID: 2 / 3, COMMUNITY: 3 / 4, SIBLING_COMMUNITY: 1.0, STREET: 4 / 5, CITY: 5 / 6},
    "cases.own_level_rate": {GRID: 2 / 3, COMMUNITY: 3 / 4, STREET: 4 / 5, OTHER_COMMUNITY: 1.0, CITY: 5 / 6},
    "cases.escalation_rate": {GRID: 1 / 6, COMMUNITY: 1 / 7, STREET: 1 / 9, CITY: 1 / 10},
    "cases.reopen_rate": {COMMUNITY: 0.0, CITY: 0.0},
    "cases.satisfaction": {GRID: 4.0, COMMUNITY: 4.0, SIBLING_COMMUNITY: 5.0, STREET: 4.2,
                           OTHER_COMMUNITY: 2.0, CITY: 23 / 6},
    "disputes.green": {GRID: 1, COMMUNITY: 1, STREET: 1, OTHER_COMMUNITY: 1, CITY: 2},
    "disputes.red": {GRID: 1, COMMUNITY: 1, CITY: 1},
    "disputes.orange": {CITY: 0},
    "disputes.yellow": {COLLEAGUE_GRID: 1, COMMUNITY: 1, CITY: 1},
    "disputes.blue": {SIBLING_COMMUNITY: 1, COMMUNITY: 0, STREET: 1, CITY: 1},
    "disputes.late_follow_ups": {GRID: 1, COMMUNITY: 1, SIBLING_COMMUNITY: 0, CITY: 1},
    "disputes.settled_in_village": {GRID: 0.5, COMMUNITY: 0.5, CITY: 0.5, SIBLING_COMMUNITY: None},
    "disputes.settled_in_township": {GRID: 0.5, CITY: 0.5},
    "disputes.settled_above": {GRID: 0.0, CITY: 0.0},
}  # fmt: skip


def test_known_answers(refreshed):
    wrong = []
    for indicator, expected_values in sorted(KNOWN.items()):
        for node, expected in expected_values.items():
            got = value(indicator, node)
            if (got is None) != (expected is None) or (
                expected is not None and got != pytest.approx(expected)
            ):
                wrong.append(f"{indicator} at {node}: {got!r}, expected {expected!r}")
    assert not wrong, "\n".join(wrong)


def test_every_declared_indicator_is_checked():
    assert set(KNOWN) == set(REGISTRY)


def test_the_month_equals_now_for_what_happened_this_month(refreshed):
    month = f"{timezone.localdate():%Y-%m}"
    for indicator in KNOWN:
        for node in (GRID, COMMUNITY, STREET, CITY):
            assert value(indicator, node, month) == pytest.approx(value(indicator, node)), (indicator, node)


def test_a_past_month_counts_only_what_happened_in_it(refreshed):
    refresh("2020-01")
    assert value("cases.volume", CITY, "2020-01") == 0
    assert value("cases.on_time_rate", CITY, "2020-01") is None  # nothing closed: no data, not 0 %
    assert value("disputes.settled_in_village", CITY, "2020-01") is None
    # State indicators are the state at the time of the refresh (see the report on rollup).
    assert value("cases.open", CITY, "2020-01") == 3


def _leaves(indicator: str, period: str = "now") -> dict[str, tuple[float, float | None]]:
    qs = REGISTRY[indicator].leaves(Period.parse(period))
    has_den = "den" in qs.query.annotations
    fields = ["leaf", "num", "den"] if has_den else ["leaf", "num"]
    return {row[0]: (row[1] or 0, row[2] if has_den else None) for row in qs.values_list(*fields)}


def test_every_value_is_the_sum_of_its_leaves_and_of_its_children(refreshed):
    rows = IndicatorValue.objects.filter(period="now")
    stored = {(r.indicator, r.node): (r.numerator, r.denominator, r.level) for r in rows}
    assert stored, "nothing was rolled up"
    children: dict[tuple[str, str], list[str]] = defaultdict(list)
    for indicator, node in stored:
        length = len(node)
        parent = next((node[:n] for n in sorted(LEVEL_BY_LENGTH, reverse=True) if n < length), None)
        if parent is not None:
            children[(indicator, parent)].append(node)
    for indicator in REGISTRY:
        leaves = _leaves(indicator)
        for (code, node), (numerator, denominator, level) in stored.items():
            if code != indicator:
                continue
            assert level == LEVEL_BY_LENGTH[len(node)]
            below = [leaf for leaf in leaves if leaf.startswith(node)]
            assert numerator == pytest.approx(sum(leaves[leaf][0] for leaf in below)), (indicator, node)
            direct = leaves.get(node, (0, 0 if denominator is not None else None))
            parts = children[(indicator, node)]
            assert numerator == pytest.approx(direct[0] + sum(stored[(indicator, c)][0] for c in parts))
            if denominator is not None:
                assert denominator == pytest.approx(direct[1] + sum(stored[(indicator, c)][1] for c in parts))
            else:
                assert not REGISTRY[indicator].is_rate


def test_values_exist_for_every_level_from_the_leaves_to_the_province(refreshed):
    levels = set(
        IndicatorValue.objects.filter(period="now", indicator="cases.volume").values_list("level", flat=True)
    )
    assert levels == {1, 2, 3, 4, 5, 6}  # no case sits at a micro-grid
    assert child_length(CITY) == 6


PERSONA_NODES = {
    "city_admin": CITY,
    "district_staff": DISTRICT,
    "street_staff": STREET,
    "community_staff": COMMUNITY,
    "grid_worker": GRID,
    "outsider_community": SIBLING_COMMUNITY,
    "outsider_district": OTHER_COMMUNITY,
}


def test_figures_equal_the_scoped_lists_they_summarise(refreshed, personas):
    """A count on the cockpit never differs from the list it summarises, for every persona's node."""
    for persona, node in PERSONA_NODES.items():
        user = personas[persona]
        cases = Case.objects.visible_to(user)
        disputes = Dispute.objects.visible_to(user)
        lists = {
            "cases.open": cases.open().count(),
            "cases.volume": cases.count(),
            "cases.overdue": cases.open().filter(clock="overdue").count(),
            "registry.residents": Resident.objects.visible_to(user)
            .filter(status=ResidentStatus.ACTIVE)
            .count(),
            "registry.households": Household.objects.visible_to(user)
            .filter(status=HouseholdStatus.ACTIVE)
            .count(),
            **{
                f"disputes.{colour}": disputes.filter(status__in=ACTIVE_STATUSES, colour=colour).count()
                for colour in Colour.values
            },
        }
        for indicator, count in lists.items():
            assert value(indicator, node) == count, (persona, indicator)


def test_a_refresh_replaces_the_period_wholesale(refreshed, people):
    before = IndicatorValue.objects.filter(period="now").count()
    Case.objects.filter(status="reported", area_id=SIBLING_GRID).update(status="rejected")
    record = refresh("now")
    assert value("cases.open", SIBLING_COMMUNITY) == 0  # the row disappeared: a count of 0
    assert IndicatorValue.objects.filter(period="now").count() == record.rows < before
    assert Refresh.objects.get(period="now").refreshed_at <= timezone.now()


def test_refreshing_one_indicator_leaves_the_others(refreshed):
    others = IndicatorValue.objects.filter(period="now").exclude(indicator="cases.open").count()
    refresh("now", ["cases.open"])
    assert IndicatorValue.objects.filter(period="now").exclude(indicator="cases.open").count() == others


def test_a_place_whose_cases_are_all_unrated(make_user):
    """No rating anywhere below a node: satisfaction is "no data", and the refresh still works (the
    numerator is SUM(satisfaction), NULL there; the roll-up must not insert NULL)."""
    from grassroots.accounts.choices import Role

    staff = make_user("unrated", Role.COMMUNITY_STAFF, COMMUNITY)
    category = Category.objects.create(code="unrated", name="未评价", group="测试")
    case_actions.do_report(
        staff, category=category, area=Area.objects.get(code=GRID), title="测试", description="测试"
    )
    refresh("now")
    assert value("cases.satisfaction", GRID) is None
    assert value("cases.open", GRID) == 1
