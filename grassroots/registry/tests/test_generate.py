"""The synthetic population: valid, unique, realistic, deterministic, idempotent."""

from __future__ import annotations

import datetime as dt
import io
import random
import statistics
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import IntegrityError
from django.db.models import Count

from grassroots.areas.choices import Kind, Level
from grassroots.areas.codes import in_subtree
from grassroots.areas.grids import estimate_households
from grassroots.areas.models import Area
from grassroots.audit.models import Action, AuditEntry
from grassroots.conftest import COMMUNITY, SIBLING_COMMUNITY, STREET
from grassroots.core import crypto
from grassroots.registry import generate
from grassroots.registry.choices import CareGroup, EventKind, OrganisationKind, Registration, Relation
from grassroots.registry.generate import AS_OF, GENERATED_AT, generate_population
from grassroots.registry.idnumber import mask_id_number, normalise_phone, parse_id_number
from grassroots.registry.models import (
    ID_NUMBER,
    PHONE,
    Building,
    CareMembership,
    Household,
    Organisation,
    Resident,
    ResidentEvent,
)
from grassroots.registry.protect import id_hash

pytestmark = pytest.mark.usefixtures("tree")


def _age(birth: dt.date) -> int:
    return AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))


def _people(code: str) -> list[tuple[str, str, str, str]]:
    """(household number, relation, name, ID number) of everyone under ``code``, in a stable order."""
    rows = Resident.objects.within(code).values_list("household__number", "relation", "name", "id_number_enc")
    return sorted((n, r, name, crypto.decrypt(enc, context=ID_NUMBER)) for n, r, name, enc in rows)


def test_a_street_gets_a_valid_realistic_population():
    report = generate_population(STREET, scale=0.05, seed=7)
    residents = list(
        Resident.objects.within(STREET).values(
            "id", "household_id", "area_id", "name", "id_number_enc", "id_number_hash", "id_number_masked",
            "gender", "birth_date", "phone_enc", "phone_hash", "phone_masked", "ethnicity", "relation",
            "registration",
        )
    )  # fmt: skip
    assert len(residents) == report.residents > 2000
    assert Household.objects.within(STREET).count() == report.households

    # Every ID number is valid, matches the stored birth date, gender, hash and mask, and is unique.
    ids, origins = set(), set(generate._reference().origins)
    for r in residents:
        value = crypto.decrypt(r["id_number_enc"], context=ID_NUMBER)
        parsed = parse_id_number(value)
        assert (parsed.birth_date, parsed.gender) == (r["birth_date"], r["gender"])
        assert r["id_number_hash"] == id_hash(value) and r["id_number_masked"] == mask_id_number(value)
        if r["registration"] == Registration.FLOATING:
            assert parsed.region in origins and not parsed.region.startswith("1403")
        else:
            assert parsed.region == r["area_id"][:6]
        ids.add(value)
        if r["phone_enc"]:
            assert (
                normalise_phone(crypto.decrypt(r["phone_enc"], context=PHONE))[-4:] == r["phone_masked"][-4:]
            )
    assert len(ids) == len(residents)
    assert len({r["id_number_hash"] for r in residents}) == len(residents)

    # Shares: floating ~5 %, away ~3 %, a mobile for ~3 in 4, nearly all Han.
    n = len(residents)
    registration = Counter(r["registration"] for r in residents)
    assert 0.03 <= registration[Registration.FLOATING] / n <= 0.08
    assert 0.01 <= registration[Registration.AWAY] / n <= 0.06
    assert 0.65 <= sum(bool(r["phone_enc"]) for r in residents) / n <= 0.85
    assert sum(r["ethnicity"] == "汉族" for r in residents) / n >= 0.98

    # The age pyramid: broad shares within a few points of 16 / 64 / 20 %.
    ages = [_age(r["birth_date"]) for r in residents]
    assert 0.13 <= sum(a < 15 for a in ages) / n <= 0.19
    assert 0.60 <= sum(15 <= a < 60 for a in ages) / n <= 0.68
    assert 0.17 <= sum(a >= 60 for a in ages) / n <= 0.23
    assert (
        0.9 <= sum(r["gender"] == "M" for r in residents) / sum(r["gender"] == "F" for r in residents) <= 1.15
    )

    # Households: mean size ~2.6, exactly one head each, and household.head is that head.
    by_household: dict[int, list[dict]] = {}
    for r in residents:
        by_household.setdefault(r["household_id"], []).append(r)
    assert 2.3 <= statistics.mean(len(m) for m in by_household.values()) <= 2.9
    assert max(len(m) for m in by_household.values()) <= 7
    heads = dict(Household.objects.within(STREET).values_list("id", "head_id"))
    assert set(heads) == set(by_household)
    for household, members in by_household.items():
        head = [m for m in members if m["relation"] == Relation.HEAD]
        assert len(head) == 1 and heads[household] == head[0]["id"]
        head_age = _age(head[0]["birth_date"])
        assert head_age >= 18
        for m in members:
            age = _age(m["birth_date"])
            if m["relation"] == Relation.SPOUSE:
                assert abs(age - head_age) <= 16
            elif m["relation"] == Relation.CHILD:
                assert head_age - age >= 12
            elif m["relation"] in (Relation.PARENT, Relation.PARENT_IN_LAW):
                assert age - head_age >= 15
            elif m["relation"] == Relation.GRANDCHILD:
                assert head_age - age >= 30
        assert len({m["area_id"] for m in members}) == 1

    # Care groups: the elderly living alone are 65+ and alone; rates are plausible.
    memberships = CareMembership.objects.filter(in_subtree("resident__area", STREET))
    care = Counter(memberships.values_list("group", flat=True))
    alone = memberships.filter(group=CareGroup.ELDERLY_ALONE).values_list(
        "resident__household_id", "resident__birth_date"
    )
    assert alone
    for household, birth in alone:
        assert len(by_household[household]) == 1 and _age(birth) >= 65
    old = sum(a >= 65 for a in ages)
    assert 0.04 <= care[CareGroup.ELDERLY_ALONE] / old <= 0.14
    assert 0.03 <= care[CareGroup.DISABLED] / n <= 0.09
    assert 0.005 <= care[CareGroup.LOW_INCOME] / n <= 0.06
    assert 0.002 <= care[CareGroup.VETERAN] / n <= 0.025
    assert care == report.care

    # One registered event per resident; one audit entry for the run.
    events = ResidentEvent.objects.filter(in_subtree("area", STREET), kind=EventKind.REGISTERED)
    assert events.count() == n
    audit = AuditEntry.objects.filter(object_type="registry.population")
    assert audit.count() == 1
    assert audit[0].action == Action.IMPORT and audit[0].detail["residents"] == n


