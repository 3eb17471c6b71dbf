"""Sending a survey: exactly one per solve.

claim (pending → preparing, leased) → read the ticket and requester back from the helpdesk →
policy → render → mark `sending` and reserve the customer (fatigue), committed together → hand
to SMTP (or post it in the helpdesk) → `sent`. A crash before `sending` is retried by the next
worker once the lease expires; a crash after it leaves the survey `uncertain`, listed for admins
and never resent automatically.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate
from typing import TypeVar

import structlog
from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError

from ces.config.models import SurveySettings
from ces.connectors import base
from ces.connectors.errors import ApiError, UncertainApiError
from ces.connectors.models import Ticket
from ces.worker.claims import claim_row
from ces.worker.db.models import OptOut, Recipient, Survey, SurveyAttempt, SurveyState, WebhookEvent
from ces.worker.db.types import storable_text
from ces.worker.i18n import negotiate
from ces.worker.logs import error_text
from ces.worker.mail import MAIL_POLICY, MailUncertain, NotOneMailbox, send_mail
from ces.worker.privacy import email_hash
from ces.worker.retry import GiveUp, Permanent, Transient, decide
from ces.worker.rollups import mark_days, utc_day
from ces.worker.runtime import Runtime
from ces.worker.surveys.policy import exclusion, quiet_until
from ces.worker.surveys.render import SurveyMail, wording_for
from ces.worker.surveys.scales import scale_of

log = structlog.get_logger("ces.surveys")
LONG_AGO = datetime(1970, 1, 1, tzinfo=timezone.utc)
ABANDONED = "the worker stopped while preparing the survey, before recording an outcome"
T = TypeVar("T")
AfterSend = Callable[[int, Ticket, datetime], object]  # (solve id, the ticket as read, when it was read)
SURVEYS, ATTEMPTS, RECIPIENTS, OPT_OUTS = (m.__table__ for m in (Survey, SurveyAttempt, Recipient, OptOut))
# Built once and run with parameters (every statement of a send is on every solve's path): the
# survey's change of state, guarded by the state and the attempt it is expected in, and its attempt.
_MOVE = update(SURVEYS).where(SURVEYS.c.id == bindparam("b_id"), SURVEYS.c.state == bindparam("b_from"),
                              SURVEYS.c.attempts == bindparam("b_attempt"))
_ATTEMPT_ENDS = update(ATTEMPTS).where(ATTEMPTS.c.survey_id == bindparam("b_id"),
                                       ATTEMPTS.c.number == bindparam("b_attempt"))
_ATTEMPT_STARTS = insert(ATTEMPTS)
_OPTED_OUT = select(OPT_OUTS.c.email_hash).where(OPT_OUTS.c.email_hash == bindparam("b_hash"))


class Skip(Exception):
    """Policy says no; the reason is recorded on the survey."""


class Later(Exception):
    """Policy says not now (quiet hours); the survey waits until `when`."""

    def __init__(self, when: datetime, reason: str):
        self.when, self.reason = when, reason
        super().__init__(reason)


class CannotBuild(Permanent):
    """The survey mail cannot be built from what the helpdesk told; the reason never quotes it."""


def build_message(rt: Runtime, mail: SurveyMail) -> tuple[EmailMessage, bytes]:
    """The survey mail and its bytes, serialized once here, before the point of no return, so that
    whatever the customer's name or address holds fails now, as a permanent failure with its own
    reason; send_mail hands over these bytes (serializing is a good part of a solve's CPU)."""
    try:
        message = mail.message(sender=rt.settings.smtp.sender, reply_to=rt.settings.smtp.reply_to)
        message["Date"] = formatdate(usegmt=True)  # the hand-over follows within the same task
        data = message.as_bytes(policy=MAIL_POLICY)
    except NotOneMailbox:
        raise
    except Exception as exc:
        raise CannotBuild(f"could not build the message: {error_text(exc)}") from None
    return message, data


def _claim(rt: Runtime, survey_id: int) -> tuple[int, Survey, int] | None:
    """(attempt, survey, attempts its workers abandoned), or None if another worker has it. The
    survey is the claimed row as the claim's UPDATE returned it (read-only from here)."""
    now = rt.now()
    with rt.transaction() as s:
        survey = claim_row(s, Survey, survey_id, due_column="send_after", ready_state=SurveyState.PENDING,
                           working_state=SurveyState.PREPARING, now=now,
                           lease_seconds=rt.settings.worker.lease_seconds)
        if survey is None:
            return None
        attempt = survey.attempts
        # A worker that stopped while preparing (killed, or an error nothing caught) left its attempt
        # open: it counts, so that a survey that stops every worker still fails after max_attempts.
        # A first attempt has no earlier one to look for.
        abandoned = attempt > 1 and s.execute(update(SurveyAttempt).where(
            SurveyAttempt.survey_id == survey_id, SurveyAttempt.number < attempt, SurveyAttempt.finished_at.is_(None))
            .values(outcome="abandoned", detail=ABANDONED, finished_at=now)).rowcount
        if not abandoned or attempt - 1 - survey.attempts_before_resend < rt.settings.worker.max_attempts:
            s.execute(_ATTEMPT_STARTS, dict(survey_id=survey_id, number=attempt, started_at=now, outcome="started"))
    return attempt, survey, int(abandoned)


@dataclass
class _Ready:
    """A claimed survey with everything its sending needs, built before anything is marked."""

    attempt: int
    survey: Survey
    policy: SurveySettings
    ticket: Ticket
    read_at: datetime  # when the ticket was read from the helpdesk
    hashed: str | None  # the customer's keyed e-mail hash, for fatigue
    mail: SurveyMail
    message: EmailMessage | None  # by mail: built; None for a helpdesk reply
    data: bytes | None  # … and its bytes, as handed over


def send_survey(rt: Runtime, survey_id: int, then: AfterSend | None = None) -> str | None:
    """Claim the survey, get it ready (ticket, policy, mail), mark it sending (the point of no
    return), hand it over to the mail server or the helpdesk, and record what happened. `then`,
    once that is recorded, is given the solve, the ticket as read for it and when it was read, for
    work that would otherwise read the ticket again."""
    claimed = _claim(rt, survey_id)
    if claimed is None:
        return None
    ready = _get_ready(rt, *claimed)
    if not isinstance(ready, _Ready):
        return ready  # skipped, waiting, retried or failed already
    lease_until = rt.now() + timedelta(seconds=rt.settings.worker.lease_seconds)
    why_not, moved = _mark_sending(rt, ready, lease_until)
    if why_not:
        outcome = _finish(rt, ready.survey, ready.attempt, SurveyState.SKIPPED, why_not)
    elif not moved:
        return None  # our lease expired and another worker took over
    else:
        outcome = _hand_over(rt, ready, lease_until)
    if then is not None and ready.survey.solve_id is not None:
        _after(then, ready)
    return outcome


def _after(then: AfterSend, ready: _Ready) -> None:
    """What follows the send; the survey's outcome is recorded whatever happens in it."""
    try:
        then(ready.survey.solve_id, ready.ticket, ready.read_at)
    except Exception as exc:  # e.g. the database went away: the scheduler enqueues the job as usual
        log.warning("after_send_failed", survey_id=ready.survey.id, error=error_text(exc)[:200])


def _get_ready(rt: Runtime, attempt: int, survey: Survey, abandoned: int) -> _Ready | str | None:
    """Everything the sending needs; or, when it is not to be sent now, the outcome recorded."""
    made = attempt - 1 - survey.attempts_before_resend
    if abandoned and made >= rt.settings.worker.max_attempts:  # this claim is not an attempt
        return _finish(rt, survey, attempt, SurveyState.FAILED, f"gave up after {made} attempts: {ABANDONED}",
                       attempts=attempt - 1)
    policy = rt.settings.survey_for(survey.connector_id)
    read_at = rt.now()
    try:
        ticket = read_ticket(rt, survey.connector_id, survey.ticket_external_id)
        hashed = _policy(rt, policy, survey, ticket)
        mail = survey_mail(rt, policy, survey, ticket)
        message, data = build_message(rt, mail) if policy.delivery == "email" else (None, None)
    except Skip as exc:
        return _finish(rt, survey, attempt, SurveyState.SKIPPED, str(exc))
    except Later as exc:
        return _wait(rt, survey, attempt, exc.when, exc.reason)
    except Exception as exc:
        return _retry_or_fail(rt, survey, attempt, exc)
    return _Ready(attempt, survey, policy, ticket, read_at, hashed, mail, message, data)


def _mark_sending(rt: Runtime, ready: _Ready, lease_until: datetime) -> tuple[str | None, bool]:
    """The customer's fatigue reserved and the survey moved to `sending`: (why not, if an opt-out
    or fatigue stops it; whether it moved — not if our lease expired and another worker took over)."""
    survey, policy = ready.survey, ready.policy
    with rt.transaction() as s:
        # The opt-out is read here, in the transaction that moves the survey to `sending`: the
        # latest moment it can be, and one transaction fewer than a check of its own.
        if ready.hashed and not _reserve(s, ready.hashed, survey.id, rt.now(), policy.fatigue_days):
            if s.scalar(_OPTED_OUT, {"b_hash": ready.hashed}):
                return "customer unsubscribed from surveys", False
            return f"customer was surveyed in the last {policy.fatigue_days:g} days (fatigue_days)", False
        # The point of no return: from here a crash leaves the survey uncertain.
        moved = s.execute(_MOVE, dict(
            b_id=survey.id, b_from=SurveyState.PREPARING, b_attempt=ready.attempt, state=SurveyState.SENDING,
            email_hash=ready.hashed, **_snapshot(ready.ticket, ready.mail, policy.delivery),
            message_id=ready.message["Message-ID"] if ready.message else None, lease_until=lease_until)).rowcount
    return None, bool(moved)


def _hand_over(rt: Runtime, ready: _Ready, lease_until: datetime) -> str | None:
    """The mail to the mail server (or the reply to the helpdesk), and its outcome recorded."""
    survey, attempt = ready.survey, ready.attempt
    uncertain: str | None = None
    failure: Exception | None = None
    try:
        if ready.policy.delivery == "email":
            send_mail(rt.settings.smtp, ready.message, ready.data)
        else:
            rt.connector(survey.connector_id).post_public_reply(survey.ticket_external_id, ready.mail.helpdesk_text())
    except (MailUncertain, UncertainApiError) as exc:
        uncertain = str(exc)
    except Exception as exc:
        failure = exc
    if uncertain is not None:
        return _record(rt, survey.id, lease_until, lambda: _finish(
            rt, survey, attempt, SurveyState.UNCERTAIN, uncertain, from_state=SurveyState.SENDING))
    if failure is not None:
        def not_sent() -> str:
            _release(rt, ready.hashed, survey.id)
            return _retry_or_fail(rt, survey, attempt, failure, from_state=SurveyState.SENDING)
        return _record(rt, survey.id, lease_until, not_sent)
    sent_at = rt.now()
    return _record(rt, survey.id, lease_until, lambda: _finish(
        rt, survey, attempt, SurveyState.SENT, None, from_state=SurveyState.SENDING,
        sent_at=sent_at, expires_at=sent_at + timedelta(days=ready.policy.response_days)))


def _snapshot(ticket: Ticket, mail: SurveyMail, delivery: str) -> dict:
    """Whom and what the survey went to, as its row keeps it: every value fits its column (a helpdesk
    may allow longer names than we store, and a failing write here would stop every worker)."""
    requester = ticket.requester
    values = dict(email=requester.email.strip() if requester and requester.email else None, name=mail.to_name,
                  locale=mail.locale, delivery=delivery, assignee=ticket.assignee, assignee_id=ticket.assignee_id,
                  assignee_email=ticket.assignee_email, group_name=ticket.group, brand=ticket.brand,
                  channel=ticket.channel.value, ticket_url=ticket.url)
    columns = Survey.__table__.c
    return {k: storable_text(v)[:columns[k].type.length] if isinstance(v, str) else v for k, v in values.items()}


def _record(rt: Runtime, survey_id: int, lease_until: datetime, write: Callable[[], T]) -> T:
    """Record the outcome of a hand-over. Only this worker knows it: if the database is
    unreachable, try again while the lease lasts (nobody else touches a `sending` survey before
    it ends); after that the scheduler marks the survey uncertain, as if this worker had died."""
    delay = 0.05
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            if rt.now() + timedelta(seconds=delay) >= lease_until:
                raise
            log.warning("survey_outcome_not_recorded", survey_id=survey_id, error=type(exc).__name__,
                        retry_in=delay)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def read_ticket(rt: Runtime, connector_id: str, ticket_id: str) -> Ticket:
    """The ticket as its helpdesk tells it now; for a helpdesk without an API, as its latest
    webhook described it."""
    conn = rt.connector(connector_id)
    if conn is None:
        raise Permanent(f"connector {connector_id!r} is no longer configured")
    if base.TICKET in conn.capabilities:
        return conn.fetch_ticket(ticket_id)
    with rt.transaction() as s:
        described = s.scalar(select(WebhookEvent.ticket).where(
            WebhookEvent.connector_id == connector_id, WebhookEvent.ticket_id == ticket_id,
            WebhookEvent.ticket.isnot(None)).order_by(WebhookEvent.occurred_at.desc(), WebhookEvent.id.desc())
            .limit(1))
    if described is None:
        raise Permanent(f"no webhook described ticket {ticket_id} and {conn.title} has no API to ask")
    return Ticket.model_validate(described)


def _policy(rt: Runtime, policy: SurveySettings, survey: Survey, ticket: Ticket) -> str | None:
    """Raise Skip or Later; return the keyed hash of the requester's e-mail (None if none)."""
    reason = exclusion(policy, ticket)
    if reason:
        raise Skip(reason)
    email = ticket.requester.email if ticket.requester else None
    hashed = email_hash(rt, email)  # an unsubscribed customer is told apart when marking it sending
    conn = rt.connector_settings(survey.connector_id)
    if conn is not None and conn.dry_run:
        raise Skip("dry run: would have sent the survey; sent nothing")
    when = quiet_until(policy, ticket.requester.time_zone if ticket.requester else None, rt.now())
    if when:
        raise Later(when, f"quiet hours for the requester until {when.isoformat(timespec='minutes')}")
    return hashed


def survey_mail(rt: Runtime, policy: SurveySettings, survey: Survey, ticket: Ticket, *,
                reminder: bool = False) -> SurveyMail:
    requester = ticket.requester
    locale = negotiate(requester.locale if requester else None, policy.default_locale, also=tuple(policy.wording))
    expires_at = survey.expires_at or rt.now() + timedelta(days=policy.response_days)
    return SurveyMail(to_email=requester.email if requester else "", to_name=requester.name if requester else None,
                      ticket_id=ticket.id, subject_line=ticket.subject, token=survey.token,
                      scale=scale_of(survey.scale), locale=locale, company=policy.company,
                      public_url=rt.settings.public_url, expires_at=expires_at,
                      wording=wording_for(policy.wording, locale), reminder=reminder)


def _reserve(s, hashed: str, survey_id: int, now: datetime, fatigue_days: float) -> bool:
    """Atomically claim the customer for this survey unless they unsubscribed or another survey was
    sent to them within the window (one statement for both: False says one of them holds)."""
    return s.execute(_reserving(s.bind.dialect.name), dict(
        b_hash=hashed, b_survey=survey_id, b_now=now, b_cutoff=now - timedelta(days=fatigue_days))).first() is not None


@functools.cache
def _reserving(dialect_name: str):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    c = RECIPIENTS.c
    row = select(bindparam("b_hash", type_=c.email_hash.type), bindparam("b_survey", type_=c.last_survey_id.type),
                 bindparam("b_now", type_=c.last_sent_at.type)).where(~exists(_OPTED_OUT))
    ins = dialect.insert(RECIPIENTS).from_select(["email_hash", "last_survey_id", "last_sent_at"], row)
    return ins.on_conflict_do_update(
        index_elements=["email_hash"],
        set_={"last_survey_id": ins.excluded.last_survey_id, "last_sent_at": ins.excluded.last_sent_at},
        where=(c.last_sent_at <= bindparam("b_cutoff", type_=c.last_sent_at.type))
        | (c.last_survey_id == bindparam("b_survey")),
    ).returning(c.email_hash)


def _release(rt: Runtime, hashed: str | None, survey_id: int) -> None:
    """A send that surely failed does not count against the customer's fatigue window."""
    if not hashed:
        return
    with rt.transaction() as s:
        s.execute(update(Recipient).where(Recipient.email_hash == hashed, Recipient.last_survey_id == survey_id)
                  .values(last_sent_at=LONG_AGO))


def _finish(rt: Runtime, survey: Survey, attempt: int, state: str, reason: str | None, *,
            from_state: str = SurveyState.PREPARING, **values) -> str:
    now = rt.now()
    with rt.transaction() as s:
        moved = s.execute(_MOVE, dict(b_id=survey.id, b_from=from_state, b_attempt=attempt, state=state,
                                      reason=reason, lease_until=None, next_try_at=None, **values)).rowcount
        s.execute(_ATTEMPT_ENDS, dict(b_id=survey.id, b_attempt=attempt, outcome=state,
                                      detail=(reason or "")[:500] or None, finished_at=now))
        if state == SurveyState.SENT and moved:
            mark_days(s, [utc_day(values["sent_at"])])  # the day it counts in, known without reading it
    log.info("survey_" + state, survey_id=survey.id, attempt=attempt, reason=reason)
    rt.health.survey(survey.connector_id, state)  # surveys sent/failed per connector (worker/health)
    return state


def _wait(rt: Runtime, survey: Survey, attempt: int, when: datetime, reason: str,
          from_state: str = SurveyState.PREPARING, outcome: str = "waiting") -> str:
    now = rt.now()
    with rt.transaction() as s:
        s.execute(_MOVE, dict(b_id=survey.id, b_from=from_state, b_attempt=attempt, state=SurveyState.PENDING,
                              reason=reason[:500], send_after=when, next_try_at=when, lease_until=None))
        s.execute(_ATTEMPT_ENDS, dict(b_id=survey.id, b_attempt=attempt, outcome=outcome, detail=reason[:500],
                                      finished_at=now))
    log.info("survey_" + outcome, survey_id=survey.id, attempt=attempt, until=when.isoformat(), reason=reason)
    return outcome


def _retry_or_fail(rt: Runtime, survey: Survey, attempt: int, exc: Exception, *,
                   from_state: str = SurveyState.PREPARING) -> str:
    if not isinstance(exc, (ApiError, Permanent, Transient)):
        log.warning("survey_error", survey_id=survey.id, error=type(exc).__name__, detail=error_text(exc)[:200])
    decision = decide(attempt - survey.attempts_before_resend, exc, rt.settings.worker)
    if isinstance(decision, GiveUp):
        return _finish(rt, survey, attempt, SurveyState.FAILED, decision.reason, from_state=from_state)
    return _wait(rt, survey, attempt, rt.now() + timedelta(seconds=decision.delay), f"retrying: {decision.reason}",
                 from_state=from_state, outcome="retry")
