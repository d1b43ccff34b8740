"""Full ID numbers and phones never leave the server except through the audited reveal.

Hypothesis draws residents with random valid ID numbers and mobile numbers; they are registered
through the registry's actions (with a case and a dispute that quote a phone, and an import that names
them), then every list, page, export and API answer that shows residents is fetched. Neither value
may appear in a body, a header, a link, or the log lines written while answering; a masked value shows
at most the first four and last four characters of an ID number (``1403**********1234``) and the first
three and last four digits of a phone (``138****5678``).

Also here: :func:`grassroots.core.exports.safe_cell`, which neutralises spreadsheet formulas.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grassroots.areas.models import Area
from grassroots.conftest import GRID
from grassroots.core.exports import FORMULA_STARTS, safe_cell, safe_row
from grassroots.registry.idnumber import PROVINCES, make_id_number, mask_id_number, mask_phone

from .factories import World, savepoint, sheet_csv, sheet_row, world_for_module

# --- the world, clients, one savepoint per test ----------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    with world_for_module(django_db_blocker, tmp_path_factory.mktemp("masking")) as built:
        yield built


@pytest.fixture(autouse=True)
def db(world, django_db_blocker) -> Iterator[None]:
    """Each test in a savepoint of the module's transaction (see test_access_matrix.db)."""
    with savepoint(django_db_blocker):
        yield


@pytest.fixture(scope="module")
def clients(world, django_db_blocker) -> dict[str, Client]:
    """Pages as community staff (who see everything of a resident a page shows, care groups included)
    and as district staff; the API with a token of each."""
    made: dict[str, Client] = {}
    with django_db_blocker.unblock():
        for name in ("community", "district", "street"):
            made[name] = Client()
            made[name].force_login(world.users[name])
            made[f"api_{name}"] = Client(headers={"Authorization": f"Bearer {world.tokens[name]}"})
    for client in made.values():
        client.initial_cookies = SimpleCookie({k: m.value for k, m in client.cookies.items()})
    return made


def fresh(client: Client) -> Client:
    client.cookies = SimpleCookie({k: m.value for k, m in client.initial_cookies.items()})
    return client


# --- what a leak looks like ------------------------------------------------------------------------

ID_MASK = re.compile(r"^[0-9X]{4}\*{10}[0-9X]{4}$")
PHONE_MASK = re.compile(r"^1[0-9]{2}\*{4}[0-9]{4}$")
MASKED_LOOKING = re.compile(r"[0-9Xx*]*\*[0-9Xx*]*")
LINK = re.compile(
    r"""(?:href|src|action|hx-get|hx-post|hx-delete|data-url|formaction)\s*=\s*["']([^"']*)["']"""
)


def _text(response) -> str:
    content_type = response.get("Content-Type", "")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if "spreadsheetml" in content_type:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return "\n".join(
                archive.read(name).decode("utf-8", "replace")
                for name in archive.namelist()
                if name.endswith(".xml")
            )
    return body.decode("utf-8", "replace")


def assert_masked(text: str, secrets: list[str], where: str) -> None:
    """No secret in full; anything that looks masked reveals only what the masks allow."""
    for value in secrets:
        assert value not in text, f"{where}: a full value leaked ({value[:3]}…)"
        if len(value) == 18:
            assert value[4:14] not in text, f"{where}: the middle of an ID number leaked"
    for token in MASKED_LOOKING.findall(text):
        digits = sum(ch != "*" for ch in token)
        if len(token) == 18 and digits:
            assert ID_MASK.match(token), f"{where}: an ID mask shows too much: {token}"
        elif len(token) == 11 and digits:
            assert PHONE_MASK.match(token), f"{where}: a phone mask shows too much: {token}"


