"""A small registry on the shared tree (grassroots/conftest.py): a few households in and around the
grid of the ``grid_worker`` persona, written through the registry's own actions.

Raw ID numbers and phones are kept on the fixture so tests can assert that they never appear where only
masked values belong.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from grassroots.accounts.choices import Role
from grassroots.areas.models import Area
from grassroots.conftest import COLLEAGUE_GRID, COMMUNITY, GRID, SIBLING_COMMUNITY, STREET
from grassroots.registry import actions
from grassroots.registry.choices import CareGroup, EventKind, Relation
from grassroots.registry.idnumber import make_id_number
from grassroots.registry.models import Building, Household, Resident

MICROGRID = GRID + "001"
SIBLING_GRID = SIBLING_COMMUNITY + "001"


@dataclass
class Registry:
    building: Building
    home: Household  # in the grid worker's first micro-grid, in a building
    loose: Household  # in the grid worker's grid, no building
    colleague_home: Household  # in the neighbouring grid of the same community
    sibling_home: Household  # in another community of the same street
    unplaced: Household  # in the community, outside every grid
    head: Resident  # 张伟, elderly, living alone group
    spouse: Resident
    colleague_head: Resident
    sibling_head: Resident
    secrets: dict[str, str] = field(default_factory=dict)  # full ID numbers and phones, by label

    def full_values(self) -> list[str]:
        return list(self.secrets.values())


def person_id(seq: int, born: dt.date = dt.date(1980, 5, 17), region: str = "140302") -> str:
    return make_id_number(region, born, seq)


@pytest.fixture
def registrar(make_user):
    """Street staff who writes the fixture data (the personas stay free of audit entries)."""
    return make_user("registrar", Role.STREET_STAFF, STREET)


@pytest.fixture
def registry(registrar) -> Registry:
    def area(code: str) -> Area:
        return Area.objects.get(code=code)

    def household(code: str, number: str, building=None, room: str = "") -> Household:
        return actions.do_create_household(
            registrar,
            area=area(code),
            number=number,
            address=f"油娄沟路{number}号",
            building=building,
            room=room,
        )

    def person(
        home: Household, name: str, id_number: str, relation: str, phone: str = "", **extra
    ) -> Resident:
        return actions.do_add_resident(
            registrar, household=home, name=name, id_number=id_number, relation=relation, phone=phone, **extra
        )

    secrets = {
        "head_id": person_id(11, dt.date(1941, 3, 9)),
        "head_phone": "13812345678",
        "spouse_id": person_id(22, dt.date(1944, 8, 30)),
        "colleague_id": person_id(33),
        "colleague_phone": "13987654321",
        "sibling_id": person_id(45),
    }
    building = actions.do_create_building(registrar, area=area(GRID), name="1号楼", address="油娄沟路1号楼")
    home = household(MICROGRID, "H-001", building=building, room="2单元301")
    head = person(
        home,
        "张伟",
        secrets["head_id"],
        Relation.HEAD,
        phone=secrets["head_phone"],
        care_groups=(CareGroup.ELDERLY_ALONE,),
    )
    spouse = person(home, "李娜", secrets["spouse_id"], Relation.SPOUSE, event=EventKind.MOVE_IN)
    loose = household(GRID, "H-002")
    colleague_home = household(COLLEAGUE_GRID, "H-101")
    colleague_head = person(
        colleague_home, "王芳", secrets["colleague_id"], Relation.HEAD, phone=secrets["colleague_phone"]
    )
    sibling_home = household(SIBLING_GRID, "H-201")
    sibling_head = person(sibling_home, "赵强", secrets["sibling_id"], Relation.HEAD)
    unplaced = household(COMMUNITY, "H-301")
    return Registry(
        building=building,
        home=home,
        loose=loose,
        colleague_home=colleague_home,
        sibling_home=sibling_home,
        unplaced=unplaced,
        head=head,
        spouse=spouse,
        colleague_head=colleague_head,
        sibling_head=sibling_head,
        secrets=secrets,
    )


def assert_no_full_values(text: str, registry: Registry) -> None:
    for label, value in registry.secrets.items():
        assert value not in text, f"full {label} leaked"
