"""The target time to follow up (worker/alerts/business_days.py): business days are Monday to
Friday in `alerts.timezone`, the same for the console's queue and `ces report --follow-up`."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from ces.worker.alerts.business_days import add_business_days

UTC = timezone.utc


@pytest.mark.parametrize("start, days, due", [
    ("2026-12-02 15:00", 2, "2026-12-04 15:00"),  # Wednesday → Friday
    ("2026-12-03 15:00", 2, "2026-12-07 15:00"),  # Thursday → Monday: the weekend does not count
    ("2026-12-04 15:00", 2, "2026-12-08 15:00"),  # Friday → Tuesday
    ("2026-12-05 10:00", 2, "2026-12-09 00:00"),  # Saturday: counted from Monday's start
    ("2026-12-06 23:59", 1, "2026-12-08 00:00"),  # Sunday
    ("2026-12-04 15:00", 5, "2026-12-11 15:00"),  # a whole week
])
def test_business_days_skip_the_weekend(start, days, due):
    at = datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert add_business_days(at, days, "UTC") == datetime.fromisoformat(due).replace(tzinfo=UTC)


def test_the_weekend_is_the_weekend_of_the_configured_time_zone():
    # Friday 23:30 UTC is already Saturday in Tokyo: counted from Tokyo's Monday.
    friday_night = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    assert add_business_days(friday_night, 2, "UTC") == datetime(2026, 12, 8, 23, 30, tzinfo=UTC)
    tokyo = add_business_days(friday_night, 2, "Asia/Tokyo")
    assert tokyo.astimezone(ZoneInfo("Asia/Tokyo")) == datetime(2026, 12, 9, 0, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    # Sunday 23:00 in Los Angeles is Monday 07:00 UTC: still the weekend there.
    sunday_la = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    due = add_business_days(sunday_la, 1, "America/Los_Angeles").astimezone(ZoneInfo("America/Los_Angeles"))
    assert (due.weekday(), due.hour, due.minute) == (1, 0, 0)  # Tuesday 00:00 there


def test_the_local_time_of_day_is_kept_across_a_daylight_saving_change():
    # Friday 24 Oct 2025 09:00 in Berlin (summer time, 07:00 UTC) + 2 → Tuesday 28 Oct 09:00 (winter, 08:00 UTC).
    due = add_business_days(datetime(2025, 10, 24, 7, 0, tzinfo=UTC), 2, "Europe/Berlin")
    assert due == datetime(2025, 10, 28, 8, 0, tzinfo=UTC)