def assert_no_secret_in_links(text: str, secrets: list[str], where: str) -> None:
    for link in LINK.findall(text):
        for value in secrets:
            assert value not in link, f"{where}: a full value in a link: {link[:80]}"


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Every log line written meanwhile, at every level, formatted as the handlers would."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record) + " " + repr(getattr(record, "args", "")))

    handler = Keep(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(pathname)s"))
    names = ["", "django", "django.request", "django.server", "grassroots", "grassroots.request"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    # (django.template's DEBUG lines name template variables that failed to resolve: never values)
    template_logger = logging.getLogger("django.template")
    template_level = template_logger.level
    template_logger.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        template_logger.setLevel(template_level)


# --- strategies ------------------------------------------------------------------------------------


@st.composite
def id_numbers(draw) -> str:
    region = draw(st.sampled_from(sorted(PROVINCES))) + draw(st.text("0123456789", min_size=4, max_size=4))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()))
    return make_id_number(region, born, draw(st.integers(0, 999)))


phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
people = st.lists(
    st.tuples(id_numbers(), phones), min_size=1, max_size=3, unique_by=(lambda p: p[0], lambda p: p[1])
)


# --- the property ----------------------------------------------------------------------------------


def _register(world: World, persons: list[tuple[str, str]], sheet_phone: str):
    """Residents, a case and a dispute quoting their phones, and an import naming them again."""
    from grassroots.cases import actions as case_actions
    from grassroots.cases.models import Category
    from grassroots.disputes import actions as dispute_actions
    from grassroots.imports import jobs
    from grassroots.registry import actions

    registrar = world.users["reg_street"]
    grid = Area.objects.get(code=GRID)
    household = actions.do_create_household(registrar, area=grid, number="MASK-1", address="掩码路1号")
    residents = []
    for index, (id_number, phone) in enumerate(persons):
        try:
            residents.append(
                actions.do_add_resident(
                    registrar,
                    household=household,
                    name=f"掩码{index}",
                    id_number=id_number,
                    relation="head" if index == 0 else "child",
                    phone=phone,
                )
            )
        except Exception:  # an ID number the world holds already, or a birth after a parent's: not this test
            assume(False)
    case = case_actions.do_report(
        registrar,
        category=Category.objects.get(code="battery"),
        area=grid,
        title="掩码事件",
        description="掩码测试",
        contact_name="掩码",
        contact_phone=persons[0][1],
    ).case
    dispute = dispute_actions.do_record(
        registrar,
        type="neighbours",
        title="掩码纠纷",
        description="掩码测试",
        area=grid,
        source="patrol",
        parties=[{"role": "applicant", "name": "掩码0", "phone": persons[0][1], "resident": residents[0]}],
    )
    # The same person again on a sheet, with another phone: rejected, and the report must not say the
    # phone the registry holds.
    sheet = sheet_csv([sheet_row("MASK-2", GRID, "掩码0", persons[0][0], "户主", phone=sheet_phone)])
    job = jobs.do_create_job(
        registrar, node=grid, upload=SimpleUploadedFile("mask.csv", sheet), dispatch=False
    )
    jobs.process_job(job.pk)
    return household, residents, case, dispute, job


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(persons=people, sheet_phone=phones)
def test_full_values_never_leave_unmasked(persons, sheet_phone, world, clients, django_db_blocker):
    assume(sheet_phone not in {phone for _id, phone in persons})
    with savepoint(django_db_blocker):
        household, residents, case, dispute, job = _register(world, persons, sheet_phone)
        ids = [id_number for id_number, _phone in persons]
        registry_phones = [phone for _id, phone in persons]
        secrets = ids + registry_phones
        first = residents[0]
        pages = [
            f"/registry/grid/{GRID}/",
            f"/registry/grid/{GRID[:12]}/",
            f"/registry/household/{household.pk}/",
            *[f"/registry/resident/{r.pk}/" for r in residents],
            "/registry/search/?q=掩码",
            f"/coverage/{GRID}/",
            f"/coverage/{GRID}/residents_outside_household/",
            "/disputes/new/residents/?prefix=parties-0&parties-0-q=掩码",
            f"/disputes/{dispute.number}/",
            "/disputes/",
            f"/cases/{case.number}/",
            "/cases/",
            f"/imports/{job.pk}/",
            f"/cockpit/{GRID}/",
            f"/cockpit/{GRID}/data.json",
        ]
        apis = [
            f"/api/v1/registry/residents?within={GRID}&limit=500",
            f"/api/v1/registry/households?within={GRID}&limit=500",
            f"/api/v1/registry/households/{household.pk}",
            *[f"/api/v1/registry/residents/{r.pk}" for r in residents],
            f"/api/v1/coverage/{GRID}/residents_outside_household",
            f"/api/v1/cases/{case.number}",
            f"/api/v1/disputes/{dispute.number}",
            f"/api/v1/imports/{job.pk}",
            f"/api/v1/imports/{job.pk}/problems",
        ]
        forms = [  # the edit forms, to those who may edit
            f"/registry/household/{household.pk}/edit/",
            f"/registry/household/{household.pk}/members/add/",
            f"/registry/resident/{first.pk}/edit/",
            f"/registry/resident/{first.pk}/transfer/",
        ]
        with captured_logs() as logs:
            for viewer in ("community", "district"):
                for path in pages + (forms if viewer == "community" else []):
                    response = fresh(clients[viewer]).get(path)
                    assert response.status_code == 200, f"{path} as {viewer}: {response.status_code}"
                    text = _text(response)
                    assert_masked(text, secrets, f"{path} as {viewer}")
                    assert_no_secret_in_links(text, secrets, f"{path} as {viewer}")
                for path in apis:
                    response = fresh(clients[f"api_{viewer}"]).get(path)
                    assert response.status_code == 200, f"{path} as {viewer}: {response.status_code}"
                    assert_masked(_text(response), secrets, f"{path} as {viewer}")
            export = fresh(clients["district"]).get(
                f"/cockpit/evaluation/{world.period}/{GRID[:9]}/report.xlsx"
            )
            assert export.status_code == 200
            assert_masked(_text(export), secrets, "evaluation export")
            # exact searches by identity: results masked, the query echoed nowhere
            for query in (ids[0], registry_phones[0]):
                response = fresh(clients["community"]).post("/registry/search/", {"q": query})
                assert response.status_code == 200
                assert_masked(_text(response), secrets, "identity search page")
                found = fresh(clients["api_district"]).post(
                    "/api/v1/registry/residents/search", {"query": query}, content_type="application/json"
                )
                assert found.status_code == 200 and first.pk in {r["id"] for r in found.json()}
                assert_masked(_text(found), secrets, "identity search API")
            # an identity typed into the address bar is dropped at once, with no trace in the redirect
            typed = fresh(clients["community"]).get("/registry/search/", {"q": ids[0]})
            assert typed.status_code == 302 and ids[0] not in typed["Location"]
            # the import's error report: the uploader's own sheet, but not the registry's phone
            report = fresh(clients["street"]).get(f"/imports/{job.pk}/errors")
            assert report.status_code == 200
            assert_masked(_text(report), registry_phones + ids[1:], "import error report")
        # the masks the API shows are exactly the allowed ones
        listed = fresh(clients["api_community"]).get(f"/api/v1/registry/households/{household.pk}").json()
        shown = {m["id"]: (m["id_number_masked"], m["phone_masked"]) for m in listed["members"]}
        for resident, (id_number, phone) in zip(residents, persons, strict=True):
            assert shown[resident.pk] == (mask_id_number(id_number), mask_phone(phone))
            assert ID_MASK.match(shown[resident.pk][0]) and PHONE_MASK.match(shown[resident.pk][1])
        for line in logs:
            for value in secrets:
                assert value not in line, f"a full value in the log: {line[:120]}"
        transaction.set_rollback(True)


