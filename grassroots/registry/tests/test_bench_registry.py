"""`grassroots bench registry` at a tiny scale within one street: every figure there, beside its floor."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from django.core.management.base import CommandError

from grassroots.conftest import GRID, STREET
from grassroots.registry.bench import add_arguments, run
from grassroots.registry.models import Household, Resident


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    """The import stores the uploaded sheet under the data directory (and the benchmark removes it)."""
    settings.DATA_DIR = tmp_path


def positive(value) -> bool:
    return isinstance(value, float) and value > 0


def test_benchmark_generates_imports_audits_and_counts_against_raw_floors(tree, tmp_path) -> None:
    out = io.StringIO()

    result = run({"scale": 0.005, "within": STREET, "seed": 3, "repeat": 2, "sheet_households": 40}, out)

    json.dumps(result)
    generated = result["generate"]
    assert generated["households"] > 0 and generated["residents"] > generated["households"]
    # The floor writes exactly as many rows as the generator did, about as wide.
    assert generated["floor"]["rows"] == generated["rows"]
    assert positive(generated["ratio"]) and positive(generated["floor"]["seconds"])
    assert generated["floor"]["text_width"]["residents"] == pytest.approx(
        generated["text_width"]["residents"], rel=0.2
    )

    imported = result["import"]
    assert imported["node"].startswith(STREET)
    assert imported["rows"]["households"] >= 1 and imported["sheet_rows"] == imported["rows"]["residents"]
    assert imported["imported_households"] == imported["rows"]["households"]
    assert imported["imported_residents"] == imported["rows"]["residents"]
    assert imported["floor"]["rows"] == sum(imported["rows"].values())
    assert positive(imported["ratio"]) and isinstance(imported["passed"], bool)
    assert not list((tmp_path / "imports").glob("*"))  # the stored sheet (ID numbers in clear) is gone
    # The population is whole again after the import.
    assert Household.objects.within(STREET).count() == generated["households"]
    assert Resident.objects.within(STREET).count() == generated["residents"]

    for key, length in (("audit_root", len(STREET)), ("audit_grid", 15)):
        audit = result["audit"][key]
        assert len(audit["code"]) == length and audit["figures"]["residents"] > 0
        assert positive(audit["ratio"]) and audit["orm"]["runs"] == audit["raw"]["runs"] == 2
        assert audit["orm_in_database_ms"] > 0
    assert result["audit"]["audit_root"]["figures"]["residents"] == generated["residents"]

    levels = [row["level"] for row in result["counts"]]
    assert levels == ["street", "community", "grid", "microgrid"]
    for row in result["counts"]:
        for what in ("residents", "households"):
            assert positive(row[what]["ratio"]) and row[what]["orm"]["runs"] == 2
    assert result["counts"][0]["residents"]["rows"] == generated["residents"]

    printed = out.getvalue()
    assert "Summary" in printed and "rows/s" in printed and "×" in printed
    assert ("PASS" in printed) or ("FAIL" in printed)


def test_refuses_a_database_that_holds_a_population_already(tree) -> None:
    Household.objects.create(area_id=GRID, number="H-1", address="油娄沟路1号")

    with pytest.raises(CommandError, match="fresh database"):
        run({"scale": 0.002, "within": STREET, "repeat": 1}, io.StringIO())


def test_suite_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    options = parser.parse_args(
        ["--scale", "0.5", "--seed", "7", "--within", "140302", "--sheet-households", "9"]
    )

    assert (options.scale, options.seed, options.within, options.sheet_households) == (0.5, 7, "140302", 9)
    assert parser.parse_args([]).scale == 1.0
