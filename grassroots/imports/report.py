"""Files the importer hands out: the uploaded sheet with an error column, and the blank template.

The error report is the uploader's own sheet, row for row (so row numbers match the report page),
with one more column, 错误原因/Error, holding every reason a row was rejected, in the reader's
language. Fix the rows and upload the whole sheet again: households imported the first time are
"unchanged" the second. ``only_rejected`` keeps the header and the rejected rows only. An .xlsx
comes back as .xlsx (values only, merged cells filled in), a CSV as a CSV in the same encoding and
separator.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path

from django.utils.translation import gettext as _

from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.core.exports import safe_cell
from grassroots.registry.choices import CareGroup, Registration, Relation

from .models import FileKind, ImportJob, render_message
from .sheet import COLUMNS, ERROR_HEADER, EXAMPLE_MARK, REQUIRED, open_rows
from .validate import CARE_GROUPS, REGISTRATIONS, RELATIONS

ERROR_COLUMN_WIDTH = 60


def _reasons(job: ImportJob) -> dict[int, str]:
    return {
        row: "; ".join(render_message(m) for m in messages)
        for row, messages in job.problems.values_list("row", "messages")
    }


def report_name(job: ImportJob) -> str:
    stem = Path(job.original_name).stem or "import"
    return f"{stem}-errors.{'xlsx' if job.kind == FileKind.XLSX else 'csv'}"


def write_error_report(job: ImportJob, *, only_rejected: bool = False):
    """The report as an open binary file positioned at its start (a spooled temporary file)."""
    from .jobs import layout_of

    layout = layout_of(job)
    reasons = _reasons(job)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    if job.kind == FileKind.XLSX:
        _xlsx_report(job, layout, reasons, out, only_rejected)
    else:
        _csv_report(job, layout, reasons, out, only_rejected)
    out.seek(0)
    return out


def _trimmed(cells: list) -> list:
    end = len(cells)
    while end and (cells[end - 1] is None or cells[end - 1] == ""):
        end -= 1
    return cells[:end]


def _with_error(cells: list, index: int, value: str) -> list:
    cells = list(cells)
    if len(cells) <= index:
        cells.extend([None] * (index + 1 - len(cells)))
    cells[index] = value
    return cells


def _rows_to_write(job, layout, reasons, only_rejected):
    """(cells, is_header, reason) for every row the report contains."""
    with open_rows(job.path(), layout) as rows:
        header: list = []
        width = 0
        for number, cells in rows:  # a first pass for the widest row: the error column goes after it
            width = max(width, len(_trimmed(cells)))
            if number == layout.header_row:
                header = cells
    cleaned = ["" if c is None else str(c).strip() for c in header]
    index = cleaned.index(ERROR_HEADER) if ERROR_HEADER in cleaned else width
    with open_rows(job.path(), layout) as rows:
        for number, cells in rows:
            if number < layout.header_row:
                if not only_rejected:
                    yield cells, False, None
            elif number == layout.header_row:
                yield _with_error(cells, index, ERROR_HEADER), True, None
            else:
                reason = reasons.get(number)
                if reason or not only_rejected:
                    yield _with_error(cells, index, reason or ""), False, reason


def _xlsx_report(job, layout, reasons, out, only_rejected) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(title=(layout.sheet_name or "Sheet1")[:31])
    red = Font(color="B3261E")
    bold_red = Font(color="B3261E", bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    error_column = None
    for cells, is_header, reason in _rows_to_write(job, layout, reasons, only_rejected):
        if is_header:
            error_column = len(cells) - 1
            from openpyxl.utils import get_column_letter

            ws.column_dimensions[get_column_letter(error_column + 1)].width = ERROR_COLUMN_WIDTH
        written = []
        for position, value in enumerate(cells):
            cell = WriteOnlyCell(ws, value=safe_cell(value))
            if isinstance(value, dt.datetime) and value.time() == dt.time(0):
                cell.number_format = "yyyy-mm-dd"
            if position == error_column and (is_header or reason):
                cell.font = bold_red if is_header else red
                cell.alignment = wrap
            written.append(cell)
        ws.append(written)
    workbook.save(out)


def _csv_report(job, layout, reasons, out, only_rejected) -> None:
    encoding = layout.encoding or "utf-8-sig"
    text = io.TextIOWrapper(out, encoding=encoding, errors="replace", newline="")
    writer = csv.writer(text, delimiter=layout.delimiter or ",")
    for cells, _is_header, _reason in _rows_to_write(job, layout, reasons, only_rejected):
        writer.writerow(["" if c is None else safe_cell(c) for c in cells])
    text.flush()
    text.detach()


# --- the template ---------------------------------------------------------------------------------


def _first_grid(node: Area | None) -> Area | None:
    if node is None:
        return None
    if node.level in (Level.GRID, Level.MICROGRID):
        return node
    return Area.objects.within(node.code).filter(level=Level.GRID).order_by("code").first()


def column_notes() -> list[tuple[str, str, str, str]]:
    """(column, required?, what to write, allowed values) for the notes sheet."""
    relation_words = "、".join(words[0] for words in RELATIONS.values())
    registration_words = "、".join(words[0] for words in REGISTRATIONS.values())
    care_words = "、".join(words[0] for words in CARE_GROUPS.values())
    yes, no = _("yes"), _("no")
    explain = {
        "household": _(
            "The office's own number for the household, unique in the registry. Rows with the same number "
            "form one household, wherever they are in the sheet. A row numbered “%(mark)s” is an example "
            "and is never imported."
        )
        % {"mark": EXAMPLE_MARK},
        "grid": _(
            "Code of the grid (15 digits) or micro-grid (18 digits) the household lives in; it must lie "
            "in the area chosen for the import. The sheet “网格编码” lists them. Format the column as text."
        ),
        "building": _(
            "Standard address of the building. A new address is created as a building of that grid; an "
            "address that exists must belong to the same grid."
        ),
        "room": _("Unit and room, e.g. 2单元301."),
        "address": _(
            "The household's address. Needed on one row of the household at least; when empty, building "
            "address and room are used."
        ),
        "name": _("Full name."),
        "id_number": _(
            "18-character citizen ID number (GB 11643); its check character, region and birth date are "
            "verified. Format the column as text, or Excel loses the last digits."
        ),
        "relation": _("Relation to the head of the household; each household has exactly one 户主."),
        "gender": _("Optional; if given, it must match the ID number."),
        "birth_date": _("Optional, e.g. 1980-05-01; if given, it must match the ID number."),
        "ethnicity": _("Optional; default 汉族."),
        "phone": _("Optional; an 11-digit mobile number."),
        "registration": _("Optional; default 户籍."),
        "care": _("Optional; several separated by 、"),
    }
    allowed = {
        "relation": relation_words,
        "gender": "男、女",
        "registration": registration_words,
        "care": care_words,
    }
    return [
        (COLUMNS[name][0], yes if name in REQUIRED else no, explain[name], allowed.get(name, ""))
        for name in COLUMNS
    ]


def build_template(node: Area | None) -> bytes:
    """The blank register sheet: headers, an example household (never imported), notes, grid codes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from grassroots.registry.idnumber import make_id_number

    workbook = Workbook()
    ws = workbook.active
    ws.title = "户籍台账"
    names = list(COLUMNS)
    ws.append([COLUMNS[name][0] for name in names])
    header_fill = PatternFill("solid", fgColor="FFF1F0")
    for index, name in enumerate(names, start=1):
        cell = ws.cell(row=1, column=index)
        cell.font = Font(bold=True, color="B3261E" if name in REQUIRED else "1F2328")
        cell.fill = header_fill
        width = 22 if name in ("id_number", "grid", "building", "address") else 12
        ws.column_dimensions[get_column_letter(index)].width = width
        if name in ("household", "grid", "id_number", "phone", "room"):
            ws.column_dimensions[get_column_letter(index)].number_format = "@"
    grid = _first_grid(node)
    grid_code = grid.code if grid else "140302001001001"
    example = [
        {
            "household": EXAMPLE_MARK,
            "grid": grid_code,
            "building": "示例路1号3号楼",
            "room": "2单元301",
            "address": "示例路1号3号楼2单元301",
            "name": "张三",
            "id_number": make_id_number("140302", dt.date(1968, 5, 1), 11),
            "relation": "户主",
            "gender": "男",
            "birth_date": "1968-05-01",
            "ethnicity": "汉族",
            "phone": "13800000000",
            "registration": "户籍",
            "care": "",
        },
        {
            "household": EXAMPLE_MARK,
            "grid": "",
            "building": "",
            "room": "",
            "address": "",
            "name": "李四",
            "id_number": make_id_number("140302", dt.date(1942, 3, 8), 22),
            "relation": "母亲",
            "gender": "女",
            "birth_date": "1942-03-08",
            "ethnicity": "汉族",
            "phone": "",
            "registration": "户籍",
            "care": "独居老人、残疾人",
        },
    ]
    grey = Font(italic=True, color="5F6B76")
    for values in example:
        ws.append([values[name] for name in names])
        for index in range(1, len(names) + 1):
            ws.cell(row=ws.max_row, column=index).font = grey
            ws.cell(row=ws.max_row, column=index).number_format = "@"
    ws.freeze_panes = "A2"

    notes = workbook.create_sheet("填写说明")
    notes.append([_("Column"), _("Required"), _("What to write"), _("Allowed values")])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for row in column_notes():
        notes.append(list(row))
    notes.append([])
    for line in (
        _("One row per resident. Rows of one household share the household number (户编号)."),
        _(
            "Household fields (网格编码, 楼栋地址, 单元房号, 住址) may be written on one row of the "
            "household only, or in merged cells."
        ),
        _(
            "A household is imported whole or not at all. Households that exist already are left as they "
            "are: identical ones count as unchanged, different ones are reported."
        ),
        _(
            "Rejected rows come back in the error report, with the reason in the last column: correct "
            "them and upload the whole sheet again."
        ),
        _("Values accepted for the relation: %(values)s.")
        % {"values": ", ".join(f"{words[0]} ({Relation(k).label})" for k, words in RELATIONS.items())},
        _("Values accepted for the registration: %(values)s.")
        % {
            "values": ", ".join(f"{words[0]} ({Registration(k).label})" for k, words in REGISTRATIONS.items())
        },
        _("Care groups: %(values)s.")
        % {"values": ", ".join(f"{words[0]} ({CareGroup(k).label})" for k, words in CARE_GROUPS.items())},
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 8
    notes.column_dimensions["C"].width = 80
    notes.column_dimensions["D"].width = 50
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    codes = workbook.create_sheet("网格编码")
    codes.append([_("Code"), _("Name"), _("Level")])
    for cell in codes[1]:
        cell.font = Font(bold=True)
    if node is not None:
        grids = (
            Area.objects.within(node.code)
            .filter(level__in=(Level.GRID, Level.MICROGRID))
            .select_related("parent")
            .order_by("code")[:5000]
        )
        for area in grids:
            parent = area.parent.name if area.parent else ""
            label = area.name if area.level == Level.GRID else f"{parent} {area.name}"
            codes.append([area.code, label, str(Level(area.level).label)])
    codes.column_dimensions["A"].width = 22
    codes.column_dimensions["B"].width = 30
    for row in codes.iter_rows(min_row=2, max_col=1):
        for cell in row:
            cell.number_format = "@"

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
