"""The default catalogue: realistic categories and units for Yangquan, loaded set-based and idempotently."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.cases import actions
from grassroots.cases.catalogue import CATALOGUE, COMMUNITY_TEAM, UNIT_KINDS, load_catalogue
from grassroots.cases.choices import AttributeType
from grassroots.cases.models import Category, CategoryAttribute, Unit
from grassroots.conftest import CITY, COMMUNITY, DISTRICT, STREET


def test_the_catalogue_is_realistic(tree):
    report = load_catalogue()
    assert report.categories_created == len(CATALOGUE) and 20 <= len(CATALOGUE) <= 40
    groups = set(Category.objects.values_list("group", flat=True))
    assert {
        "环境卫生",
        "公共安全",
        "道路设施",
        "物业管理",
        "邻里纠纷",
        "社会救助",
        "市场监管",
        "城市管理",
    } <= groups

    def category(code: str) -> Category:
        return Category.objects.get(code=code)

    assert category("streetlight").is_public and category("pothole").is_public
    assert not category("neighbour-dispute").is_public and not category("hardship").is_public
    assert category("illegal-construction").handling_level == Level.STREET
    assert category("food-safety").handling_level == Level.DISTRICT
    assert Category.objects.filter(handling_level=Level.COMMUNITY).count() > len(CATALOGUE) / 2
    assert all(c.name_en and c.description for c in Category.objects.all())

    pole = CategoryAttribute.objects.get(category__code="streetlight", code="pole_number")
    assert (pole.datatype, pole.description, pole.required) == (AttributeType.STRING, "路灯编号", False)
    kinds = set(CategoryAttribute.objects.values_list("datatype", flat=True))
    assert kinds == set(AttributeType.values)
    for attribute in CategoryAttribute.objects.all():
        listed = attribute.datatype in (AttributeType.SINGLE, AttributeType.MULTI)
        assert bool(attribute.values) == listed, attribute
    assert CategoryAttribute.objects.filter(required=True).exists()
    # The questions are ones the intake accepts.
    assert actions.clean_attributes(category("pothole"), {"damage": "v3", "size_m2": "2.5"}) == {
        "damage": "v3",
        "size_m2": 2.5,
    }


def test_units_sit_at_realistic_places(tree):
    load_catalogue()
    communities = Area.objects.within(CITY).filter(level=Level.COMMUNITY).count()
    teams = Unit.objects.within(CITY).filter(area__level=Level.COMMUNITY)
    assert teams.count() == communities > 700
    assert Unit.objects.filter(area_id=COMMUNITY, name="油娄沟社区居委会处置组").exists()
    assert Unit.objects.filter(area_id=STREET, name="上站街道综合行政执法队").exists()
    urban = Unit.objects.get(area_id=DISTRICT, name="城区城市管理局")
    assert Unit.objects.filter(area_id=CITY, name="阳泉市市场监督管理局").exists()
    streets = Area.objects.within(CITY).filter(level=Level.STREET).count()
    street_kinds = sum(1 for kind in UNIT_KINDS.values() if kind.level == Level.STREET)
    assert Unit.objects.within(CITY).filter(area__level=Level.STREET).count() == streets * street_kinds
    assert set(urban.categories.values_list("code", flat=True)) >= {"streetlight", "pothole", "manhole"}
    team = Unit.objects.get(area_id=COMMUNITY, name="油娄沟社区居委会处置组")
    served = set(team.categories.values_list("code", flat=True))
    assert "streetlight" in served and "food-safety" not in served
    expected = {spec.code for spec in CATALOGUE if COMMUNITY_TEAM in spec.units}
    assert served == expected


def test_loading_is_set_based(tree, django_assert_max_num_queries):
    with django_assert_max_num_queries(60):
        load_catalogue()


def test_loading_twice_changes_nothing_and_keeps_edits(tree):
    load_catalogue()
    streetlight = Category.objects.get(code="streetlight")
    streetlight.handle_limit, streetlight.is_public = 9, False
    streetlight.save()
    CategoryAttribute.objects.filter(category=streetlight, code="pole_number").delete()
    team = Unit.objects.get(area_id=COMMUNITY, name="油娄沟社区居委会处置组")
    team.categories.remove(streetlight)
    counts = (Category.objects.count(), CategoryAttribute.objects.count(), Unit.objects.count())

    again = load_catalogue()
    assert (again.categories_created, again.attributes_created, again.units_created, again.links_created) == (
        0,
        0,
        0,
        0,
    )
    assert (Category.objects.count(), CategoryAttribute.objects.count(), Unit.objects.count()) == counts
    streetlight.refresh_from_db()
    assert (streetlight.handle_limit, streetlight.is_public) == (9, False)
    assert not team.categories.filter(pk=streetlight.pk).exists()

    reset = load_catalogue(reset=True)
    assert (
        reset.categories_reset == len(CATALOGUE)
        and reset.attributes_created == 1
        and reset.links_created >= 1
    )
    streetlight.refresh_from_db()
    assert (streetlight.handle_limit, streetlight.is_public) == (3, True)
    assert team.categories.filter(pk=streetlight.pk).exists()
    assert Unit.objects.count() == counts[2]


def test_the_command(tree):
    out = io.StringIO()
    call_command("cases", "catalogue", stdout=out)
    assert f"{len(CATALOGUE)} categories created" in out.getvalue()
    out = io.StringIO()
    call_command("cases", "catalogue", stdout=out)
    assert "0 categories created" in out.getvalue() and "0 units created" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("cases", "catalogue", "--city", "9999")
