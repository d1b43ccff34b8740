"""`grassroots bench cases` with a few thousand cases and a few requests: every figure there, no errors.

Transactional: the gunicorn servers of the HTTP part read what the benchmark committed (on SQLite, a
copy of the in-memory test database).
"""

from __future__ import annotations

import argparse
import io
import json

import pytest

from grassroots.cases.bench import add_arguments, run
from grassroots.cases.models import Case

pytestmark = pytest.mark.django_db(transaction=True)


def positive(value) -> bool:
    return isinstance(value, float) and value > 0


def test_benchmark_sweeps_and_takes_cases_over_http(tree) -> None:
    out = io.StringIO()

    result = run({"cases": 2000, "escalations": 40, "clients": 2, "requests": 24, "repeat": 5}, out)

    json.dumps(result)
    assert result["load"]["cases"] == 2000 and result["load"]["overdue"] == 40
    assert result["load"]["events"] == 2000
    idle, escalation = result["sweep"]["idle"], result["sweep"]["escalation"]
    assert positive(idle["ratio"]) and idle["orm"]["runs"] == idle["raw"]["runs"] >= 3
    assert idle["orm"]["p99_ms"] >= idle["orm"]["median_ms"] > 0
    assert positive(escalation["ratio"]) and escalation["orm"]["runs"] >= 3
    # Both sides escalate the same cases and write the same timeline entries and notices.
    effects = escalation["effects"]
    assert effects["escalated"] == effects["events"] == effects["overdue_marked"] == 40
    assert effects["notices"] == 80  # the community staff told it is overdue, the street staff it arrived
    assert set(result["sweep"]["plans"]) >= {"warn", "overdue", "escalatable categories"}
    # Every escalation run was rolled back.
    assert not Case.objects.filter(escalations__gt=0).exists()

    intake = result["intake"]
    for side in ("app", "raw"):
        figures = intake[side]
        assert figures["errors"] == 0 and figures["error_samples"] == [], figures
        assert figures["ok"] == 24 and figures["rows_created"] >= 24
        assert positive(figures["throughput"]) and figures["p99_ms"] >= figures["p50_ms"] > 0
    assert positive(intake["ratio"])
    assert set(result["verdicts"]) == {
        "idle_ratio",
        "idle_ms",
        "escalation_ratio",
        "intake_throughput",
        "intake_p99",
        "intake_errors",
    }
    assert result["verdicts"]["intake_errors"] is True

    printed = out.getvalue()
    assert "Summary" in printed and "req/s" in printed and "×" in printed


def test_suite_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    options = parser.parse_args(["--cases", "10", "--escalations", "2", "--clients", "3", "--requests", "4"])

    assert (options.cases, options.escalations, options.clients, options.requests) == (10, 2, 3, 4)
    defaults = parser.parse_args([])
    assert (defaults.cases, defaults.escalations, defaults.clients) == (1_000_000, 10_000, 8)
