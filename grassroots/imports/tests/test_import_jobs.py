"""Importing sheets end to end: what lands in the registry, what is refused, and why."""

from __future__ import annotations

import pytest

from grassroots.accounts.choices import Role
from grassroots.audit.models import Action, AuditEntry
from grassroots.imports.models import JobStatus
from grassroots.registry.choices import EventKind, Registration, Relation
from grassroots.registry.models import Building, CareMembership, Household, Resident, ResidentEvent
from grassroots.registry.protect import id_hash

from .helpers import COLLEAGUE_GRID, GRID, csv_bytes, family, pid, reasons, row, run_import, xlsx


@pytest.fixture
def staff(make_user):
    return make_user("youlougou", Role.COMMUNITY_STAFF, "140302001001")


def registry_counts() -> tuple[int, ...]:
    return (
        Household.objects.count(),
        Resident.objects.count(),
        ResidentEvent.objects.count(),
        CareMembership.objects.count(),
        Building.objects.count(),
        AuditEntry.objects.filter(action=Action.IMPORT).count(),
    )


def test_a_good_sheet_lands_whole(staff):
    rows = [
        *family(
            "A001", 1, 3, building="油娄沟路1号3号楼", room="2单元301", address="油娄沟路1号3号楼2单元301"
        ),
        *family("A002", 10, 2, grid=COLLEAGUE_GRID),
        row(
            "A003",
            "王奶奶",
            pid(20),
            "户主",
            phone="138 0013 8000",
            care="独居老人、残疾人",
            registration="流动",
        ),
    ]
    job = run_import(staff, xlsx(rows))
    assert job.status == JobStatus.DONE, job.error_text
    assert (job.total_rows, job.imported_households, job.imported_residents, job.rejected_rows) == (
        6,
        3,
        6,
        0,
    )
    assert job.processed_rows == 6 and job.percent == 100
    assert job.created_buildings == 1

    a001 = Household.objects.get(number="A001")
    assert a001.area_id == GRID and a001.room == "2单元301" and a001.building.address == "油娄沟路1号3号楼"
    assert a001.building.area_id == GRID and a001.building.name == "3号楼"
    assert a001.head.name == "居民1" and a001.head.relation == Relation.HEAD
    assert sorted(a001.members.values_list("relation", flat=True)) == sorted(["head", "spouse", "child"])
    grandma = Resident.objects.get(id_number_hash=id_hash(pid(20)))
    assert grandma.phone_masked == "138****8000" and grandma.registration == Registration.FLOATING
    assert grandma.id_number_masked.startswith("1403") and "*" in grandma.id_number_masked
    assert set(grandma.care.values_list("group", flat=True)) == {"elderly_alone", "disabled"}
    assert Household.objects.get(number="A002").area_id == COLLEAGUE_GRID
    assert ResidentEvent.objects.filter(kind=EventKind.REGISTERED, recorded_by=staff).count() == 6

    entries = AuditEntry.objects.filter(action=Action.IMPORT, object_type="registry.household")
    assert entries.count() == 3
    for entry in AuditEntry.objects.all():
        text = f"{entry.object_label} {entry.fields} {entry.detail} {entry.reason}"
        assert pid(1) not in text and "13800138000" not in text


def test_csv_in_utf8_and_gbk(staff):
    rows = [*family("C001", 1, 2), *family("C002", 5, 2)]
    job = run_import(staff, csv_bytes(rows), name="台账.csv")
    assert (job.status, job.imported_households, job.imported_residents) == (JobStatus.DONE, 2, 4)
    gbk = [*family("G001", 11, 2), row("G002", "欧阳娜娜", pid(15), "户主", care="低保")]
    job = run_import(staff, csv_bytes(gbk, encoding="gbk", delimiter="\t"), name="台账.csv")
    assert job.encoding == "gb18030" and job.delimiter == "\t"
    assert (job.status, job.imported_households, job.imported_residents) == (JobStatus.DONE, 2, 3)
    assert Resident.objects.filter(name="欧阳娜娜").exists()


def test_importing_the_same_sheet_again_changes_nothing(staff):
    rows = [
        *family("R001", 1, 3, building="油娄沟路2号1号楼"),
        row("R002", "赵六", pid(9), "户主", phone="13900001111", care="退役军人"),
    ]
    data = xlsx(rows)
    first = run_import(staff, data)
    assert first.imported_households == 2
    before = registry_counts()
    again = run_import(staff, data)
    assert again.status == JobStatus.DONE
    assert (again.imported_households, again.unchanged_households, again.unchanged_residents) == (0, 2, 4)
    assert again.rejected_rows == 0 and again.processed_rows == 4
    assert registry_counts() == before