def test_reveal_is_the_one_way_to_a_full_value(world, clients):
    """The audited reveal shows the full value to whoever may see the resident; never cached."""
    resident = world.obj("resident", "here")
    response = fresh(clients["api_community"]).post(
        f"/api/v1/registry/residents/{resident.pk}/reveal",
        {"fields": ["id_number", "phone"], "reason": "核实身份"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "id_number": world.secrets["here_head_id"],
        "phone": world.secrets["here_head_phone"],
    }
    assert "no-store" in response["Cache-Control"]


# --- safe_cell -------------------------------------------------------------------------------------


def test_safe_cell_neutralises_formulas():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell('=HYPERLINK("http://x.example","点击")') == '\'=HYPERLINK("http://x.example","点击")'
    assert (
        safe_cell("+86 138") == "'+86 138"
        and safe_cell("-2") == "'-2"
        and safe_cell("@SUM(A1)") == "'@SUM(A1)"
    )
    assert safe_cell("\t=cmd") == "'\t=cmd" and safe_cell("\r=cmd") == "'\r=cmd"
    assert safe_cell("油娄沟社区") == "油娄沟社区" and safe_cell("") == ""
    assert safe_cell(-2) == -2 and safe_cell(3.5) == 3.5 and safe_cell(None) is None
    day = dt.date(2026, 1, 1)
    assert safe_cell(day) is day
    assert safe_row(["=a", "b", 1]) == ["'=a", "b", 1]


@given(st.text())
def test_safe_cell_never_returns_a_formula_and_changes_only_what_it_must(text):
    cell = safe_cell(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell == text or cell == "'" + text
    assert (cell != text) == text.startswith(FORMULA_STARTS)
    assert safe_cell(cell) == cell


FORMULA = '=HYPERLINK("http://evil.example","点击")'


def _formula_upload(world, name: str, data: bytes):
    from grassroots.imports import jobs

    job = jobs.do_create_job(
        world.users["reg_street"],
        node=Area.objects.get(code=GRID),
        upload=SimpleUploadedFile(name, data),
        dispatch=False,
    )
    jobs.process_job(job.pk)
    return job


def test_import_error_report_neutralises_formulas_xlsx(world, clients):
    """Found by the battery: the error report writes the uploaded cells back as they were, so a name
    typed as a formula runs in the spreadsheet of whoever downloads the report (the uploader, or any
    registry editor of the area). Fix: pass every cell through ``grassroots.core.exports.safe_cell`` in
    ``imports/report.py`` (``_xlsx_report`` and ``_csv_report``)."""
    from openpyxl import Workbook, load_workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["户编号", "网格编码", "楼栋地址", "单元房号", "住址", "姓名", "公民身份号码", "与户主关系"])
    sheet.append(["F-1", GRID, "", "", "公式路1号", "", "123", "户主"])
    sheet["F2"].value = FORMULA
    sheet["F2"].data_type = "s"  # text that looks like a formula, as a person types it into a cell
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = _formula_upload(world, "formula.xlsx", buffer.getvalue())
    response = fresh(clients["community"]).get(f"/imports/{job.pk}/errors")
    assert response.status_code == 200
    report = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = [c for row in report.active.iter_rows() for c in row]
    assert any(isinstance(c.value, str) and "evil.example" in c.value for c in cells), "the name is gone"
    formulas = [
        c.coordinate for c in cells if c.data_type == "f" or str(c.value or "").startswith(FORMULA_STARTS)
    ]
    assert not formulas, f"cells of the error report that a spreadsheet runs as formulas: {formulas}"


def test_import_error_report_neutralises_formulas_csv(world, clients):
    """The same for a CSV sheet: a field starting with ``=`` is a formula when Excel opens the file."""
    import csv

    data = sheet_csv([sheet_row("F-2", GRID, FORMULA, "123", "户主")])
    job = _formula_upload(world, "formula.csv", data)
    response = fresh(clients["community"]).get(f"/imports/{job.pk}/errors")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    fields = [field for row in rows for field in row]
    assert any("evil.example" in field for field in fields), "the name is gone"
    formulas = [field for field in fields if field.startswith(FORMULA_STARTS)]
    assert not formulas, f"fields of the error report that a spreadsheet runs as formulas: {formulas}"
