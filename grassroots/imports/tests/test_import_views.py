"""The pages through HTTP, per persona: upload, progress, report, downloads, scoping."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from grassroots.audit.models import Action, AuditEntry
from grassroots.imports.models import ImportJob, JobStatus
from grassroots.imports.sheet import ERROR_HEADER
from grassroots.registry.models import Household

from .helpers import COMMUNITY, GRID, csv_bytes, family, pid, row, upload_file, xlsx

INDEX = reverse("imports:index")


def sheet_with_errors() -> list[dict]:
    bad = family("W002", 10, 2)
    bad[1]["phone"] = "12345"
    return [*family("W001", 1, 3), *bad, row("W003", "孙八", pid(30)[:-1] + "Y", "户主")]


def post(client, data: bytes, name: str = "台账.xlsx", node: str = COMMUNITY, capture=None):
    with capture(execute=True):
        return client.post(INDEX, {"node": node, "file": upload_file(data, name)})


@pytest.fixture
def uploaded(client_as, community_staff, django_capture_on_commit_callbacks) -> ImportJob:
    response = post(
        client_as(community_staff), xlsx(sheet_with_errors()), capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    return ImportJob.objects.get()


def test_upload_then_the_report(client_as, community_staff, uploaded):
    client = client_as(community_staff)
    assert uploaded.status == JobStatus.DONE
    response = client.get(reverse("imports:detail", args=[uploaded.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "hx-trigger" not in page  # finished: no more polling
    assert "Households imported (3 residents)" in page
    assert "The phone (联系电话) is not an 11-digit mobile number." in page
    assert "Household W002 was not imported because row 6 failed." in page
    assert pid(30)[:10] not in page  # no ID numbers on the report page
    assert Household.objects.filter(number="W001").exists()
    upload_entry = AuditEntry.objects.get(action=Action.CREATE, object_type="imports.importjob")
    assert upload_entry.actor == community_staff and upload_entry.object_label == "台账.xlsx"
    assert AuditEntry.objects.filter(action=Action.IMPORT, object_type="registry.household").count() == 1
    listing = client.get(INDEX).content.decode()
    assert "台账.xlsx" in listing and reverse("imports:detail", args=[uploaded.pk]) in listing


def test_the_progress_partial_polls_until_the_job_ends(client_as, community_staff, uploaded):
    client = client_as(community_staff)
    ImportJob.objects.filter(pk=uploaded.pk).update(status=JobStatus.RUNNING)
    partial = client.get(reverse("imports:detail", args=[uploaded.pk]), headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert 'hx-trigger="every 1s"' in html and "<html" not in html and "<progress" in html
    ImportJob.objects.filter(pk=uploaded.pk).update(status=JobStatus.DONE)
    html = client.get(
        reverse("imports:detail", args=[uploaded.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "hx-trigger" not in html and 'id="problems"' in html


def test_the_sheet_comes_back_with_an_error_column(client_as, community_staff, uploaded):
    response = client_as(community_staff).get(reverse("imports:errors", args=[uploaded.pk]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][-1] == ERROR_HEADER and rows[0][:3] == ("户编号", "网格编码", "楼栋地址")
    assert len(rows) == 1 + 6  # every row, so row numbers match the report
    assert rows[1][-1] in (None, "")  # imported
    assert rows[5][-1] == "The phone (联系电话) is not an 11-digit mobile number."
    assert rows[6][6] == pid(30)[:-1] + "Y"  # the uploader's own values, untouched
    entry = AuditEntry.objects.get(action=Action.EXPORT)
    assert entry.object_id == str(uploaded.pk) and entry.actor == community_staff
    assert entry.fields == ["error_report"] and entry.area_code == COMMUNITY

    only = client_as(community_staff).get(reverse("imports:errors", args=[uploaded.pk]) + "?rows=rejected")
    rows = list(
        load_workbook(io.BytesIO(b"".join(only.streaming_content))).active.iter_rows(values_only=True)
    )
    assert [r[0] for r in rows] == ["户编号", "W002", "W002", "W003"]


def test_a_csv_comes_back_as_csv_in_its_encoding(
    client_as, community_staff, django_capture_on_commit_callbacks
):
    client = client_as(community_staff)
    data = csv_bytes(sheet_with_errors(), encoding="gbk")
    assert post(client, data, "台账.csv", capture=django_capture_on_commit_callbacks).status_code == 302
    job = ImportJob.objects.get()
    response = client.get(reverse("imports:errors", args=[job.pk]))
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode("gb18030")
    records = list(csv.reader(io.StringIO(text)))
    assert records[0][-1] == ERROR_HEADER and len(records) == 7
    assert records[6][-1] == "An ID number is 17 digits followed by a digit or X." and records[1][-1] == ""


def test_an_error_report_uploaded_again_imports_what_was_fixed(
    client_as, community_staff, uploaded, django_capture_on_commit_callbacks
):
    client = client_as(community_staff)
    report = b"".join(client.get(reverse("imports:errors", args=[uploaded.pk])).streaming_content)
    workbook = load_workbook(io.BytesIO(report))
    ws = workbook.active
    ws.cell(row=6, column=10, value="13800001234")  # the phone of row 6 fixed
    ws.cell(row=7, column=7, value=pid(30))
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert post(client, buffer.getvalue(), capture=django_capture_on_commit_callbacks).status_code == 302
    again = ImportJob.objects.order_by("-pk").first()
    assert (again.imported_households, again.unchanged_households, again.rejected_rows) == (2, 1, 0)


def test_personas_see_and_download_within_their_scope(client_as, personas, uploaded):
    detail = reverse("imports:detail", args=[uploaded.pk])
    download = reverse("imports:errors", args=[uploaded.pk])
    expected = {
        "city_admin": (200, 403),
        "district_staff": (200, 403),  # reads the registry, may not have the ID numbers in clear
        "street_staff": (200, 200),
        "community_staff": (200, 200),
        "grid_worker": (404, 404),  # the job covers the whole community
        "colleague": (404, 404),
        "outsider_community": (404, 404),
        "outsider_district": (404, 404),
    }
    for name, (page, file) in expected.items():
        client = client_as(personas[name])
        assert client.get(detail).status_code == page, name
        assert client.get(download).status_code == file, name
        listed = client.get(INDEX).content.decode()
        assert (detail in listed) == (page == 200), name


def test_uploading_needs_the_right_to_edit_there(
    client_as, district_staff, grid_worker, community_staff, django_capture_on_commit_callbacks
):
    data = xlsx(family("P1", 1, 2))
    response = post(client_as(district_staff), data, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 403
    # A grid worker may import into their grid, not into the community above it.
    response = post(client_as(grid_worker), data, node=COMMUNITY, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 404
    response = post(client_as(grid_worker), data, node=GRID, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    # Rows outside the chosen node are rejected even when the uploader could edit them.
    rows = [row("P2", "甲", pid(40), "户主", grid="140302001001002")]
    response = post(
        client_as(community_staff), xlsx(rows), node=GRID, capture=django_capture_on_commit_callbacks
    )
    job = ImportJob.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))
    assert job.rejected_rows == 1 and job.imported_households == 0
    assert ImportJob.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("photo.png", b"\x89PNG\r\n", "Upload an .xlsx or .csv file."),
        ("photo.xlsx", b"\x89PNG\r\n\x1a\n", "This is not a spreadsheet: upload an .xlsx or .csv file."),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "This is an old Excel .xls file"),
        ("list.csv", "名称,数量\n".encode(), "No header row found in the first 10 rows"),
        ("empty.csv", b"", "The submitted file is empty."),
    ],
)
def test_a_file_that_is_not_a_register_is_refused_and_not_kept(
    client_as, community_staff, settings, name, data, message, django_capture_on_commit_callbacks
):
    response = post(client_as(community_staff), data, name, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()
    assert (
        not list((settings.DATA_DIR / "imports").glob("*"))
        if (settings.DATA_DIR / "imports").exists()
        else True
    )


def test_size_and_row_limits_at_upload(
    client_as, community_staff, settings, django_capture_on_commit_callbacks
):
    client = client_as(community_staff)
    settings.GRASSROOTS = {**settings.GRASSROOTS, "IMPORT_MAX_BYTES": 1024 * 1024}
    big = csv_bytes(family("Z", 1, 2)) + b"," * (1024 * 1024)
    response = post(client, big, "big.csv", capture=django_capture_on_commit_callbacks)
    assert "The file is larger than 1 MB." in response.content.decode()
    settings.GRASSROOTS = {**settings.GRASSROOTS, "IMPORT_MAX_ROWS": 3}
    response = post(
        client, csv_bytes(family("Z", 1, 4)), "many.csv", capture=django_capture_on_commit_callbacks
    )
    assert "The sheet has more than 3 rows: split it into several files." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_template(client_as, community_staff, anonymous):
    assert anonymous.get(reverse("imports:template")).status_code == 302
    response = client_as(community_staff).get(reverse("imports:template"))
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert workbook.sheetnames == ["户籍台账", "填写说明", "网格编码"]
    header = [c.value for c in workbook["户籍台账"][1]]
    assert header[:8] == [
        "户编号",
        "网格编码",
        "楼栋地址",
        "单元房号",
        "住址",
        "姓名",
        "公民身份号码",
        "与户主关系",
    ]
    example = [c.value for c in workbook["户籍台账"][2]]
    assert example[0] == "示例" and example[1].startswith(COMMUNITY)
    codes = [r[0] for r in workbook["网格编码"].iter_rows(min_row=2, values_only=True)]
    assert GRID in codes and all(code.startswith(COMMUNITY) for code in codes)
    notes = [r[0] for r in workbook["填写说明"].iter_rows(min_row=2, values_only=True)]
    assert "公民身份号码" in notes


def test_the_template_uploaded_as_is_imports_nothing(
    client_as, community_staff, django_capture_on_commit_callbacks
):
    client = client_as(community_staff)
    data = b"".join(client.get(reverse("imports:template")).streaming_content)
    assert post(client, data, "模板.xlsx", capture=django_capture_on_commit_callbacks).status_code == 302
    job = ImportJob.objects.get()
    assert (job.status, job.total_rows, job.imported_households) == (JobStatus.DONE, 0, 0)
