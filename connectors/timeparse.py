"""Timestamps and numbers as helpdesks (and their senders) write them."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_FRACTION = re.compile(r"(\.\d{1,6})\d*")
# What any helpdesk can mean: a webhook's time outside these is unreadable, as garbage is. The
# bounds keep every stored time printable and every later `+ timedelta(...)` clear of year 9999.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(3000, 1, 1, tzinfo=timezone.utc)
_UNIX_DIGITS = 20  # more digits than any time in milliseconds: not a time (and int() of thousands is slow)


def is_digits(text: str) -> bool:
    """Only 0-9: str.isdigit() alone also takes "¹" and other scripts' digits, which int() refuses."""
    return text.isascii() and text.isdigit()


def in_range(at: datetime) -> bool:
    """Whether an aware time lies within what a helpdesk can mean (1970 to 2999)."""
    return EARLIEST <= at < LATEST


def from_unix(value: int | float) -> datetime | None:
    """Unix seconds (or milliseconds, when larger than any time in seconds) → aware UTC; None for
    what is no time at all (huge, negative, infinite, NaN)."""
    try:
        at = datetime.fromtimestamp(value / 1000 if value > 10_000_000_000 else value, timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return at if in_range(at) else None


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (with Z, offsets, up to nanoseconds) or Unix seconds/milliseconds → aware UTC.
    None for what is unreadable or out of range: this never raises."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_unix(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if is_digits(text):
        return from_unix(int(text)) if len(text) <= _UNIX_DIGITS else None
    try:  # the usual forms ("…T10:15:45Z", "…+02:00", up to microseconds) need no rewriting
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00").replace("z", "+00:00"),
                                                          count=1))
        except ValueError:
            return None
    try:  # 9999-12-31T23:00-05:00 is past datetime's last year once in UTC
        at = parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except OverflowError:
        return None
    return at if in_range(at) else None