def test_rows_of_a_household_need_not_be_adjacent(staff):
    a, b = family("N001", 1, 3), family("N002", 10, 2)
    rows = [a[1], b[0], a[0], b[1], a[2]]  # the head of N001 on the third row
    job = run_import(staff, xlsx(rows))
    assert (job.imported_households, job.imported_residents, job.rejected_rows) == (2, 5, 0)
    household = Household.objects.get(number="N001")
    assert household.members.count() == 3 and household.head.name == "居民1"


def test_a_household_with_one_bad_row_is_rejected_whole(staff):
    bad = family("H001", 1, 3)
    bad[1]["id"] = bad[1]["id"][:-1] + ("0" if bad[1]["id"][-1] != "0" else "1")  # a typo: wrong check digit
    rows = [*family("H000", 10, 2), *bad, *family("H002", 20, 2)]
    job = run_import(staff, xlsx(rows))
    assert (job.imported_households, job.rejected_households, job.rejected_rows) == (2, 1, 3)
    assert not Household.objects.filter(number="H001").exists()
    assert not Resident.objects.filter(name__in=["居民1", "居民2", "居民3"]).exists()
    found = reasons(job)
    # Sheet rows: header on row 1, H000 on rows 2–3, H001 on rows 4–6.
    assert set(found) == {4, 5, 6}
    assert found[5] == ["The ID number's check character is wrong (a typing error?)."]
    assert found[4] == found[6] == ["Household H001 was not imported because row 5 failed."]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"id": "1403021980010100"}, "An ID number has 18 characters; this one has 16."),
        ({"id": "14030219800230001X"}, "The ID number's birth date 19800230 does not exist."),
        ({"id": ""}, "The ID number (公民身份号码) is missing."),
        ({"name": ""}, "The name (姓名) is missing."),
        ({"relation": "邻居"}, "Unknown relation to the head “邻居”"),
        ({"phone": "1381234"}, "The phone (联系电话) is not an 11-digit mobile number."),
        ({"registration": "外籍"}, "Unknown registration type “外籍”"),
        ({"care": "独居老人、孤寡"}, "Unknown care group “孤寡”."),
        ({"ethnicity": "火星族"}, "Unknown ethnicity “火星族”."),
        ({"grid": "140302001001999"}, "Grid 140302001001999 does not exist."),
        (
            {"grid": "140302001002001"},
            "Grid 140302001002001 is outside 油娄沟社区, the area this import covers.",
        ),
        ({"grid": "14030200100"}, "“14030200100” is not a grid or micro-grid code (15 or 18 digits)."),
        ({"grid": "140302001001"}, "140302001001 is not a grid"),
        ({"grid": ""}, "The grid code (网格编码) is missing."),
        ({"household": ""}, "The household number (户编号) is missing."),
        ({"address": ""}, "The household's address (住址) is missing."),
    ],
)
def test_each_check_names_its_reason(staff, change, expected):
    bad = row("B001", "钱七", pid(30), "户主")
    bad.update(change)
    job = run_import(staff, xlsx([*family("OK01", 1, 2), bad]))
    assert job.imported_households == 1 and job.rejected_rows == 1
    assert any(expected in reason for reason in reasons(job)[4]), reasons(job)


def test_impossible_dates_and_gender_against_the_id_number(staff):
    from openpyxl import Workbook

    headers = ["户编号", "网格编码", "住址", "姓名", "公民身份号码", "与户主关系", "性别", "出生日期"]
    workbook = Workbook()
    ws = workbook.active
    ws.append(headers)
    born = pid(1)[6:14]
    ws.append(["D1", GRID, "某路1号", "甲", pid(1), "户主", "女" if int(pid(1)[16]) % 2 else "男", ""])
    ws.append(["D2", GRID, "某路2号", "乙", pid(2), "户主", "", "1990-02-30"])
    ws.append(["D3", GRID, "某路3号", "丙", pid(3), "户主", "", "2999-01-01"])
    ws.append(["D4", GRID, "某路4号", "丁", pid(4), "户主", "", "1970-01-01"])
    ws.append(["D5", GRID, "某路5号", "戊", pid(5), "户主", "未知", ""])
    ws.append(
        [
            "D6",
            GRID,
            "某路6号",
            "己",
            pid(6, born=__import__("datetime").date(1985, 6, 1)),
            "户主",
            "",
            "1985年6月1日",
        ]
    )
    import io

    buffer = io.BytesIO()
    workbook.save(buffer)
    job = run_import(staff, buffer.getvalue())
    found = reasons(job)
    assert found[2] == ["The gender does not match the ID number."]
    assert found[3] == ["The date of birth “1990-02-30” does not exist."]
    assert found[4] == ["The date of birth 2999-01-01 is in the future."]
    assert found[5] == ["The date of birth does not match the ID number."] or born == "19700101"
    assert found[6] == ["Unknown gender “未知”: use 男 or 女."]
    assert 7 not in found and job.imported_households == 1


