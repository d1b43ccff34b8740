"""Checking a sheet before anything is written.

Three steps: every row on its own (:func:`parse_row`: name, ID number, relation, phone, dates …),
then every household — the rows sharing a household number, wherever they are in the sheet — and
finally the sheet against the registry (:func:`check_sheet`: grids, buildings, people registered in
another household, households that exist already). The database is asked a handful of set-based
questions, never one per row.

A household is imported whole or not at all: if any of its rows fails, every row of it is rejected,
the good ones with "household rejected because row N failed". A household whose number exists already
is *unchanged* when the registry holds exactly what the sheet says, and otherwise rejected with every
difference: an import adds households, it never edits one (that is the registry's own pages, with
their events and history).

Messages are stored untranslated as ``(msgid, params)`` and rendered in the reader's language. They
name columns and rows, never a full ID number or phone.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from grassroots.accounts.scope import in_scope
from grassroots.areas.choices import Level
from grassroots.areas.codes import LENGTH_BY_LEVEL, is_valid_code
from grassroots.areas.models import Area
from grassroots.registry.choices import ETHNICITIES, CareGroup, Registration, Relation, ResidentStatus
from grassroots.registry.idnumber import mask_id_number, mask_phone, normalise_phone, parse_id_number
from grassroots.registry.models import Building, CareMembership, Household, Resident
from grassroots.registry.protect import id_hash, phone_hash

from .sheet import RawRow, lost_digits, text

Message = tuple[str, dict]
CHUNK = 500
GRID_LENGTHS = (LENGTH_BY_LEVEL[Level.GRID], LENGTH_BY_LEVEL[Level.MICROGRID])
MAX = {"household": 40, "building": 200, "room": 40, "address": 200, "name": 50}


class M:
    """Every message the checks can give (English msgids, translated when shown)."""

    NAME_MISSING = gettext_noop("The name (姓名) is missing.")
    TOO_LONG = gettext_noop("%(column)s is longer than %(max)d characters.")
    ID_MISSING = gettext_noop("The ID number (公民身份号码) is missing.")
    ID_EXCEL_NUMBER = gettext_noop(
        "Excel stored the ID number as a number and lost its last digits: format the column as text "
        "and type the number again."
    )
    RELATION_MISSING = gettext_noop("The relation to the head (与户主关系) is missing.")
    RELATION_UNKNOWN = gettext_noop(
        "Unknown relation to the head “%(value)s”: use 户主, 配偶, 子, 女, 父母, 孙子女, 兄弟姐妹, 其他 …"
    )
    ETHNICITY_UNKNOWN = gettext_noop("Unknown ethnicity “%(value)s”.")
    PHONE_BAD = gettext_noop("The phone (联系电话) is not an 11-digit mobile number.")
    REGISTRATION_UNKNOWN = gettext_noop("Unknown registration type “%(value)s”: use 户籍, 流动 or 人户分离.")
    CARE_UNKNOWN = gettext_noop("Unknown care group “%(value)s”.")
    GENDER_UNKNOWN = gettext_noop("Unknown gender “%(value)s”: use 男 or 女.")
    GENDER_MISMATCH = gettext_noop("The gender does not match the ID number.")
    BIRTH_INVALID = gettext_noop("The date of birth “%(value)s” does not exist.")
    BIRTH_FUTURE = gettext_noop("The date of birth %(value)s is in the future.")
    BIRTH_MISMATCH = gettext_noop("The date of birth does not match the ID number.")
    HOUSEHOLD_MISSING = gettext_noop("The household number (户编号) is missing.")
    DUPLICATE_IN_FILE = gettext_noop("The same person (same ID number) is also on row %(rows)s.")
    REGISTERED_IN = gettext_noop("This person is already registered in household %(number)s.")
    REGISTERED_ELSEWHERE = gettext_noop("This person is already registered in another household.")
    GRID_MISSING = gettext_noop("The grid code (网格编码) is missing.")
    GRID_EXCEL_NUMBER = gettext_noop(
        "Excel stored the grid code as a number and lost its last digits: format the column as text."
    )
    GRID_INVALID = gettext_noop("“%(code)s” is not a grid or micro-grid code (15 or 18 digits).")
    GRID_LEVEL = gettext_noop(
        "%(code)s is not a grid: households go into a grid (15 digits) or micro-grid (18 digits)."
    )
    GRID_OUTSIDE = gettext_noop("Grid %(code)s is outside %(node)s, the area this import covers.")
    GRID_UNKNOWN = gettext_noop("Grid %(code)s does not exist.")
    DISAGREE = gettext_noop("The rows of household %(number)s disagree on %(column)s: %(values)s.")
    ADDRESS_MISSING = gettext_noop("The household's address (住址) is missing.")
    BUILDING_OTHER_GRID = gettext_noop("Building “%(address)s” is registered in another grid.")
    BUILDING_TWO_GRIDS = gettext_noop("Building “%(address)s” appears with different grids in this sheet.")
    NO_HEAD = gettext_noop("Household %(number)s has no head (户主).")
    HEADS = gettext_noop("Household %(number)s has %(count)d heads (户主); it must have one.")
    HOUSEHOLD_FAILED = gettext_noop("Household %(number)s was not imported because row %(rows)s failed.")
    EXISTS_OUTSIDE = gettext_noop(
        "Household number %(number)s is already used by a household outside %(node)s."
    )
    EXISTS_CLOSED = gettext_noop(
        "Household %(number)s exists already and is closed (moved out or dissolved)."
    )
    EXISTS_DIFFERS = gettext_noop(
        "Household %(number)s exists already and differs from this sheet; an import only adds households: "
        "change existing ones in the registry, or correct the sheet."
    )
    EXISTS_GRID = gettext_noop("In the registry, household %(number)s is in grid %(code)s.")
    EXISTS_ADDRESS = gettext_noop("In the registry, household %(number)s has another address.")
    EXISTS_BUILDING = gettext_noop("In the registry, household %(number)s is in another building.")
    EXISTS_ROOM = gettext_noop("In the registry, household %(number)s has another unit and room.")
    EXISTS_MEMBERS = gettext_noop(
        "In the registry, household %(number)s has %(count)d member(s) who are not on this sheet."
    )
    NOT_MEMBER = gettext_noop("In the registry, this person is not a member of household %(number)s.")
    MEMBER_NAME = gettext_noop("In the registry, this person has another name.")
    MEMBER_RELATION = gettext_noop("In the registry, this person has another relation to the head.")
    MEMBER_ETHNICITY = gettext_noop("In the registry, this person has another ethnicity.")
    MEMBER_REGISTRATION = gettext_noop("In the registry, this person has another registration type.")
    MEMBER_PHONE = gettext_noop("In the registry, this person has another phone.")
    MEMBER_CARE = gettext_noop("In the registry, this person has other care groups.")
    RACE_HOUSEHOLD = gettext_noop(
        "Household number %(number)s was registered by someone else while this import ran."
    )
    RACE_PERSON = gettext_noop("This person was registered elsewhere while this import ran.")
    RACE_BUILDING = gettext_noop(
        "Building “%(address)s” was registered in another grid while this import ran."
    )
    NOT_SAVED = gettext_noop("Household %(number)s could not be saved (%(reason)s).")


# The sheet's column names, as messages cite them.
COLUMN_NAMES = {
    "household": "户编号",
    "grid": "网格编码",
    "building": "楼栋地址",
    "room": "单元房号",
    "address": "住址",
    "name": "姓名",
}

RELATIONS: dict[str, tuple[str, ...]] = {
    Relation.HEAD: ("户主", "本人"),
    Relation.SPOUSE: ("配偶", "妻", "妻子", "夫", "丈夫"),
    Relation.CHILD: (
        "子女",
        "子",
        "女",
        "儿子",
        "女儿",
        "长子",
        "次子",
        "三子",
        "长女",
        "次女",
        "三女",
        "独生子",
        "独生女",
        "养子",
        "养女",
        "继子",
        "继女",
    ),
    Relation.CHILD_IN_LAW: ("儿媳", "女婿", "儿媳妇"),
    Relation.PARENT: ("父母", "父亲", "母亲", "父", "母"),
    Relation.PARENT_IN_LAW: ("公婆", "岳父母", "公公", "婆婆", "岳父", "岳母"),
    Relation.GRANDCHILD: ("孙子女", "孙子", "孙女", "外孙子女", "外孙子", "外孙女", "外孙"),
    Relation.GRANDPARENT: ("祖父母", "祖父", "祖母", "外祖父母", "外祖父", "外祖母"),
    Relation.SIBLING: ("兄弟姐妹", "兄", "弟", "姐", "妹", "哥哥", "弟弟", "姐姐", "妹妹"),
    Relation.OTHER_RELATIVE: ("其他", "其他亲属", "侄子", "侄女", "外甥", "外甥女"),
    Relation.NON_RELATIVE: ("非亲属", "无亲属关系", "保姆", "租户", "借住"),
}
REGISTRATIONS: dict[str, tuple[str, ...]] = {
    Registration.REGISTERED: ("户籍", "户籍人口", "常住户籍", "本地户籍"),
    Registration.FLOATING: ("流动", "流动人口", "外来人口", "暂住"),
    Registration.AWAY: ("人户分离", "户在人不在"),
}
CARE_GROUPS: dict[str, tuple[str, ...]] = {
    CareGroup.ELDERLY_ALONE: ("独居老人", "独居"),
    CareGroup.ELDERLY_EMPTY_NEST: ("空巢老人", "空巢"),
    CareGroup.DISABLED: ("残疾人", "残疾"),
    CareGroup.LEFT_BEHIND_CHILD: ("留守儿童",),
    CareGroup.LOW_INCOME: ("低保", "低保户", "低保对象"),
    CareGroup.VETERAN: ("退役军人", "退伍军人", "复员军人"),
    CareGroup.SERIOUS_ILLNESS: ("重病患者", "大病患者", "重病", "大病"),
    CareGroup.MENTAL_ILLNESS: ("严重精神障碍患者", "严重精神障碍"),
}
GENDERS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F"}
CARE_SEPARATORS = re.compile(r"[、,，;；/\s]+")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


_ID_LIKE = re.compile(r"\d{17}[\dXx]")
_PHONE_LIKE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def redact(value: str, *, phones: bool = True) -> str:
    """A value echoed in a message, with anything that is an ID number or a mobile number masked.

    Messages are seen by everyone who can see the job, not only the uploader; a value typed into
    the wrong column must not carry a full ID number onto the report page.
    """

    def id_number(match: re.Match) -> str:
        try:
            return mask_id_number(parse_id_number(match.group(0)).value)
        except ValidationError:
            return match.group(0)

    value = _ID_LIKE.sub(id_number, value)
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)), value) if phones else value


def _redacted(params: dict) -> dict:
    # A wrong grid code of 11 digits looks like a mobile number, and is more useful shown.
    return {
        key: redact(value, phones=key != "code") if isinstance(value, str) else value
        for key, value in params.items()
    }


def _lookup(choices: dict[str, tuple[str, ...]], enum) -> dict[str, str]:
    """Chinese words, the stored values and the English labels, all mapping to the stored value."""
    table: dict[str, str] = {}
    for value, words in choices.items():
        for word in (*words, value, str(enum(value).label)):
            table[word.lower()] = value
    return table


with translation.override(None):
    RELATION_LOOKUP = _lookup(RELATIONS, Relation)
    REGISTRATION_LOOKUP = _lookup(REGISTRATIONS, Registration)
    CARE_LOOKUP = _lookup(CARE_GROUPS, CareGroup)


def _msgid(exc: ValidationError) -> Message:
    """A ValidationError from the registry's own checks as a storable (msgid, params)."""
    with translation.override(None):
        return str(exc.message), dict(exc.params or {})


