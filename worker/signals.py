"""What a ticket went through, from its normalized history: one documented definition per signal.

Pure functions of (history, the requester's other contacts, settings): the same history in any
order, or with duplicates, gives the same signals. Changes by ces-worker's own API user never count.

- transfers: the sequence of groups (teams) the ticket was in, and of agents it was assigned to,
  with repeats in a row collapsed; every change after the first assignment is a transfer, counted
  separately for groups and agents (unassignments are not). Without history entries, the helpdesk's
  own counters stand in (stations − 1).
- reopens: status changes from solved (or closed) back to new, open, pending or on-hold.
- repeat contacts: the requester's other tickets, on any connector, created within
  `repeat_window_days` before this one; after the solve, a re-check counts those created within the
  window after it ("not resolved first time").
- channel switch: the customer used more than one channel for the issue — the channels of the
  earlier contacts, of this ticket and of the customer's own messages, in time order.
- reply delays: the first agent reply after the ticket was opened, and the longest time a customer
  message waited for an agent reply (until the solve if none came), each against the ticket's
  channel target (`reply_targets`; chat 30 s, messaging 5 min, e-mail 24 h by default).
- customer messages (many of them means repeating information) and resolution time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from ces.config.models import SignalSettings
from ces.connectors.models import RESOLVED, Actor, EntryKind, HistoryEntry, Status, TicketHistory

OPEN_LIKE = frozenset({Status.NEW.value, Status.OPEN.value, Status.PENDING.value, Status.HOLD.value})
_KIND_ORDER = {EntryKind.STATUS: 0, EntryKind.GROUP: 1, EntryKind.ASSIGNEE: 2, EntryKind.MESSAGE: 3,
               EntryKind.NOTE: 4}


class Contact(BaseModel):
    """Another ticket of the same customer (this connector's API, or any connector we know)."""

    connector: str
    id: str
    created_at: datetime
    channel: str | None = None


class TicketSignals(BaseModel):
    group_transfers: int = 0
    assignee_transfers: int = 0
    group_path: list[str] = []
    reopens: int = 0
    repeat_contacts: int = 0
    repeat_after: int = 0
    channels: list[str] = []
    channel_switch: bool = False
    first_reply_seconds: float | None = None
    longest_wait_seconds: float | None = None
    reply_target_seconds: float | None = None
    slow_first_reply: bool = False
    long_wait: bool = False
    customer_messages: int = 0
    resolution_seconds: float | None = None
    channel: str | None = None
    missing: list[str] = []

    @property
    def partial(self) -> bool:
        return bool(self.missing)

    @property
    def reply_breach(self) -> bool:
        return self.slow_first_reply or self.long_wait


def _sort_key(e: HistoryEntry):
    return (e.at, _KIND_ORDER[e.kind], e.value or "", e.previous or "", e.actor.value,
            e.channel.value if e.channel else "", e.source_id or "")


def normalized(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """Sorted, duplicates removed, our own changes dropped: the order-independent history."""
    out, seen = [], set()
    for e in sorted(entries, key=_sort_key):
        if e.actor == Actor.US:
            continue
        key = (e.kind, e.source_id) if e.source_id else _sort_key(e)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def collapse(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v and (not out or out[-1] != v):
            out.append(v)
    return out


def _reopens(statuses: list[str]) -> int:
    seq = collapse(statuses)
    return sum(1 for a, b in zip(seq, seq[1:]) if a in RESOLVED and b in OPEN_LIKE)


def compute_signals(history: TicketHistory, contacts: list[Contact], *, connector_id: str,
                    solved_at: datetime | None, settings: SignalSettings) -> TicketSignals:
    entries = normalized(history.entries)
    ticket = history.ticket
    by_kind = {k: [e for e in entries if e.kind == k] for k in EntryKind}
    opened = ticket.created_at or (entries[0].at if entries else None)
    counters = history.counters
    out = TicketSignals(channel=ticket.channel.value, missing=list(history.missing))

    groups = collapse([e.value for e in by_kind[EntryKind.GROUP]])
    agents = collapse([e.value for e in by_kind[EntryKind.ASSIGNEE]])
    out.group_path = groups
    out.group_transfers = max(0, len(groups) - 1) if groups else max(0, int(counters.get("group_stations", 1)) - 1)
    out.assignee_transfers = max(0, len(agents) - 1) if agents else max(
        0, int(counters.get("assignee_stations", 1)) - 1)

    statuses = [e.value for e in by_kind[EntryKind.STATUS]]
    out.reopens = _reopens(statuses) if statuses else int(counters.get("reopens", 0))

    messages = by_kind[EntryKind.MESSAGE]
    customer = [m for m in messages if m.actor == Actor.CUSTOMER]
    agent = [m for m in messages if m.actor == Actor.AGENT]
    out.customer_messages = len(customer)
    target = settings.reply_targets.get(ticket.channel.value)
    out.reply_target_seconds = target
    if opened:
        first = next((m.at for m in agent if m.at >= opened), None)
        if first is not None:
            out.first_reply_seconds = (first - opened).total_seconds()
        elif "first_reply_minutes" in counters:
            out.first_reply_seconds = counters["first_reply_minutes"] * 60
    waits, waiting_since = [], None
    for m in messages:
        if m.actor == Actor.CUSTOMER and waiting_since is None:
            waiting_since = m.at
        elif m.actor == Actor.AGENT and waiting_since is not None:
            waits.append((m.at - waiting_since).total_seconds())
            waiting_since = None
    if waiting_since is not None and solved_at and solved_at > waiting_since:
        waits.append((solved_at - waiting_since).total_seconds())
    out.longest_wait_seconds = max(waits) if waits else None
    if target is not None:
        out.slow_first_reply = out.first_reply_seconds is not None and out.first_reply_seconds > target
        out.long_wait = out.longest_wait_seconds is not None and out.longest_wait_seconds > target
    if opened and solved_at:
        out.resolution_seconds = max(0.0, (solved_at - opened).total_seconds())

    window = timedelta(days=settings.repeat_window_days)
    others = {(c.connector, c.id): c for c in contacts if (c.connector, c.id) != (connector_id, ticket.id)}
    before = sorted((c for c in others.values() if opened and opened - window <= c.created_at < opened),
                    key=lambda c: (c.created_at, c.connector, c.id))
    out.repeat_contacts = len(before)
    if solved_at:
        out.repeat_after = sum(1 for c in others.values() if solved_at < c.created_at <= solved_at + window)
    trail = [(c.created_at, c.channel) for c in before]
    if opened:
        trail.append((opened, ticket.channel.value))
    trail += [(m.at, m.channel.value) for m in customer if m.channel]
    out.channels = collapse([ch for _, ch in sorted(trail, key=lambda t: (t[0], t[1] or "")) if ch])
    out.channel_switch = len(set(out.channels)) > 1
    return out
