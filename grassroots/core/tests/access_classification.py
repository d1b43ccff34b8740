"""Who may reach what: every URL pattern and every API operation, classified.

Each :class:`Entry` names a URL pattern (by its namespaced name) or an API operation (``METHOD
/api/v1/path``), the kind of object that fills its parameters (see :mod:`.factories`), the methods
exercised, and the expected access rule. ``test_access_matrix`` fails when a pattern or operation is
missing here, or when an entry names one that no longer exists.

The rules are computed from the persona's grants and the object's area code alone (string prefixes),
not through the application's scoping, so that the battery checks the application against the rule:

* outside what the persona may see → 404 (never 403, never 200);
* in scope but the persona's role lacks the action → 403 (``deny``; a few views that show the refusal
  as a form error are marked, see ``deny=200``);
* anonymous → a redirect to the login page (pages) or 401 (API);
* otherwise the ``ok`` statuses.

Persona names: see :data:`.factories.PERSONAS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from grassroots.accounts.choices import (
    AUDIT_ROLES,
    CARE_ROLES,
    MANAGING_ROLES,
    MEDIATION_ROLES,
    STAFF_ROLES,
    Role,
)

from .factories import (
    GRID_CODES,
    PASSWORD,
    SIBLING_STREET,
    Obj,
    Persona,
    new_id_number,
    sheet_csv,
    sheet_row,
)

LOGIN = "login"  # a redirect to the login page (pages) or 401 (API)
PAGE_OK = frozenset({200, 302})
GET_OK = frozenset({200})
REDIRECT = frozenset({302})

REGISTRY_EDIT_ROLES = frozenset({Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.STREET_STAFF})
HOLDER_ROLES = frozenset({Role.CITY_ADMIN, Role.DISTRICT_STAFF, Role.STREET_STAFF, Role.COMMUNITY_STAFF})
HANDLER_ROLES = STAFF_ROLES - {Role.CITY_ADMIN}
LEADING_ROLES = STAFF_ROLES - {Role.GRID_WORKER}

Expect = frozenset[int] | str


# --- what a persona holds (computed from codes, independently of the application) ----------------


def codes(p: Persona, roles: frozenset[str] = STAFF_ROLES) -> list[str]:
    return [code for role, code in p.grants if role in roles]


def covers(p: Persona, code: str, roles: frozenset[str] = STAFF_ROLES) -> bool:
    return any(code.startswith(root) for root in codes(p, roles))


def holds(p: Persona, roles: frozenset[str]) -> bool:
    return bool(codes(p, roles))


def strictly_below(code: str, roots: list[str]) -> bool:
    return any(code.startswith(root) and code != root for root in roots)


def manages_code(p: Persona, code: str) -> bool:
    """Account management: a managing role at a strict ancestor of every grant of the target."""
    return strictly_below(code, codes(p, MANAGING_ROLES))


# --- visibility of an object, by kind --------------------------------------------------------------


def visible(p: Persona, obj: Obj) -> bool:
    """What the scoping rule says a persona sees: officials their subtrees; mediators the disputes
    assigned to them (inside their grant); the rest nothing."""
    if obj.kind in ("dispute", "agreement", "referral"):
        assigned = obj.mediator == p.name and covers(p, obj.code, MEDIATION_ROLES)
        return covers(p, obj.code) or assigned
    if obj.kind == "token":
        return obj.owner == "self"
    if obj.kind == "o311key":
        # Issuing keys: a city administrator for its subtree, managing roles strictly below their node.
        return covers(p, obj.code, frozenset({Role.CITY_ADMIN})) or strictly_below(
            obj.code, codes(p, MANAGING_ROLES - {Role.CITY_ADMIN})
        )
    return covers(p, obj.code)


# --- rights on an object -------------------------------------------------------------------------


def edits_registry(p: Persona, obj: Obj) -> bool:
    return covers(p, obj.code, REGISTRY_EDIT_ROLES)


def visits_care(p: Persona, obj: Obj) -> bool:
    return covers(p, obj.code, CARE_ROLES)


def holds_case(p: Persona, obj: Obj) -> bool:
    return any(code == obj.holder for code in codes(p, HOLDER_ROLES))


def leads_above(p: Persona, obj: Obj) -> bool:
    return strictly_below(obj.holder, codes(p, LEADING_ROLES))


def handles_dispute(p: Persona, obj: Obj) -> bool:
    assigned = obj.mediator == p.name and covers(p, obj.code, MEDIATION_ROLES)
    return covers(p, obj.code, HANDLER_ROLES) or assigned


def manages_target(p: Persona, obj: Obj) -> bool:
    return manages_code(p, obj.code)


def manages_units_at(p: Persona, obj: Obj) -> bool:
    return covers(p, obj.code, MANAGING_ROLES)


def reports_cases(p: Persona, obj: Obj) -> bool:
    return covers(p, obj.code)


def records_disputes(p: Persona, obj: Obj) -> bool:
    return covers(p, obj.code, HANDLER_ROLES)


def downloads_sheet(p: Persona, obj: Obj) -> bool:
    return edits_registry(p, obj)  # (or the uploader, who is never a persona)


def contact_manager(p: Persona, obj: Obj) -> bool:
    return manages_code(p, obj.leader_code) and covers(p, obj.code)


# --- rules -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Public:
    """Anyone, signed in or not."""

    ok: frozenset[int] = GET_OK

    def __call__(self, p: Persona, obj: Obj | None) -> Expect:
        return self.ok


@dataclass(frozen=True)
class LoggedIn:
    """Any signed-in user, whatever their role (what they get is scoped)."""

    ok: frozenset[int] = GET_OK

    def __call__(self, p: Persona, obj: Obj | None) -> Expect:
        return LOGIN if p.anonymous else self.ok


@dataclass(frozen=True)
class HasRole:
    """Signed-in users holding one of ``roles`` anywhere; others get ``deny`` (403)."""

    roles: frozenset[str]
    ok: frozenset[int] = GET_OK
    deny: int = 403

    def __call__(self, p: Persona, obj: Obj | None) -> Expect:
        if p.anonymous:
            return LOGIN
        return self.ok if holds(p, self.roles) else frozenset({self.deny})


@dataclass(frozen=True)
class StaffRoot:
    """Signed-in users with an official's scope; everyone else finds nothing here (404)."""

    ok: frozenset[int] = GET_OK

    def __call__(self, p: Persona, obj: Obj | None) -> Expect:
        if p.anonymous:
            return LOGIN
        return self.ok if holds(p, STAFF_ROLES) else frozenset({404})