@dataclass(slots=True)
class Person:
    """One row, parsed. Household fields are kept as written; the household reconciles them."""

    row: int
    household: str = ""
    grid: str = ""
    grid_lost: bool = False
    building: str = ""
    room: str = ""
    address: str = ""
    name: str = ""
    id_number: str = ""
    id_hash: str = ""
    gender: str = ""
    birth_date: dt.date | None = None
    relation: str = ""
    ethnicity: str = "汉族"
    phone: str = ""
    phone_hash: str = ""
    registration: str = Registration.REGISTERED
    care: tuple[str, ...] = ()
    errors: list[Message] = field(default_factory=list)


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raw = text(value)
    match = _DATE.match(raw)
    if match:
        parts = match.groups()
    elif re.fullmatch(r"\d{8}", raw):
        parts = (raw[:4], raw[4:6], raw[6:])
    else:
        raise ValueError(raw)
    return dt.date(*(int(p) for p in parts))


def parse_row(raw: RawRow, *, today: dt.date | None = None) -> Person:
    """Check one row on its own. Never touches the database."""
    today = today or timezone.localdate()
    cells = raw.cells
    p = Person(row=raw.number)
    errors = p.errors
    intern = sys.intern  # the same grid, address and words recur on thousands of rows
    p.household = text(cells.get("household"))
    p.grid_lost = lost_digits(cells.get("grid"))
    p.grid = intern(text(cells.get("grid")))
    p.building = intern(text(cells.get("building")))
    p.room = text(cells.get("room"))
    p.address = intern(text(cells.get("address")))
    if not p.household:
        errors.append((M.HOUSEHOLD_MISSING, {}))
    for column in ("household", "name"):
        value = p.household if column == "household" else text(cells.get("name"))
        if len(value) > MAX[column]:
            errors.append((M.TOO_LONG, {"column": COLUMN_NAMES[column], "max": MAX[column]}))

    p.name = text(cells.get("name"))[: MAX["name"]]
    if not p.name:
        errors.append((M.NAME_MISSING, {}))

    id_cell = cells.get("id_number")
    if lost_digits(id_cell):
        errors.append((M.ID_EXCEL_NUMBER, {}))
    elif not text(id_cell):
        errors.append((M.ID_MISSING, {}))
    else:
        try:
            parsed = parse_id_number(text(id_cell), today=today)
        except ValidationError as exc:
            errors.append(_msgid(exc))
        else:
            p.id_number, p.gender, p.birth_date = parsed.value, parsed.gender, parsed.birth_date
            p.id_hash = id_hash(parsed.value)

    relation = text(cells.get("relation"))
    if not relation:
        errors.append((M.RELATION_MISSING, {}))
    elif relation.lower() in RELATION_LOOKUP:
        p.relation = RELATION_LOOKUP[relation.lower()]
    else:
        errors.append((M.RELATION_UNKNOWN, {"value": relation}))

    gender = text(cells.get("gender"))
    if gender:
        code = GENDERS.get(gender.lower())
        if code is None:
            errors.append((M.GENDER_UNKNOWN, {"value": gender}))
        elif p.gender and code != p.gender:
            errors.append((M.GENDER_MISMATCH, {}))

    birth_cell = cells.get("birth_date")
    if text(birth_cell):
        try:
            birth = _date(birth_cell)
        except (ValueError, TypeError):
            errors.append((M.BIRTH_INVALID, {"value": text(birth_cell)}))
        else:
            if birth > today:
                errors.append((M.BIRTH_FUTURE, {"value": birth.isoformat()}))
            elif p.birth_date and birth != p.birth_date:
                errors.append((M.BIRTH_MISMATCH, {}))

    ethnicity = text(cells.get("ethnicity"))
    if ethnicity:
        if ethnicity in ETHNICITIES:
            p.ethnicity = intern(ethnicity)
        elif ethnicity + "族" in ETHNICITIES:
            p.ethnicity = intern(ethnicity + "族")
        else:
            errors.append((M.ETHNICITY_UNKNOWN, {"value": ethnicity[:20]}))

    phone = text(cells.get("phone"))
    if phone:
        try:
            p.phone = normalise_phone(phone)
        except ValidationError:
            errors.append((M.PHONE_BAD, {}))
        else:
            p.phone_hash = phone_hash(p.phone)

    registration = text(cells.get("registration"))
    if registration:
        if registration.lower() in REGISTRATION_LOOKUP:
            p.registration = REGISTRATION_LOOKUP[registration.lower()]
        else:
            errors.append((M.REGISTRATION_UNKNOWN, {"value": registration[:20]}))

    care = text(cells.get("care"))
    if care:
        groups: list[str] = []
        for word in CARE_SEPARATORS.split(care):
            if not word:
                continue
            group = CARE_LOOKUP.get(word.lower())
            if group is None:
                errors.append((M.CARE_UNKNOWN, {"value": word[:20]}))
            elif group not in groups:
                groups.append(group)
        p.care = tuple(groups)
    return p


