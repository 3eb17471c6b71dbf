"""Timestamps and numbers as helpdesks (and their senders) write them."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def is_digits(text: str) -> bool:
    """Only 0-9: str.isdigit() alone also takes "¹" and other scripts' digits, which int() refuses."""
    return text.isascii() and text.isdigit()


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (with Z, offsets, up to nanoseconds) or Unix seconds/milliseconds → aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10_000_000_000 else value
        return datetime.fromtimestamp(seconds, timezone.utc)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if is_digits(text):
        return parse_time(int(text))
    try:  # the usual forms ("…T10:15:45Z", "…+02:00", up to microseconds) need no rewriting
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00").replace("z", "+00:00"),
                                                          count=1))
        except ValueError:
            return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
