"""`ces signals rebuild`: recompute signals and assessments from the stored histories, in batches,
without calling any helpdesk (e.g. after changing [signals] or [effort]). It remembers how far it
got, so that an interrupted rebuild resumes where it stopped."""

from __future__ import annotations

import time
from datetime import date

import typer
from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ces.connectors.models import TicketHistory
from ces.worker.db.models import (
    Answer,
    AnswerState,
    AppSecret,
    AssessmentRecord,
    Solve,
    Survey,
    SurveyState,
    Ticket,
    TicketHistoryRecord,
    TicketSignalsRecord,
)
from ces.worker.effort import assess
from ces.worker.reports import day_start
from ces.worker.runtime import Runtime
from ces.worker.signals import Contact, compute_signals


def _answers(s, ticket_ids: list[int]) -> dict[int, tuple[int, tuple[int, str] | None]]:
    """For each ticket, its latest survey that reached the customer and that survey's answer."""
    rows = s.execute(select(Solve.ticket_pk, Solve.number, Survey.id, Answer.score, Answer.scale)
                     .join(Survey, Survey.solve_id == Solve.id)
                     .outerjoin(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
                     .where(Solve.ticket_pk.in_(ticket_ids),
                            Survey.state.in_(SurveyState.REACHED))).all()
    latest: dict[int, tuple[int, int, tuple[int, str] | None]] = {}
    for ticket_pk, number, survey_id, score, scale in rows:
        if ticket_pk not in latest or number > latest[ticket_pk][0]:
            latest[ticket_pk] = (number, survey_id, (score, scale) if score is not None else None)
    return {k: (v[1], v[2]) for k, v in latest.items()}


def _upsert_many(s, model, rows: list[dict]) -> None:
    if not rows:
        return
    dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
    ins = dialect.insert(model)
    s.execute(ins.on_conflict_do_update(index_elements=["ticket_pk"],
                                        set_={k: ins.excluded[k] for k in rows[0] if k != "ticket_pk"}), rows)


def rebuild_batch(rt: Runtime, rows, now) -> tuple[list[dict], list[dict]]:
    sig_settings, effort = rt.settings.signals, rt.settings.effort
    signals_rows, assessment_rows = [], []
    with rt.transaction() as s:
        answers = _answers(s, [r.id for r in rows])
    for r in rows:
        history = TicketHistory.model_validate(r.history)
        contacts = [Contact.model_validate(c) for c in r.contacts or []]
        sig = compute_signals(history, contacts, connector_id=r.connector_id, solved_at=r.last_solved_at,
                              settings=sig_settings)
        survey_id, answer = answers.get(r.id, (None, None))
        result = assess(sig, answer, effort, window_days=sig_settings.repeat_window_days,
                        many_messages=sig_settings.many_customer_messages)
        signals_rows.append(dict(
            ticket_pk=r.id, computed_at=now, group_transfers=sig.group_transfers,
            assignee_transfers=sig.assignee_transfers, reopens=sig.reopens, repeat_contacts=sig.repeat_contacts,
            repeat_after=sig.repeat_after, channel_switch=sig.channel_switch, reply_breach=sig.reply_breach,
            customer_messages=sig.customer_messages, first_reply_seconds=sig.first_reply_seconds,
            longest_wait_seconds=sig.longest_wait_seconds, resolution_seconds=sig.resolution_seconds,
            partial=sig.partial, data=sig.model_dump(mode="json")))
        assessment_rows.append(dict(
            ticket_pk=r.id, survey_id=survey_id, level=result.level, effort_index=result.index, basis=result.basis,
            partial=result.partial, reasons=[x.model_dump() for x in result.reasons],
            reason_codes=",".join(x.code for x in result.reasons)[:300], assessed_at=now))
    return signals_rows, assessment_rows


def rebuild(rt: Runtime, since: date, *, restart: bool = False, batch: int = 2000,
            progress: bool = False) -> tuple[int, int, float]:
    key = f"rebuild:{since.isoformat()}"
    start = day_start(since)
    with rt.transaction() as s:
        saved = s.get(AppSecret, key)
        cursor = 0 if restart or saved is None else int(saved.value)
        scope = (Ticket.last_solved_at >= start, Ticket.id > cursor)
        total = s.scalar(select(func.count()).select_from(Ticket)
                         .join(TicketHistoryRecord, TicketHistoryRecord.ticket_pk == Ticket.id).where(*scope))
    done, began = 0, time.perf_counter()
    bar = typer.progressbar(length=total, label="rebuilding", file=None) if progress and total else None
    try:
        if bar:
            bar.__enter__()
        while True:
            with rt.transaction() as s:
                rows = s.execute(select(Ticket.id, Ticket.connector_id, Ticket.last_solved_at,
                                        TicketHistoryRecord.history, TicketHistoryRecord.contacts)
                                 .join(TicketHistoryRecord, TicketHistoryRecord.ticket_pk == Ticket.id)
                                 .where(Ticket.last_solved_at >= start, Ticket.id > cursor)
                                 .order_by(Ticket.id).limit(batch)).all()
            if not rows:
                break
            signals_rows, assessment_rows = rebuild_batch(rt, rows, rt.now())
            cursor = rows[-1].id
            with rt.transaction() as s:
                _upsert_many(s, TicketSignalsRecord, signals_rows)
                _upsert_many(s, AssessmentRecord, assessment_rows)
                _save_cursor(s, key, cursor)
            done += len(rows)
            if bar:
                bar.update(len(rows))
    finally:
        if bar:
            bar.__exit__(None, None, None)
    with rt.transaction() as s:  # finished: a later rebuild of the same range starts over
        s.query(AppSecret).filter(AppSecret.name == key).delete()
    return total, done, time.perf_counter() - began


def _save_cursor(s, key: str, cursor: int) -> None:
    dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
    ins = dialect.insert(AppSecret).values(name=key, value=str(cursor))
    s.execute(ins.on_conflict_do_update(index_elements=["name"], set_={"value": ins.excluded.value}))