# --- households ------------------------------------------------------------------------------------


@dataclass
class HouseholdPlan:
    """The rows sharing one household number, reconciled into one household."""

    number: str
    people: list[Person]
    grid: str = ""
    building: str = ""
    room: str = ""
    address: str = ""
    errors: list[Message] = field(default_factory=list)  # about the household as a whole
    row_errors: dict[int, list[Message]] = field(default_factory=lambda: defaultdict(list))
    status: str = "new"  # new | unchanged | rejected

    @property
    def first_row(self) -> int:
        return self.people[0].row

    @property
    def head(self) -> Person:
        return next((p for p in self.people if p.relation == Relation.HEAD), self.people[0])

    def failed(self) -> bool:
        return bool(self.errors or any(p.errors for p in self.people) or any(self.row_errors.values()))

    def problems(self) -> list[tuple[int, str, list[Message]]]:
        """(row, household number, messages) for every row of a rejected household."""
        failing = [p.row for p in self.people if p.errors or self.row_errors.get(p.row)]
        out = []
        for p in self.people:
            messages = [*p.errors, *self.row_errors.get(p.row, ()), *self.errors]
            if not messages:
                rows = ", ".join(str(r) for r in failing)
                messages = [(M.HOUSEHOLD_FAILED, {"number": self.number, "rows": rows})]
            safe = [(msgid, _redacted(params)) for msgid, params in messages]
            out.append((p.row, redact(self.number), safe))
        return out

    def ordered_people(self) -> list[Person]:
        """Head first, then the others in sheet order."""
        head = self.head
        return [head, *(p for p in self.people if p is not head)]


