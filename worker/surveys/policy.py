"""Who gets a survey, and when. Every "no" is a reason recorded on the survey."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ces.config.models import SurveySettings
from ces.connectors.models import RESOLVED, Ticket
from ces.worker.privacy import normalize_email


def exclusion(policy: SurveySettings, ticket: Ticket) -> str | None:
    """Why this ticket never gets a survey, or None."""
    if ticket.status not in RESOLVED:
        return f"ticket is {ticket.status.value} again at send time (reopened)"
    ex = policy.exclude

    def hit(values: list[str], candidate: str | None) -> bool:
        return bool(candidate) and candidate.casefold() in {v.casefold() for v in values}

    if ex.merged and ticket.merged:
        return "ticket was closed by merging it into another"
    tags = [t for t in ticket.tags if hit(ex.tags, t)]
    if tags:
        return f"excluded tag {tags[0]!r}"
    checks = (("channel", ex.channels, ticket.channel.value), ("group", ex.groups, ticket.group),
              ("brand", ex.brands, ticket.brand), ("organization", ex.organizations, ticket.organization))
    for name, values, candidate in checks:
        if hit(values, candidate):
            return f"excluded {name} {candidate!r}"
    email = ticket.requester.email if ticket.requester else None
    if not email:
        if policy.delivery == "helpdesk":
            return None
        return "requester has no e-mail address"
    address = normalize_email(email)
    if address in {normalize_email(e) for e in ex.emails}:
        return "excluded e-mail address"
    domain = address.rpartition("@")[2]
    if domain in {d.strip().lower().lstrip("@") for d in ex.email_domains}:
        return f"excluded e-mail domain {domain!r}"
    return None


def zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(policy: SurveySettings, time_zone: str | None, now: datetime) -> datetime | None:
    """The end of the quiet hours if `now` falls inside them in the requester's time zone."""
    if policy.quiet_hours is None:
        return None
    tz = zone(time_zone, policy.timezone)
    local = now.astimezone(tz)
    start, end = _clock(policy.quiet_hours.start), _clock(policy.quiet_hours.end)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside or start == end:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(now.tzinfo)