def test_households_need_exactly_one_head_and_agreeing_rows(staff):
    no_head = [row("X1", "甲", pid(1), "配偶"), row("X1", "乙", pid(2), "子")]
    two_heads = [row("X2", "丙", pid(3), "户主"), row("X2", "丁", pid(4), "户主")]
    split = [row("X3", "戊", pid(5), "户主"), row("X3", "己", pid(6), "配偶", grid=COLLEAGUE_GRID)]
    blank_ok = [row("X4", "庚", pid(7), "户主"), row("X4", "辛", pid(8), "配偶", grid="", address="")]
    job = run_import(staff, xlsx([*no_head, *two_heads, *split, *blank_ok]))
    found = reasons(job)
    assert found[2] == found[3] == ["Household X1 has no head (户主)."]
    assert found[4] == ["Household X2 has 2 heads (户主); it must have one."]
    assert "disagree on 网格编码" in found[6][0] and "disagree on 网格编码" in found[7][0]
    assert job.imported_households == 1 and Household.objects.get(number="X4").members.count() == 2


def test_the_same_person_twice_or_already_registered(staff):
    first = run_import(staff, xlsx(family("E001", 1, 2)))
    assert first.imported_households == 1
    rows = [
        row("E002", "甲", pid(50), "户主"),
        row("E003", "甲", pid(50), "户主"),  # the same person twice in the sheet
        row("E004", "乙", pid(2), "户主"),  # lives in E001 already
    ]
    job = run_import(staff, xlsx(rows))
    found = reasons(job)
    assert found[2] == ["The same person (same ID number) is also on row 3."]
    assert found[3] == ["The same person (same ID number) is also on row 2."]
    assert found[4] == ["This person is already registered in household E001."]
    assert job.imported_households == 0


def test_an_existing_household_that_differs_is_reported_not_changed(staff):
    run_import(staff, xlsx(family("F001", 1, 3)))
    changed = family("F001", 1, 3)
    changed[0]["phone"] = "13700001234"
    changed[2]["relation"] = "兄弟姐妹"
    changed.append(row("F001", "新生儿", pid(60), "孙子女"))
    before = registry_counts()
    job = run_import(staff, xlsx(changed))
    assert registry_counts() == before
    found = reasons(job)
    assert any(r.startswith("Household F001 exists already and differs from this sheet") for r in found[2])
    assert "In the registry, this person has another phone." in found[2]
    assert "In the registry, this person has another relation to the head." in found[4]
    assert "In the registry, this person is not a member of household F001." in found[5]
    assert found[3] == found[2][1:]  # the household's verdict, nothing about that person
    assert job.rejected_households == 1 and job.unchanged_households == 0


def test_a_building_must_stay_in_its_grid(staff):
    run_import(staff, xlsx([row("K1", "甲", pid(1), "户主", building="油娄沟路9号1号楼")]))
    rows = [
        row("K2", "乙", pid(2), "户主", building="油娄沟路9号1号楼", grid=COLLEAGUE_GRID),
        row("K3", "丙", pid(3), "户主", building="新路1号", grid=GRID),
        row("K4", "丁", pid(4), "户主", building="新路1号", grid=COLLEAGUE_GRID),
    ]
    found = reasons(run_import(staff, xlsx(rows)))
    assert found[2] == ["Building “油娄沟路9号1号楼” is registered in another grid."]
    assert found[3] == found[4] == ["Building “新路1号” appears with different grids in this sheet."]


def test_values_echoed_in_reasons_never_carry_a_full_id_number_or_phone(staff):
    swapped = row("13800138000", "甲", pid(70), pid(71))  # an ID number typed into the relation column
    grid_is_an_id = row("Q2", "乙", pid(72), "户主", grid=pid(73))
    job = run_import(staff, xlsx([swapped, grid_is_an_id]))
    stored = " ".join(f"{p.household_number} {p.messages}" for p in job.problems.all())
    for secret in (pid(71), pid(73), "13800138000"):
        assert secret not in stored
    found = reasons(job)
    masked = f"{pid(71)[:4]}**********{pid(71)[-4:]}"
    assert found[2] == [
        f"Unknown relation to the head “{masked}”: use 户主, 配偶, 子, 女, 父母, 孙子女, 兄弟姐妹, 其他 …"
    ]
    assert job.problems.get(row=2).household_number == "138****8000"
