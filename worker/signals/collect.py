"""Collecting a ticket's history and signals, and assessing its effort.

collect: read the history through the connector (or, for a helpdesk without a history API, from
the webhooks we stored), join the history the webhooks told, find the requester's other contacts
(this helpdesk's API, and every connector we know by the keyed hash of the e-mail), store the
normalized history, compute the signals, assess. An API that fails leaves the assessment marked
partial and the job retried, so that it is completed later and never lost.
recheck: at solve + repeat window, collect again to see contacts after the solve.
assess: a new fact (an answer) re-assesses from the stored signals, without calling the helpdesk.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Row, and_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ces.connectors import base
from ces.connectors.errors import ApiError, RateLimited, Unsupported
from ces.connectors.models import EntryKind, HistoryEntry, Status, TicketHistory
from ces.connectors.models import Ticket as Ticket_
from ces.worker.db.models import (
    Answer,
    AnswerState,
    AssessmentRecord,
    JobKind,
    Solve,
    Survey,
    SurveyState,
    Ticket,
    TicketHistoryRecord,
    TicketSignalsRecord,
    WebhookEvent,
)
from ces.worker.jobs import schedule
from ces.worker.model.store import in_use
from ces.worker.privacy import email_hash
from ces.worker.retry import Permanent, Transient
from ces.worker.rollups import mark_days, utc_day
from ces.worker.runtime import Runtime
from ces.worker.signals.definitions import Contact, TicketSignals, compute_signals
from ces.worker.signals.effort import Assessment, assess
from ces.worker.surveys.send import read_ticket
from ces.worker.tickets import update_ticket

log = structlog.get_logger("ces.signals")


class Incomplete(Transient):
    """The history could not be read completely; what was read is stored, the rest is retried."""


class IncompleteRateLimited(RateLimited):
    """Incomplete because the helpdesk (or the shared rate limit) said to wait: the job is retried
    after Retry-After, with a rate limit's patience, never sooner."""


def _upsert(s: Session, model, values: dict, key: str = "ticket_pk") -> None:
    s.execute(_upserting(s.bind.dialect.name, model.__table__, tuple(values), key), values)


@functools.cache
def _upserting(dialect_name: str, table, columns: tuple[str, ...], key: str):
    """Built once per table and set of columns: the signals job writes three rows per solve."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    ins = dialect.insert(table)
    return ins.on_conflict_do_update(index_elements=[key], set_={k: ins.excluded[k] for k in columns if k != key})


def _webhook_entries(rt: Runtime, connector_id: str, ticket_id: str, kinds: frozenset[EntryKind]) -> list[HistoryEntry]:
    if not kinds:
        return []
    with rt.transaction() as s:
        stored = s.scalars(select(WebhookEvent.entries).where(
            WebhookEvent.connector_id == connector_id, WebhookEvent.ticket_id == ticket_id,
            WebhookEvent.entries.isnot(None))).all()
    entries = [HistoryEntry.model_validate(e) for batch in stored if batch for e in batch]
    return [e for e in entries if e.kind in kinds]


def _history(rt: Runtime, ticket: Ticket, just_read: Ticket_ | None, waits: list[float]) -> TicketHistory:
    conn = rt.connector(ticket.connector_id)
    if conn is None:
        raise Permanent(f"connector {ticket.connector_id!r} is no longer configured")
    try:
        if base.HISTORY in conn.capabilities:
            history = conn.fetch_history(ticket.external_id, just_read)
            from_webhooks = conn.history_from_webhooks
        else:
            history = TicketHistory(ticket=just_read or read_ticket(rt, ticket.connector_id, ticket.external_id))
            from_webhooks = frozenset(EntryKind)
    except ApiError as exc:
        if exc.permanent:
            raise
        if isinstance(exc, RateLimited):
            waits.append(exc.retry_after)
        # Assess with what we have now (marked partial); the job retries for the rest.
        history = _stored_history(rt, ticket.id) or TicketHistory(
            ticket=just_read or Ticket_(id=ticket.external_id, status=Status.SOLVED, channel=ticket.channel or "other",
                                        created_at=ticket.opened_at),
            counters={"reopens": float(ticket.reopen_count)})
        history.missing = [m for m in history.missing if "(retrying)" not in m]
        history.missing.append(f"history: {_failed(exc)} (retrying)")
        from_webhooks = frozenset(EntryKind) if base.HISTORY not in conn.capabilities else conn.history_from_webhooks
    history.entries = history.entries + _webhook_entries(rt, ticket.connector_id, ticket.external_id, from_webhooks)
    return history


def _failed(exc: Exception) -> str:
    """What is missing and why, short: `ces flags` says "signals incomplete: helpdesk unreachable
    (connection refused)" from these words."""
    if isinstance(exc, ApiError):
        return f"helpdesk {exc.cause}" if exc.cause else exc.detail
    return str(exc)


