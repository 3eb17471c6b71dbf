"""Customers are matched on their normalized e-mail, kept as a keyed hash where it must outlive
the address itself (opt-outs, the fatigue rule): HMAC-SHA256 with a key this installation
generates once and keeps in its database.

Where a customer's words land: the survey (address, name), the answer (comment, clicks) and its
history (each comment), the alerts about it (customer, comment, the previous comment of an update)
and the note of whoever followed it up (it may name them), the ticket's stored history (the
requester, the subject), the webhook events (the raw body, and the ticket as a webhook described
it). `ces erase` and retention clear each of them; tests/test_erase.py scans every column of every
table the database lists, so that a place added later cannot be forgotten."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import unicodedata
from datetime import timedelta
from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ces.worker.db.models import (
    Alert,
    Answer,
    AnswerHistory,
    AppSecret,
    DailyRollup,
    EventState,
    FollowUp,
    Recipient,
    Solve,
    Survey,
    Ticket,
    TicketHistoryRecord,
    WebhookEvent,
)

HASH_KEY = "email_hash_key"
BATCH = 5000  # rows per retention pass: the scheduler applies retention every minute


def normalize_email(address: str) -> str:
    """NFKC, trimmed, lower-cased; no plus or dot stripping (they can be different people)."""
    return unicodedata.normalize("NFKC", address).strip().lower()


def installation_key(rt) -> bytes:
    cached = getattr(rt, "_hash_key", None)
    if cached:
        return cached
    with rt.transaction() as s:
        dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
        s.execute(dialect.insert(AppSecret).values(name=HASH_KEY, value=secrets.token_hex(32))
                  .on_conflict_do_nothing(index_elements=["name"]))
        value = s.scalar(select(AppSecret.value).where(AppSecret.name == HASH_KEY))
    rt._hash_key = bytes.fromhex(value)
    return rt._hash_key


def email_hash(rt, address: str | None) -> str | None:
    if not address or not address.strip():
        return None
    return hmac.new(installation_key(rt), normalize_email(address).encode(), hashlib.sha256).hexdigest()


# --- what is kept of a ticket and an alert once the person goes ---------------------------------------
def without_person(ticket: dict[str, Any] | None) -> dict[str, Any] | None:
    """A ticket as stored (a webhook's description, a history's snapshot) without the requester's
    address and name or the subject they wrote; what the signals need stays."""
    if not isinstance(ticket, dict):
        return ticket
    out = {**ticket, "subject": None} if "subject" in ticket else dict(ticket)
    if isinstance(ticket.get("requester"), dict):
        out["requester"] = {**ticket["requester"], "email": None, "name": None}
    return out


def _anonymous_alert(content: dict[str, Any]) -> dict[str, Any]:
    out = {**content, "customer": {"name": None, "email": None}, "comment": None}
    for key in ("subject", "organization"):
        if key in out:
            out[key] = None
    if isinstance(out.get("previous"), dict):
        out["previous"] = {**out["previous"], "comment": None}
    return out


def _has_person(column, *paths: tuple[str, ...]):
    """SQL: the JSON column still holds a value at one of these paths (JSON null counts as none)."""
    return or_(*(column[path].as_string().isnot(None) for path in paths))


_TICKET_PERSON = (("requester", "email"), ("requester", "name"), ("subject",))


# --- surveys, answers and the alerts about them ---------------------------------------------------------
def _survey_alerts(s: Session, survey_ids: list[int]) -> list[Alert]:
    """Alerts and updates (through their follow-up) and write-backs (by survey) of these surveys."""
    found: dict[int, Alert] = {}
    for start in range(0, len(survey_ids), 200):
        chunk = survey_ids[start:start + 200]
        found.update((a.id, a) for a in s.scalars(
            select(Alert).outerjoin(FollowUp, FollowUp.id == Alert.follow_up_id).where(or_(
                FollowUp.survey_id.in_(chunk),
                Alert.survey_id.in_(chunk)))))
    return list(found.values())


def _anonymize_surveys(s: Session, survey_ids: list[int]) -> dict[str, int]:
    """A survey keeps its score (anonymous counts for reports), not the person or their words."""
    if not survey_ids:
        return {"surveys": 0, "answers": 0, "alerts": 0}
    surveys = s.execute(update(Survey).where(Survey.id.in_(survey_ids)).values(
        email=None, name=None, email_hash=None)).rowcount
    answers = s.execute(update(Answer).where(Answer.survey_id.in_(survey_ids)).values(
        comment=None, clicks=None)).rowcount
    s.execute(update(AnswerHistory).where(AnswerHistory.survey_id.in_(survey_ids), AnswerHistory.comment.isnot(None))
              .values(comment=None))
    s.execute(update(FollowUp).where(FollowUp.survey_id.in_(survey_ids), FollowUp.followed_up_note.isnot(None))
              .values(followed_up_note=None))
    alerts = _survey_alerts(s, survey_ids)
    for alert in alerts:
        alert.content = _anonymous_alert(alert.content)
    return {"surveys": surveys, "answers": answers, "alerts": len(alerts)}


# --- erase --------------------------------------------------------------------------------------------
def _mentions(column, normalized: str):
    """SQL: the JSON column's text holds the address, in any ASCII case, written as is or with JSON's
    escapes (SQLite's JSON is stored ASCII-only)."""
    text = func.lower(cast(column, Text))
    forms = {normalized, json.dumps(normalized)[1:-1]}
    return or_(*(text.contains(form, autoescape=True) for form in forms))


def _customer_tickets(s: Session, hashed: str | None, normalized: str, solve_ids: list[int]
                      ) -> tuple[set[int], set[int]]:
    """(ticket pks, ids of the webhook events that name the address): by the requester's hash, by
    the surveys' solves, and by every webhook that names the address, surveyed or not."""
    by_person = [Ticket.requester_hash == hashed] if hashed else []
    if solve_ids:
        by_person.append(Ticket.id.in_(select(Solve.ticket_pk).where(Solve.id.in_(solve_ids))))
    keys = set(s.execute(select(Ticket.connector_id, Ticket.external_id).where(or_(*by_person))).all()) \
        if by_person else set()
    named = s.execute(select(WebhookEvent.id, WebhookEvent.connector_id, WebhookEvent.ticket_id).where(
        or_(_mentions(WebhookEvent.payload, normalized), _mentions(WebhookEvent.ticket, normalized)))).all()
    keys |= {(connector_id, ticket_id) for _, connector_id, ticket_id in named if ticket_id is not None}
    if not keys:
        return set(), {event_id for event_id, _, _ in named}
    pks = set(s.scalars(select(Ticket.id).where(tuple_(Ticket.connector_id, Ticket.external_id).in_(keys))))
    event_ids = set(s.scalars(select(WebhookEvent.id).where(
        tuple_(WebhookEvent.connector_id, WebhookEvent.ticket_id).in_(keys))))
    return pks, event_ids | {event_id for event_id, _, _ in named}


def erase(rt, address: str) -> dict[str, int]:
    """`ces erase --email`: the customer's personal data goes; answers keep only their scores; an
    opt-out stays, as the keyed hash, so that an erased customer who opted out is never surveyed."""
    hashed = email_hash(rt, address)
    normalized = normalize_email(address)
    with rt.transaction() as s:
        survey_rows = s.execute(select(Survey.id, Survey.solve_id).where(or_(
            Survey.email_hash == hashed, func.lower(func.trim(Survey.email)) == normalized))).all()
        ticket_pks, event_ids = _customer_tickets(s, hashed, normalized, [sol for _, sol in survey_rows if sol])
        counts = _anonymize_surveys(s, [sid for sid, _ in survey_rows])
        counts["histories"] = s.execute(delete(TicketHistoryRecord).where(
            TicketHistoryRecord.ticket_pk.in_(ticket_pks))).rowcount if ticket_pks else 0
        counts["tickets"] = s.execute(update(Ticket).where(Ticket.id.in_(ticket_pks)).values(
            requester_hash=None)).rowcount if ticket_pks else 0
        if ticket_pks:  # follow-up notes of their signal-only cases too (a note may name the customer)
            s.execute(update(FollowUp).where(FollowUp.ticket_pk.in_(ticket_pks)).values(followed_up_note=None))
        counts["events"] = s.execute(update(WebhookEvent).where(WebhookEvent.id.in_(event_ids)).values(
            payload=None, ticket=None, error=None)).rowcount if event_ids else 0  # error: it may quote the body
        counts["fatigue"] = s.execute(delete(Recipient).where(Recipient.email_hash == hashed)).rowcount
    return counts


# --- a connector's data ------------------------------------------------------------------------------
def erase_connector(rt, connector_id: str) -> dict[str, int]:
    """A deleted connector's data, when its delete page was told to erase it: the alerts about its
    surveys, its surveys (with their attempts, answers and answer history), follow-ups (with their
    alerts), tickets (with their jobs, histories, signals, assessments and solves: the schema's
    cascades), webhook events and daily rollups. BATCH rows per transaction, so that a large
    helpdesk never holds one long lock; counts only, never what a row said."""
    surveys = select(Survey.id).where(Survey.connector_id == connector_id)
    steps = [("alerts", Alert, Alert.survey_id.in_(surveys)), ("surveys", Survey, Survey.connector_id == connector_id),
             ("follow_ups", FollowUp, FollowUp.connector_id == connector_id),
             ("tickets", Ticket, Ticket.connector_id == connector_id),
             ("events", WebhookEvent, WebhookEvent.connector_id == connector_id),
             ("rollups", DailyRollup, DailyRollup.connector_id == connector_id)]
    return {name: _delete_in_batches(rt, model, where) for name, model, where in steps}


def _delete_in_batches(rt, model, where) -> int:
    total = 0
    while True:
        with rt.transaction() as s:
            ids = s.scalars(select(model.id).where(where).limit(BATCH)).all()
            if ids:
                s.execute(delete(model).where(model.id.in_(ids)))
        total += len(ids)
        if len(ids) < BATCH:
            return total


# --- retention ----------------------------------------------------------------------------------------
def _rewrite(s: Session, model, rows: list[dict[str, Any]]) -> int:
    """ORM bulk UPDATE by primary key: one statement for the rows' new JSON values."""
    if rows:
        s.execute(update(model), rows)
    return len(rows)


def _expired_payloads(s: Session, before) -> dict[str, int]:
    """Raw bodies, and the person in the ticket a webhook described, of events handled before."""
    handled = (WebhookEvent.received_at < before, WebhookEvent.state.notin_([*EventState.PENDING, EventState.FAILED]))
    payloads = s.execute(update(WebhookEvent).where(*handled, WebhookEvent.payload.isnot(None))
                         .values(payload=None)).rowcount
    described = s.execute(select(WebhookEvent.id, WebhookEvent.ticket).where(
        *handled, _has_person(WebhookEvent.ticket, *_TICKET_PERSON)).limit(BATCH)).all()
    return {"payloads": payloads, "descriptions": _rewrite(s, WebhookEvent, [
        {"id": pk, "ticket": without_person(ticket)} for pk, ticket in described])}


def _expired_answers(s: Session, before) -> dict[str, int]:
    """The person and words of surveys made before, and the requester in histories fetched before."""
    commented = select(Answer.id).where(Answer.survey_id == Survey.id, Answer.comment.isnot(None)).exists()
    said = select(AnswerHistory.id).where(AnswerHistory.survey_id == Survey.id, AnswerHistory.comment.isnot(None))
    old = s.scalars(select(Survey.id).where(
        or_(Survey.sent_at < before, (Survey.sent_at.is_(None)) & (Survey.created_at < before)),
        or_(Survey.email.isnot(None), Survey.name.isnot(None), commented, said.exists())).limit(BATCH)).all()
    histories = s.execute(select(TicketHistoryRecord.ticket_pk, TicketHistoryRecord.history).where(
        TicketHistoryRecord.fetched_at < before,
        _has_person(TicketHistoryRecord.history, *(("ticket", *p) for p in _TICKET_PERSON))).limit(BATCH)).all()
    notes = s.execute(update(FollowUp).where(FollowUp.created_at < before, FollowUp.followed_up_note.isnot(None))
                      .values(followed_up_note=None)).rowcount  # signal-only cases' too
    return {"answers": _anonymize_surveys(s, list(old))["surveys"], "histories": _rewrite(s, TicketHistoryRecord, [
        {"ticket_pk": pk, "history": {**history, "ticket": without_person(history.get("ticket"))}}
        for pk, history in histories]), "notes": notes}


def apply_retention(rt) -> dict[str, int]:
    """Raw webhook bodies (and the person in a webhook's ticket) after `payload_days`; the person and
    comment of answers, and the requester in stored histories, after `answer_days`."""
    r = rt.settings.retention
    now = rt.now()
    done = {"payloads": 0, "descriptions": 0, "answers": 0, "histories": 0, "notes": 0}
    with rt.transaction() as s:
        if r.payload_days:
            done.update(_expired_payloads(s, now - timedelta(days=r.payload_days)))
        if r.answer_days:
            done.update(_expired_answers(s, now - timedelta(days=r.answer_days)))
    return done
