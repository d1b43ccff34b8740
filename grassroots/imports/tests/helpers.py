"""Building register sheets for the tests, the way an office would fill them in."""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from grassroots.imports import jobs
from grassroots.imports.models import ImportJob
from grassroots.registry.idnumber import make_id_number

HEADERS = [
    "户编号", "网格编码", "楼栋地址", "单元房号", "住址", "姓名", "公民身份号码", "与户主关系", "民族",
    "联系电话", "户籍类型", "关爱类型",
]  # fmt: skip
KEYS = ["household", "grid", "building", "room", "address", "name", "id", "relation", "ethnicity", "phone",
        "registration", "care"]  # fmt: skip

GRID = "140302001001001"  # 油娄沟社区 第一网格
COLLEAGUE_GRID = "140302001001002"
SIBLING_GRID = "140302001002001"  # 窑坡社区 第一网格
COMMUNITY = "140302001001"


def pid(n: int, *, region: str = "140302", born: dt.date | None = None) -> str:
    """A valid, distinct ID number for person ``n``."""
    born = born or dt.date(1950, 1, 1) + dt.timedelta(days=n * 7 % 20000)
    return make_id_number(region, born, n % 1000)


def row(household: str, name: str, id_number: str, relation: str, *, grid: str = GRID, **extra) -> dict:
    values = {
        "household": household,
        "grid": grid,
        "building": extra.pop("building", ""),
        "room": extra.pop("room", ""),
        "address": extra.pop("address", f"油娄沟路{household}号"),
        "name": name,
        "id": id_number,
        "relation": relation,
        "ethnicity": extra.pop("ethnicity", "汉族"),
        "phone": extra.pop("phone", ""),
        "registration": extra.pop("registration", "户籍"),
        "care": extra.pop("care", ""),
    }
    assert not extra, extra
    return values


def family(number: str, first: int, size: int = 3, **extra) -> list[dict]:
    """A household: a head, a spouse, then children; persons ``first`` … ``first + size - 1``."""
    relations = ["户主", "配偶", "子", "女", "子女", "孙子女"]
    return [
        row(number, f"居民{first + i}", pid(first + i), relations[min(i, len(relations) - 1)], **extra)
        for i in range(size)
    ]


def xlsx(rows: list[dict], *, headers: list[str] = HEADERS, title: str | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    ws = workbook.active
    ws.title = "台账"
    if title:
        ws.append([title])
    ws.append(headers)
    for values in rows:
        ws.append([values.get(key, "") for key in KEYS[: len(headers)]])
    for column in ws.iter_cols(min_row=1):
        for cell in column:
            cell.number_format = "@"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[dict], *, encoding: str = "utf-8-sig", delimiter: str = ",") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(HEADERS)
    for values in rows:
        writer.writerow([values.get(key, "") for key in KEYS])
    return out.getvalue().encode(encoding)


def upload_file(data: bytes, name: str = "台账.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def run_import(user, data: bytes, *, name: str = "台账.xlsx", node: str = COMMUNITY) -> ImportJob:
    """Upload as ``user`` and process the job in this thread, as the background worker would."""
    from grassroots.areas.models import Area

    job = jobs.do_create_job(
        user, node=Area.objects.get(code=node), upload=upload_file(data, name), dispatch=False
    )
    processed = jobs.process_job(job.pk)
    assert processed is not None
    return processed


def reasons(job: ImportJob) -> dict[int, list[str]]:
    """Rejected rows → their reasons in English."""
    from django.utils import translation

    with translation.override("en"):
        return {p.row: p.reasons for p in job.problems.order_by("row")}
