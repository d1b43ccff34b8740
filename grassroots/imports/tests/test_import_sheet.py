"""Reading sheets as offices keep them: title rows, merged cells, English headers, GBK CSV, Excel's
habit of turning long numbers into floating point."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from grassroots.accounts.choices import Role
from grassroots.imports import sheet
from grassroots.imports.models import JobStatus
from grassroots.imports.sheet import SheetError
from grassroots.registry.models import Household

from .helpers import GRID, csv_bytes, family, pid, reasons, row, run_import, xlsx


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def layout_of(tmp_path, name, data):
    return sheet.inspect(write(tmp_path, name, data), sheet.kind_of(name))


def test_the_header_row_may_sit_below_a_title(tmp_path):
    layout = layout_of(tmp_path, "a.xlsx", xlsx(family("A", 1, 2), title="油娄沟社区户籍台账（2026年）"))
    assert layout.header_row == 2 and layout.sheet_name == "台账"
    assert layout.columns["household"] == 0 and layout.columns["id_number"] == 6


def test_english_headers_and_decorated_chinese_headers(tmp_path):
    headers = ["Household number", "Grid code", "Address", "Name", "ID number", "Relation to head"]
    layout = layout_of(tmp_path, "a.csv", ",".join(headers).encode())
    assert set(layout.columns) == {"household", "grid", "address", "name", "id_number", "relation"}
    decorated = ["户编号*", "网格编码（15位）", "住 址", "姓名", "身份证号码", "与户主关系"]
    assert set(layout_of(tmp_path, "b.csv", ",".join(decorated).encode()).columns) == set(layout.columns)


def test_a_header_without_the_required_columns(tmp_path):
    with pytest.raises(SheetError) as error:
        layout_of(tmp_path, "a.csv", "户编号,姓名,民族\n1,张三,汉族\n".encode())
    assert error.value.params == {"columns": "网格编码、公民身份号码、与户主关系"}
    with pytest.raises(SheetError) as error:
        layout_of(tmp_path, "b.csv", "名称,数量\n苹果,3\n".encode())
    assert error.value.code == "no_header"
    with pytest.raises(SheetError) as error:
        layout_of(tmp_path, "c.csv", "户编号,网格编码,姓名,姓名,公民身份号码,与户主关系\n".encode())
    assert error.value.code == "duplicate_column"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "xls"),
        ("fake.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "xls"),
        ("photo.xlsx", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not_xlsx"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "binary"),
        ("notes.docx", b"PK\x03\x04", "suffix"),
    ],
)
def test_what_is_not_a_spreadsheet(tmp_path, name, data, code):
    with pytest.raises(SheetError) as error:
        layout_of(tmp_path, name, data)
    assert error.value.code == code


def test_csv_encodings_are_detected():
    text = "户编号,姓名\n1,欧阳娜娜\n"
    assert sheet.detect_encoding(text.encode("utf-8-sig")) == "utf-8-sig"
    assert sheet.detect_encoding(text.encode("utf-8")) == "utf-8-sig"
    assert sheet.detect_encoding(text.encode("gbk")) == "gb18030"
    assert sheet.detect_encoding(text.encode("utf-16")) == "utf-16"


def test_merged_household_cells_count_for_every_row(make_user, tmp_path):
    staff = make_user("youlougou", Role.COMMUNITY_STAFF, "140302001001")
    workbook = Workbook()
    ws = workbook.active
    ws.append(["户编号", "网格编码", "住址", "姓名", "公民身份号码", "与户主关系"])
    ws.append(["M1", GRID, "油娄沟路5号", "甲", pid(1), "户主"])
    ws.append([None, None, None, "乙", pid(2), "配偶"])
    ws.append([None, None, None, "丙", pid(3), "子"])
    ws.append(["M2", GRID, "油娄沟路6号", "丁", pid(4), "户主"])
    for column in "ABC":
        ws.merge_cells(f"{column}2:{column}4")
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = run_import(staff, buffer.getvalue())
    assert (job.status, job.imported_households, job.imported_residents) == (JobStatus.DONE, 2, 4)
    assert Household.objects.get(number="M1").members.count() == 3


def test_numbers_excel_mangled(make_user):
    staff = make_user("youlougou", Role.COMMUNITY_STAFF, "140302001001")
    workbook = Workbook()
    ws = workbook.active
    ws.append(["户编号", "网格编码", "住址", "姓名", "公民身份号码", "与户主关系", "联系电话"])
    ws.append([1001, int(GRID), "某路1号", "甲", float(pid(1)[:17] + "0"), "户主", 13800138000])
    ws.append([1002, int(GRID), "某路2号", "乙", pid(2), "户主", 13800138001])
    ws.append([1003, 1.40302001001001e17, "某路3号", "丙", pid(3), "户主", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = run_import(staff, buffer.getvalue())
    found = reasons(job)
    assert found[2] == [
        "Excel stored the ID number as a number and lost its last digits: format the column as text and "
        "type the number again."
    ]
    assert found[4] == [
        "Excel stored the grid code as a number and lost its last digits: format the column as text."
    ]
    household = Household.objects.get(number="1002")  # numbers written as numbers are fine
    assert household.area_id == GRID and household.head.phone_masked == "138****8001"


def test_the_templates_example_household_is_never_imported(make_user):
    staff = make_user("youlougou", Role.COMMUNITY_STAFF, "140302001001")
    rows = [row("示例", "张三", pid(1), "户主"), *family("H1", 5, 2)]
    job = run_import(staff, csv_bytes(rows), name="a.csv")
    assert (job.total_rows, job.imported_households) == (2, 1)
    assert not Household.objects.filter(number="示例").exists()