@dataclass(frozen=True)
class Scoped:
    """The object must be visible to the persona (404 otherwise); ``may`` is the right to act (``deny``
    otherwise); ``levels`` are the lengths of code the view accepts (404 for any other, whoever asks)."""

    may: Callable[[Persona, Obj], bool] | None = None
    ok: frozenset[int] = GET_OK
    deny: int = 403
    levels: tuple[int, ...] | None = None
    sees: Callable[[Persona, Obj], bool] = visible

    def __call__(self, p: Persona, obj: Obj | None) -> Expect:
        assert obj is not None
        if p.anonymous:
            return LOGIN
        if self.levels is not None and len(obj.code) not in self.levels:
            return frozenset({404})
        if not self.sees(p, obj):
            return frozenset({404})
        if self.may is not None and not self.may(p, obj):
            return frozenset({self.deny})
        return self.ok


@dataclass(frozen=True)
class TokenExchange:
    """``POST /auth/token``: a persona's own password gets a token; anonymous sends a wrong one."""

    def __call__(self, p: Persona, obj: Obj | None) -> Expect:
        return frozenset({401}) if p.anonymous else frozenset({201})


REGISTRY_LEVELS = (12, 15, 18)
GRID_LEVELS = (15, 18)


# --- entries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    key: str  # "namespace:name" of a URL pattern, or "METHOD /api/v1/…" of an operation
    kind: str | None  # the object kind filling the parameters (None: no parameters)
    rules: dict[str, Callable[[Persona, Obj | None], Expect]]  # method → rule
    args: Callable[[Obj], dict[str, Any]] | None = None  # URL kwargs from the object
    data: Callable[[Persona, Obj | None, Any], Any] | None = None  # request body (persona, object, world)
    query: dict[str, str] = field(default_factory=dict)
    json: bool = False  # send ``data`` as JSON
    note: str = ""

    @property
    def api(self) -> bool:
        return " /api/" in self.key

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.rules)

    @property
    def post_only(self) -> bool:
        return self.methods == ("POST",) and not self.api


def page(key, kind=None, *, get=None, post=None, args=None, data=None, query=None, note="") -> Entry:
    rules = {}
    if get is not None:
        rules["GET"] = get
    if post is not None:
        rules["POST"] = post
    return Entry(key, kind, rules, args=args, data=data, query=query or {}, note=note)


def api(key, kind=None, rule=None, *, args=None, data=None, query=None, json=True, note="") -> Entry:
    method = key.split(" ", 1)[0]
    return Entry(key, kind, {method: rule}, args=args, data=data, query=query or {}, json=json, note=note)