def _stored_history(rt: Runtime, ticket_pk: int) -> TicketHistory | None:
    with rt.transaction() as s:
        record = s.get(TicketHistoryRecord, ticket_pk)
    return TicketHistory.model_validate(record.history) if record else None


def _contacts(rt: Runtime, ticket: Ticket, history: TicketHistory, opened: datetime | None,
              waits: list[float]) -> tuple[list[Contact], list[str]]:
    """The requester's other tickets as the helpdesk tells them (and what could not be read)."""
    window = timedelta(days=rt.settings.signals.repeat_window_days)
    contacts: list[Contact] = []
    missing: list[str] = []
    if opened is None:
        return contacts, missing
    conn = rt.connector(ticket.connector_id)
    requester = history.ticket.requester
    if conn is not None and base.RECENT in conn.capabilities and requester and (requester.id or requester.email):
        try:
            for other in conn.recent_tickets(requester, opened - window):
                if other.created_at:
                    contacts.append(Contact(connector=ticket.connector_id, id=other.id, created_at=other.created_at,
                                            channel=other.channel.value))
        except (ApiError, Unsupported) as exc:
            transient = isinstance(exc, ApiError) and not exc.permanent
            if isinstance(exc, RateLimited):
                waits.append(exc.retry_after)
            missing.append(f"requester's other tickets: {_failed(exc)}"
                           + (" (retrying)" if transient else ""))
    return contacts, missing


def _known_contacts(rt: Runtime, s: Session, ticket: Ticket, requester_hash: str | None, opened: datetime | None,
                    solved: datetime | None) -> list[Contact]:
    """The requester's other tickets we know, in every connector (a customer who wrote here and
    called there); read in the transaction that stores the signals."""
    if opened is None or not requester_hash:
        return []
    window = timedelta(days=rt.settings.signals.repeat_window_days)
    rows = s.execute(_KNOWN_CONTACTS, {"b_hash": requester_hash, "b_id": ticket.id, "b_from": opened - window,
                                       "b_to": (solved or opened) + window}).all()
    return [Contact(connector=c, id=i, created_at=at, channel=ch) for c, i, at, ch in rows]


def collect(rt: Runtime, ticket_pk: int, just_read: tuple[Ticket_, datetime] | None = None) -> str:
    """`just_read`: the ticket as the helpdesk told it a moment ago (the survey's send read it) and
    when; used instead of reading it again unless an event has changed the ticket since (a reopen)."""
    with rt.transaction() as s:
        ticket = s.execute(_TICKET, {"b_id": ticket_pk}).one()
    fresh = just_read[0] if just_read and ticket.updated_at <= just_read[1] else None
    waits: list[float] = []  # Retry-After of every rate limit met on the way
    history = _history(rt, ticket, fresh, waits)
    snapshot = history.ticket
    requester_hash = email_hash(rt, snapshot.requester.email if snapshot.requester else None)
    opened = snapshot.created_at or ticket.opened_at
    contacts, missing = _contacts(rt, ticket, history, opened, waits)
    history.missing += missing
    now = rt.now()
    with rt.transaction() as s:  # one transaction reads what we know and writes what was found
        contacts += _known_contacts(rt, s, ticket, requester_hash, opened, ticket.last_solved_at)
        signals = compute_signals(history, contacts, connector_id=ticket.connector_id,
                                  solved_at=ticket.last_solved_at, settings=rt.settings.signals)
        found = dict(requester_hash=requester_hash, channel=snapshot.channel.value, opened_at=opened)
        if snapshot.group or snapshot.assignee or snapshot.url:  # a partial history keeps what we knew
            found.update(group_name=snapshot.group, assignee=snapshot.assignee, brand=snapshot.brand,
                         ticket_url=snapshot.url,
                         assignee_email=snapshot.assignee_email.strip().lower() if snapshot.assignee_email else None)
        # Its rollup days (these columns are the rows' team and agent) are marked with the assessment's.
        update_ticket(s, ticket_pk, found)
        _upsert(s, TicketHistoryRecord, dict(ticket_pk=ticket_pk, fetched_at=now,
                                             history=history.model_dump(mode="json"),
                                             contacts=[c.model_dump(mode="json") for c in contacts]))
        _store_signals(s, ticket_pk, signals, now)
        assessment = _assess(rt, s, ticket, signals)
    log.info("signals_collected", ticket=ticket_pk, level=assessment.level, index=assessment.index,
             partial=signals.partial)
    retrying = [m for m in history.missing if "(retrying)" in m]
    if retrying and waits:
        raise IncompleteRateLimited("; ".join(retrying), retry_after=max(waits))
    if retrying:
        raise Incomplete("; ".join(retrying))
    return f"{assessment.level} ({assessment.index})"


