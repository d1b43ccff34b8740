"""A small world with known answers for the city brain, written through the modules' own actions.

Registry (households → residents; ``*`` = outside every grid):
  油娄沟社区 COMMUNITY: GRID H1 (2, one elderly living alone), micro-grid of GRID H2 (1),
      COLLEAGUE_GRID H3 (3), the community itself H4* (1)   → 4 households, 3 placed, 7 residents
  窑坡社区 SIBLING_COMMUNITY: its first grid H5 (2)               → 1 household, 2 residents
  平潭街东社区 OTHER_COMMUNITY (矿区): its first grid H6 (1)        → 1 household, 1 resident

Cases (category handled by communities, never escalated by the clock):
  GRID: C1 closed on time ★5 · C2 closed, was overdue ★3 · C3 reported, overdue · C4 accepted, on time
        · C8 escalated to the street and closed there ★4 · C10 rejected
  COLLEAGUE_GRID: C5 closed on time ★4
  SIBLING grid: C6 reported, on time · C9 closed on time ★5
  OTHER_COMMUNITY grid: C7 closed on time ★2

Disputes (five colours; red and orange are held by the street):
  GRID: D1 green (follow-up late) · D2 red · D5 green, settled in the village · D6 orange, settled by
        the street (township)
  COLLEAGUE_GRID: D3 yellow · SIBLING grid: D4 blue · OTHER_COMMUNITY grid: D7 green
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from grassroots.accounts.choices import Role
from grassroots.areas.models import Area
from grassroots.cases import actions as case_actions
from grassroots.cases import workflow
from grassroots.cases.models import Case, Category
from grassroots.cases.sweep import sweep
from grassroots.cockpit.rollup import refresh
from grassroots.conftest import (
    COLLEAGUE_GRID,
    COMMUNITY,
    GRID,
    OTHER_COMMUNITY,
    OTHER_STREET,
    SIBLING_COMMUNITY,
    STREET,
)
from grassroots.disputes import actions as dispute_actions
from grassroots.disputes.models import Dispute
from grassroots.registry import actions as registry_actions
from grassroots.registry.choices import CareGroup, Relation
from grassroots.registry.idnumber import make_id_number

MICROGRID = f"{GRID}001"
SIBLING_GRID = f"{SIBLING_COMMUNITY}001"
OTHER_GRID = f"{OTHER_COMMUNITY}001"

_sequence = itertools.count(1)


def person_id(region: str = "140302") -> str:
    n = next(_sequence)
    return make_id_number(region, dt.date(1950, 1, 1) + dt.timedelta(days=97 * (n % 100)), n % 1000)


@dataclass
class World:
    people: dict
    cases: dict[str, Case] = field(default_factory=dict)
    disputes: dict[str, Dispute] = field(default_factory=dict)


def _area(code: str) -> Area:
    return Area.objects.get(code=code)


def _households(registrars: dict) -> None:
    plan = [
        (GRID, "H1", [True, False]),
        (MICROGRID, "H2", [False]),
        (COLLEAGUE_GRID, "H3", [False, False, False]),
        (COMMUNITY, "H4", [False]),
        (SIBLING_GRID, "H5", [False, False]),
        (OTHER_GRID, "H6", [False]),
    ]
    for code, number, members in plan:
        registrar = registrars["other" if code.startswith(OTHER_COMMUNITY) else "street"]
        home = registry_actions.do_create_household(
            registrar, area=_area(code), number=f"CK-{number}", address=f"测试路{number}号"
        )
        for index, elderly in enumerate(members):
            registry_actions.do_add_resident(
                registrar,
                household=home,
                name=f"居民{number}{index}",
                id_number=person_id("140303" if code.startswith(OTHER_COMMUNITY) else "140302"),
                relation=Relation.HEAD if index == 0 else Relation.CHILD,
                care_groups=(CareGroup.ELDERLY_ALONE,) if elderly else (),
            )


def _close(case: Case, a, b, satisfaction: int) -> Case:
    case = workflow.apply(a, case, "accept")
    case = workflow.apply(a, case, "handle")
    case = workflow.apply(a, case, "resolve", note="已处理")
    case = workflow.apply(b, case, "verify")
    return workflow.apply(a, case, "close", satisfaction=satisfaction)


def _cases(people: dict) -> dict[str, Case]:
    category = Category.objects.create(
        code="cockpit-test", name="测试事件", group="测试", escalate_when_overdue=False
    )

    def report(code: str, reporter) -> Case:
        return case_actions.do_report(
            reporter, category=category, area=_area(code), title="测试", description="测试事件"
        ).case

    cs1, cs2 = people["cs1"], people["cs2"]
    cases = {"C2": report(GRID, cs1), "C3": report(GRID, cs1)}
    # Their clocks run out: the sweep marks both overdue (C2 stays "was overdue" once closed).
    sweep(now=timezone.now() + dt.timedelta(days=60))
    cases["C2"] = _close(Case.objects.get(pk=cases["C2"].pk), cs1, cs2, 3)
    cases["C1"] = _close(report(GRID, cs1), cs1, cs2, 5)
    cases["C4"] = workflow.apply(cs1, report(GRID, cs1), "accept")
    escalated = workflow.apply(cs1, report(GRID, cs1), "escalate", note="社区无法处理")
    cases["C8"] = _close(escalated, people["ss1"], people["ss2"], 4)
    cases["C10"] = workflow.apply(cs1, report(GRID, cs1), "reject", note="不属于受理范围")
    cases["C5"] = _close(report(COLLEAGUE_GRID, cs1), cs1, cs2, 4)
    cases["C6"] = report(SIBLING_GRID, people["sib1"])
    cases["C9"] = _close(report(SIBLING_GRID, people["sib1"]), people["sib1"], people["sib2"], 5)
    cases["C7"] = _close(report(OTHER_GRID, people["os1"]), people["os1"], people["os2"], 2)
    return {name: Case.objects.get(pk=case.pk) for name, case in cases.items()}


def _disputes(people: dict) -> dict[str, Dispute]:
    def record(code: str, actor, inputs: dict) -> Dispute:
        return dispute_actions.do_record(
            actor,
            type="family",
            title="测试纠纷",
            description="测试",
            area=_area(code),
            source="patrol",
            parties=[{"role": "applicant", "name": "张三"}],
            inputs=inputs,
        )

    cs1 = people["cs1"]
    disputes = {
        "D1": record(GRID, cs1, {}),
        "D2": record(GRID, cs1, {"weapons": True}),
        "D3": record(COLLEAGUE_GRID, cs1, {"alcohol": True, "children": True, "police_calls": 1}),
        "D4": record(SIBLING_GRID, people["sib1"], {"alcohol": True}),
        "D5": record(GRID, cs1, {}),
        "D6": record(GRID, cs1, {"violence": True}),
        "D7": record(OTHER_GRID, people["os1"], {}),
    }
    dispute_actions.do_settle(cs1, disputes["D5"], note="调解成功")
    dispute_actions.do_settle(people["ss1"], disputes["D6"], note="街道调解成功")
    # D1's follow-up is overdue (the grading sweep has not run yet).
    Dispute.objects.filter(pk=disputes["D1"].pk).update(next_follow_up=timezone.now() - dt.timedelta(hours=2))
    return {name: Dispute.objects.get(pk=d.pk) for name, d in disputes.items()}


@pytest.fixture
def people(make_user) -> dict:
    return {
        "cs1": make_user("ck_cs1", Role.COMMUNITY_STAFF, COMMUNITY),
        "cs2": make_user("ck_cs2", Role.COMMUNITY_STAFF, COMMUNITY),
        "ss1": make_user("ck_ss1", Role.STREET_STAFF, STREET),
        "ss2": make_user("ck_ss2", Role.STREET_STAFF, STREET),
        "sib1": make_user("ck_sib1", Role.COMMUNITY_STAFF, SIBLING_COMMUNITY),
        "sib2": make_user("ck_sib2", Role.COMMUNITY_STAFF, SIBLING_COMMUNITY),
        "os1": make_user("ck_os1", Role.COMMUNITY_STAFF, OTHER_COMMUNITY),
        "os2": make_user("ck_os2", Role.COMMUNITY_STAFF, OTHER_COMMUNITY),
        "other_registrar": make_user("ck_reg2", Role.STREET_STAFF, OTHER_STREET),
    }


@pytest.fixture
def world(people) -> World:
    _households({"street": people["ss1"], "other": people["other_registrar"]})
    w = World(people=people, cases=_cases(people), disputes=_disputes(people))
    return w


@pytest.fixture
def refreshed(world) -> World:
    """The world with the live figures and the current month computed."""
    refresh("now")
    refresh(f"{timezone.localdate():%Y-%m}")
    return world


def value(indicator: str, node: str, period: str = "now") -> float | None:
    from grassroots.cockpit.indicators import REGISTRY
    from grassroots.cockpit.models import IndicatorValue

    row = IndicatorValue.objects.filter(period=period, node=node, indicator=indicator).first()
    if row is None:
        return None if REGISTRY[indicator].is_rate else 0
    return row.value
