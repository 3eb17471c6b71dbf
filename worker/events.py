"""What a stored webhook event does to a ticket: solves, closes, reopens.

A solve is (connector, ticket, solve number). SOLVED starts a solve unless one is already open
(the same solve told twice, e.g. by a trigger and an event subscription); CLOSED counts only when
no solve was recorded since the last reopen (Zendesk closes solved tickets by itself); a change
away from solved on a ticket with an open solve is a reopen, which cancels a survey not yet sent.
Events can arrive out of order: a status change older than the last one applied is recorded
and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from ces.connectors.models import RESOLVED, EventKind, Status
from ces.worker.claims import claim_row
from ces.worker.db.models import EventState, JobKind, Solve, Survey, SurveyState, WebhookEvent
from ces.worker.jobs import schedule, schedule_all
from ces.worker.retry import GiveUp, decide
from ces.worker.rollups import mark_days, utc_day
from ces.worker.runtime import Runtime
from ces.worker.surveys.create import SEND_SURVEY, create_survey
from ces.worker.tickets import lock_ticket, update_ticket

log = structlog.get_logger("ces.events")
EVENTS, SOLVES, SURVEYS = WebhookEvent.__table__, Solve.__table__, Survey.__table__
# Built once (on every solve's path): the event's outcome, written with its claim's transaction.
_OUTCOME = update(EVENTS).where(EVENTS.c.id == bindparam("b_id"))
_NEW_SOLVE = insert(SOLVES).returning(SOLVES.c.id)


def process_event(rt: Runtime, event_id: int, due: list[int] | None = None) -> str | None:
    """Apply one stored event exactly once; returns its outcome, or None if another worker has it.
    The surveys it makes due now are queued, or added to `due` for the caller to send.

    The claim, the change and the outcome are one transaction: a failure (or a worker that dies)
    undoes all three, and the event waits for its next try as it was; a second worker's claim
    waits for the first to commit and then finds the event done."""
    event: Row | None = None
    due_now: list[int] = []
    try:
        with rt.transaction() as s:
            event = claim_row(s, WebhookEvent, event_id, ready_state=EventState.RECEIVED,
                              working_state=EventState.PROCESSING, now=rt.now(),
                              lease_seconds=rt.settings.worker.lease_seconds)
            if event is None:
                return None
            outcome, due_now = apply_event(rt, s, event)
            s.execute(_OUTCOME, dict(
                b_id=event_id, state=EventState.IGNORED if outcome.startswith("ignored") else EventState.DONE,
                outcome=outcome[:300], error=None, processed_at=rt.now(), lease_until=None, next_try_at=None))
    except Exception as exc:
        if event is None:
            raise  # the claim itself failed (the database is away): the scheduler enqueues it again
        _failed(rt, event, exc)
        return None
    if due is not None:
        due += due_now
    else:
        queue_sends(rt, due_now)
    log.info("event_processed", event_id=event_id, outcome=outcome)
    return outcome


def queue_sends(rt: Runtime, survey_ids: list[int]) -> None:
    for survey_id in survey_ids:
        rt.enqueue(SEND_SURVEY, survey_id)


def _failed(rt: Runtime, event: Row, exc: Exception) -> None:
    """Record the failed attempt; the rollback undid the claim, so its count is written here, and
    only if no other worker has claimed the event since."""
    attempt = event.attempts
    decision = decide(attempt, exc, rt.settings.worker)
    now = rt.now()
    detail = f"{type(exc).__name__}: {exc}"[:2000]
    log.warning("event_failed", event_id=event.id, attempt=attempt, error=type(exc).__name__,
                gave_up=isinstance(decision, GiveUp))
    values = dict(error=detail, lease_until=None, attempts=attempt)
    if isinstance(decision, GiveUp):
        values.update(state=EventState.FAILED, next_try_at=None, processed_at=now,
                      outcome=f"failed after {attempt} attempts")
    else:
        values.update(state=EventState.RECEIVED, next_try_at=now + timedelta(seconds=decision.delay))
    with rt.transaction() as s:
        s.execute(update(EVENTS).where(EVENTS.c.id == event.id, EVENTS.c.attempts == attempt - 1,
                                       EVENTS.c.state.in_(EventState.PENDING)).values(**values))


def apply_event(rt: Runtime, s: Session, event: Row) -> tuple[str, list[int]]:
    """Change the ticket's lifecycle; returns (outcome, ids of surveys due now). `event` is read,
    never changed (the claimed row)."""
    conn = rt.connector(event.connector_id)
    if conn is None and rt.live_connectors.check():  # added in the console a moment ago: the server that
        conn = rt.connector(event.connector_id)      # took its webhook saw it before this worker's next poll
    if conn is None:
        return "ignored: connector no longer configured", []
    if event.kind != EventKind.STATUS or not event.ticket_id or not event.status:
        return "ignored: not a status change", []
    own = getattr(conn.settings, "api_user_id", None)
    if own and event.actor_id == own:
        return "ignored: change made by ces-worker's own API user", []

    ticket = lock_ticket(s, event.connector_id, event.ticket_id, rt.now())
    status = Status(event.status)
    if ticket.status_at and event.occurred_at < ticket.status_at and ticket.status != status.value:
        return f"stale: a later status ({ticket.status}) was already applied", []
    if (status not in RESOLVED and ticket.open_solve is not None and event.previous_status
            and Status(event.previous_status) not in RESOLVED):
        # e.g. open → pending, told after the solve that followed it: not a reopen.
        return f"status {event.previous_status} → {status.value} is from before solve #{ticket.open_solve}", []
    changes: dict = {"updated_at": rt.now()}  # the ticket's row changes, written once at the end
    if ticket.status != status.value:
        changes.update(status=status.value, status_at=event.occurred_at)
    outcome, due = _lifecycle(rt, s, ticket, event, status, changes)
    update_ticket(s, ticket.id, changes)
    return outcome, due


def _lifecycle(rt: Runtime, s: Session, ticket: Row, event: Row, status: Status,
               changes: dict) -> tuple[str, list[int]]:
    if status in RESOLVED:
        if ticket.open_solve is not None:
            return f"solve #{ticket.open_solve} already recorded", []
        return _new_solve(rt, s, ticket, event, changes)
    if status == Status.DELETED:
        cancelled = _cancel_open_surveys(s, ticket.id, "ticket deleted in the helpdesk")
        changes["open_solve"] = None
        return f"ticket deleted{'; survey cancelled' if cancelled else ''}", []
    if ticket.open_solve is None:
        return f"status {status.value}; no solve to reopen", []
    return _reopen(s, ticket, event, changes), []


def _new_solve(rt: Runtime, s: Session, ticket: Row, event: Row, changes: dict) -> tuple[str, list[int]]:
    number = ticket.solve_count + 1
    solve_id = s.execute(_NEW_SOLVE, dict(ticket_pk=ticket.id, number=number, solved_at=event.occurred_at,
                                          event_id=event.id, reopened_at=None)).scalar_one()
    changes.update(solve_count=number, open_solve=number, last_solved_at=event.occurred_at)
    # The days the ticket counts in (its last solve's), before and after: their rollups are stale.
    mark_days(s, [utc_day(at) for at in (ticket.last_solved_at, event.occurred_at) if at is not None])
    # Signals for every solved ticket, surveyed or not; a re-check once the repeat window is over.
    window = timedelta(days=rt.settings.signals.repeat_window_days)
    schedule_all(s, [(JobKind.COLLECT, ticket.id, rt.now()),
                     (JobKind.RECHECK, ticket.id, max(rt.now(), event.occurred_at + window))])
    survey = create_survey(rt, s, ticket, solve_id)
    due = [survey.id] if survey.state == SurveyState.PENDING and survey.send_after <= rt.now() else []
    how = "survey due now" if due else (f"survey {survey.state}" + (f": {survey.reason}" if survey.reason else ""))
    return f"solve #{number} recorded; {how}", due


def _reopen(s: Session, ticket: Row, event: Row, changes: dict) -> str:
    number = ticket.open_solve
    s.execute(update(SOLVES).where(SOLVES.c.ticket_pk == ticket.id, SOLVES.c.number == number)
              .values(reopened_at=event.occurred_at))
    changes.update(open_solve=None, reopen_count=ticket.reopen_count + 1)
    cancelled = _cancel_open_surveys(s, ticket.id, "ticket reopened before the survey was sent")
    schedule(s, JobKind.COLLECT, ticket.id, event.received_at)  # a reopen is a new fact: assess again
    return f"reopen after solve #{number}" + ("; survey cancelled" if cancelled else "")


def _cancel_open_surveys(s: Session, ticket_pk: int, reason: str) -> int:
    solve_ids = select(SOLVES.c.id).where(SOLVES.c.ticket_pk == ticket_pk)
    return s.execute(update(SURVEYS).where(SURVEYS.c.solve_id.in_(solve_ids),
                                           SURVEYS.c.state.in_([SurveyState.PENDING, SurveyState.PREPARING]))
                     .values(state=SurveyState.CANCELLED, reason=reason, lease_until=None,
                             next_try_at=None)).rowcount
