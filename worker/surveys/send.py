"""Sending a survey: exactly one per solve.

claim (pending → preparing, leased) → read the ticket and requester back from the helpdesk →
policy → render → mark `sending` (committed) → hand to SMTP → `sent`. A crash before `sending`
is retried by the next worker once the lease expires; a crash after it leaves the survey
`uncertain`, listed for admins and never resent automatically.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import update

from ces.connectors.errors import ApiError
from ces.connectors.models import RESOLVED, Ticket
from ces.worker.claims import claim
from ces.worker.db.models import Survey, SurveyAttempt, SurveyState
from ces.worker.i18n import negotiate
from ces.worker.mail import MailUncertain, send_mail
from ces.worker.retry import GiveUp, Permanent, Transient, decide
from ces.worker.runtime import Runtime
from ces.worker.surveys.render import SurveyMail
from ces.worker.surveys.scales import scale_of

log = structlog.get_logger("ces.surveys")


class Skip(Exception):
    """Policy says no; the reason is recorded on the survey."""


def send_survey(rt: Runtime, survey_id: int) -> str | None:
    now = rt.now()
    with rt.transaction() as s:
        attempt = claim(s, Survey, survey_id, ready=Survey.send_after <= now, ready_state=SurveyState.PENDING,
                        working_state=SurveyState.PREPARING, now=now,
                        lease_seconds=rt.settings.worker.lease_seconds)
        if attempt is None:
            return None
        survey = s.get(Survey, survey_id)
        s.add(SurveyAttempt(survey_id=survey_id, number=attempt, started_at=now, outcome="started"))
    try:
        ticket = _read_ticket(rt, survey)
        _policy(rt, survey, ticket)
        mail = _mail(rt, survey, ticket)
    except Skip as exc:
        return _finish(rt, survey, attempt, SurveyState.SKIPPED, str(exc))
    except Exception as exc:
        return _retry_or_fail(rt, survey, attempt, exc)

    settings = rt.settings
    message = mail.message(sender=settings.smtp.sender, reply_to=settings.smtp.reply_to)
    requester = ticket.requester
    with rt.transaction() as s:
        # The point of no return: from here a crash leaves the survey uncertain.
        moved = s.execute(update(Survey).where(Survey.id == survey_id, Survey.state == SurveyState.PREPARING,
                                               Survey.attempts == attempt)
                          .values(state=SurveyState.SENDING, email=requester.email, name=requester.name,
                                  locale=mail.locale, assignee=ticket.assignee, group_name=ticket.group,
                                  channel=ticket.channel.value, ticket_url=ticket.url,
                                  message_id=message["Message-ID"],
                                  lease_until=rt.now() + timedelta(seconds=settings.worker.lease_seconds))
                          ).rowcount
    if not moved:
        return None  # our lease expired and another worker took over
    try:
        send_mail(settings.smtp, message)
    except MailUncertain as exc:
        return _finish(rt, survey, attempt, SurveyState.UNCERTAIN, str(exc), from_state=SurveyState.SENDING)
    except Exception as exc:
        return _retry_or_fail(rt, survey, attempt, exc, from_state=SurveyState.SENDING)
    sent_at = rt.now()
    return _finish(rt, survey, attempt, SurveyState.SENT, None, from_state=SurveyState.SENDING,
                   sent_at=sent_at, expires_at=sent_at + timedelta(days=settings.survey.response_days))


def _read_ticket(rt: Runtime, survey: Survey) -> Ticket:
    conn = rt.connector(survey.connector_id)
    if conn is None:
        raise Permanent(f"connector {survey.connector_id!r} is no longer configured")
    return conn.fetch_ticket(survey.ticket_external_id)


def _policy(rt: Runtime, survey: Survey, ticket: Ticket) -> None:
    if ticket.status not in RESOLVED:
        raise Skip(f"ticket is {ticket.status.value} again at send time (reopened)")
    if not ticket.requester or not ticket.requester.email:
        raise Skip("requester has no e-mail address")
    conn = rt.settings.connector(survey.connector_id)
    if conn is not None and conn.dry_run:
        raise Skip("dry run: would have sent the survey; sent nothing")


def _mail(rt: Runtime, survey: Survey, ticket: Ticket) -> SurveyMail:
    settings = rt.settings
    locale = negotiate(ticket.requester.locale, settings.survey.default_locale)
    expires_at = rt.now() + timedelta(days=settings.survey.response_days)
    return SurveyMail(to_email=ticket.requester.email, to_name=ticket.requester.name, ticket_id=ticket.id,
                      subject_line=ticket.subject, token=survey.token, scale=scale_of(survey.scale),
                      locale=locale, company=settings.survey.company, public_url=settings.public_url,
                      expires_at=expires_at)


def _finish(rt: Runtime, survey: Survey, attempt: int, state: str, reason: str | None, *,
            from_state: str = SurveyState.PREPARING, **values) -> str:
    now = rt.now()
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == survey.id, Survey.state == from_state, Survey.attempts == attempt)
                  .values(state=state, reason=reason, lease_until=None, next_try_at=None, **values))
        s.execute(update(SurveyAttempt).where(SurveyAttempt.survey_id == survey.id, SurveyAttempt.number == attempt)
                  .values(outcome=state, detail=(reason or "")[:500] or None, finished_at=now))
    log.info("survey_" + state, survey_id=survey.id, attempt=attempt, reason=reason)
    return state


def _retry_or_fail(rt: Runtime, survey: Survey, attempt: int, exc: Exception, *,
                   from_state: str = SurveyState.PREPARING) -> str:
    if not isinstance(exc, (ApiError, Transient, Permanent)):
        log.exception("survey_error", survey_id=survey.id)
    decision = decide(attempt, exc, rt.settings.worker)
    if isinstance(decision, GiveUp):
        return _finish(rt, survey, attempt, SurveyState.FAILED, decision.reason, from_state=from_state)
    when = rt.now() + timedelta(seconds=decision.delay)
    now = rt.now()
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == survey.id, Survey.state == from_state, Survey.attempts == attempt)
                  .values(state=SurveyState.PENDING, reason=f"retrying: {decision.reason}"[:500],
                          send_after=when, next_try_at=when, lease_until=None))
        s.execute(update(SurveyAttempt).where(SurveyAttempt.survey_id == survey.id, SurveyAttempt.number == attempt)
                  .values(outcome="retry", detail=decision.reason[:500], finished_at=now))
    log.info("survey_retry", survey_id=survey.id, attempt=attempt, delay=round(decision.delay, 2),
             reason=decision.reason)
    return "retry"
