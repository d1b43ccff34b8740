"""``grassroots cockpit refresh|evaluate|report`` and the worker's periodic refresh."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from grassroots.audit.models import AuditEntry
from grassroots.cockpit.live import previous_month, refresh_live
from grassroots.cockpit.models import Refresh, Snapshot
from grassroots.conftest import COMMUNITY, STREET

from .conftest import value

pytestmark = pytest.mark.usefixtures("tree")


def cockpit(*args) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("cockpit", *args, stdout=out)
    return out.getvalue()


def test_refresh(world):
    month = f"{timezone.localdate():%Y-%m}"
    text = cockpit("refresh")
    assert "now: " in text and f"{month}: " in text
    assert set(Refresh.objects.values_list("period", flat=True)) == {"now", month}
    assert value("cases.open", STREET) == 3
    cockpit("refresh", "2026-Q1", "--indicator", "cases.volume")
    assert Refresh.objects.filter(period="2026-Q1").exists()
    with pytest.raises(CommandError, match="expected now, YYYY-MM or YYYY-Qn"):
        cockpit("refresh", "2026-13")
    with pytest.raises(CommandError, match="Unknown indicators: nope"):
        cockpit("refresh", "now", "--indicator", "nope")


def test_evaluate_and_publish(world, personas):
    text = cockpit("evaluate", "now", "--level", "5")
    assert "level 5" in text and "scored" in text
    snapshot = Snapshot.objects.get(period="now", scheme__level=5)
    assert snapshot.published_at is None and snapshot.scores.filter(node_id=COMMUNITY).exists()
    text = cockpit("evaluate", "now", "--level", "5", "--publish", "--by", "city_admin")
    snapshot.refresh_from_db()
    assert "published by city_admin" in text and snapshot.published_by == personas["city_admin"]
    with pytest.raises(CommandError, match="published and cannot change"):
        cockpit("evaluate", "now", "--level", "5")
    with pytest.raises(CommandError, match="not an active city administrator"):
        cockpit("evaluate", "now", "--level", "4", "--publish", "--by", "shangzhan")


def test_report(world, personas, tmp_path):
    with pytest.raises(CommandError, match="No evaluation"):
        cockpit("report", "now", STREET, "--out", str(tmp_path / "r.xlsx"))
    cockpit("evaluate", "now", "--level", "5", "--publish", "--by", "city_admin")
    text = cockpit("report", "now", STREET, "--out", str(tmp_path / "r.xlsx"))
    assert "2 scores" in text and (tmp_path / "r.xlsx").read_bytes()[:2] == b"PK"
    cockpit("report", "now", STREET, "--format", "pdf", "--out", str(tmp_path / "report.bin"))
    assert (tmp_path / "report.bin").read_bytes()[:5] == b"%PDF-"
    entries = AuditEntry.objects.filter(action="export", object_type="cockpit.evaluation", area_code=STREET)
    assert entries.count() == 2 and {e.actor_name for e in entries} == {"system"}
    with pytest.raises(CommandError, match="Say --format"):
        cockpit("report", "now", STREET, "--out", str(tmp_path / "r.txt"))
    with pytest.raises(CommandError, match="No area"):
        cockpit("report", "now", "1403999", "--out", str(tmp_path / "r.xlsx"))


def test_the_worker_keeps_the_live_figures_fresh(world, monkeypatch):
    monkeypatch.setenv("GRASSROOTS_COCKPIT_REFRESH_SECONDS", "300")
    month = f"{timezone.localdate():%Y-%m}"
    assert "now " in refresh_live() and Refresh.objects.filter(period=month).exists()
    assert refresh_live() == "fresh"  # within the interval
    later = timezone.now() + dt.timedelta(minutes=6)
    assert "now " in refresh_live(now=later)
    # The month that just ended is rebuilt once, after its end, then left alone.
    ended = previous_month(timezone.localdate())
    Refresh.objects.create(period=ended, refreshed_at=timezone.now() - dt.timedelta(days=40))
    assert f"{ended} (ended)" in refresh_live(force=True)
    assert "(ended)" not in refresh_live(force=True)


def test_previous_month():
    assert previous_month(dt.date(2026, 1, 15)) == "2025-12"
    assert previous_month(dt.date(2026, 11, 1)) == "2026-10"
