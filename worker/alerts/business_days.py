"""The target time to follow up a case: business days after it opened, Monday to Friday in
`alerts.timezone` (no holiday calendar). The console's queue and `ces report --follow-up --days`
use this one definition.

N business days after a moment is the same local time of day N weekdays later: opened Friday
15:00, two business days is Tuesday 15:00. A case opened on a weekend counts from the start of
the Monday (Saturday 10:00 + 2 → Wednesday 00:00)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SATURDAY = 5


def add_business_days(start: datetime, days: int, zone: str) -> datetime:
    tz = ZoneInfo(zone)
    local = start.astimezone(tz)
    if local.weekday() >= SATURDAY:
        monday = local.date() + timedelta(days=7 - local.weekday())
        local = datetime.combine(monday, time.min, tzinfo=tz)
    day, left = local.date(), days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < SATURDAY:
            left -= 1
    return datetime.combine(day, local.time(), tzinfo=tz).astimezone(timezone.utc)


def follow_up_due(alerts, opened_at: datetime, days: int | None = None) -> datetime:
    """When a case opened at `opened_at` should be followed up (`alerts`: the [alerts] settings)."""
    return add_business_days(opened_at, alerts.follow_up_business_days if days is None else days, alerts.timezone)