@dataclass
class Outcome:
    households: list[HouseholdPlan]
    rows: int

    def by_status(self, status: str) -> list[HouseholdPlan]:
        return [h for h in self.households if h.status == status]


def group_households(people: Iterable[Person]) -> list[HouseholdPlan]:
    """Rows grouped by household number, in order of each household's first row. A row without a
    number is a rejected household of its own."""
    groups: dict[str, HouseholdPlan] = {}
    loose: list[HouseholdPlan] = []
    for person in people:
        if not person.household:
            loose.append(HouseholdPlan(number="", people=[person], status="rejected"))
            continue
        plan = groups.get(person.household)
        if plan is None:
            plan = groups[person.household] = HouseholdPlan(number=person.household, people=[])
        plan.people.append(person)
    return sorted([*groups.values(), *loose], key=lambda h: h.first_row)


def _reconcile(plan: HouseholdPlan, node: Area) -> None:
    """One value per household field; rows may leave them blank (merged cells, filled once)."""
    head = plan.head
    for column in ("grid", "building", "room", "address"):
        values = list(dict.fromkeys(getattr(p, column) for p in plan.people if getattr(p, column)))
        if len(values) > 1:
            shown = "、".join(v[:40] for v in values[:3])
            plan.errors.append(
                (M.DISAGREE, {"number": plan.number, "column": COLUMN_NAMES[column], "values": shown})
            )
        chosen = getattr(head, column) or (values[0] if values else "")
        setattr(plan, column, chosen)
        if column != "grid" and len(chosen) > MAX[column]:
            plan.errors.append((M.TOO_LONG, {"column": COLUMN_NAMES[column], "max": MAX[column]}))
    if not plan.address and plan.building:
        plan.address = f"{plan.building}{plan.room}"[: MAX["address"]]
    if not plan.address:
        plan.errors.append((M.ADDRESS_MISSING, {}))

    grid = plan.grid
    if any(p.grid_lost for p in plan.people):
        plan.errors.append((M.GRID_EXCEL_NUMBER, {}))
    elif not grid:
        plan.errors.append((M.GRID_MISSING, {}))
    elif not is_valid_code(grid):
        plan.errors.append((M.GRID_INVALID, {"code": grid[:30]}))
    elif len(grid) not in GRID_LENGTHS:
        plan.errors.append((M.GRID_LEVEL, {"code": grid}))
    elif not grid.startswith(node.code):
        plan.errors.append((M.GRID_OUTSIDE, {"code": grid, "node": node.display_name}))

    heads = sum(1 for p in plan.people if p.relation == Relation.HEAD)
    # An unreadable relation may be the head: then that row says so, not "no head".
    if heads == 0 and all(p.relation for p in plan.people):
        plan.errors.append((M.NO_HEAD, {"number": plan.number}))
    elif heads > 1:
        plan.errors.append((M.HEADS, {"number": plan.number, "count": heads}))


