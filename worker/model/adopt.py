"""After an adoption: the silent tickets' assessments scored again by the new model.

The tickets assessed from their signals alone (no answer) and last solved within the fit's window
are re-assessed from their stored signals, in batches, each batch one transaction that also saves
how far it got (`model-reassess:<fit id>` in app_secrets): interrupted, the next run of `ces model
fit` or of the refit resumes there. Answered tickets keep their answer's level."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ces.worker.db.models import AppSecret, AssessmentRecord, Ticket, TicketSignalsRecord
from ces.worker.model import store
from ces.worker.model.scoring import Model
from ces.worker.rollups import mark_tickets
from ces.worker.signals.effort import assessment
from ces.worker.signals.rebuild import save_position

BATCH = 500


def apply(rt, record) -> int | None:
    """After a fit: if adopted (and `model.use` is on), make it current in this process and
    re-assess the silent tickets; how many (None: nothing to apply)."""
    if not (record.adopted and rt.settings.model.use):
        return None
    store.forget(rt)
    return reassess_silent(rt, store.model_of(record), record.since)


def reassess_silent(rt, model: Model, since: datetime, *, batch: int = BATCH) -> int:
    """Re-assess the signal-only tickets last solved since `since` with `model`; returns how many."""
    key, done = f"model-reassess:{model.id}", 0
    with rt.transaction() as s:
        saved = s.get(AppSecret, key)
        cursor = int(saved.value) if saved else 0
    while True:
        with rt.transaction() as s:
            rows = _next(s, since, cursor, batch)
            if not rows:
                return done
            for ticket_pk, signals in rows:
                _rescore(s, rt, ticket_pk, signals, model)
            mark_tickets(s, [pk for pk, _ in rows])
            cursor = rows[-1][0]
            save_position(s, key, cursor)
        done += len(rows)


def _next(s: Session, since: datetime, cursor: int, batch: int) -> list[tuple[int, dict]]:
    return list(s.execute(
        select(AssessmentRecord.ticket_pk, TicketSignalsRecord.data)
        .join(Ticket, Ticket.id == AssessmentRecord.ticket_pk)
        .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == AssessmentRecord.ticket_pk)
        .where(AssessmentRecord.basis == "signals", AssessmentRecord.ticket_pk > cursor,
               Ticket.last_solved_at >= since)
        .order_by(AssessmentRecord.ticket_pk).limit(batch)).all())


def _rescore(s: Session, rt, ticket_pk: int, signals: dict, model: Model) -> None:
    level, index, reasons, _, _ = assessment(signals, None, rt.settings.effort,
                                             window_days=rt.settings.signals.repeat_window_days,
                                             many_messages=rt.settings.signals.many_customer_messages, model=model)
    s.execute(update(AssessmentRecord).where(AssessmentRecord.ticket_pk == ticket_pk).values(
        level=level, effort_index=index, model_id=model.id, assessed_at=rt.now(),
        reasons=[{"code": c, "text": t, "weight": w} for c, t, w in reasons],
        reason_codes=",".join(c for c, _, _ in reasons)[:300]))
