"""A survey is created with its solve: one per solve, guarded by a unique key on solve_id."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from ces.worker.db.models import Solve, Survey, SurveyState, Ticket
from ces.worker.runtime import Runtime

SEND_SURVEY = "ces.send_survey"


def new_token() -> str:
    """256 random bits, URL-safe: unguessable, and the only key to a survey."""
    return secrets.token_urlsafe(32)


def create_survey(rt: Runtime, s: Session, ticket: Ticket, solve: Solve) -> Survey:
    now = rt.now()
    policy = rt.settings.survey_for(ticket.connector_id)
    conn = rt.connector_settings(ticket.connector_id)
    send_after = now + timedelta(seconds=policy.delay_seconds)
    survey = Survey(solve_id=solve.id, connector_id=ticket.connector_id, ticket_external_id=ticket.external_id,
                    token=new_token(), scale=policy.scale, delivery=policy.delivery, state=SurveyState.PENDING,
                    send_after=send_after, created_at=now, attempts=0)
    if conn is not None and not conn.enabled:
        survey.state, survey.reason = SurveyState.SKIPPED, "connector is disabled (enabled = false)"
    elif ticket.reopen_count and not policy.resurvey_after_reopen:
        survey.state = SurveyState.SKIPPED
        survey.reason = "solved again after a reopen (resurvey_after_reopen = false)"
    elif send_after <= now:
        # Enqueued right after the commit; the scheduler re-enqueues it if that push is lost.
        survey.next_try_at = now + timedelta(seconds=rt.settings.worker.requeue_after_seconds)
    else:
        survey.next_try_at = send_after
    s.add(survey)
    s.flush()
    return survey