def _chunks(items: Iterable, size: int = CHUNK) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def existing_grids(codes: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(codes))):
        found.update(
            Area.objects.filter(code__in=chunk, level__in=(Level.GRID, Level.MICROGRID)).values_list(
                "code", flat=True
            )
        )
    return found


def existing_buildings(addresses: Iterable[str]) -> dict[str, tuple[int, str]]:
    """address → (id, grid code)."""
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(sorted(set(addresses))):
        for pk, address, area in Building.objects.filter(address__in=chunk).values_list(
            "pk", "address", "area"
        ):
            found[address] = (pk, area)
    return found


def registered_people(hashes: Iterable[str]) -> dict[str, tuple[str, str]]:
    """ID hash → (household number or "", area code) of everyone living in the registry."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(sorted(set(hashes))):
        rows = Resident.objects.filter(id_number_hash__in=chunk, status=ResidentStatus.ACTIVE).values_list(
            "id_number_hash", "household__number", "area_id"
        )
        for digest, number, area in rows:
            found[digest] = (number or "", area)
    return found


def _compare_existing(plan: HouseholdPlan, existing: dict, node: Area) -> None:
    """Unchanged if the registry holds exactly what the sheet says; otherwise every difference."""
    number = plan.number
    if not existing["area_id"].startswith(node.code):
        plan.errors.append((M.EXISTS_OUTSIDE, {"number": number, "node": node.display_name}))
        return
    if existing["status"] != "active":
        plan.errors.append((M.EXISTS_CLOSED, {"number": number}))
        return
    differences: list[Message] = []
    if existing["area_id"] != plan.grid:
        differences.append((M.EXISTS_GRID, {"number": number, "code": existing["area_id"]}))
    if existing["address"] != plan.address:
        differences.append((M.EXISTS_ADDRESS, {"number": number}))
    if (existing["building__address"] or "") != plan.building:
        differences.append((M.EXISTS_BUILDING, {"number": number}))
    if existing["room"] != plan.room:
        differences.append((M.EXISTS_ROOM, {"number": number}))
    members: dict[str, dict] = existing["members"]
    on_sheet = {p.id_hash for p in plan.people}
    missing = sum(1 for digest in members if digest not in on_sheet)
    if missing:
        differences.append((M.EXISTS_MEMBERS, {"number": number, "count": missing}))
    for p in plan.people:
        member = members.get(p.id_hash)
        if member is None:
            plan.row_errors[p.row].append((M.NOT_MEMBER, {"number": number}))
            continue
        checks = (
            (member["name"] != p.name, M.MEMBER_NAME),
            (member["relation"] != p.relation, M.MEMBER_RELATION),
            (member["ethnicity"] != p.ethnicity, M.MEMBER_ETHNICITY),
            (member["registration"] != p.registration, M.MEMBER_REGISTRATION),
            (member["phone_hash"] != p.phone_hash, M.MEMBER_PHONE),
            (member["care"] != frozenset(p.care), M.MEMBER_CARE),
        )
        plan.row_errors[p.row].extend((msg, {}) for differs, msg in checks if differs)
    if differences or any(plan.row_errors.values()):
        plan.errors[:0] = [(M.EXISTS_DIFFERS, {"number": number}), *differences]
        plan.status = "rejected"
    else:
        plan.status = "unchanged"


def existing_households(numbers: Iterable[str]) -> dict[str, dict]:
    """number → the household's fields and its living members (by ID hash), for comparison."""
    households: dict[str, dict] = {}
    for chunk in _chunks(sorted(set(numbers))):
        for row in Household.objects.filter(number__in=chunk).values(
            "pk", "number", "area_id", "address", "room", "building__address", "status"
        ):
            households[row["number"]] = {**row, "members": {}}
    by_pk = {h["pk"]: h for h in households.values()}
    for chunk in _chunks(sorted(by_pk)):
        members = Resident.objects.filter(household_id__in=chunk, status=ResidentStatus.ACTIVE).values(
            "pk",
            "household_id",
            "id_number_hash",
            "name",
            "relation",
            "ethnicity",
            "registration",
            "phone_hash",
        )
        by_resident: dict[int, dict] = {m["pk"]: {**m, "care": set()} for m in members}
        for resident_chunk in _chunks(sorted(by_resident)):
            for resident_id, group in CareMembership.objects.filter(
                resident_id__in=resident_chunk
            ).values_list("resident_id", "group"):
                by_resident[resident_id]["care"].add(group)
        for member in by_resident.values():
            member["care"] = frozenset(member["care"])
            by_pk[member["household_id"]]["members"][member["id_number_hash"]] = member
    return households