def recheck(rt: Runtime, ticket_pk: int) -> str:
    with rt.transaction() as s:
        schedule(s, JobKind.COLLECT, ticket_pk, rt.now())
    return "collect scheduled"


def reassess(rt: Runtime, ticket_pk: int) -> str:
    with rt.transaction() as s:
        record = s.get(TicketSignalsRecord, ticket_pk)
        if record is None:
            return "no signals yet: the collect job assesses"
        ticket = s.execute(_TICKET, {"b_id": ticket_pk}).one()
        assessment = _assess(rt, s, ticket, TicketSignals.model_validate(record.data))
    return f"{assessment.level} ({assessment.index})"


def _store_signals(s: Session, ticket_pk: int, sig: TicketSignals, now: datetime) -> None:
    _upsert(s, TicketSignalsRecord, dict(
        ticket_pk=ticket_pk, computed_at=now, group_transfers=sig.group_transfers,
        assignee_transfers=sig.assignee_transfers, reopens=sig.reopens, repeat_contacts=sig.repeat_contacts,
        repeat_after=sig.repeat_after, channel_switch=sig.channel_switch, reply_breach=sig.reply_breach,
        customer_messages=sig.customer_messages, first_reply_seconds=sig.first_reply_seconds,
        longest_wait_seconds=sig.longest_wait_seconds, resolution_seconds=sig.resolution_seconds,
        partial=sig.partial, data=sig.model_dump(mode="json")))


def latest_answer(s: Session, ticket_pk: int) -> tuple[int | None, tuple[int, str] | None]:
    """The ticket's latest survey that reached the customer, and its confirmed answer."""
    survey_id, answer, _ = _surveys_of(s, ticket_pk)
    return survey_id, answer


def _surveys_of(s: Session, ticket_pk: int) -> tuple[int | None, tuple[int, str] | None, list[datetime]]:
    """latest_answer's two, and when each of the ticket's surveys was sent, in one statement."""
    rows = s.execute(_SURVEYS_OF, {"b_ticket": ticket_pk}).all()
    sent = [row.sent_at for row in rows if row.sent_at is not None]
    reached = [row for row in rows if row.state in SurveyState.REACHED]
    if not reached:
        return None, None, sent
    latest = reached[0]
    return latest.id, ((latest.score, latest.scale) if latest.score is not None else None), sent


def _assess(rt: Runtime, s: Session, ticket: Row, signals: TicketSignals) -> Assessment:
    survey_id, answer, sent = _surveys_of(s, ticket.id)
    model = in_use(rt, s)
    result = assess(signals, answer, rt.settings.effort, window_days=rt.settings.signals.repeat_window_days,
                    many_messages=rt.settings.signals.many_customer_messages, model=model)
    _upsert(s, AssessmentRecord, dict(
        ticket_pk=ticket.id, survey_id=survey_id, level=result.level, effort_index=result.index, basis=result.basis,
        partial=result.partial, reasons=[r.model_dump(exclude_none=True) for r in result.reasons],
        reason_codes=",".join(r.code for r in result.reasons)[:300], assessed_at=rt.now(),
        model_id=model.id if model else None))
    # As rollups.mark_tickets: the day it was last solved and the days its surveys were sent, read
    # with the answer instead of again.
    mark_days(s, [utc_day(at) for at in (ticket.last_solved_at, *sent) if at is not None])
    return result


_T, _SV, _SO, _A = Ticket.__table__, Survey.__table__, Solve.__table__, Answer.__table__
_TICKET = select(_T).where(_T.c.id == bindparam("b_id"))
_KNOWN_CONTACTS = select(_T.c.connector_id, _T.c.external_id, _T.c.opened_at, _T.c.channel).where(
    _T.c.requester_hash == bindparam("b_hash"), _T.c.id != bindparam("b_id"),
    _T.c.opened_at >= bindparam("b_from"), _T.c.opened_at <= bindparam("b_to"))
_SURVEYS_OF = (select(_SV.c.id, _SV.c.state, _SV.c.sent_at, _A.c.score, _A.c.scale)
               .join(_SO, _SO.c.id == _SV.c.solve_id)
               .outerjoin(_A, and_(_A.c.survey_id == _SV.c.id, _A.c.state == AnswerState.CONFIRMED))
               .where(_SO.c.ticket_pk == bindparam("b_ticket"))
               .order_by(_SO.c.number.desc()))
