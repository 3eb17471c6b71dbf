"""A survey is created with its solve: one per solve, guarded by a unique key on solve_id."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import Row, insert
from sqlalchemy.orm import Session

from ces.worker.db.models import Survey, SurveyState
from ces.worker.runtime import Runtime

SEND_SURVEY = "ces.send_survey"


def new_token() -> str:
    """256 random bits, URL-safe: unguessable, and the only key to a survey."""
    return secrets.token_urlsafe(32)


def create_survey(rt: Runtime, s: Session, ticket: Row, solve_id: int) -> Row:
    """The solve's survey, inserted; returns its (id, state, reason, send_after). `ticket` is the
    ticket's row as the event's transaction locked it."""
    now = rt.now()
    policy = rt.settings.survey_for(ticket.connector_id)
    conn = rt.connector_settings(ticket.connector_id)
    send_after = now + timedelta(seconds=policy.delay_seconds)
    state, reason, next_try_at = SurveyState.PENDING, None, send_after
    if conn is not None and not conn.enabled:
        state, reason, next_try_at = SurveyState.SKIPPED, "connector is disabled (enabled = false)", None
    elif ticket.reopen_count and not policy.resurvey_after_reopen:
        state, next_try_at = SurveyState.SKIPPED, None
        reason = "solved again after a reopen (resurvey_after_reopen = false)"
    elif send_after <= now:
        # Enqueued right after the commit; the scheduler re-enqueues it if that push is lost.
        next_try_at = now + timedelta(seconds=rt.settings.worker.requeue_after_seconds)
    return s.execute(_INSERT, dict(
        solve_id=solve_id, connector_id=ticket.connector_id, ticket_external_id=ticket.external_id, token=new_token(),
        scale=policy.scale, delivery=policy.delivery, state=state, reason=reason, send_after=send_after,
        next_try_at=next_try_at, created_at=now, attempts=0)).one()


_SURVEYS = Survey.__table__
_INSERT = insert(_SURVEYS).returning(_SURVEYS.c.id, _SURVEYS.c.state, _SURVEYS.c.reason, _SURVEYS.c.send_after)
