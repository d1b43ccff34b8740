"""Objects of every kind the access battery needs, placed around the shared tree, built with the modules'
own actions (no hand-written rows where an action exists).

A *placement* says where an object lives relative to the grid worker persona's grid:

* ``here``: the grid (油娄沟 第一网格) — or, for kinds that live higher up, the corresponding node
  (community, street);
* ``sibling``: the neighbouring node of the same parent (第二网格, 窑坡社区, 下站街道);
* ``parent``: the node above (the community, the street, the district);
* ``other``: the same kind of node in another district (矿区, 平潭街街道).

``build_world()`` creates the personas (one per role and scope, with an API token each), setup users
who write the data (so that no persona gains rights from having created something), and the objects.
It returns a :class:`World`; every object records the area code it lives at, so tests compute what a
persona should see from codes alone, independently of the application's scoping.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.utils import timezone

from grassroots.accounts import actions as account_actions
from grassroots.accounts.choices import Role
from grassroots.accounts.models import ApiToken, Grant, User
from grassroots.areas.models import Area
from grassroots.conftest import (
    CITY,
    COLLEAGUE_GRID,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    OTHER_DISTRICT,
    OTHER_STREET,
    PASSWORD,
    SIBLING_COMMUNITY,
    STREET,
)
from grassroots.registry.idnumber import make_id_number

OTHER_GRID = OTHER_COMMUNITY + "001"  # 平潭街东社区 第一网格
SIBLING_STREET = "140302002"  # 下站街道, same district
SIBLING_STREET_COMMUNITY = "140302002001"

PLACEMENTS = ("here", "sibling", "parent", "other")

#: Where each placement puts an object, by the level the kind lives at.
GRID_CODES = {"here": GRID, "sibling": COLLEAGUE_GRID, "parent": COMMUNITY, "other": OTHER_GRID}
COMMUNITY_CODES = {
    "here": COMMUNITY,
    "sibling": SIBLING_COMMUNITY,
    "parent": STREET,
    "other": OTHER_COMMUNITY,
}
STREET_CODES = {"here": STREET, "sibling": SIBLING_STREET, "parent": DISTRICT, "other": OTHER_STREET}


@dataclass(frozen=True)
class Persona:
    """A role held at a node. ``grants`` is what the expected statuses are computed from."""

    name: str
    grants: tuple[tuple[str, str], ...]  # (role, code)
    label: str = ""

    @property
    def anonymous(self) -> bool:
        return not self.grants and self.name == "anonymous"


#: The personas of the battery, by name. Anonymous holds nothing and never logs in.
PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona("grid_worker", ((Role.GRID_WORKER, GRID),), "油娄沟第一网格员"),
        Persona("colleague", ((Role.GRID_WORKER, COLLEAGUE_GRID),), "油娄沟第二网格员"),
        Persona("community", ((Role.COMMUNITY_STAFF, COMMUNITY),), "油娄沟社区工作人员"),
        Persona("sibling_community", ((Role.COMMUNITY_STAFF, SIBLING_COMMUNITY),), "窑坡社区工作人员"),
        Persona("street", ((Role.STREET_STAFF, STREET),), "上站街道工作人员"),
        Persona("district", ((Role.DISTRICT_STAFF, DISTRICT),), "城区工作人员"),
        Persona("city_admin", ((Role.CITY_ADMIN, CITY),), "阳泉市管理员"),
        Persona("other_district", ((Role.DISTRICT_STAFF, OTHER_DISTRICT),), "矿区工作人员"),
        Persona("auditor", ((Role.AUDITOR, CITY),), "审计员"),
        Persona("mediator", ((Role.MEDIATOR, COMMUNITY),), "人民调解员"),
        Persona("anonymous", (), "匿名"),
    )
}


@dataclass
class Obj:
    """One placed object: what it is, where it lives, and whatever a URL or a rule needs of it."""

    kind: str
    placement: str
    code: str  # the area code it lives at (for a user: the code of their grant)
    pk: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["extra"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class World:
    users: dict[str, User]  # personas (except anonymous) and setup users, by name
    tokens: dict[str, str]  # persona → bearer key
    token_pks: dict[str, int]  # persona → id of that token
    objects: dict[str, dict[str, Obj]]  # kind → placement → object
    period: str  # the evaluated month
    secrets: dict[str, str] = field(default_factory=dict)  # full ID numbers and phones written

    def obj(self, kind: str, placement: str) -> Obj:
        return self.objects[kind][placement]


# --- small helpers ---------------------------------------------------------------------------------

_sequence = itertools.count(1)


def new_id_number(region: str = "140302") -> str:
    """A valid ID number not used before in this process."""
    n = next(_sequence)
    born = dt.date(1950, 1, 1) + dt.timedelta(days=(n * 37) % 20000)
    return make_id_number(region, born, n % 1000)


def new_phone() -> str:
    n = next(_sequence)
    return f"139{n % 100000000:08d}"


def png_bytes() -> bytes:
    """A valid 1×1 PNG (photos and scans are checked for their magic bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def photo(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


SHEET_HEADERS = [
    "户编号",
    "网格编码",
    "楼栋地址",
    "单元房号",
    "住址",
    "姓名",
    "公民身份号码",
    "与户主关系",
    "民族",
    "联系电话",
    "户籍类型",
    "关爱类型",
]


def sheet_csv(rows: list[list[str]]) -> bytes:
    import csv

    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(SHEET_HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def sheet_row(
    number: str, grid: str, name: str, id_number: str, relation: str, *, phone: str = "", building: str = ""
) -> list[str]:
    return [
        number,
        grid,
        building,
        "",
        f"测试路{number}号",
        name,
        id_number,
        relation,
        "汉族",
        phone,
        "户籍",
        "",
    ]


def _area(code: str) -> Area:
    return Area.objects.get(code=code)


def make_user(name: str, role: str, code: str, *, full_name: str = "") -> User:
    user = User.objects.create_user(name, password=PASSWORD, full_name=full_name or name)
    Grant.objects.create(user=user, role=role, area_id=code)
    return user


# --- the world -------------------------------------------------------------------------------------


def build_world() -> World:
    """Create personas and objects. Call with database access, inside a transaction that is rolled back
    afterwards (the caller's business), with ``DATA_DIR`` and ``MEDIA_ROOT`` pointing at scratch dirs."""
    users: dict[str, User] = {}
    tokens: dict[str, str] = {}
    token_pks: dict[str, int] = {}
    for persona in PERSONAS.values():
        if persona.anonymous:
            continue
        (role, code), *more = persona.grants
        user = make_user(f"p_{persona.name}", role, code, full_name=persona.label)
        for role, code in more:
            Grant.objects.create(user=user, role=role, area_id=code)
        users[persona.name] = user
        token, tokens[persona.name] = ApiToken.issue(user=user, name="battery")
        token_pks[persona.name] = token.pk
    setup = {
        "reg_street": make_user("s_reg_street", Role.STREET_STAFF, STREET, full_name="上站登记员"),
        "reg_other": make_user("s_reg_other", Role.STREET_STAFF, OTHER_STREET, full_name="平潭街登记员"),
        "reg_city": make_user("s_reg_city", Role.CITY_ADMIN, CITY, full_name="市级设置员"),
    }
    users.update(setup)
    world = World(
        users=users, tokens=tokens, token_pks=token_pks, objects={}, period=f"{timezone.localdate():%Y-%m}"
    )

    def registrar(code: str) -> User:
        return setup["reg_other"] if code.startswith(OTHER_DISTRICT) else setup["reg_street"]

    _areas(world)
    _registry(world, registrar)
    _accounts(world, setup["reg_city"])
    _cases(world, registrar)
    _disputes(world, registrar, users["mediator"])
    _imports(world, registrar)
    _keys_and_units(world, setup["reg_city"])
    _leaders(world, setup["reg_city"])
    _cockpit(world, setup["reg_city"])
    return world


def _put(world: World, obj: Obj) -> Obj:
    world.objects.setdefault(obj.kind, {})[obj.placement] = obj
    return obj


def _areas(world: World) -> None:
    for kind, codes in (
        ("area", GRID_CODES),
        ("area_community", COMMUNITY_CODES),
        ("area_street", STREET_CODES),
    ):
        for placement, code in codes.items():
            _put(world, Obj(kind, placement, code, pk=code))


def _registry(world: World, registrar) -> None:
    from grassroots.registry import actions
    from grassroots.registry.choices import CareGroup, OrganisationKind, Relation
    from grassroots.registry.views import _save_organisation

    for placement, code in GRID_CODES.items():
        area = _area(code)
        actor = registrar(code)
        building = None
        if area.is_grid:
            building = actions.do_create_building(
                actor, area=area, name=f"{placement}楼", address=f"测试路{placement}号楼"
            )
            _put(world, Obj("building", placement, code, pk=building.pk))
        household = actions.do_create_household(
            actor, area=area, number=f"AX-{placement}", address=f"测试路{placement}号", building=building
        )
        head_id, head_phone = new_id_number(code[:6]), new_phone()
        head = actions.do_add_resident(
            actor,
            household=household,
            name=f"户主{placement}",
            id_number=head_id,
            relation=Relation.HEAD,
            phone=head_phone,
            care_groups=(CareGroup.ELDERLY_ALONE,) if placement == "here" else (),
        )
        spouse_id = new_id_number(code[:6])
        spouse = actions.do_add_resident(
            actor, household=household, name=f"配偶{placement}", id_number=spouse_id, relation=Relation.SPOUSE
        )
        world.secrets.update(
            {
                f"{placement}_head_id": head_id,
                f"{placement}_head_phone": head_phone,
                f"{placement}_spouse_id": spouse_id,
            }
        )
        _put(
            world,
            Obj(
                "household",
                placement,
                code,
                pk=household.pk,
                extra={"head": head.pk, "number": household.number},
            ),
        )
        _put(
            world,
            Obj(
                "resident",
                placement,
                code,
                pk=head.pk,
                extra={"household": household.pk, "spouse": spouse.pk},
            ),
        )
        if area.is_grid:
            request = RequestFactory().post("/")
            request.user = actor
            organisation = _save_organisation(
                request,
                area,
                None,
                {
                    "name": f"单位{placement}",
                    "kind": OrganisationKind.SHOP,
                    "credit_code": "",
                    "address": f"测试路{placement}号商铺",
                    "contact_name": "联系人",
                    "employees": 3,
                    "building": building,
                    "contact_phone": new_phone(),
                },
            )
            _put(world, Obj("organisation", placement, code, pk=organisation.pk))


def _accounts(world: World, admin) -> None:
    """A target account per placement (a grid worker; community staff for the parent), its grant, and a
    token of someone else (the persona's own token is the other case)."""
    for placement, code in GRID_CODES.items():
        role = Role.COMMUNITY_STAFF if placement == "parent" else Role.GRID_WORKER
        user, _password = account_actions.do_create_user(
            admin, username=f"t_{placement}", full_name=f"对象{placement}", role=role, area=_area(code)
        )
        grant = user.grants.get()
        world.users[f"t_{placement}"] = user
        _put(world, Obj("user", placement, code, pk=user.pk, extra={"role": role}))
        _put(world, Obj("grant", placement, code, pk=grant.pk, extra={"user": user.pk, "role": role}))
    target = world.users["t_here"]
    token, _key = ApiToken.issue(user=target, name="someone else's")
    _put(world, Obj("token", "other", GRID, pk=token.pk, extra={"owner": "t_here"}))
    # "own": each persona's own token (resolved per persona by the test)
    _put(world, Obj("token", "own", "", pk=None, extra={"owner": "self"}))


def _cases(world: World, registrar) -> None:
    from grassroots.cases import actions
    from grassroots.cases.models import Category

    category = Category.objects.create(
        code="battery", name="测试事件", group="测试", escalate_when_overdue=False, is_public=False
    )
    _put(world, Obj("category", "global", "", pk=category.pk, extra={"slug": category.code}))
    deadline = timezone.now() + dt.timedelta(days=3)
    for placement, code in GRID_CODES.items():
        actor = registrar(code)
        intake = actions.do_report(
            actor,
            category=category,
            area=_area(code),
            title=f"测试事件{placement}",
            description="路灯不亮",
            photos=[photo()],
            contact_phone=new_phone(),
        )
        case = intake.case
        order = actions.do_supervise(actor, case, note="请尽快处理", deadline=deadline)
        attachment = case.attachments.get()
        _put(
            world,
            Obj(
                "case",
                placement,
                code,
                pk=case.number,
                extra={"holder": case.holder_id, "version": case.version, "id": case.pk},
            ),
        )
        _put(
            world,
            Obj(
                "supervision",
                placement,
                code,
                pk=order.pk,
                extra={"number": case.number, "holder": case.holder_id},
            ),
        )
        _put(world, Obj("attachment", placement, code, pk=attachment.pk, extra={"number": case.number}))


def _disputes(world: World, registrar, mediator) -> None:
    from grassroots.disputes import actions

    for placement, code in GRID_CODES.items():
        actor = registrar(code)
        dispute = actions.do_record(
            actor,
            type="family",
            title=f"测试纠纷{placement}",
            description="邻里纠纷",
            area=_area(code),
            source="patrol",
            parties=[
                {"role": "applicant", "name": "张丽", "phone": new_phone()},
                {"role": "respondent", "name": "王强"},
            ],
            inputs={},
        )
        if placement == "here":
            actions.do_assign(actor, dispute, mediator=mediator)
        agreement = actions.do_agreement(actor, dispute, terms="双方和解", performance="即日履行")
        actions.do_sign_agreement(actor, agreement, scan=photo("scan.png"))
        referral = actions.do_refer(actor, dispute, kind="litigation", body="城区人民法院")
        actions.do_referral_outcome(actor, referral, outcome=_outcome(), note="已判决")
        dispute.refresh_from_db()
        mediated = "mediator" if placement == "here" else None  # the persona assigned
        _put(
            world,
            Obj(
                "dispute",
                placement,
                code,
                pk=dispute.number,
                extra={"mediator": mediated, "id": dispute.pk, "holder": dispute.holder_id},
            ),
        )
        _put(
            world,
            Obj(
                "agreement",
                placement,
                code,
                pk=agreement.pk,
                extra={"number": dispute.number, "mediator": mediated},
            ),
        )
        _put(
            world,
            Obj(
                "referral",
                placement,
                code,
                pk=referral.pk,
                extra={"number": dispute.number, "mediator": mediated},
            ),
        )


def _outcome() -> str:
    from grassroots.disputes.choices import ReferralOutcome

    return next(value for value in ReferralOutcome.values if value != ReferralOutcome.PENDING)


def _imports(world: World, registrar) -> None:
    from grassroots.imports import jobs

    for placement, code in GRID_CODES.items():
        grid = code if len(code) >= 15 else code + "001"
        rows = [
            sheet_row(
                f"IM-{placement}-1", grid, "导入户主", new_id_number(code[:6]), "户主", phone=new_phone()
            ),
            sheet_row(f"IM-{placement}-1", grid, "导入配偶", new_id_number(code[:6]), "配偶"),
            sheet_row(f"IM-{placement}-2", grid, "错误", "123", "户主"),
        ]
        job = jobs.do_create_job(
            registrar(code),
            node=_area(code),
            upload=SimpleUploadedFile(f"{placement}.csv", sheet_csv(rows)),
            dispatch=False,
        )
        jobs.process_job(job.pk)
        _put(world, Obj("import_job", placement, code, pk=job.pk, extra={"uploader": registrar(code).pk}))


def _keys_and_units(world: World, admin) -> None:
    from grassroots.cases.apikeys import issue_api_key
    from grassroots.cases.models import Unit

    for placement, code in GRID_CODES.items():
        key, _secret = issue_api_key(admin, f"客户端{placement}", _area(code))
        _put(world, Obj("o311key", placement, code, pk=key.pk))
    for placement, code in COMMUNITY_CODES.items():
        unit = Unit.objects.create(name=f"处置组{placement}", area_id=code)
        _put(world, Obj("unit", placement, code, pk=unit.pk))


def _leaders(world: World, admin) -> None:
    from grassroots.cockpit import leaders

    plan = {
        "here": (Role.STREET_STAFF, STREET, COMMUNITY),
        "sibling": (Role.STREET_STAFF, SIBLING_STREET, SIBLING_STREET_COMMUNITY),
        "parent": (Role.DISTRICT_STAFF, DISTRICT, STREET),
        "other": (Role.STREET_STAFF, OTHER_STREET, OTHER_COMMUNITY),
    }
    for placement, (role, code, place) in plan.items():
        leader = make_user(f"l_{placement}", role, code, full_name=f"领导{placement}")
        world.users[f"l_{placement}"] = leader
        contact = leaders.do_assign_contact(admin, leader=leader, area=_area(place), note="包联")
        _put(world, Obj("leader", placement, code, pk=leader.pk, extra={"place": place}))
        _put(
            world,
            Obj("contact", placement, place, pk=contact.pk, extra={"leader": leader.pk, "leader_code": code}),
        )


def _cockpit(world: World, admin) -> None:
    from grassroots.cockpit import evaluation
    from grassroots.cockpit.rollup import refresh

    refresh("now")
    refresh(world.period)
    for level in (4, 5):
        snapshot = evaluation.take_snapshot(evaluation.active_scheme(level), world.period)
        evaluation.do_publish_snapshot(admin, snapshot)
        if level == 5:
            _put(world, Obj("snapshot", "global", "", pk=snapshot.pk))


# --- a world for a whole test module ----------------------------------------------------------------


@contextmanager
def world_for_module(
    django_db_blocker, scratch: Path, build: Callable[[], Any] | None = None
) -> Iterator[Any]:
    """Build the world once for a module, in a transaction rolled back when the module ends.

    Each test's own ``db`` transaction nests inside it (a savepoint), so whatever a test writes is
    undone after the test, and nothing of the world outlives the module. Sheets and photos go to
    ``scratch``. ``build`` makes the world (default :func:`build_world`) on the shared test tree.
    """
    from django.conf import settings
    from django.db import transaction
    from django.test import override_settings

    from grassroots.conftest import COLLEAGUE_GRID as _grid
    from grassroots.conftest import _build_tree

    overrides = override_settings(
        DATA_DIR=scratch,
        MEDIA_ROOT=scratch / "media",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        GRASSROOTS={
            **settings.GRASSROOTS,
            "PUBLIC_REPORTS_PER_HOUR": 10_000,
            "TRACK_ATTEMPTS_PER_HOUR": 10_000,
        },
    )
    with django_db_blocker.unblock(), overrides:
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            if (
                not Area.objects.filter(code=_grid).exists()
                or not Area.objects.filter(parent_id=OTHER_COMMUNITY).exists()
            ):
                _build_tree()  # a transactional test emptied the database
            yield (build or build_world)()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@contextmanager
def savepoint(django_db_blocker) -> Iterator[None]:
    """A savepoint rolled back at the end: one test's (or one example's) writes undone."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)