def pk(obj: Obj) -> dict:
    return {"pk": obj.pk}


def code(obj: Obj) -> dict:
    return {"code": obj.code}


def number(obj: Obj) -> dict:
    return {"number": obj.pk}


def on_case(obj: Obj) -> dict:
    return {"number": obj.number, "pk": obj.pk}


def fmt_json(obj: Obj | None = None) -> dict:
    return {"fmt": "json"}


def _future(days: int = 3) -> str:
    return f"{timezone.localtime() + dt.timedelta(days=days):%Y-%m-%dT%H:%M}"


def _edit_node(p: Persona) -> str:
    """The persona's own node where they may change the registry (the upload form's default)."""
    nodes = codes(p, REGISTRY_EDIT_ROLES)
    return nodes[0] if nodes else "140302001001"


def _upload(p: Persona, obj: Obj | None, world) -> dict:
    grid = _edit_node(p) if len(_edit_node(p)) >= 15 else _edit_node(p) + "001"
    rows = [sheet_row("UP-1", grid, "上传户主", new_id_number(), "户主")]
    return {"node": _edit_node(p), "file": SimpleUploadedFile("upload.csv", sheet_csv(rows))}


def _api_upload(p: Persona, obj: Obj | None, world) -> dict:
    grid = obj.code if len(obj.code) >= 15 else obj.code + "001"
    rows = [sheet_row("UP-2", grid, "上传户主", new_id_number(obj.code[:6]), "户主")]
    return {"node": obj.code, "file": SimpleUploadedFile("upload.csv", sheet_csv(rows))}


def _person(region: str = "140302") -> dict:
    return {"name": "新成员", "id_number": new_id_number(region), "phone": "", "event": "move_in"}


LEADER_NEW_PLACE = {
    "here": "140302001002",  # below 上站街道 (the leader's own street)
    "sibling": "140302002002",  # below 下站街道
    "parent": SIBLING_STREET,  # below 城区
    "other": "140303001002",  # below 平潭街街道
}

# A page or API read in scope: 200.
SCOPED_PAGE = Scoped()
SCOPED_API = Scoped()