def test_buildings_households_and_organisations_fit_the_tree():
    generate_population(COMMUNITY, scale=0.3, seed=3)
    levels = dict(Area.objects.within(COMMUNITY).values_list("code", "level"))
    for area, address, kind, floors, units in Building.objects.within(COMMUNITY).values_list(
        "area_id", "address", "kind", "floors", "units"
    ):
        assert levels[area] == Level.GRID
        assert address.startswith("阳泉市城区上站街道油娄沟社区") and address.endswith("号楼")
        if kind == "residential":
            assert 6 <= floors <= 18 and 2 <= units <= 4
    households = list(
        Household.objects.within(COMMUNITY).values_list(
            "number", "area_id", "building__area_id", "room", "address"
        )
    )
    assert households
    for number, area, building_grid, room, address in households:
        assert levels[area] == Level.MICROGRID and area.startswith(building_grid)
        assert len(number) == 17 and number.startswith(COMMUNITY)
        assert room and address.endswith(room) and "单元" in room
    assert len({h[0] for h in households}) == len(households)
    organisations = list(Organisation.objects.within(COMMUNITY).values_list("kind", "credit_code", "address"))
    kinds = Counter(kind for kind, _, _ in organisations)
    assert kinds[OrganisationKind.PROPERTY] == 1 and kinds[OrganisationKind.SHOP] >= 2
    for _, code, address in organisations:
        assert generate.credit_code_check(code[:17]) == code[17]
        assert generate.org_code_check(code[8:16]) == code[16]
        assert code[2:8] == COMMUNITY[:6] and address.startswith("阳泉市城区上站街道油娄沟社区")
    assert len({code for _, code, _ in organisations}) == len(organisations)


def test_villages_get_courtyards():
    village = "140303001200"  # 西河村, 矿区
    generate_population(village, scale=0.5, seed=3)
    assert Area.objects.get(code=village).kind == Kind.VILLAGE
    kinds = Counter(Building.objects.within(village).values_list("kind", flat=True))
    assert kinds["courtyard"] > 0 and "residential" not in kinds
    assert Household.objects.within(village).filter(building__kind="courtyard").exists()


