"""Keeping the cockpit's live figures fresh: the worker calls :func:`refresh_live` every round.

Every ``GRASSROOTS_COCKPIT_REFRESH_SECONDS`` (default 300) it rebuilds ``now`` and the current month.
The first round of a new month also rebuilds the month that just ended, once: state indicators (open
cases, active disputes by colour, residents) are what they are at the moment of the refresh, so a
month's last refresh is what its figures keep.
"""

from __future__ import annotations

import datetime as dt
import os

from django.utils import timezone

from .indicators import Period
from .models import Refresh
from .rollup import refresh

DEFAULT_SECONDS = 300


def interval() -> float:
    return float(os.environ.get("GRASSROOTS_COCKPIT_REFRESH_SECONDS") or DEFAULT_SECONDS)


def previous_month(today: dt.date) -> str:
    first = today.replace(day=1)
    return f"{first - dt.timedelta(days=1):%Y-%m}"


def refresh_live(*, force: bool = False, now: dt.datetime | None = None) -> str:
    """Rebuild ``now`` and the current month when they are older than the interval; say what was done."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    month = f"{today:%Y-%m}"
    last = dict(Refresh.objects.values_list("period", "refreshed_at"))
    done = []
    stale = force or last.get("now") is None or (now - last["now"]).total_seconds() >= interval()
    if stale:
        for period in ("now", month):
            record = refresh(period)
            done.append(f"{period} {record.rows} rows {record.seconds:.2f} s")
    ended = previous_month(today)
    month_start = Period.parse(month).since
    if ended in last and month_start is not None and last[ended] < month_start:
        record = refresh(ended)  # its final figures, once, after it ended
        done.append(f"{ended} (ended) {record.rows} rows {record.seconds:.2f} s")
    return "; ".join(done) or "fresh"
