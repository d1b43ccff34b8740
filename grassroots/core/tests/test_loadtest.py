"""`grassroots bench load` for a few seconds at a low rate against a real gunicorn (`serve --production`).

Transactional: the server reads what the suite seeded and committed (on SQLite, a copy of the in-memory
test database). The PostgreSQL restart is not exercised here: the test database's server is shared
with every other test run, and a restart would drop their connections. Its arithmetic is checked on
made-up results instead; the real restart is for the manual run (``--load-restart``).
"""

from __future__ import annotations

import argparse
import io
import json
from collections import Counter

import pytest
from django.core.management import load_command_class
from django.db import connection

from grassroots.cases.models import Case
from grassroots.core import loadtest
from grassroots.core.loadtest import Result, add_arguments, restart_figures, run

pytestmark = pytest.mark.django_db(transaction=True)

KINDS = {
    "area_page",
    "grid_page",
    "case_list",
    "case_page",
    "cockpit_data",
    "api_households",
    "api_cases",
    "api_cockpit",
    "api_area",
    "api_report",
    "public_cases",
    "public_form",
    "public_post",
    "public_done",
}


@pytest.fixture(autouse=True)
def _folders(settings, tmp_path):
    """The server's static files and a kept log go under the test's own folder."""
    settings.DATA_DIR = tmp_path
    settings.STATIC_ROOT = tmp_path / "static"


def test_mixed_load_against_the_production_server(tree) -> None:
    out = io.StringIO()
    options = {
        "load_duration": 6.0,
        "load_rate": 20.0,
        "load_clients": 8,
        "load_workers": 2,
        "load_floor_duration": 2.0,
        "load_scale": 0.01,
        "load_cases": 20,
    }

    result = run(options, out)

    printed = out.getvalue()
    json.dumps(result)
    # Every slot sent was one request, each answered as its kind must answer: no error at all. (A
    # busy machine may leave a few slots unsent.)
    assert result["errors"] == 0, (result["error_kinds"], printed)
    assert result["slots"] == 120
    assert result["requests"] == result["ok"] == result["slots"] - result["unsent"] >= 60
    assert set(result["statuses"]) <= {"200", "201", "302"}
    assert result["throughput"] == round(result["ok"] / 6.0, 1)
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert set(result["by_kind"]) <= KINDS and len(result["by_kind"]) >= 8
    for kind, row in result["by_kind"].items():
        assert row["errors"] == 0 and row["requests"] == row["ok"] > 0, kind
        assert 0 < row["p50_ms"] <= row["p99_ms"], kind
    assert sum(row["requests"] for row in result["by_kind"].values()) == result["requests"]
    assert {"public_form", "public_post", "public_done"} <= set(result["by_kind"])
    assert all(row["alone_p50_ms"] > 0 for row in result["by_kind"].values())  # measured in the warm-up

    # The floor: /healthz at the same rate from as many clients, to the same server.
    floor = result["floor"]
    assert floor["errors"] == 0 and floor["slots"] == 40
    assert set(floor["by_kind"]) == {"floor_healthz"} and floor["requests"] >= 20
    assert 0 < floor["p50_ms"] <= floor["p99_ms"]
    assert result["ratio"]["p50"] > 0 and result["ratio"]["p99"] > 0

    # Every write answered with success is in the database, its tracking code the case's; nothing
    # else was written (no answer was lost either).
    writes = result["writes"]
    assert writes["accepted"] >= 1 and writes["lost"] == 0 and writes["mismatched"] == 0
    assert writes["in_database"] == writes["accepted"]
    assert writes["accepted_by_kind"].get("public_report", 0) == result["by_kind"]["public_post"]["ok"]
    assert writes["tracking_codes_shown"] == result["by_kind"].get("public_done", {}).get("ok", 0)
    assert writes["accepted_by_kind"].get("api_report", 0) == result["by_kind"].get("api_report", {}).get(
        "ok", 0
    )

    assert "restart" not in result and result["target"]["errors_outside_restart"] == 0
    assert result["target"]["met"] is False  # 20 requests/s is not the 200 of the target
    assert result["settings"]["workers"] == 2 and result["settings"]["seed"]["households"] > 0
    assert result["settings"]["conn_health_checks"] is True
    assert len(result["timeline_10s"]) == 1 and result["timeline_10s"][0]["requests"] == result["requests"]

    assert "serve --production" in printed and "gunicorn, 2 sync workers" in printed
    assert (
        "floor /healthz" in printed
        and "load / floor" in printed
        and "No accepted write lost: PASS" in printed
    )
    # The suite's reports are real cases, with the public channel and the staff's.
    assert Case.objects.filter(channel="public").exists()


def test_the_mix_is_exact_per_hundred_flows() -> None:
    schedule = loadtest.mix_schedule(1)

    assert len(schedule) == sum(loadtest.MIX.values()) == 100
    assert dict(Counter(schedule)) == loadtest.MIX
    assert schedule == loadtest.mix_schedule(1) != loadtest.mix_schedule(2)


def test_restart_figures_count_the_window_and_what_follows() -> None:
    ok = [Result("api_cases", t / 10, 20.0, 200) for t in range(0, 400)]
    failed = [
        Result("area_page", 19.2, 900.0, 500, "HTTP 500"),  # under way when the restart began
        Result("case_list", 20.2, 3.0, 500, "HTTP 500"),
        Result("public_post", 22.9, 4.0, 0, "ConnectionResetError"),
        Result("grid_page", 38.0, 5.0, 500, "HTTP 500"),  # 18 s after the restart began: too late
    ]

    figures = restart_figures(sorted(ok + failed, key=lambda r: r.started), began=20.0, ended=21.5)

    assert figures["errors"] == 4 and figures["errors_later"] == 1
    assert figures["last_error_after_s"] == 18.0 and figures["recovered"] is False
    assert figures["window"]["errors"] == 3 and figures["window"]["requests"] == 153
    assert figures["per_second"][0]["t"] == 17 and figures["per_second"][3]["errors"] == 1
    assert [loadtest.in_restart_window(r, 20.0) for r in failed] == [True, True, True, False]
    assert not loadtest.in_restart_window(Result("area_page", 19.2, 700.0, 500, "HTTP 500"), 20.0)

    quick = restart_figures(sorted(ok + failed[:3], key=lambda r: r.started), began=20.0, ended=21.5)
    assert quick["recovered"] is True and quick["last_error_after_s"] == 2.9
    assert quick["took_s"] == 1.5 and quick["errors_later"] == 0


def test_suite_options_and_registration() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)

    options = parser.parse_args(
        ["--load-duration", "30", "--load-rate", "50", "--load-restart", "--load-restart-at", "10"]
    )

    assert (options.load_duration, options.load_rate, options.load_restart, options.load_restart_at) == (
        30.0,
        50.0,
        True,
        10.0,
    )
    defaults = parser.parse_args([])
    assert (defaults.load_duration, defaults.load_rate, defaults.load_restart) == (600.0, 200.0, False)
    command = load_command_class("grassroots.core", "bench")
    bench = command.create_parser("grassroots", "bench").parse_args(["load", "--load-duration", "5"])
    assert bench.suite == "load" and bench.load_duration == 5.0


def test_the_restart_needs_postgresql_on_this_machine(tree) -> None:
    if connection.vendor != "postgresql":
        with pytest.raises(SystemExit, match="not PostgreSQL"):
            run({"load_duration": 5.0, "load_restart": True}, io.StringIO())
        return
    command, data_directory = loadtest.restart_command()  # worked out, never run here
    assert "restart" in command and data_directory
