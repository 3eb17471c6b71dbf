"""The date range and filters every report page takes from its URL, and how numbers read there.

`from` and `to` are days, both included (a person's way to say a range); the queries take [since,
until) with until the day after `to`, as `ces report --since --until` does. Without them: the last 30
days, today included (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import Request

from ces.worker.queries.ces import Filters, previous_period
from ces.worker.queries.reports import default_range
from ces.worker.surveys.scales import SCALES

FILTER_NAMES = ("connector", "channel", "group", "agent", "language")
# The days a filter may name: any helpdesk's history fits, and a range, the period of the same length
# before it and the day after its end are always dates (a year typed as 0026 would overflow them).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class Range:
    since: date
    until: date  # exclusive
    filters: Filters
    unread: tuple[str, ...] = ()  # the days given that are not days (`from`, `to`): the page says so

    @property
    def last_day(self) -> date:
        return self.until - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.until - self.since).days

    @property
    def previous(self) -> tuple[date, date]:
        return previous_period(self.since, self.until)

    def params(self, **extra) -> dict[str, str]:
        values = {"from": self.since.isoformat(), "to": self.last_day.isoformat(), **self.filters.query(), **extra}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def url(self, path: str, **extra) -> str:
        """A page's URL for this range and filters (the drill-down links)."""
        return f"{path}?{urlencode(self.params(**extra))}"


def a_day(value: str, *, exclusive_end: bool = False) -> date:
    """A day from a query parameter, between FIRST_DAY and LAST_DAY (the day after it, for the end
    of a range that excludes it: the API's `until`); ValueError if it is not one."""
    day = date.fromisoformat(value)
    if not FIRST_DAY <= day <= LAST_DAY + timedelta(days=exclusive_end):
        raise ValueError(f"{value} is outside {FIRST_DAY} to {LAST_DAY}")
    return day


def day_or_none(value: str | None) -> date | None:
    """A day from a query parameter; what is not one is no day (the page keeps its default)."""
    try:
        return a_day(value) if value else None
    except ValueError:
        return None


def range_of(request: Request, caller) -> Range:
    """From the query string; what does not parse is left at its default. An agent's own numbers
    are theirs already: the agent filter is not theirs to set."""
    q = request.query_params
    since, until = default_range(request.app.state.rt.now().date())
    first, last = day_or_none(q.get("from")), day_or_none(q.get("to"))
    unread = tuple(q[name][:40] for name, day in (("from", first), ("to", last)) if q.get(name) and day is None)
    if first and last and first > last:
        first, last = last, first
    if last:
        until = last + timedelta(days=1)
    if first:
        since = first
    elif last:
        since = max(until - timedelta(days=30), FIRST_DAY)
    scale = q.get("scale") if q.get("scale") in SCALES else "ces7"
    chosen = {name: (q.get(name) or "").strip()[:320] or None for name in FILTER_NAMES}
    if caller.role == "agent":
        chosen["agent"] = None
    return Range(since, until, Filters(scale=scale, **chosen), unread)


def percent(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def points(change: float | None) -> str:
    """A change of a share, in percentage points."""
    return "" if change is None else f"{change * 100:+.1f} pts"


def change(now, before) -> float | None:
    return None if now is None or before is None else now - before
