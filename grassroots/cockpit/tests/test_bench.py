"""The cockpit benchmark at a toy size: its synthetic data is valid, its floor computes exactly what
the roll-up does, and it serves the data request (the timings themselves are not judged here)."""

from __future__ import annotations

from io import StringIO

import pytest

from grassroots.cases.models import Case
from grassroots.cockpit.bench import floor_statements, run
from grassroots.disputes.models import Dispute

pytestmark = pytest.mark.usefixtures("tree")


def test_the_benchmark_runs_and_its_floor_equals_the_rollup(world):
    out = StringIO()
    results = run({"cases": 2000, "requests": 10, "repeat": 1}, out)
    text = out.getvalue()
    assert Case.objects.filter(number__startswith="BENCH").count() == 2000
    assert Dispute.objects.filter(number__startswith="BD").count() == 100
    check = results["rollup"]["check"]
    assert check["rows"] > 0 and check["refresh_only"] == 0 and check["floor_only"] == 0, text
    assert "identical" in text
    for label in ("city", "street"):
        assert results["requests"][label]["queries"] <= 4
        assert results["requests"][label]["children"] > 0
    assert set(results["rollup"]["families"]) == {"registry", "cases", "disputes"}
    # A second run tops nothing up.
    again = run({"cases": 2000, "requests": 2, "repeat": 1}, StringIO())
    assert again["data"]["cases_before"] == 2000 and "cases_seconds" not in again["data"]


def test_synthetic_cases_respect_the_case_rules(world):
    run({"cases": 400, "requests": 1, "repeat": 1}, StringIO())
    bench = Case.objects.filter(number__startswith="BENCH")
    closed = bench.filter(status="closed")
    assert closed.exists() and not closed.filter(verified_by__isnull=True).exists()
    assert not bench.filter(satisfaction__gt=5).exists()
    assert set(bench.values_list("status", flat=True)) >= {"closed", "reported", "rejected", "verified"}
    assert bench.filter(clock="overdue").exists() and bench.filter(escalations=1, highest_level=4).exists()
    assert Dispute.objects.filter(number__startswith="BD", status="settled", settled_level=3).exists()


def test_one_statement_per_family():
    statements = floor_statements()
    assert set(statements) == {"registry", "cases", "disputes"}
    for sql, _params in statements.values():
        assert sql.count("INSERT INTO") == 1
