"""Working time on the Chinese calendar: statutory holidays and swapped working days (调休).

Deadlines are set in working hours (counted within the working day, ``GRASSROOTS["WORKDAY"]``,
08:30–17:30 by default) or in working days (a deadline of N working days ends at the close of the
Nth working day after the day the clock starts). Exceptions to the Monday–Friday week live in
``core.CalendarDay`` (shipped for 2025–2026; edit them as each year's notice is published).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

MAX_DAYS = 3660  # refuse to search further than ten years for a working day


@dataclass(frozen=True)
class Calendar:
    exceptions: dict[dt.date, bool]
    opens: dt.time
    closes: dt.time

    def is_workday(self, day: dt.date) -> bool:
        return self.exceptions.get(day, day.weekday() < 5)

    def _bounds(self, day: dt.date, tz) -> tuple[dt.datetime, dt.datetime]:
        return (
            dt.datetime.combine(day, self.opens, tzinfo=tz),
            dt.datetime.combine(day, self.closes, tzinfo=tz),
        )

    def add_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` of working time after ``start``."""
        tz = timezone.get_current_timezone()
        moment = timezone.localtime(start, tz)
        remaining = dt.timedelta(hours=hours)
        day = moment.date()
        for _ in range(MAX_DAYS):
            if self.is_workday(day):
                opens, closes = self._bounds(day, tz)
                begin = max(moment, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += dt.timedelta(days=1)
            moment = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        raise ValueError("no working time found within ten years")

    def add_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """Close of the ``days``-th working day after the day of ``start``."""
        tz = timezone.get_current_timezone()
        day = timezone.localtime(start, tz).date()
        counted = 0
        for _ in range(MAX_DAYS):
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                counted += 1
                if counted >= days:
                    return self._bounds(day, tz)[1]
        raise ValueError("no working day found within ten years")

    def hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours between two moments (0 if ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        tz = timezone.get_current_timezone()
        start, end = timezone.localtime(start, tz), timezone.localtime(end, tz)
        total = dt.timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_workday(day):
                opens, closes = self._bounds(day, tz)
                begin, finish = max(start, opens), min(end, closes)
                if finish > begin:
                    total += finish - begin
            day += dt.timedelta(days=1)
        return total.total_seconds() / 3600


@functools.cache
def _cached() -> Calendar:
    from .models import CalendarDay

    opens, closes = settings.GRASSROOTS.get("WORKDAY", ("08:30", "17:30"))
    return Calendar(
        exceptions=dict(CalendarDay.objects.values_list("date", "is_workday")),
        opens=dt.time.fromisoformat(opens),
        closes=dt.time.fromisoformat(closes),
    )


def calendar() -> Calendar:
    return _cached()


def forget() -> None:
    """Call after the calendar days change."""
    _cached.cache_clear()
