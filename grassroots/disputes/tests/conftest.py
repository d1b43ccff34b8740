"""Personas around one community (油娄沟社区) and a helper that records disputes through the actions.

Officials of every level above the community, its grid worker, two mediators and a legal adviser
serving the community (only one of them will be assigned), and officials of other communities.
"""

from __future__ import annotations

import pytest

from grassroots.accounts.choices import Role
from grassroots.areas.models import Area
from grassroots.conftest import CITY, COMMUNITY, DISTRICT, GRID, OTHER_COMMUNITY, SIBLING_COMMUNITY, STREET
from grassroots.disputes import actions
from grassroots.disputes.models import Dispute

PHONE = "13912345678"


@pytest.fixture
def people(make_user) -> dict:
    return {
        "admin": make_user("admin", Role.CITY_ADMIN, CITY, full_name="市管理员"),
        "district": make_user("district", Role.DISTRICT_STAFF, DISTRICT, full_name="城区领导"),
        "street": make_user("street", Role.STREET_STAFF, STREET, full_name="上站街道干部"),
        "community": make_user("community", Role.COMMUNITY_STAFF, COMMUNITY, full_name="油娄沟社区干部"),
        "grid": make_user("grid", Role.GRID_WORKER, GRID, full_name="第一网格员"),
        "mediator": make_user("mediator", Role.MEDIATOR, COMMUNITY, full_name="王调解"),
        "mediator2": make_user("mediator2", Role.MEDIATOR, COMMUNITY, full_name="李调解"),
        "adviser": make_user("adviser", Role.LEGAL_ADVISER, COMMUNITY, full_name="赵律师"),
        "sibling": make_user("sibling", Role.COMMUNITY_STAFF, SIBLING_COMMUNITY, full_name="窑坡社区干部"),
        "outsider": make_user(
            "outsider", Role.COMMUNITY_STAFF, OTHER_COMMUNITY, full_name="平潭街东社区干部"
        ),
    }


@pytest.fixture
def record(people):
    """``record(**overrides)``: a dispute recorded by the community official at the first grid."""

    def make(actor=None, *, inputs: dict | None = None, place: str = GRID, **overrides) -> Dispute:
        kwargs = {
            "type": "family",
            "title": "夫妻争吵",
            "description": "夫妻因家务多次争吵，邻居报告。",
            "area": Area.objects.get(code=place),
            "source": "patrol",
            "parties": [
                {"role": "applicant", "name": "张丽", "phone": PHONE},
                {"role": "respondent", "name": "王强"},
            ],
            "inputs": inputs or {},
            **overrides,
        }
        return actions.do_record(actor or people["community"], **kwargs)

    return make
