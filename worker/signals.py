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


# The computation below works on plain tuples, so that `compute_signals` (models) and the rebuild's
# fast path (the stored JSON, see `signals_from_json`) share one definition. An entry is its sort
# key: (at, kind order, value or "", previous or "", actor, channel or "", source_id or ""); a
# contact is (connector, id, created_at, channel). None and "" are alike for every signal (values,
# channels and source ids only count when non-empty).
_STATUS, _GROUP, _ASSIGNEE, _MESSAGE = (_KIND_ORDER[k] for k in (EntryKind.STATUS, EntryKind.GROUP,
                                                                  EntryKind.ASSIGNEE, EntryKind.MESSAGE))
_US, _CUSTOMER, _AGENT = Actor.US.value, Actor.CUSTOMER.value, Actor.AGENT.value


def _signals(keys: list[tuple], created_at: datetime | None, channel: str, ticket_id: str, counters: dict,
             missing: list[str], contacts: list[tuple], connector_id: str, solved_at: datetime | None,
             settings: SignalSettings) -> dict:
    """Every signal, as the dict `TicketSignals.model_dump()` gives (same keys, same order), in one pass
    over the normalized history (`normalized`: sorted, our own changes dropped, duplicates removed)."""
    opened = created_at  # or, without one, the first entry's time
    seen: set = set()
    groups: list[str] = []
    agents: list[str] = []
    statuses: list[str] = []
    trail: list[tuple] = []  # the customer's messages with a channel: (at, channel)
    customer_messages = 0
    first_agent = waiting_since = longest_wait = None
    previous = None
    for k in sorted(keys):
        # A duplicate is the same change with the same source id, or without one, the same in every
        # field: the latter sort next to each other, so the one before tells.
        if k == previous or k[4] == _US:
            continue
        previous = k
        if k[6]:
            key = (k[1], k[6])
            if key in seen:
                continue
            seen.add(key)
        if opened is None:
            opened = k[0]
        kind = k[1]
        if kind == _MESSAGE:
            actor = k[4]
            if actor == _CUSTOMER:
                customer_messages += 1
                if waiting_since is None:
                    waiting_since = k[0]
                if k[5]:
                    trail.append((k[0], k[5]))
            elif actor == _AGENT:
                if first_agent is None and k[0] >= opened:
                    first_agent = k[0]
                if waiting_since is not None:
                    wait = (k[0] - waiting_since).total_seconds()
                    if longest_wait is None or wait > longest_wait:
                        longest_wait = wait
                    waiting_since = None
        elif kind == _STATUS:
            statuses.append(k[2])
        elif kind == _GROUP:
            if k[2] and (not groups or groups[-1] != k[2]):
                groups.append(k[2])
        elif kind == _ASSIGNEE:
            if k[2] and (not agents or agents[-1] != k[2]):
                agents.append(k[2])
    group_transfers = max(0, len(groups) - 1) if groups else max(0, int(counters.get("group_stations", 1)) - 1)
    assignee_transfers = max(0, len(agents) - 1) if agents else max(
        0, int(counters.get("assignee_stations", 1)) - 1)
    reopens = _reopens(statuses) if statuses else int(counters.get("reopens", 0))

    first_reply_seconds = None
    if first_agent is not None:
        first_reply_seconds = (first_agent - opened).total_seconds()
    elif opened and "first_reply_minutes" in counters:
        first_reply_seconds = counters["first_reply_minutes"] * 60
    if waiting_since is not None and solved_at and solved_at > waiting_since:
        wait = (solved_at - waiting_since).total_seconds()
        if longest_wait is None or wait > longest_wait:
            longest_wait = wait
    target = settings.reply_targets.get(channel)
    slow_first_reply = long_wait = False
    if target is not None:
        slow_first_reply = first_reply_seconds is not None and first_reply_seconds > target
        long_wait = longest_wait is not None and longest_wait > target
    resolution_seconds = max(0.0, (solved_at - opened).total_seconds()) if opened and solved_at else None

    repeat_contacts = repeat_after = 0
    before: list[tuple] = []
    if contacts:
        window = timedelta(days=settings.repeat_window_days)
        others = {(c[0], c[1]): c for c in contacts if (c[0], c[1]) != (connector_id, ticket_id)}
        if opened:
            lo = opened - window
            before = sorted((c for c in others.values() if lo <= c[2] < opened), key=lambda c: (c[2], c[0], c[1]))
            repeat_contacts = len(before)
        if solved_at:
            hi = solved_at + window
            repeat_after = sum(1 for c in others.values() if solved_at < c[2] <= hi)
    if before or trail:
        trail = [(c[2], c[3]) for c in before] + ([(opened, channel)] if opened else []) + trail
        channels = collapse([ch for _, ch in sorted(trail, key=lambda t: (t[0], t[1] or "")) if ch])
    else:
        channels = [channel] if opened and channel else []
    return {"group_transfers": group_transfers, "assignee_transfers": assignee_transfers, "group_path": groups,
            "reopens": reopens, "repeat_contacts": repeat_contacts, "repeat_after": repeat_after,
            "channels": channels, "channel_switch": len(set(channels)) > 1,
            "first_reply_seconds": first_reply_seconds, "longest_wait_seconds": longest_wait,
            "reply_target_seconds": target, "slow_first_reply": slow_first_reply, "long_wait": long_wait,
            "customer_messages": customer_messages, "resolution_seconds": resolution_seconds, "channel": channel,
            "missing": missing}


def compute_signals(history: TicketHistory, contacts: list[Contact], *, connector_id: str,
                    solved_at: datetime | None, settings: SignalSettings) -> TicketSignals:
    ticket = history.ticket
    keys = [_sort_key(e) for e in history.entries]
    return TicketSignals.model_construct(**_signals(
        keys, ticket.created_at, ticket.channel.value, ticket.id, history.counters, list(history.missing),
        [(c.connector, c.id, c.created_at, c.channel) for c in contacts], connector_id, solved_at, settings))


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
    return _signals(keys, created, channel, ticket_id, counters, list(missing), others, connector_id, solved_at,
                    settings)