def check_sheet(people: list[Person], *, node: Area, user) -> Outcome:
    """Check the whole sheet against itself and the registry; decide each household's fate."""
    households = group_households(people)
    rows = len(people)
    for plan in households:
        if plan.number:
            _reconcile(plan, node)

    # The same person twice in the sheet: every occurrence is suspect.
    rows_by_person: dict[str, list[int]] = defaultdict(list)
    for p in people:
        if p.id_hash:
            rows_by_person[p.id_hash].append(p.row)
    for plan in households:
        for p in plan.people:
            others = [r for r in rows_by_person.get(p.id_hash, ()) if r != p.row]
            if others:
                plan.row_errors[p.row].append(
                    (M.DUPLICATE_IN_FILE, {"rows": ", ".join(str(r) for r in others[:5])})
                )

    candidates = [h for h in households if h.number and not h.failed()]
    grids = existing_grids(h.grid for h in candidates)
    building_grids: dict[str, set[str]] = defaultdict(set)
    for plan in candidates:
        if plan.building and plan.grid in grids:
            building_grids[plan.building].add(plan.grid[: LENGTH_BY_LEVEL[Level.GRID]])
    buildings = existing_buildings(building_grids)
    for plan in candidates:
        if plan.grid not in grids:
            plan.errors.append((M.GRID_UNKNOWN, {"code": plan.grid}))
            continue
        if not plan.building:
            continue
        grid = plan.grid[: LENGTH_BY_LEVEL[Level.GRID]]
        if plan.building in buildings and buildings[plan.building][1] != grid:
            plan.errors.append((M.BUILDING_OTHER_GRID, {"address": plan.building[:60]}))
        elif len(building_grids[plan.building]) > 1:
            plan.errors.append((M.BUILDING_TWO_GRIDS, {"address": plan.building[:60]}))

    registered = registered_people(p.id_hash for h in candidates for p in h.people)
    for plan in candidates:
        for p in plan.people:
            if p.id_hash in registered:
                number, area = registered[p.id_hash]
                if number and number == plan.number:
                    continue  # a member of the existing household of that number: compared below
                message = (
                    (M.REGISTERED_IN, {"number": number})
                    if number and in_scope(user, area)
                    else (M.REGISTERED_ELSEWHERE, {})
                )
                plan.row_errors[p.row].append(message)

    existing = existing_households(h.number for h in candidates if not h.failed())
    for plan in households:
        if plan.failed():
            plan.status = "rejected"
        elif plan.number in existing:
            _compare_existing(plan, existing[plan.number], node)
        else:
            plan.status = "new"
    return Outcome(households=households, rows=rows)


def read_people(
    raw_rows: Iterable[RawRow], *, max_rows: int, on_progress: Callable[[int], None] | None = None
) -> list[Person]:
    """Parse every data row; raises TooManyRows past ``max_rows``."""
    people: list[Person] = []
    today = timezone.localdate()
    for count, raw in enumerate(raw_rows, start=1):
        if count > max_rows:
            raise TooManyRows(max_rows)
        people.append(parse_row(raw, today=today))
        if on_progress and count % 1000 == 0:
            on_progress(count)
    return people


class TooManyRows(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def people_at(raw_rows: Iterable[RawRow], wanted: set[int]) -> dict[int, Person]:
    """The parsed rows with the given numbers (to resume loading after an interruption)."""
    today = timezone.localdate()
    return {raw.number: parse_row(raw, today=today) for raw in raw_rows if raw.number in wanted}


__all__ = ["M", "Outcome", "Person", "check_sheet", "parse_row", "read_people"]
