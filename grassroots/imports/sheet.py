"""Reading a community office's register sheet (户籍台账) from .xlsx or .csv.

The layout: one row per resident, a header row naming the columns (Chinese as offices write them, or
the English aliases below; extra columns such as 备注 are ignored), optionally title rows above it.
Rows of one household share the household number (户编号) and need not be adjacent. In .xlsx files a
merged cell counts for every cell it covers (offices merge 户编号 and 住址 over a family's rows).

CSV files may be UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text") or GB18030/GBK
(Excel's "CSV" on a Chinese Windows); the separator may be comma, tab or semicolon.

Reading is streaming (openpyxl ``read_only``, ``csv.reader``): a sheet is read in constant memory
apart from the rows the caller keeps.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import iterparse

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_noop

from .models import FileKind

# field → (Chinese header as in the template, English header, further accepted aliases)
COLUMNS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "household": ("户编号", "Household number", ("户号", "户编码", "household no", "household_number")),
    "grid": ("网格编码", "Grid code", ("网格代码", "微网格编码", "网格", "grid", "grid_code")),
    "building": ("楼栋地址", "Building address", ("楼栋", "楼栋标准地址", "楼栋名称", "building")),
    "room": ("单元房号", "Unit and room", ("单元房间号", "门牌号", "房号", "room")),
    "address": ("住址", "Address", ("家庭住址", "现住址", "居住地址", "household address")),
    "name": ("姓名", "Name", ()),
    "id_number": ("公民身份号码", "ID number", ("身份证号码", "身份证号", "身份证", "id_number", "id no")),
    "relation": ("与户主关系", "Relation to head", ("关系", "relation")),
    "gender": ("性别", "Gender", ("sex",)),
    "birth_date": ("出生日期", "Date of birth", ("出生年月日", "birth date", "birth_date")),
    "ethnicity": ("民族", "Ethnicity", ()),
    "phone": ("联系电话", "Phone", ("手机号码", "手机号", "手机", "电话", "mobile")),
    "registration": ("户籍类型", "Registration", ("人口类型", "户籍性质")),
    "care": ("关爱类型", "Care groups", ("重点人群", "关爱对象", "care")),
}
REQUIRED = ("household", "grid", "name", "id_number", "relation")
ERROR_HEADER = "错误原因/Error"
# A row whose household number is exactly this is the template's example and is never imported.
EXAMPLE_MARK = "示例"
HEADER_SEARCH_ROWS = 10


def _key(text: object) -> str:
    """A header as compared: no spaces, marks of required columns or notes in brackets, any case."""
    value = re.sub(r"[(（\[【].*?[)）\]】]", "", str(text or ""))
    return re.sub(r"[\s*＊:：]", "", value).replace("_", "").lower()


ALIASES: dict[str, str] = {
    _key(alias): name
    for name, (chinese, english, others) in COLUMNS.items()
    for alias in (chinese, english, *others)
}


class SheetError(ValidationError):
    """The file as a whole cannot be read: not a spreadsheet, no header row, too many rows …

    ``message`` is an English msgid and ``params`` its values, so the reason can be stored and shown
    in the reader's language later.
    """


@dataclass
class Layout:
    """Where things are in a sheet, found once at upload and stored on the job."""

    kind: str
    header_row: int
    columns: dict[str, int]  # field → 0-based column index
    headers: list[str]
    sheet_name: str = ""
    encoding: str = ""
    delimiter: str = ""
    declared_rows: int | None = None  # what the .xlsx claims (its <dimension>), or the CSV's record count


@dataclass(slots=True)
class RawRow:
    number: int  # 1-based, as Excel shows it (CSV: the record number)
    cells: dict[str, object] = field(default_factory=dict)


def find_layout(rows: Iterator[tuple[int, list[object]]]) -> tuple[int, dict[str, int], list[str]]:
    """Find the header row among the first rows: the first one naming the required columns."""
    best_missing: list[str] | None = None
    for number, cells in rows:
        if number > HEADER_SEARCH_ROWS:
            break
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = ALIASES.get(_key(cell))
            if name is None:
                continue
            if name in columns:
                raise SheetError(
                    gettext_noop("Two columns are headed “%(header)s” (row %(row)d): keep one."),
                    code="duplicate_column",
                    params={"header": str(cell).strip(), "row": number},
                )
            columns[name] = index
        if not columns:
            continue
        missing = [COLUMNS[name][0] for name in REQUIRED if name not in columns]
        if not missing:
            headers = ["" if c is None else str(c).strip() for c in cells]
            return number, columns, headers
        if best_missing is None or len(missing) < len(best_missing):
            best_missing = missing
    if best_missing:
        raise SheetError(
            gettext_noop(
                "The header row lacks these columns: %(columns)s. Download the template to see the layout."
            ),
            code="missing_columns",
            params={"columns": "、".join(best_missing)},
        )
    raise SheetError(
        gettext_noop(
            "No header row found in the first %(rows)d rows: the sheet needs columns such as 户编号, "
            "姓名 and 公民身份号码. Download the template to see the layout."
        ),
        code="no_header",
        params={"rows": HEADER_SEARCH_ROWS},
    )


# --- CSV ---------------------------------------------------------------------------------------------


def detect_encoding(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8-sig"
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        raise SheetError(
            gettext_noop(
                "The file is neither UTF-8 nor GBK text: save the sheet as .xlsx or as CSV (UTF-8)."
            ),
            code="encoding",
        ) from None
    return "gb18030"


def _csv_text(path: Path, encoding: str | None = None) -> tuple[str, str]:
    data = path.read_bytes()  # at most the upload limit
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SheetError(
            gettext_noop("This is not a spreadsheet: upload an .xlsx or .csv file."), code="binary"
        )
    encoding = encoding or detect_encoding(data)
    return data.decode(encoding), encoding


def _sniff_delimiter(text: str) -> str:
    sample = text[:8192]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;").delimiter
    except csv.Error:
        return "\t" if sample.count("\t") > sample.count(",") else ","


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[object]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for number, record in enumerate(reader, start=1):
        yield number, list(record)


# --- xlsx --------------------------------------------------------------------------------------------

_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def _merged_ranges(ws) -> list[tuple[int, int, int, int]]:
    """(first row, last row, first col, last col) of every merged range, read from the sheet's XML.

    openpyxl's read-only mode does not expose merges; they sit after the rows, so this is one more
    streaming pass over the sheet.
    """
    ranges: list[tuple[int, int, int, int]] = []
    with ws._get_source() as source:  # most sheets have none: a byte scan is cheaper than parsing
        tail, found = b"", False
        while chunk := source.read(1 << 20):
            if b"mergeCell" in tail + chunk:
                found = True
                break
            tail = chunk[-16:]
    if not found:
        return ranges
    with ws._get_source() as source:
        for _event, element in iterparse(source):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "mergeCell":
                ref = element.get("ref", "")
                if ":" in ref:
                    first, last = (_CELL_REF.match(part) for part in ref.split(":", 1))
                    if first and last:
                        ranges.append(
                            (
                                int(first.group(2)),
                                int(last.group(2)),
                                _column_index(first.group(1)),
                                _column_index(last.group(1)),
                            )
                        )
            elif tag == "row":
                element.clear()
    return ranges


def _xlsx_rows(ws, merges: list[tuple[int, int, int, int]]) -> Iterator[tuple[int, list[object]]]:
    """Rows with merged cells filled in from their top-left cell."""
    active: list[tuple[tuple[int, int, int, int], object]] = []
    starts: dict[int, list[tuple[int, int, int, int]]] = {}
    for merge in merges:
        starts.setdefault(merge[0], []).append(merge)
    ws.reset_dimensions()  # some writers declare a wrong size; read what is there
    for number, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
        cells = list(values)
        active = [(m, v) for m, v in active if m[1] >= number]
        for merge in starts.get(number, ()):
            value = cells[merge[2]] if merge[2] < len(cells) else None
            active.append((merge, value))
        for (_first, _last, col1, col2), value in active:
            if len(cells) <= col2:
                cells.extend([None] * (col2 + 1 - len(cells)))
            for col in range(col1, col2 + 1):
                cells[col] = value
        yield number, cells


def _open_workbook(path: Path):
    import openpyxl

    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            head = handle.read(8)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise SheetError(
                gettext_noop("This is an old Excel .xls file: open it in Excel or WPS and save it as .xlsx."),
                code="xls",
            )
        raise SheetError(
            gettext_noop("This is not a spreadsheet: upload an .xlsx or .csv file."), code="not_xlsx"
        )
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a damaged or foreign zip
        raise SheetError(
            gettext_noop("The .xlsx file cannot be read (damaged, encrypted or not an Excel workbook)."),
            code="bad_xlsx",
        ) from None


# --- the interface --------------------------------------------------------------------------------


def kind_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return FileKind.XLSX
    if suffix in (".csv", ".txt"):
        return FileKind.CSV
    if suffix == ".xls":
        raise SheetError(
            gettext_noop("This is an old Excel .xls file: open it in Excel or WPS and save it as .xlsx."),
            code="xls",
        )
    raise SheetError(gettext_noop("Upload an .xlsx or .csv file."), code="suffix")


def inspect(path: Path, kind: str) -> Layout:
    """Check that the file is a readable sheet with the right header; raises SheetError."""
    if kind == FileKind.CSV:
        content, encoding = _csv_text(path)
        delimiter = _sniff_delimiter(content)
        number, columns, headers = find_layout(_csv_rows(content, delimiter))
        records = sum(1 for _ in _csv_rows(content, delimiter))
        return Layout(
            kind,
            number,
            columns,
            headers,
            encoding=encoding,
            delimiter=delimiter,
            declared_rows=records - number,
        )
    workbook = _open_workbook(path)
    try:
        problem: SheetError | None = None
        for ws in workbook.worksheets:
            declared_max = ws.max_row  # the sheet's own <dimension>, before the rows are read
            try:
                number, columns, headers = find_layout(_xlsx_rows(ws, []))
            except SheetError as exc:
                problem = problem or exc
                continue
            declared = declared_max - number if declared_max else None
            return Layout(kind, number, columns, headers, sheet_name=ws.title, declared_rows=declared)
        raise problem or SheetError(gettext_noop("The workbook has no worksheet."), code="empty")
    finally:
        workbook.close()


@contextmanager
def open_rows(path: Path, layout: Layout) -> Iterator[Iterator[tuple[int, list[object]]]]:
    """Every row of the sheet as (row number, cells), title and header rows included."""
    if layout.kind == FileKind.CSV:
        content, _encoding = _csv_text(path, layout.encoding or None)
        yield _csv_rows(content, layout.delimiter or ",")
        return
    workbook = _open_workbook(path)
    try:
        ws = workbook[layout.sheet_name] if layout.sheet_name in workbook.sheetnames else workbook.active
        yield _xlsx_rows(ws, _merged_ranges(ws))
    finally:
        workbook.close()


def data_rows(rows: Iterator[tuple[int, list[object]]], layout: Layout) -> Iterator[RawRow]:
    """The rows below the header as field → cell, skipping empty rows and the template's example."""
    columns = layout.columns
    for number, cells in rows:
        if number <= layout.header_row:
            continue
        raw = RawRow(number, {name: cells[i] if i < len(cells) else None for name, i in columns.items()})
        if all(
            value is None or (isinstance(value, str) and not value.strip()) for value in raw.cells.values()
        ):
            continue
        if text(raw.cells.get("household")) == EXAMPLE_MARK:
            continue
        yield raw


_SPACES = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")


def text(value: object) -> str:
    """A cell as text: numbers without a trailing .0, dates as YYYY-MM-DD, odd spaces removed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if not value.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _SPACES.sub(" ", str(value)).strip()


def lost_digits(value: object) -> bool:
    """True for a long number Excel kept as a floating-point number: its last digits are gone."""
    return isinstance(value, float) and abs(value) >= 2**53