ENTRIES: list[Entry] = [
    # --- the site ----------------------------------------------------------------------------------
    page("home", get=LoggedIn(REDIRECT)),
    page("healthz", get=Public()),
    page("readyz", get=Public()),
    page("login", get=Public(), post=Public(GET_OK), note="empty form: shown again"),
    page("login_totp", get=Public(REDIRECT), post=Public(REDIRECT), note="no sign-in pending: back to login"),
    page("logout", post=Public(REDIRECT)),
    # --- areas -------------------------------------------------------------------------------------
    page("areas:root", get=LoggedIn(PAGE_OK)),
    page("areas:node", "area", get=SCOPED_PAGE, args=code),
    page("areas:search", "area", get=SCOPED_PAGE, args=code, query={"q": "网格"}),
    # --- accounts ----------------------------------------------------------------------------------
    page("accounts:profile", get=LoggedIn(), post=LoggedIn(), data=lambda p, o, w: {"name": ""}),
    page("accounts:password_change", get=LoggedIn(), post=LoggedIn()),
    page(
        "accounts:revoke_token",
        "token",
        post=Scoped(ok=REDIRECT),
        args=lambda o: {"token_id": o.pk},
        note="only one's own tokens; the test resolves 'own' to the persona's token",
    ),
    page("accounts:users", get=HasRole(MANAGING_ROLES)),
    page("accounts:user_create", get=HasRole(MANAGING_ROLES), post=HasRole(MANAGING_ROLES)),
    page(
        "accounts:user_detail",
        "user",
        get=Scoped(sees=lambda p, o: visible(p, o) and holds(p, MANAGING_ROLES)),
        post=Scoped(sees=lambda p, o: visible(p, o) and holds(p, MANAGING_ROLES), may=manages_target),
        args=lambda o: {"user_id": o.pk},
        note="someone else's account is not found for those who manage no accounts",
    ),
    page(
        "accounts:grant_remove",
        "grant",
        post=Scoped(may=manages_target, ok=REDIRECT),
        args=lambda o: {"user_id": o.user, "grant_id": o.pk},
    ),
    page(
        "accounts:password_reset",
        "user",
        post=Scoped(may=manages_target, ok=REDIRECT),
        args=lambda o: {"user_id": o.pk},
    ),
    # --- registry ----------------------------------------------------------------------------------
    page("registry:index", get=LoggedIn(REDIRECT)),
    page(
        "registry:search",
        get=LoggedIn(),
        post=LoggedIn(REDIRECT),
        query={"q": "户主"},
        data=lambda p, o, w: {"q": "户主"},
    ),
    page("registry:grid", "area", get=Scoped(levels=REGISTRY_LEVELS), args=code),
    page(
        "registry:household_create",
        "area",
        get=Scoped(may=edits_registry, levels=REGISTRY_LEVELS),
        post=Scoped(may=edits_registry, levels=REGISTRY_LEVELS),
        args=code,
    ),
    page(
        "registry:building_create",
        "area",
        get=Scoped(may=edits_registry, levels=GRID_LEVELS),
        post=Scoped(may=edits_registry, levels=GRID_LEVELS),
        args=code,
        note="a building belongs to a grid: a community is not found",
    ),
    page("registry:organisations", "area", get=Scoped(levels=REGISTRY_LEVELS), args=code),
    page(
        "registry:organisation_create",
        "area",
        get=Scoped(may=edits_registry, levels=GRID_LEVELS),
        post=Scoped(may=edits_registry, levels=GRID_LEVELS),
        args=code,
    ),
    page("registry:building", "building", get=SCOPED_PAGE, args=pk),
    page("registry:household", "household", get=SCOPED_PAGE, args=pk),
    *[
        page(
            f"registry:{name}",
            "household",
            get=Scoped(may=edits_registry),
            post=Scoped(may=edits_registry),
            args=pk,
        )
        for name in ("household_edit", "member_add", "household_move_out")
    ],
    page(
        "registry:set_head",
        "household",
        post=Scoped(may=edits_registry, ok=REDIRECT),
        args=pk,
        data=lambda p, o, w: {"resident": o.head},
    ),
    page("registry:resident", "resident", get=SCOPED_PAGE, args=pk),
    *[
        page(
            f"registry:{name}",
            "resident",
            get=Scoped(may=edits_registry),
            post=Scoped(may=edits_registry),
            args=pk,
        )
        for name in ("resident_edit", "resident_leave", "resident_transfer")
    ],
    page("registry:resident_reveal", "resident", post=SCOPED_PAGE, args=pk, note="empty form: no reveal"),
    page("registry:resident_care", "resident", post=Scoped(may=visits_care, ok=REDIRECT), args=pk),
    page(
        "registry:organisation_edit",
        "organisation",
        get=Scoped(may=edits_registry),
        post=Scoped(may=edits_registry),
        args=pk,
    ),
    # --- coverage ----------------------------------------------------------------------------------
    page("coverage:root", get=StaffRoot(REDIRECT)),
    page("coverage:node", "area", get=SCOPED_PAGE, args=code),
    page(
        "coverage:offenders",
        "area",
        get=SCOPED_PAGE,
        args=lambda o: {"code": o.code, "check": "households_outside_grid"},
    ),
    page(
        "coverage:offenders_direct",
        "area",
        get=SCOPED_PAGE,
        args=lambda o: {"code": o.code, "check": "residents_outside_household"},
    ),
    # --- imports -----------------------------------------------------------------------------------
    page(
        "imports:index",
        get=LoggedIn(),
        post=HasRole(REGISTRY_EDIT_ROLES, ok=REDIRECT),
        data=_upload,
        note="upload to the persona's own node",
    ),
    page("imports:template", get=LoggedIn()),
    page("imports:detail", "import_job", get=SCOPED_PAGE, args=pk),
    page(
        "imports:errors",
        "import_job",
        get=Scoped(may=downloads_sheet),
        args=pk,
        note="the sheet holds full ID numbers: its uploader and registry editors only",
    ),
    # --- audit trail -------------------------------------------------------------------------------
    page("audit:search", get=HasRole(AUDIT_ROLES), query={"area": "140302"}, note="auditors only"),
    # --- cases (staff) -----------------------------------------------------------------------------
    page("cases:list", get=LoggedIn()),
    page("cases:new", get=HasRole(STAFF_ROLES), post=HasRole(STAFF_ROLES)),
    page("cases:hotline", get=HasRole(STAFF_ROLES), post=HasRole(STAFF_ROLES)),
    page("cases:place", get=LoggedIn(), query={"pick": GRID_CODES["here"]}),
    page("cases:attributes", get=LoggedIn(), query={"category": "battery", "area": GRID_CODES["here"]}),
    page("cases:duplicates", get=LoggedIn(), query={"category": "battery", "area": GRID_CODES["here"]}),
    page("cases:inbox", get=LoggedIn()),
    page("cases:inbox_read", post=LoggedIn(REDIRECT), data=lambda p, o, w: {"all": "1"}),
    page("cases:categories", get=HasRole(frozenset({Role.CITY_ADMIN}))),
    page(
        "cases:category_create",
        get=HasRole(frozenset({Role.CITY_ADMIN})),
        post=HasRole(frozenset({Role.CITY_ADMIN})),
    ),
    page(
        "cases:category_edit",
        "category",
        get=HasRole(frozenset({Role.CITY_ADMIN})),
        post=HasRole(frozenset({Role.CITY_ADMIN})),
        args=pk,
        note="the catalogue is city-wide",
    ),
    page("cases:units", get=HasRole(MANAGING_ROLES)),
    page("cases:unit_create", get=HasRole(MANAGING_ROLES), post=HasRole(MANAGING_ROLES)),
    page(
        "cases:unit_edit",
        "unit",
        get=Scoped(may=manages_units_at),
        post=Scoped(may=manages_units_at),
        args=pk,
    ),
    page("cases:detail", "case", get=SCOPED_PAGE, args=number),
    page(
        "cases:act",
        "case",
        post=Scoped(may=holds_case, ok=REDIRECT),
        args=number,
        data=lambda p, o, w: {"action": "accept", "accept-version": o.version},
        note="accept: the staff of the node holding the case",
    ),
    page(
        "cases:pause",
        "case",
        post=Scoped(may=holds_case, ok=REDIRECT),
        args=number,
        data=lambda p, o, w: {"note": "等待居民"},
    ),
    page("cases:resume", "case", post=Scoped(may=holds_case, ok=REDIRECT), args=number),
    page(
        "cases:supervise",
        "case",
        post=Scoped(may=leads_above, ok=REDIRECT),
        args=number,
        data=lambda p, o, w: {"note": "请三日内办结", "deadline": _future()},
    ),
    page(
        "cases:answer",
        "supervision",
        post=Scoped(may=holds_case, ok=REDIRECT),
        args=on_case,
        data=lambda p, o, w: {f"answer-{o.pk}-answer": "已安排处理"},
    ),
    page("cases:take", "case", post=Scoped(may=leads_above, ok=REDIRECT), args=number),
    page("cases:attachment", "attachment", get=SCOPED_PAGE, args=on_case),
    # --- disputes ----------------------------------------------------------------------------------
    page("disputes:desk", get=HasRole(STAFF_ROLES | MEDIATION_ROLES)),
    page("disputes:new", get=HasRole(HANDLER_ROLES), post=HasRole(HANDLER_ROLES)),
    page("disputes:party_row", get=LoggedIn(), query={"parties-TOTAL_FORMS": "2"}),
    page("disputes:residents", get=LoggedIn(), query={"prefix": "parties-0", "parties-0-q": "户主"}),
    page("disputes:board_home", get=StaffRoot(REDIRECT)),
    page("disputes:board", "area", get=SCOPED_PAGE, args=code),
    page(
        "disputes:rules",
        get=HasRole(STAFF_ROLES | MEDIATION_ROLES),
        post=HasRole(frozenset({Role.CITY_ADMIN})),
        note="an empty form is shown again to the city administrator",
    ),
    page(
        "disputes:stations",
        get=HasRole(STAFF_ROLES | MEDIATION_ROLES),
        post=HasRole(MANAGING_ROLES),
    ),
    page("disputes:detail", "dispute", get=SCOPED_PAGE, args=number),
    page(
        "disputes:act",
        "dispute",
        post=Scoped(may=handles_dispute, ok=REDIRECT, deny=200),
        args=lambda o: {"number": o.pk, "name": "follow_up"},
        data=lambda p, o, w: {"follow_up-kind": "visit", "follow_up-note": "回访，双方情绪平稳"},
        note="deny=200: the page shows a refusal as a form error instead of 403 (reported)",
    ),
    page("disputes:agreement_pdf", "agreement", get=SCOPED_PAGE, args=on_case),
    page("disputes:agreement_print", "agreement", get=SCOPED_PAGE, args=on_case),
    page("disputes:scan", "agreement", get=SCOPED_PAGE, args=on_case),
    page(
        "disputes:sign",
        "agreement",
        post=Scoped(may=handles_dispute, ok=REDIRECT, deny=200),
        args=on_case,
        note="deny=200: the refusal is a form error (reported)",
    ),
    page(
        "disputes:outcome",
        "referral",
        post=Scoped(may=handles_dispute, ok=REDIRECT, deny=200),
        args=on_case,
        data=lambda p, o, w: {f"outcome-{o.pk}-outcome": "judgment", f"outcome-{o.pk}-note": "已判决"},
        note="deny=200: the refusal is a form error (reported)",
    ),
    # --- public pages (no sign-in) -----------------------------------------------------------------
    page("cases_public:report", get=Public(), post=Public(), note="empty form: shown again"),
    page("cases_public:report_done", get=Public(REDIRECT)),
    page("cases_public:place", get=Public(), query={"pick": GRID_CODES["here"]}),
    page("cases_public:attributes", get=Public(), query={"category": "battery"}),
    page("cases_public:track", get=Public(), post=Public()),
    page(
        "cases_public:tracked", "case", get=Public(REDIRECT), args=number, note="untracked: back to the form"
    ),
    page("cases_public:rate", "case", post=Public(REDIRECT), args=number),
    page("cases_public:forget", "case", post=Public(REDIRECT), args=number),
    page("cases_public:cases", get=Public()),
    # --- cockpit -----------------------------------------------------------------------------------
    page("cockpit:root", get=LoggedIn(PAGE_OK)),
    page("cockpit:refresh", post=HasRole(frozenset({Role.CITY_ADMIN}), ok=REDIRECT)),
    page("cockpit:evaluation", get=StaffRoot()),
    page("cockpit:evaluation_compute", post=HasRole(frozenset({Role.CITY_ADMIN}), ok=REDIRECT)),
    page(
        "cockpit:evaluation_publish",
        "snapshot",
        post=HasRole(frozenset({Role.CITY_ADMIN}), ok=REDIRECT),
        args=pk,
        note="published already: a message, then back",
    ),
    page(
        "cockpit:schemes",
        get=HasRole(frozenset({Role.CITY_ADMIN})),
        post=HasRole(frozenset({Role.CITY_ADMIN})),
    ),
    page(
        "cockpit:evaluation_node",
        "area_street",
        get=SCOPED_PAGE,
        args=lambda o: {"period": "now", "code": o.code},
    ),
    page(
        "cockpit:evaluation_detail",
        "area_community",
        get=SCOPED_PAGE,
        args=lambda o: {"period": "now", "code": o.code},
    ),
    page(
        "cockpit:evaluation_xlsx",
        "area_street",
        get=SCOPED_PAGE,
        args=lambda o: {"period": "$period", "code": o.code},
    ),
    page(
        "cockpit:evaluation_pdf",
        "area_street",
        get=SCOPED_PAGE,
        args=lambda o: {"period": "$period", "code": o.code},
    ),
    page("cockpit:leaders", get=StaffRoot()),
    page("cockpit:leader", "leader", get=SCOPED_PAGE, args=lambda o: {"user_id": o.pk}),
    page(
        "cockpit:leader_visit",
        "leader",
        post=Scoped(may=lambda p, o: False),
        args=lambda o: {"user_id": o.pk},
        note="leaders log their own visits only",
    ),
    page(
        "cockpit:leader_assign",
        "leader",
        post=Scoped(may=manages_target, ok=REDIRECT),
        args=lambda o: {"user_id": o.pk},
        data=lambda p, o, w: {"area": LEADER_NEW_PLACE[o.placement], "note": "新包联"},
    ),
    page(
        "cockpit:contact_remove",
        "contact",
        post=Scoped(may=contact_manager, ok=REDIRECT),
        args=pk,
    ),
    *[
        page(f"cockpit:{name}", "area", get=SCOPED_PAGE, args=code)
        for name in ("node", "wall", "figures", "data", "geo")
    ],
    # --- the API's own pages -----------------------------------------------------------------------
    page("api:openapi-json", get=Public(), note="the schema is public"),
    page("api:openapi-view", get=Public(), note="the interactive documentation is public"),
    page("api:api-root", get=Public(frozenset({404})), note="nothing at the root outside DEBUG"),
    # --- Open311 (public; API keys for POST and non-public categories) -----------------------------
    page("open311:discovery", get=Public(), args=fmt_json),
    page("open311:services", get=Public(), args=fmt_json),
    page("open311:service", "category", get=Public(), args=lambda o: {"service_code": o.slug, "fmt": "json"}),
    page(
        "open311:requests",
        get=Public(),
        post=Public(frozenset({403})),
        args=fmt_json,
        note="POST needs an API key: 403 without one",
    ),
    page(
        "open311:request",
        "case",
        get=Public(frozenset({404})),
        args=lambda o: {"request_id": o.pk, "fmt": "json"},
        note="non-public categories are not shown without an API key, whoever asks",
    ),
    page(
        "open311:token",
        get=Public(frozenset({404})),
        args=lambda o: {"token": "no-such-token", "fmt": "json"},
    ),
    page("open311:not_found", get=Public(frozenset({404})), args=lambda o: {"rest": "nothing.json"}),
    page("open311:keys", get=HasRole(MANAGING_ROLES), post=HasRole(MANAGING_ROLES)),
    page(
        "open311:key_revoke",
        "o311key",
        post=Scoped(ok=REDIRECT),
        args=lambda o: {"key_id": o.pk},
        note="keys the persona may not manage are not found",
    ),
    # --- API: accounts -----------------------------------------------------------------------------
    api(
        "POST /api/v1/auth/token",
        rule=TokenExchange(),
        data=lambda p, o, w: {
            "username": f"p_{p.name}" if not p.anonymous else "nobody",
            "password": PASSWORD,
        },
    ),
    api("GET /api/v1/me", rule=LoggedIn()),
    api("GET /api/v1/users", rule=LoggedIn()),
    api("GET /api/v1/users/{user_id}", "user", SCOPED_API, args=lambda o: {"user_id": o.pk}),
    # --- API: areas --------------------------------------------------------------------------------
    api("GET /api/v1/areas", rule=LoggedIn()),
    api("GET /api/v1/areas/search", rule=LoggedIn(), query={"q": "社区"}),
    api("GET /api/v1/areas/{code}", "area", SCOPED_API, args=code),
    api("GET /api/v1/areas/{code}/children", "area", SCOPED_API, args=code),
    api("GET /api/v1/areas/{code}/tree", "area", SCOPED_API, args=code),
    # --- API: registry -----------------------------------------------------------------------------
    api("GET /api/v1/registry/buildings", rule=LoggedIn()),
    api("GET /api/v1/registry/households", rule=LoggedIn()),
    api(
        "POST /api/v1/registry/households",
        "area",
        Scoped(may=edits_registry, ok=frozenset({201})),
        data=lambda p, o, w: {
            "area": o.code,
            "number": "API-NEW-1",
            "address": "新地址1号",
            "head": _person(o.code[:6]),
        },
    ),
    api(
        "GET /api/v1/registry/households/{household_id}",
        "household",
        SCOPED_API,
        args=lambda o: {"household_id": o.pk},
    ),
    api("GET /api/v1/registry/residents", rule=LoggedIn()),
    api(
        "GET /api/v1/registry/residents/{resident_id}",
        "resident",
        SCOPED_API,
        args=lambda o: {"resident_id": o.pk},
    ),
    api(
        "POST /api/v1/registry/residents/search",
        rule=LoggedIn(),
        data=lambda p, o, w: {"query": w.secrets["here_head_id"]},
    ),
    api(
        "POST /api/v1/registry/residents/{resident_id}/reveal",
        "resident",
        SCOPED_API,
        args=lambda o: {"resident_id": o.pk},
        data=lambda p, o, w: {"fields": ["phone"], "reason": "核实身份"},
    ),
    api("GET /api/v1/registry/organisations", rule=LoggedIn()),
    api(
        "POST /api/v1/registry/households/{household_id}/members",
        "household",
        Scoped(may=edits_registry, ok=frozenset({201})),
        args=lambda o: {"household_id": o.pk},
        data=lambda p, o, w: {**_person(o.code[:6]), "relation": "child"},
    ),
    api(
        "POST /api/v1/registry/residents/{resident_id}/leave",
        "resident",
        Scoped(may=edits_registry),
        args=lambda o: {"resident_id": o.pk},
        data=lambda p, o, w: {"kind": "move_out", "note": "迁出"},
    ),
    # --- API: coverage -----------------------------------------------------------------------------
    api("GET /api/v1/coverage/{code}", "area", SCOPED_API, args=code),
    api(
        "GET /api/v1/coverage/{code}/{check}",
        "area",
        SCOPED_API,
        args=lambda o: {"code": o.code, "check": "empty_households"},
    ),
    # --- API: imports ------------------------------------------------------------------------------
    api(
        "POST /api/v1/imports",
        "area",
        Scoped(may=edits_registry, ok=frozenset({201})),
        data=_api_upload,
        json=False,
    ),
    api("GET /api/v1/imports", rule=LoggedIn()),
    api("GET /api/v1/imports/{job_id}", "import_job", SCOPED_API, args=lambda o: {"job_id": o.pk}),
    api("GET /api/v1/imports/{job_id}/problems", "import_job", SCOPED_API, args=lambda o: {"job_id": o.pk}),
    # --- API: cases --------------------------------------------------------------------------------
    api("GET /api/v1/cases/categories", rule=LoggedIn()),
    api("GET /api/v1/cases", rule=LoggedIn()),
    api(
        "POST /api/v1/cases",
        "area",
        Scoped(may=reports_cases, ok=frozenset({201})),
        data=lambda p, o, w: {
            "category": "battery",
            "place": o.code,
            "title": "井盖缺失",
            "description": "路口井盖缺失",
        },
    ),
    api("GET /api/v1/cases/inbox", rule=LoggedIn()),
    api("GET /api/v1/cases/metrics/{code}", "area", SCOPED_API, args=code),
    api("GET /api/v1/cases/{number}", "case", SCOPED_API, args=number),
    api(
        "POST /api/v1/cases/{number}/transitions",
        "case",
        Scoped(may=holds_case),
        args=number,
        data=lambda p, o, w: {"action": "accept", "version": o.version},
    ),
    # --- API: disputes -----------------------------------------------------------------------------
    api("GET /api/v1/disputes", rule=LoggedIn()),
    api(
        "POST /api/v1/disputes",
        "area",
        Scoped(may=records_disputes, ok=frozenset({201})),
        data=lambda p, o, w: {
            "type": "neighbours",
            "title": "噪音纠纷",
            "description": "楼上噪音",
            "place": o.code,
            "parties": [{"name": "张三"}],
        },
        note="city administrators do not record disputes (403)",
    ),
    api("GET /api/v1/disputes/rules", rule=LoggedIn(), note="the rules are not personal data"),
    api("GET /api/v1/disputes/board/{code}", "area", SCOPED_API, args=code),
    api("GET /api/v1/disputes/{number}", "dispute", SCOPED_API, args=number),
    api(
        "POST /api/v1/disputes/{number}/incidents",
        "dispute",
        Scoped(may=handles_dispute, ok=frozenset({201})),
        args=number,
        data=lambda p, o, w: {"description": "再次争吵"},
    ),
    api(
        "POST /api/v1/disputes/{number}/follow-ups",
        "dispute",
        Scoped(may=handles_dispute, ok=frozenset({201})),
        args=number,
        data=lambda p, o, w: {"note": "电话回访", "kind": "phone"},
    ),
    api(
        "POST /api/v1/disputes/{number}/referrals",
        "dispute",
        Scoped(may=handles_dispute, ok=frozenset({201})),
        args=number,
        data=lambda p, o, w: {"kind": "arbitration", "body": "劳动仲裁委员会"},
    ),
    api(
        "POST /api/v1/disputes/{number}/settle",
        "dispute",
        Scoped(may=handles_dispute),
        args=number,
        data=lambda p, o, w: {"note": "调解成功"},
    ),
    # --- API: cockpit ------------------------------------------------------------------------------
    api("GET /api/v1/cockpit/indicators", rule=LoggedIn()),
    api(
        "GET /api/v1/cockpit/evaluation/{period}/{code}",
        "area_street",
        SCOPED_API,
        args=lambda o: {"period": "$period", "code": o.code},
    ),
    api("GET /api/v1/cockpit/leaders/{user_id}", "leader", SCOPED_API, args=lambda o: {"user_id": o.pk}),
    api("GET /api/v1/cockpit/{code}", "area", SCOPED_API, args=code),
]

BY_KEY: dict[str, Entry] = {entry.key: entry for entry in ENTRIES}
assert len(BY_KEY) == len(ENTRIES), "an entry is classified twice"

#: URL patterns left out on purpose (the brief: static files and Django's language switch).
UNCLASSIFIED_ON_PURPOSE = {"set_language"}

#: The placements of each kind (see :mod:`.factories`). A building belongs to a grid, and so does an
#: organisation as the pages create them: neither exists at the community ("parent"). A token is the
#: persona's own or someone else's; the catalogue and the evaluation snapshots are city-wide.
KIND_PLACEMENTS: dict[str | None, tuple[str | None, ...]] = {
    None: (None,),
    "building": ("here", "sibling", "other"),
    "organisation": ("here", "sibling", "other"),
    "token": ("own", "other"),
    "category": ("global",),
    "snapshot": ("global",),
}


def placements(kind: str | None) -> tuple[str | None, ...]:
    return KIND_PLACEMENTS.get(kind, ("here", "sibling", "parent", "other"))


__all__ = ["BY_KEY", "ENTRIES", "KIND_PLACEMENTS", "LOGIN", "Entry", "covers", "placements"]
