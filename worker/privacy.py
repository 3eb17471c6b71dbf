"""Customers are matched on their normalized e-mail, kept as a keyed hash where it must outlive
the address itself (opt-outs, the fatigue rule): HMAC-SHA256 with a key this installation
generates once and keeps in its database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ces.worker.db.models import AppSecret

HASH_KEY = "email_hash_key"


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


def _anonymize_surveys(s, survey_ids: list[int]) -> dict[str, int]:
    """A survey keeps its score (anonymous counts for reports), not the person or their words."""
    from sqlalchemy import update

    from ces.worker.db.models import Alert, Answer, Survey

    if not survey_ids:
        return {"surveys": 0, "answers": 0, "alerts": 0}
    surveys = s.execute(update(Survey).where(Survey.id.in_(survey_ids)).values(
        email=None, name=None, email_hash=None)).rowcount
    answers = s.execute(update(Answer).where(Answer.survey_id.in_(survey_ids)).values(
        comment=None, clicks=None)).rowcount
    alerts = 0
    from ces.worker.db.models import FollowUp

    for alert in s.scalars(select(Alert).join(FollowUp, FollowUp.id == Alert.follow_up_id)
                           .where(FollowUp.survey_id.in_(survey_ids))).all():
        alert.content = {**alert.content, "customer": {"name": None, "email": None}, "comment": None}
        alerts += 1
    return {"surveys": surveys, "answers": answers, "alerts": alerts}


def erase(rt, address: str) -> dict[str, int]:
    """`ces erase --email`: the customer's personal data goes; answers keep only their scores; an
    opt-out stays, as the keyed hash, so that an erased customer who opted out is never surveyed."""
    from sqlalchemy import delete, func, or_, update

    from ces.worker.db.models import Recipient, Solve, Survey, Ticket, TicketHistoryRecord, WebhookEvent

    hashed = email_hash(rt, address)
    normalized = normalize_email(address)
    with rt.transaction() as s:
        survey_rows = s.execute(select(Survey.id, Survey.solve_id).where(or_(
            Survey.email_hash == hashed, func.lower(func.trim(Survey.email)) == normalized))).all()
        survey_ids = [sid for sid, _ in survey_rows]
        solve_ids = [sol for _, sol in survey_rows if sol]
        ticket_pks = set(s.scalars(select(Ticket.id).where(Ticket.requester_hash == hashed)).all())
        if solve_ids:
            ticket_pks |= set(s.scalars(select(Solve.ticket_pk).where(Solve.id.in_(solve_ids))).all())
        counts = _anonymize_surveys(s, survey_ids)
        counts["histories"] = s.execute(delete(TicketHistoryRecord).where(
            TicketHistoryRecord.ticket_pk.in_(ticket_pks))).rowcount if ticket_pks else 0
        counts["tickets"] = s.execute(update(Ticket).where(Ticket.id.in_(ticket_pks)).values(
            requester_hash=None)).rowcount if ticket_pks else 0
        events = 0
        for connector_id, external_id in s.execute(select(Ticket.connector_id, Ticket.external_id)
                                                   .where(Ticket.id.in_(ticket_pks))).all() if ticket_pks else []:
            events += s.execute(update(WebhookEvent).where(
                WebhookEvent.connector_id == connector_id, WebhookEvent.ticket_id == external_id)
                .values(payload=None, ticket=None)).rowcount
        counts["events"] = events
        counts["fatigue"] = s.execute(delete(Recipient).where(Recipient.email_hash == hashed)).rowcount
    return counts


def apply_retention(rt) -> dict[str, int]:
    """Raw webhook bodies after `payload_days`; personal data of answers after `answer_days`."""
    from datetime import timedelta

    from sqlalchemy import update

    from ces.worker.db.models import Survey, WebhookEvent

    r = rt.settings.retention
    now = rt.now()
    done = {"payloads": 0, "answers": 0}
    with rt.transaction() as s:
        if r.payload_days:
            done["payloads"] = s.execute(update(WebhookEvent).where(
                WebhookEvent.received_at < now - timedelta(days=r.payload_days), WebhookEvent.payload.isnot(None),
                WebhookEvent.state.notin_(["received", "processing", "failed"]))
                .values(payload=None)).rowcount
        if r.answer_days:
            old = s.scalars(select(Survey.id).where(Survey.sent_at < now - timedelta(days=r.answer_days),
                                                     Survey.email.isnot(None)).limit(5000)).all()
            done["answers"] = _anonymize_surveys(s, list(old))["surveys"]
    return done
