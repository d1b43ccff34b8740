"""Registry workflows (actions.py) and identity protection (protect.py, idnumber.py).

Property tests: every number make_id_number builds is accepted and every single-character change of
it is rejected; masks never show more than the first 4 + last 4 characters of an ID number or the
first 3 + last 4 digits of a phone.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import given
from hypothesis import strategies as st

from grassroots.areas.models import Area
from grassroots.audit.models import Action, AuditEntry
from grassroots.conftest import COLLEAGUE_GRID, COMMUNITY, GRID
from grassroots.core import crypto
from grassroots.registry import actions, protect
from grassroots.registry.choices import (
    CareGroup,
    EventKind,
    HouseholdStatus,
    Relation,
    ResidentStatus,
)
from grassroots.registry.idnumber import (
    CHECK_CHARS,
    PROVINCES,
    make_id_number,
    mask_id_number,
    mask_phone,
    normalise_phone,
    parse_id_number,
)
from grassroots.registry.models import ID_NUMBER, CareMembership, Resident, ResidentEvent

from .conftest import MICROGRID, person_id

# --- ID numbers and masks (no database) ----------------------------------------------------------

regions = st.builds(
    lambda province, rest: province + rest,
    st.sampled_from(sorted(PROVINCES)),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
)
births = st.dates(min_value=dt.date(1890, 1, 1), max_value=dt.date.today())
sequences = st.integers(min_value=0, max_value=999)
phones = st.builds(
    lambda second, rest: "1" + second + rest,
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)


@given(regions, births, sequences)
def test_every_generated_id_number_is_accepted(region, birth, sequence):
    value = make_id_number(region, birth, sequence)
    parsed = parse_id_number(value)
    assert (parsed.value, parsed.region, parsed.birth_date) == (value, region, birth)
    assert parsed.gender == ("M" if sequence % 2 else "F")


@given(regions, births, sequences, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_any_single_character_change_is_rejected(region, birth, sequence, position, replacement):
    value = make_id_number(region, birth, sequence)
    if value[position] == replacement:
        replacement = CHECK_CHARS[(CHECK_CHARS.index(replacement) + 1) % len(CHECK_CHARS)]
    changed = value[:position] + replacement + value[position + 1 :]
    assert changed != value
    with pytest.raises(ValidationError):
        parse_id_number(changed)


@given(regions, births, sequences)
def test_id_mask_shows_at_most_first_four_and_last_four(region, birth, sequence):
    value = make_id_number(region, birth, sequence)
    masked = mask_id_number(value)
    assert len(masked) == len(value)
    assert masked[:4] == value[:4] and masked[-4:] == value[-4:]
    assert set(masked[4:-4]) == {"*"}


@given(phones)
def test_phone_mask_shows_at_most_first_three_and_last_four(phone):
    assert normalise_phone(phone) == phone
    masked = mask_phone(phone)
    assert len(masked) == 11
    assert masked[:3] == phone[:3] and masked[-4:] == phone[-4:]
    assert set(masked[3:-4]) == {"*"}


@given(st.text(max_size=30))
def test_masks_never_reveal_more_than_eight_characters_of_anything(value):
    shown = [c for c in mask_id_number(value) if c != "*"]
    assert len(shown) <= 8
    assert len([c for c in mask_phone(value) if c != "*"]) <= 7


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1403", "id_length"),
        ("14030219800517011A", "id_chars"),
        ("990302198005170110", "id_region"),
        ("140302198002300110", "id_birth"),
        ("140302" + f"{dt.date.today().year + 1}0101" + "0110", "id_birth"),
    ],
)
def test_id_number_errors_say_what_is_wrong(raw, code):
    with pytest.raises(ValidationError) as info:
        parse_id_number(raw)
    assert info.value.code == code


def test_id_number_normalised():
    value = make_id_number("140302", dt.date(1980, 5, 17), 33)
    assert value.endswith("X")
    assert parse_id_number(f" {value[:9]} {value[9:].lower()} ").value == value


# --- protect -------------------------------------------------------------------------------------


def test_seal_encrypts_hashes_and_masks():
    value = person_id(11)
    sealed = protect.seal_id_number(value)
    assert value not in sealed.enc and value not in sealed.hash
    assert crypto.decrypt(sealed.enc, context=ID_NUMBER) == value
    assert sealed.hash == protect.id_hash(value) and sealed.masked == mask_id_number(value)
    assert protect.seal_id_number(value).enc != sealed.enc  # a fresh nonce each time
    assert protect.seal_phone("") == {"enc": "", "hash": "", "masked": ""}
    with pytest.raises(ValidationError):
        protect.seal_phone("12345")


def test_search_hashes():
    assert set(protect.search_hashes(person_id(11))) == {"id_number_hash"}
    assert protect.search_hashes("+86 138-1234-5678") == {"phone_hash": protect.phone_hash("13812345678")}
    assert protect.search_hashes("张伟") == {}


def test_reveal_requires_a_reason_and_audits_once(db, grid_worker, registry):
    head = Resident.objects.visible_to(grid_worker).get(pk=registry.head.pk)
    for reason in ["", "   ", "abc"]:
        with pytest.raises(ValidationError):
            protect.reveal(grid_worker, head, ["id_number"], reason=reason)
    assert not AuditEntry.objects.filter(action=Action.VIEW_FULL).exists()
    with pytest.raises(ValidationError):
        protect.reveal(grid_worker, head, ["name"], reason="核对身份信息")
    with pytest.raises(ValidationError):
        protect.reveal(grid_worker, head, [], reason="核对身份信息")
    shown = protect.reveal(grid_worker, head, ["id_number", "phone"], reason="核对身份信息")
    assert shown == {"id_number": registry.secrets["head_id"], "phone": registry.secrets["head_phone"]}
    [entry] = AuditEntry.objects.filter(action=Action.VIEW_FULL)
    assert (entry.reason, entry.fields, entry.area_code) == (
        "核对身份信息",
        ["id_number", "phone"],
        MICROGRID,
    )
    no_phone = protect.reveal(grid_worker, registry.spouse, ["phone"], reason="核对身份信息")
    assert no_phone == {"phone": ""}


# --- actions -------------------------------------------------------------------------------------


def test_roles_without_edit_rights_are_refused(district_staff, city_admin, colleague, registry):
    for actor in (district_staff, city_admin, colleague):
        with pytest.raises(PermissionDenied):
            actions.do_add_resident(
                actor, household=registry.home, name="某人", id_number=person_id(900), relation=Relation.CHILD
            )
        with pytest.raises(PermissionDenied):
            actions.do_resident_leaves(actor, resident=registry.head, kind=EventKind.DEATH)
    assert actions.can_edit(colleague, COLLEAGUE_GRID) and not actions.can_edit(colleague, GRID)


def test_care_groups_need_a_care_role(district_staff, grid_worker, registry):
    with pytest.raises(PermissionDenied):
        actions.do_set_care(district_staff, resident=registry.spouse, group=CareGroup.DISABLED, member=True)
    assert actions.do_set_care(grid_worker, resident=registry.spouse, group=CareGroup.DISABLED, member=True)
    assert not actions.do_set_care(
        grid_worker, resident=registry.spouse, group=CareGroup.DISABLED, member=True
    )
    assert CareMembership.objects.visible_to(district_staff).count() == 0
    assert CareMembership.objects.visible_to(grid_worker).count() == 2


def test_add_resident_events_and_duplicates(grid_worker, registry):
    born = dt.date.today() - dt.timedelta(days=3)
    baby = actions.do_add_resident(
        grid_worker,
        household=registry.home,
        name="张小宝",
        id_number=person_id(700, born),
        relation=Relation.GRANDCHILD,
        event=EventKind.BIRTH,
    )
    event = ResidentEvent.objects.get(resident=baby)
    assert (event.kind, event.date, event.to_household_id) == (EventKind.BIRTH, born, registry.home.pk)
    assert baby.area_id == MICROGRID and baby.gender == "F" and baby.birth_date == born
    with pytest.raises(ValidationError) as info:
        actions.do_add_resident(
            grid_worker,
            household=registry.home,
            name="重复",
            id_number=person_id(700, born),
            relation=Relation.CHILD,
        )
    assert info.value.code == "duplicate"
    with pytest.raises(ValidationError):
        actions.do_add_resident(
            grid_worker,
            household=registry.home,
            name="二号户主",
            id_number=person_id(701),
            relation=Relation.HEAD,
        )
    with pytest.raises(ValidationError):
        actions.do_add_resident(
            grid_worker,
            household=registry.home,
            name="未来",
            id_number=person_id(702),
            relation=Relation.CHILD,
            date=dt.date.today() + dt.timedelta(days=1),
        )


def test_leaving_keeps_the_record_and_frees_the_head(grid_worker, registry):
    actions.do_resident_leaves(
        grid_worker, resident=registry.head, kind=EventKind.DEATH, date=dt.date(2025, 1, 2)
    )
    registry.head.refresh_from_db()
    registry.home.refresh_from_db()
    assert registry.head.status == ResidentStatus.DECEASED and registry.home.head_id is None
    assert registry.head.household_id == registry.home.pk
    event = ResidentEvent.objects.get(resident=registry.head, kind=EventKind.DEATH)
    assert event.from_household_id == registry.home.pk
    # The ID number may be registered again once nobody living holds it (e.g. a correction).
    actions.check_not_registered(protect.id_hash(registry.secrets["head_id"]))


def test_transfer_between_households(community_staff, grid_worker, registry):
    with pytest.raises(PermissionDenied):  # the grid worker cannot write in the colleague's grid
        actions.do_transfer_resident(
            grid_worker,
            resident=registry.spouse,
            to_household=registry.colleague_home,
            relation=Relation.SPOUSE,
        )
    actions.do_transfer_resident(
        community_staff,
        resident=registry.spouse,
        to_household=registry.colleague_home,
        relation=Relation.SPOUSE,
    )
    registry.spouse.refresh_from_db()
    assert (registry.spouse.household_id, registry.spouse.area_id) == (
        registry.colleague_home.pk,
        COLLEAGUE_GRID,
    )
    event = ResidentEvent.objects.get(resident=registry.spouse, kind=EventKind.TRANSFER)
    assert (event.from_household_id, event.to_household_id) == (registry.home.pk, registry.colleague_home.pk)
    with pytest.raises(ValidationError):
        actions.do_transfer_resident(
            community_staff,
            resident=registry.spouse,
            to_household=registry.colleague_home,
            relation=Relation.SPOUSE,
        )


def test_household_moves_out_and_closes(grid_worker, registry):
    assert actions.do_household_moves_out(grid_worker, household=registry.home) == 2
    registry.home.refresh_from_db()
    assert registry.home.status == HouseholdStatus.MOVED_OUT and registry.home.head_id is None
    assert set(Resident.objects.filter(household=registry.home).values_list("status", flat=True)) == {
        ResidentStatus.MOVED_OUT
    }
    with pytest.raises(ValidationError):
        actions.do_add_resident(
            grid_worker,
            household=registry.home,
            name="新人",
            id_number=person_id(800),
            relation=Relation.CHILD,
        )


def test_set_head_and_update_household(community_staff, registrar, registry):
    actions.do_set_head(community_staff, household=registry.home, resident=registry.spouse)
    registry.home.refresh_from_db()
    registry.head.refresh_from_db()
    assert registry.home.head_id == registry.spouse.pk and registry.head.relation == Relation.OTHER_RELATIVE
    with pytest.raises(ValidationError):
        actions.do_set_head(community_staff, household=registry.home, resident=registry.colleague_head)
    grid = Area.objects.get(code=GRID)
    actions.do_update_household(
        community_staff, household=registry.unplaced, area=grid, address=registry.unplaced.address
    )
    registry.unplaced.refresh_from_db()
    assert registry.unplaced.area_id == GRID
    with pytest.raises(ValidationError):  # a building belongs to one grid
        actions.do_update_household(
            community_staff,
            household=registry.colleague_home,
            area=Area.objects.get(code=COLLEAGUE_GRID),
            address="x",
            building=registry.building,
        )
    with pytest.raises(ValidationError):  # households live in communities, grids, micro-grids
        actions.do_update_household(
            registrar,  # street staff may write at the street, yet no household lives there
            household=registry.unplaced,
            area=Area.objects.get(code=COMMUNITY[:9]),
            address="x",
        )


def test_update_resident_records_a_change_event(grid_worker, registry):
    assert actions.do_update_resident(grid_worker, resident=registry.spouse, phone="13600001111") == ["phone"]
    assert actions.do_update_resident(grid_worker, resident=registry.spouse, phone="13600001111") == []
    registry.spouse.refresh_from_db()
    assert registry.spouse.phone_masked == "136****1111"
    with pytest.raises(ValidationError):
        actions.do_update_resident(grid_worker, resident=registry.spouse, birth_date=dt.date(2000, 1, 1))
    with pytest.raises(ValidationError):
        actions.do_update_resident(grid_worker, resident=registry.spouse, phone="999")
    assert ResidentEvent.objects.filter(resident=registry.spouse, kind=EventKind.CHANGE).count() == 1