def test_same_seed_same_people_alone_or_with_the_street_and_after_replace():
    generate_population(SIBLING_COMMUNITY, scale=0.1, seed=5)
    alone = _people(SIBLING_COMMUNITY)
    assert alone
    again = generate_population(SIBLING_COMMUNITY, scale=0.1, seed=5, replace=True)
    assert again.replaced == 1
    assert _people(SIBLING_COMMUNITY) == alone
    street = generate_population(STREET, scale=0.1, seed=5, replace=True)
    assert street.replaced == 1 and street.communities == Area.objects.within(STREET).filter(level=5).count()
    assert _people(SIBLING_COMMUNITY) == alone
    generate_population(SIBLING_COMMUNITY, scale=0.1, seed=6, replace=True)
    assert _people(SIBLING_COMMUNITY) != alone


def test_a_rerun_skips_and_replace_spares_rows_entered_by_hand():
    first = generate_population(COMMUNITY, scale=0.1, seed=1)
    counts = (Household.objects.count(), Resident.objects.count(), Building.objects.count())
    second = generate_population(COMMUNITY, scale=0.1, seed=1)
    assert (second.communities, second.skipped, second.residents) == (0, 1, 0)
    assert (Household.objects.count(), Resident.objects.count(), Building.objects.count()) == counts
    assert AuditEntry.objects.filter(object_type="registry.population").count() == 1

    grid = Area.objects.filter(parent_id=COMMUNITY).first()
    by_hand = Household.objects.create(area=grid, number="HAND-1", address="阳泉市城区手工录入1号")
    replaced = generate_population(COMMUNITY, scale=0.1, seed=1, replace=True)
    assert replaced.residents == first.residents
    assert (Household.objects.count(), Resident.objects.count(), Building.objects.count()) == (
        counts[0] + 1,
        counts[1],
        counts[2],
    )
    assert Household.objects.filter(pk=by_hand.pk).exists()
    assert not Household.objects.exclude(pk=by_hand.pk).exclude(created_at=GENERATED_AT).exists()
    duplicates = Resident.objects.values("id_number_hash").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicates.exists()


def test_tiny_scales_still_give_every_grid_households():
    report = generate_population(COMMUNITY, scale=0.002, seed=1)
    grids = Area.objects.filter(parent_id=COMMUNITY, level=Level.GRID).values_list("code", flat=True)
    for grid in grids:
        assert Household.objects.within(grid).count() >= generate.MIN_GRID_HOUSEHOLDS
    assert report.households == Household.objects.within(COMMUNITY).count()


def test_missing_grids_are_generated_first():
    community = "140311100002"  # 老虎沟社区, 郊区: the shared tree has no grids there
    assert not Area.objects.filter(parent_id=community).exists()
    report = generate_population(community, scale=0.05, seed=1)
    assert Area.objects.filter(parent_id=community, level=Level.GRID).exists()
    assert report.households > 0
    assert not Household.objects.within(community).exclude(area__level=Level.MICROGRID).exists()


def test_the_command_prints_a_summary():
    out = io.StringIO()
    call_command("registry", "generate", "--within", COMMUNITY, "--scale", "0.05", "--seed", "2", stdout=out,
                 verbosity=0)  # fmt: skip
    text = out.getvalue()
    assert "households" in text and "residents" in text and "rows/s" in text
    out = io.StringIO()
    call_command("registry", "generate", "--within", COMMUNITY, "--scale", "0.05", stdout=out, verbosity=0)
    assert "Nothing to do" in out.getvalue()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        generate_population(COMMUNITY + "001", scale=0.1)
    with pytest.raises(ValueError):
        generate_population(COMMUNITY, scale=0)
    with pytest.raises(ValueError):
        generate_population("149999", scale=0.1)


# --- the parts, without the database ---------------------------------------------------------------


def test_scale_one_gives_the_census_population():
    """Households at scale 1.0 are the planning estimates; times the mean size: Yangquan's census."""
    mean_size = sum(size * share for size, share in generate.HOUSEHOLD_SIZES.items())
    assert abs(sum(generate.HOUSEHOLD_SIZES.values()) - 1) < 1e-9
    assert abs(mean_size - 2.6) < 0.005
    communities = Area.objects.within("1403").filter(level=Level.COMMUNITY).values_list("code", "kind")
    households = sum(estimate_households(list(communities)).values())
    assert abs(households * mean_size - 1_318_505) / 1_318_505 < 0.01


