"""`grassroots bench province` on the small cut of the national divisions: both stages run, the same
nodes are measured in each, and the section lands in the document before the Load section.

The test database already holds Shanxi's Yangquan (the shared tree), so the test takes the other
province of the fixture, 北京 (11), whose one city 1101 is both stages' city: the figures and ratios
are computed as in a real run, the province simply adds no city here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.core.bench_province import BEGIN, END

pytestmark = pytest.mark.django_db

SMALL_DIVISIONS = Path(__file__).resolve().parents[2] / "areas" / "tests" / "fixtures" / "national_small"


def test_province_measures_the_same_nodes_in_both_stages(tmp_path: Path) -> None:
    docs, saved = tmp_path / "benchmarks.md", tmp_path / "province.json"
    docs.write_text("# Benchmarks\n\nProse.\n\n## Load\n\nAt the end.\n", encoding="utf-8")

    call_command(
        "bench",
        "province",
        "--source",
        str(SMALL_DIVISIONS),
        "--province-code",
        "11",
        "--first-city",
        "1101",
        "--province-scale",
        "0.05",
        "--province-requests",
        "2",
        "--province-no-snapshot",  # the snapshot closes the connection, and the test runs in a transaction
        "--repeat",
        "2",
        "--docs",
        str(docs),
        "--json",
        str(saved),
        stdout=io.StringIO(),
    )

    results = json.loads(saved.read_text(encoding="utf-8"))
    one, many = results["stages"]["one_city"], results["stages"]["province"]
    assert results["chain"][0] == "1101" and len(results["chain"]) == 6  # city down to a micro-grid
    assert one["totals"]["residents"] > 0 and many["totals"]["residents"] == one["totals"]["residents"]
    figures = {row["figure"] for row in results["comparison"]}
    assert {"area page city 1101", "floor: GET /api/v1/me"} <= figures
    assert any(f.startswith("registry page grid ") for f in figures)
    assert any(f.startswith("cockpit data community ") and f.endswith(" cold") for f in figures)
    assert (
        "count residents province 11" in figures and "count areas community " + results["chain"][3] in figures
    )
    for row in results["comparison"]:
        assert row["p50_ratio"] == row["all"]["p50_ms"] / row["one"]["p50_ms"] > 0
        assert row["per_node"] == (not row["figure"].endswith(" 11"))
    for stage in (one, many):
        assert set(stage["seconds"]) >= {"divisions", "grids", "population", "refresh", "measure", "total"}
    text = docs.read_text(encoding="utf-8")
    assert text.index("Prose.") < text.index(BEGIN) < text.index(END) < text.index("## Load")
    assert "ratio p50" in text and "grassroots bench province" in text


def test_province_wants_an_empty_tree() -> None:
    # The shared test tree holds Yangquan, in Shanxi.
    with pytest.raises(CommandError, match="fresh database"):
        call_command("bench", "province", "--source", str(SMALL_DIVISIONS), stdout=io.StringIO())
