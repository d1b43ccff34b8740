"""A community worker in a real Chromium: uploads a register with some bad rows, watches the
progress, reads the report and downloads the sheet with its error column."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from openpyxl import load_workbook

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.areas.grids import generate_grids
from grassroots.areas.yangquan import load_yangquan
from grassroots.imports.models import ImportJob
from grassroots.imports.sheet import ERROR_HEADER
from grassroots.registry.models import Household

from .helpers import COMMUNITY, family, pid, row, xlsx

ARTIFACTS = Path(os.environ.get("GRASSROOTS_TEST_ARTIFACTS", "test-artifacts"))
PASSWORD = "Browser-test-2026"


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def community_staff(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The real behaviour: the job runs in a background thread of the server, the page polls.
    settings.GRASSROOTS = {**settings.GRASSROOTS, "IMPORT_RUN": "thread"}
    load_yangquan()
    generate_grids("140302001")
    user = User.objects.create_user("youlougou", password=PASSWORD, full_name="油娄沟社区工作人员")
    Grant.objects.create(user=user, role=Role.COMMUNITY_STAFF, area_id=COMMUNITY)
    return user


def register_with_bad_rows(tmp_path: Path) -> Path:
    bad_phone = family("B002", 20, 2)
    bad_phone[1]["phone"] = "1380013"
    rows = [
        *family("B001", 1, 3, building="油娄沟路8号2号楼", room="1单元101"),
        *bad_phone,
        row("B003", "周九", pid(40)[:-1] + ("1" if pid(40)[-1] != "1" else "2"), "户主"),
        *family("B004", 50, 2),
    ]
    path = tmp_path / "油娄沟社区户籍台账.xlsx"
    path.write_bytes(xlsx(rows, title="油娄沟社区户籍台账"))
    return path


def test_upload_follow_and_download_the_errors(live_server, browser, community_staff, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="en-US", accept_downloads=True)
    page.goto(f"{live_server.url}/imports/")
    assert "/login/" in page.url
    page.fill("#id_username", "youlougou")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.goto(f"{live_server.url}/imports/")
    page.click("button[name=language][value=en]")  # read the report in English

    assert page.locator("#id_node").input_value() == COMMUNITY
    page.set_input_files("#id_file", str(register_with_bad_rows(tmp_path)))
    page.click("form.form button.primary")
    page.wait_for_url("**/imports/*/")
    # The page polls (htmx, every second) until the background job is done.
    page.wait_for_selector("#job-progress[data-status=done]", timeout=30_000)
    counts = page.locator("#job-counts").inner_text()
    assert "Households imported (5 residents)" in counts and "Households rejected (3 rows)" in counts
    rows = page.locator("#problems tbody tr")
    assert rows.count() == 3
    table = page.locator("#problems").inner_text()
    assert "The phone (联系电话) is not an 11-digit mobile number." in table
    assert "Household B002 was not imported because row 7 failed." in table
    assert "check character is wrong" in table
    assert Household.objects.filter(number__in=["B001", "B004"]).count() == 2

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-report.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#download-errors")
    download = info.value
    assert download.suggested_filename == "油娄沟社区户籍台账-errors.xlsx"
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "油娄沟社区户籍台账"  # the title row is kept
    assert values[1][-1] == ERROR_HEADER
    errors = {index + 1: r[-1] for index, r in enumerate(values) if index > 1 and r[-1]}
    assert set(errors) == {6, 7, 8}
    assert errors[7] == "The phone (联系电话) is not an 11-digit mobile number."

    # The list shows the job; an outsider's URL guess is "not found".
    page.goto(f"{live_server.url}/imports/")
    assert "油娄沟社区户籍台账.xlsx" in page.locator("#jobs").inner_text()
    page.screenshot(path=str(ARTIFACTS / "import-list.png"), full_page=True)
    job = ImportJob.objects.get()
    assert job.rejected_households == 2 and job.imported_households == 2
    response = page.goto(f"{live_server.url}/imports/{job.pk + 1}/")
    assert response is not None and response.status == 404