def test_household_templates_reproduce_the_pyramid():
    ref = generate._reference()
    rng = random.Random(11)
    family = generate._Family(ref, rng)
    for village in (False, True):
        ages, alone = [], 0
        for _ in range(10_000):
            size = rng.choices(ref.size_values, cum_weights=ref.size_cum)[0]
            members, _builder = generate._compose(family, size, village)
            assert len(members) == size
            ages.extend(m[1] for m in members)
            alone += size == 1 and members[0][1] >= 65
        n = len(ages)
        assert abs(sum(a < 15 for a in ages) / n - 0.16) < 0.015
        assert abs(sum(a >= 60 for a in ages) / n - 0.20) < 0.015
        bands = Counter(min(int(a) // 5, 20) for a in ages)
        for band, target in enumerate(generate.target_band_shares()):
            assert abs(bands[band] / n - target) < 0.012, generate.AGE_BANDS[band]
        assert 0.06 <= alone / sum(a >= 65 for a in ages) <= 0.11


def test_id_slots_never_collide_between_communities():
    day = dt.date(1980, 5, 17).toordinal()
    taken = set()
    for index in range(7):
        slots = generate._Slots(0, 400, index, 7)
        for i in range(300):
            male = i % 2 == 0
            got_day, sequence = slots.take("140302", day, male)
            assert got_day <= day and sequence % 2 == male and sequence < 800
            assert (got_day, sequence) not in taken
            taken.add((got_day, sequence))
    floating = generate._Slots(400, 100, 776, 777)
    got_day, sequence = floating.take("130121", day, True)
    assert 800 <= sequence < 1000 and day - got_day < 100


def test_credit_codes():
    assert generate.org_code_check("M000100Y") == "4"  # 91350100M000100Y43, a published example
    assert generate.credit_code_check("91350100M000100Y4") == "3"
    codes = {generate.make_credit_code("91", "140302", serial) for serial in range(5000)}
    assert len(codes) == 5000
    for code in list(codes)[:200]:
        assert len(code) == 18 and code[:8] == "91140302"
        assert generate.org_code_check(code[8:16]) == code[16]
        assert generate.credit_code_check(code[:17]) == code[17]


def test_apportion_keeps_totals():
    assert generate.apportion([30, 30, 30], 10) == [4, 3, 3]
    assert generate.apportion([1, 2, 3], 0) == [0, 0, 0]
    weights = [random.Random(i).uniform(1, 50) for i in range(40)]
    for total in (0, 1, 7, 123, 5000):
        assert sum(generate.apportion(weights, total)) == total


def test_a_clash_with_a_number_entered_by_hand_rolls_the_street_back():
    generate_population(COMMUNITY, scale=0.05, seed=4)
    victim = Resident.objects.within(COMMUNITY).first()
    before = _people(COMMUNITY)
    other = Household.objects.create(
        area_id=SIBLING_COMMUNITY, number="HAND-2", address="阳泉市城区手工录入2号"
    )
    Resident.objects.create(
        household=other,
        area_id=SIBLING_COMMUNITY,
        name="手工",
        id_number_enc=victim.id_number_enc,
        id_number_hash=victim.id_number_hash,
        id_number_masked=victim.id_number_masked,
        gender=victim.gender,
        birth_date=victim.birth_date,
        relation=Relation.HEAD,
    )
    with pytest.raises(IntegrityError):
        generate_population(COMMUNITY, scale=0.05, seed=4, replace=True)
    assert _people(COMMUNITY) == before
    assert AuditEntry.objects.filter(object_type="registry.population").count() == 1


def test_worker_processes_generate_the_same_people():
    community = generate._plan(COMMUNITY)[0]
    inline = list(generate._built([community], 0.05, 9, parallel=False))
    spawned = list(generate._built([community], 0.05, 9, parallel=True))
    assert [(r[2], r[4]) for r in spawned[0][0].residents] == [(r[2], r[4]) for r in inline[0][0].residents]
    assert spawned[0][0].households == inline[0][0].households


def test_floating_slots_are_dealt_among_the_province(tree):
    """Two cities' floating residents may come from the same county: their slots are dealt by the
    community's rank in the province (with only Yangquan in the tree, its rank in the city)."""
    plan = {c.code: c for c in generate._plan(STREET)}
    in_province = list(
        Area.objects.filter(code__startswith="14", level=Level.COMMUNITY)
        .order_by("code")
        .values_list("code", flat=True)
    )
    for code, community in plan.items():
        assert community.province_rank == (in_province.index(code), len(in_province))
