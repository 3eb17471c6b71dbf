"""One optional reminder per survey (`reminder_after_days`, off by default), never after an answer,
never to a customer who unsubscribed. A reminder is sent at most once: a crash while sending
leaves it `uncertain`, never resent."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import and_, or_, select, update

from ces.connectors.models import Person, Status, Ticket
from ces.worker.db.models import Answer, AnswerState, OptOut, Survey, SurveyState
from ces.worker.logs import error_text
from ces.worker.mail import MailUncertain, send_mail
from ces.worker.runtime import Runtime
from ces.worker.surveys.send import build_message, survey_mail

log = structlog.get_logger("ces.surveys")
SEND_REMINDER = "ces.send_reminder"


def due_reminders(rt: Runtime, limit: int = 500) -> list[int]:
    policies = [rt.settings.survey] + [rt.settings.survey_for(c.id) for c in rt.settings.connectors]
    days = [p.reminder_after_days for p in policies if p.reminder_after_days]
    if not days:
        return []
    now = rt.now()
    with rt.transaction() as s:
        rows = s.execute(
            select(Survey.id, Survey.connector_id, Survey.sent_at)
            .outerjoin(Answer, and_(Answer.survey_id == Survey.id, Answer.state != AnswerState.DISCARDED))
            .where(Survey.state == SurveyState.SENT, Survey.delivery == "email", Survey.reminder_state.is_(None),
                   Survey.sent_at <= now - timedelta(days=min(days)), Survey.expires_at > now, Answer.id.is_(None),
                   or_(Survey.next_try_at.is_(None), Survey.next_try_at <= now))
            .order_by(Survey.id).limit(limit)).all()
    out = []
    for survey_id, connector_id, sent_at in rows:
        after = rt.settings.survey_for(connector_id).reminder_after_days
        if after and sent_at <= now - timedelta(days=after):
            out.append(survey_id)
    return out


def send_reminder(rt: Runtime, survey_id: int) -> str | None:
    now = rt.now()
    with rt.transaction() as s:
        claimed = s.execute(update(Survey).where(Survey.id == survey_id, Survey.state == SurveyState.SENT,
                                                 Survey.reminder_state.is_(None))
                            .values(reminder_state="sending", reminder_at=now)).rowcount
        if not claimed:
            return None
        survey = s.get(Survey, survey_id)
        answered = s.scalar(select(Answer.id).where(Answer.survey_id == survey_id,
                                                    Answer.state != AnswerState.DISCARDED))
        opted_out = survey.email_hash and s.get(OptOut, survey.email_hash) is not None
    if answered or opted_out or not survey.email or (survey.expires_at and survey.expires_at <= now):
        return _done(rt, survey_id, "skipped")
    policy = rt.settings.survey_for(survey.connector_id)
    ticket = Ticket(id=survey.ticket_external_id, status=Status.SOLVED,
                    requester=Person(email=survey.email, name=survey.name, locale=survey.locale))
    try:
        send_mail(rt.settings.smtp, *build_message(rt, survey_mail(rt, policy, survey, ticket, reminder=True)))
    except MailUncertain:
        return _done(rt, survey_id, "uncertain")
    except Exception as exc:
        log.warning("reminder_failed", survey_id=survey_id, error=error_text(exc)[:200])
        return _done(rt, survey_id, "failed")
    return _done(rt, survey_id, "sent")


def _done(rt: Runtime, survey_id: int, state: str) -> str:
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == survey_id, Survey.reminder_state == "sending")
                  .values(reminder_state=state, next_try_at=None))
    log.info("reminder_" + state, survey_id=survey_id)
    return state
