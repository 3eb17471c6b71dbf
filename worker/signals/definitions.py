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

import math
from datetime import datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import NamedTuple

from pydantic import BaseModel

from ces.config.models import SignalSettings
from ces.connectors.models import RESOLVED, Actor, Channel, EntryKind, HistoryEntry, Status, TicketHistory

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


def _sort_key(e: HistoryEntry) -> Entry:
    return Entry(e.at, _KIND_ORDER[e.kind], e.value or "", e.previous or "", e.actor.value,
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


# The computation below works on plain tuples, so that `compute_signals` (models) and the rebuild's
# fast path (the stored JSON, see `signals_from_json`) share one definition. An entry is its sort
# key, an `Entry`; a contact a `ContactRow`. None and "" are alike for every signal (values,
# channels and source ids only count when non-empty).
_STATUS, _GROUP, _ASSIGNEE, _MESSAGE = (_KIND_ORDER[k] for k in (EntryKind.STATUS, EntryKind.GROUP,
                                                                  EntryKind.ASSIGNEE, EntryKind.MESSAGE))
_US, _CUSTOMER, _AGENT = Actor.US.value, Actor.CUSTOMER.value, Actor.AGENT.value


class Entry(NamedTuple):
    """A history entry as the signals read it; also its sort key (plain tuples of this shape do)."""

    at: datetime
    kind: int  # _KIND_ORDER
    value: str
    previous: str
    actor: str
    channel: str
    source_id: str


class ContactRow(NamedTuple):
    connector: str
    id: str
    created_at: datetime
    channel: str | None


class TicketFacts(NamedTuple):
    """What the signals need of the ticket besides its history entries and contacts."""

    ticket_id: str
    connector_id: str
    created_at: datetime | None
    solved_at: datetime | None
    channel: str
    counters: dict
    missing: list[str]


class _Walk(NamedTuple):
    """What one pass over the history found."""

    opened: datetime | None
    groups: list[str]
    agents: list[str]
    statuses: list[str]
    trail: list[tuple]  # the customer's messages with a channel: (at, channel)
    customer_messages: int
    first_agent: datetime | None
    waiting_since: datetime | None  # a customer message still waiting for a reply at the end
    longest_wait: float | None


def _walk(entries: list[tuple], opened: datetime | None) -> _Walk:
    """One pass over the history in order, our own changes and duplicates skipped (`normalized` does
    the same with models)."""
    seen: set = set()
    groups: list[str] = []
    agents: list[str] = []
    statuses: list[str] = []
    trail: list[tuple] = []
    customer_messages = 0
    first_agent = waiting_since = longest_wait = None
    previous = None
    for entry in sorted(entries):
        at, kind, value, _, actor, channel, source_id = entry
        # A duplicate is the same change with the same source id, or without one, the same in every
        # field: the latter sort next to each other, so the one before tells.
        if entry == previous or actor == _US:
            continue
        previous = entry
        if source_id:
            if (kind, source_id) in seen:
                continue
            seen.add((kind, source_id))
        if opened is None:
            opened = at
        if kind == _MESSAGE and actor == _CUSTOMER:
            customer_messages += 1
            waiting_since = at if waiting_since is None else waiting_since
            if channel:
                trail.append((at, channel))
        elif kind == _MESSAGE and actor == _AGENT:
            if first_agent is None and at >= opened:
                first_agent = at
            if waiting_since is not None:
                longest_wait = _longer(longest_wait, (at - waiting_since).total_seconds())
                waiting_since = None
        elif kind == _STATUS:
            statuses.append(value)
        elif kind == _GROUP and value and (not groups or groups[-1] != value):
            groups.append(value)
        elif kind == _ASSIGNEE and value and (not agents or agents[-1] != value):
            agents.append(value)
    return _Walk(opened, groups, agents, statuses, trail, customer_messages, first_agent, waiting_since, longest_wait)


def _longer(longest: float | None, wait: float) -> float:
    return wait if longest is None or wait > longest else longest


def _transfers(walk: _Walk, counters: dict) -> tuple[int, int, int]:
    """Group transfers, assignee transfers and reopens; the helpdesk's counters without entries."""
    groups = max(0, len(walk.groups) - 1) if walk.groups else max(0, int(counters.get("group_stations", 1)) - 1)
    agents = max(0, len(walk.agents) - 1) if walk.agents else max(0, int(counters.get("assignee_stations", 1)) - 1)
    reopens = _reopens(walk.statuses) if walk.statuses else int(counters.get("reopens", 0))
    return groups, agents, reopens


def _reply_delays(walk: _Walk, counters: dict, solved_at: datetime | None) -> tuple[float | None, float | None]:
    """The first agent reply after opening, and the longest a customer message waited (until the
    solve if no reply came), in seconds."""
    first_reply = None
    if walk.first_agent is not None:
        first_reply = (walk.first_agent - walk.opened).total_seconds()
    elif walk.opened and "first_reply_minutes" in counters:
        first_reply = counters["first_reply_minutes"] * 60
    longest = walk.longest_wait
    if walk.waiting_since is not None and solved_at and solved_at > walk.waiting_since:
        longest = _longer(longest, (solved_at - walk.waiting_since).total_seconds())
    return first_reply, longest


def _repeats(facts: TicketFacts, opened: datetime | None, contacts: list[tuple],
             settings: SignalSettings) -> tuple[int, int, list[tuple]]:
    """Contacts within the window before opening (and those, in time order) and after the solve."""
    if not contacts:
        return 0, 0, []
    window = timedelta(days=settings.repeat_window_days)
    others = {(c[0], c[1]): c for c in contacts if (c[0], c[1]) != (facts.connector_id, facts.ticket_id)}
    before: list[tuple] = []
    after = 0
    if opened:
        lo = opened - window
        before = sorted((c for c in others.values() if lo <= c[2] < opened), key=lambda c: (c[2], c[0], c[1]))
    if facts.solved_at:
        hi = facts.solved_at + window
        after = sum(1 for c in others.values() if facts.solved_at < c[2] <= hi)
    return len(before), after, before


def _channels(before: list[tuple], trail: list[tuple], opened: datetime | None, channel: str) -> list[str]:
    """The channels the customer used, in time order: earlier contacts, this ticket, their messages."""
    if not before and not trail:
        return [channel] if opened and channel else []
    trail = [(c[2], c[3]) for c in before] + ([(opened, channel)] if opened else []) + trail
    return collapse([ch for _, ch in sorted(trail, key=lambda t: (t[0], t[1] or "")) if ch])


def _signals(facts: TicketFacts, entries: list[tuple], contacts: list[tuple], settings: SignalSettings) -> dict:
    """Every signal, as the dict `TicketSignals.model_dump()` gives (same keys, same order), in one pass
    over the history (`entries`: `Entry`-shaped, `contacts`: `ContactRow`-shaped)."""
    walk = _walk(entries, facts.created_at)  # opened: created, or without it, the first entry's time
    opened, channel, solved_at = walk.opened, facts.channel, facts.solved_at
    group_transfers, assignee_transfers, reopens = _transfers(walk, facts.counters)
    first_reply_seconds, longest_wait = _reply_delays(walk, facts.counters, solved_at)
    target = settings.reply_targets.get(channel)
    slow_first_reply = target is not None and first_reply_seconds is not None and first_reply_seconds > target
    long_wait = target is not None and longest_wait is not None and longest_wait > target
    resolution_seconds = max(0.0, (solved_at - opened).total_seconds()) if opened and solved_at else None
    repeat_contacts, repeat_after, before = _repeats(facts, opened, contacts, settings)
    channels = _channels(before, walk.trail, opened, channel)
    return {"group_transfers": group_transfers, "assignee_transfers": assignee_transfers, "group_path": walk.groups,
            "reopens": reopens, "repeat_contacts": repeat_contacts, "repeat_after": repeat_after,
            "channels": channels, "channel_switch": len(set(channels)) > 1,
            "first_reply_seconds": first_reply_seconds, "longest_wait_seconds": longest_wait,
            "reply_target_seconds": target, "slow_first_reply": slow_first_reply, "long_wait": long_wait,
            "customer_messages": walk.customer_messages, "resolution_seconds": resolution_seconds,
            "channel": channel, "missing": facts.missing}


def compute_signals(history: TicketHistory, contacts: list[Contact], *, connector_id: str,
                    solved_at: datetime | None, settings: SignalSettings) -> TicketSignals:
    ticket = history.ticket
    keys = [_sort_key(e) for e in history.entries]
    facts = TicketFacts(ticket.id, connector_id, ticket.created_at, solved_at, ticket.channel.value,
                        history.counters, list(history.missing))
    return TicketSignals.model_construct(**_signals(
        facts, keys, [ContactRow(c.connector, c.id, c.created_at, c.channel) for c in contacts], settings))


# --- the stored JSON, read without building models (`ces signals rebuild`) -------------------------
class Unusual(ValueError):
    """Stored JSON this reader does not take as is: read it through the models instead."""


_KIND_OF = {k.value: _KIND_ORDER[k] for k in EntryKind}
_ACTORS = frozenset(a.value for a in Actor)
_CHANNELS = frozenset(c.value for c in Channel)
_STATUSES = frozenset(s.value for s in Status)
_ACTOR_OF = {a: a for a in _ACTORS}
_CHANNEL_OF = {None: "", **{c: c for c in _CHANNELS}}
_STR_OR_NONE = frozenset({str, type(None)})
_STR = frozenset({str})
_ENTRY_FIELDS = itemgetter("at", "kind", "actor", "value", "previous", "channel", "source_id")
_TEXT_FIELDS = itemgetter(3, 4, 6)
_parse_time = datetime.fromisoformat


def _time(value) -> datetime:
    if type(value) is not str:
        raise Unusual("time")
    return _parse_time(value)


def _entry_keys(entries: list[dict]) -> list[tuple]:
    raw = list(map(_ENTRY_FIELDS, entries))
    # Times, kinds, actors and channels are checked by parsing and looking them up; the free texts here.
    if not set(map(type, chain.from_iterable(map(_TEXT_FIELDS, raw)))) <= _STR_OR_NONE:
        raise Unusual("entry field")
    parse, kind_of, actor_of, channel_of = _parse_time, _KIND_OF, _ACTOR_OF, _CHANNEL_OF
    return [(parse(at), kind_of[kind], value or "", previous or "", actor_of[actor], channel_of[channel],
             source_id or "") for at, kind, actor, value, previous, channel, source_id in raw]


def signals_from_json(history: dict, contacts: list | None, *, connector_id: str, solved_at: datetime | None,
                      settings: SignalSettings) -> dict:
    """`compute_signals(TicketHistory.model_validate(history), [Contact.model_validate(c) …]).model_dump()`
    straight from the stored JSON (what `collect` stores: `TicketHistory.model_dump(mode="json")`), several
    times faster. Raises Unusual for anything it does not take as is (the caller then uses the models);
    tests/test_rebuild_fast.py proves both give the same."""
    try:
        ticket = history["ticket"]
        channel = ticket.get("channel", "other")
        ticket_id = ticket["id"]
        created = ticket.get("created_at")
        if channel not in _CHANNELS or type(ticket_id) is not str or ticket.get("status") not in _STATUSES or (
                created is not None and type(created) is not str):
            raise Unusual("ticket")
        if created is not None:
            created = _parse_time(created)
        keys = _entry_keys(history["entries"])
        counters = history.get("counters", {})
        if counters:
            for v in counters.values():
                if type(v) is not float and type(v) is not int or not math.isfinite(v):
                    raise Unusual("counter")
            counters = {k: float(v) for k, v in counters.items()}
        missing = history.get("missing", [])
        if missing and not set(map(type, missing)) <= _STR:
            raise Unusual("missing")
        others = []
        if contacts:
            for c in contacts:
                ch = c.get("channel")
                if type(c["connector"]) is not str or type(c["id"]) is not str or (
                        ch is not None and type(ch) is not str):
                    raise Unusual("contact")
                others.append((c["connector"], c["id"], _time(c["created_at"]), ch))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Unusual(f"shape: {exc!r}") from None
    facts = TicketFacts(ticket_id, connector_id, created, solved_at, channel, counters, list(missing))
    return _signals(facts, keys, others, settings)
