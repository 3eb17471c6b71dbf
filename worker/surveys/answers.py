"""Recording a customer's answer. Bad input changes nothing and says why.

Link scanners (Outlook Safe Links, security gateways, preview bots) open every link of a mail, so
a click on a one-click link is only *provisional*:
- HEAD requests, prefetches and known scanner user agents never record anything (pages.py);
- a form submit, or the thank-you page's script reacting to a person's first interaction
  (pointer, key, touch, scroll), confirms the answer at once;
- otherwise the scheduler settles it `answer_settle_seconds` after the last click: it counts,
  unless the clicks look like a scanner — several different scores within
  `scanner_burst_seconds`, or a first click within `scanner_grace_seconds` of sending — in which
  case it is discarded. Reports and alerts only ever see confirmed answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ces.config.models import SurveySettings
from ces.connectors.timeparse import parse_time
from ces.worker.alerts.trigger import answer_changed
from ces.worker.db.models import Answer, AnswerChange, AnswerHistory, AnswerState, OptOut, Survey, SurveyState
from ces.worker.db.types import storable_text
from ces.worker.jobs import assess_later
from ces.worker.privacy import email_hash
from ces.worker.runtime import Runtime
from ces.worker.surveys.scales import scale_of

MAX_COMMENT = 5000
MAX_CLICKS = 50
ANSWERABLE = SurveyState.REACHED + (SurveyState.TEST,)
CONFIRMING = ("form", "script")


class AnswerError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str, survey: Survey | None = None):
        self.detail, self.survey = detail, survey
        super().__init__(detail)


class UnknownSurvey(AnswerError):
    status, code = 404, "unknown_survey"


class BadScore(AnswerError):
    status, code = 400, "bad_score"


class SurveyClosed(AnswerError):
    status, code = 410, "closed"


class CommentTooLong(AnswerError):
    status, code = 422, "comment_too_long"


@dataclass
class Answered:
    survey: Survey
    answer: Answer | None


def find_survey(rt: Runtime, token: str) -> Survey:
    if not token or len(token) > 64:
        raise UnknownSurvey("no survey has this link")
    with rt.transaction() as s:
        survey = s.scalars(select(Survey).where(Survey.token == token)).one_or_none()
    if survey is None or survey.state not in ANSWERABLE:
        raise UnknownSurvey("no survey has this link")
    return survey


def open_survey(rt: Runtime, token: str) -> Answered:
    """The survey behind a token, if it can still be answered; its current answer if any."""
    survey = find_survey(rt, token)
    with rt.transaction() as s:
        answer = s.scalars(select(Answer).where(Answer.survey_id == survey.id)).one_or_none()
    if survey.expires_at and rt.now() >= survey.expires_at:
        raise SurveyClosed("this survey is closed", survey)
    if answer is not None and answer.state == AnswerState.DISCARDED:
        answer = None
    return Answered(survey, answer)


def record_answer(rt: Runtime, token: str, score: int | None, comment: str | None = None, *,
                  how: str = "form") -> Answered:
    """how: "click" (a one-click mail link: provisional), "form" or "script" (a person: confirmed).

    A comment belongs to the score it was written with: a changed score starts without one (the
    thank-you page shows an empty box, an alert never quotes the earlier score's words), and every
    confirmed answer and change is kept as its own row (AnswerHistory)."""
    found = open_survey(rt, token)
    survey = found.survey
    scale = scale_of(survey.scale)
    if score is None and found.answer is None:
        raise BadScore("choose a score first", survey)
    if score is not None and not scale.valid(score):
        raise BadScore(f"the score must be between 1 and {scale.points}", survey)
    if comment is not None:
        comment = storable_text(comment).strip() or None  # a NUL or a lone surrogate is not text we keep
        if comment and len(comment) > MAX_COMMENT:
            raise CommentTooLong(f"the comment is longer than {MAX_COMMENT} characters", survey)
    now = rt.now()
    with rt.transaction() as s:
        # Lock the survey so that two clicks at once apply one after the other.
        s.scalars(select(Survey.id).where(Survey.id == survey.id).with_for_update()).one()
        answer = s.scalars(select(Answer).where(Answer.survey_id == survey.id)).one_or_none()
        was_confirmed = answer is not None and answer.state == AnswerState.CONFIRMED
        if answer is None:
            answer = Answer(survey_id=survey.id, scale=survey.scale, score=score, answered_at=now, changes=0,
                            state=AnswerState.PROVISIONAL, clicks=[])
            s.add(answer)
        elif answer.state == AnswerState.DISCARDED:
            answer.state, answer.clicks, answer.answered_at = AnswerState.PROVISIONAL, [], now
        rescored = score is not None and score != answer.score
        if rescored:
            if answer.id is not None:
                answer.changes += 1
            answer.score, answer.comment = score, None  # the earlier score's comment stays with it, in the history
        new_comment = comment is not None and comment != answer.comment
        if new_comment:
            answer.comment = comment
        _confirm_or_count_click(answer, how, score, now)
        answer.updated_at = now
        if answer.state != AnswerState.CONFIRMED:
            return Answered(survey, answer)
        kind = (AnswerChange.ANSWERED if not was_confirmed else AnswerChange.SCORE if rescored
                else AnswerChange.COMMENT if new_comment else None)
        if kind:
            written = comment if new_comment else None
            _changed(s, rt, answer, kind, written, now, how, now, comment_settles=new_comment)
    return Answered(survey, answer)


def _confirm_or_count_click(answer: Answer, how: str, score: int | None, now: datetime) -> None:
    """A person's form or the page's script confirms; a click on a provisional answer is only noted."""
    if how in CONFIRMING:
        if answer.state != AnswerState.CONFIRMED:
            answer.state, answer.confirmed_at, answer.via = AnswerState.CONFIRMED, now, how
        answer.clicks = None
    elif answer.state == AnswerState.PROVISIONAL:
        answer.clicks = (list(answer.clicks or []) + [[now.isoformat(), score]])[-MAX_CLICKS:]
        answer.via = how


def _changed(s: Session, rt: Runtime, answer: Answer, kind: str, comment: str | None, at: datetime, how: str,
             now: datetime, *, comment_settles: bool) -> None:
    """A new fact about a confirmed answer: kept in its history, assessed again, checked for alerts."""
    s.add(AnswerHistory(survey_id=answer.survey_id, kind=kind, scale=answer.scale, score=answer.score,
                        comment=comment, at=at, how=how))
    assess_later(s, answer.survey_id, now)
    answer_changed(s, answer.survey_id, now, rt.settings.alerts.settle_seconds, comment=comment_settles)


def scanner_verdict(clicks: list, sent_at: datetime | None, policy: SurveySettings) -> str | None:
    """Why these unconfirmed clicks look like a link scanner, or None if they look like a person."""
    times = sorted((parse_time(at), score) for at, score in clicks if parse_time(at))
    if not times:
        return None
    if sent_at and times[0][0] - sent_at < timedelta(seconds=policy.scanner_grace_seconds):
        return f"first click {int((times[0][0] - sent_at).total_seconds())} s after sending"
    window = timedelta(seconds=policy.scanner_burst_seconds)
    for i, (at, score) in enumerate(times):
        others = {sc for t, sc in times[i + 1:] if t - at <= window and sc != score}
        if others:
            return f"{len(others) + 1} different scores clicked within {policy.scanner_burst_seconds:g} s"
    return None


def settle_answers(rt: Runtime, limit: int = 500) -> dict[str, int]:
    """Confirm provisional answers whose clicks have gone quiet, or discard a scanner's."""
    now = rt.now()
    shortest = min([rt.settings.survey.answer_settle_seconds] +
                   [rt.settings.survey_for(c.id).answer_settle_seconds for c in rt.settings.connectors])
    done = {"confirmed": 0, "discarded": 0}
    with rt.transaction() as s:
        rows = s.execute(select(Answer, Survey).join(Survey, Survey.id == Answer.survey_id)
                         .where(Answer.state == AnswerState.PROVISIONAL,
                                Answer.updated_at <= now - timedelta(seconds=shortest))
                         .order_by(Answer.updated_at).limit(limit).with_for_update(of=Answer)).all()
        for answer, survey in rows:
            policy = rt.settings.survey_for(survey.connector_id)
            if answer.updated_at > now - timedelta(seconds=policy.answer_settle_seconds):
                continue
            reason = scanner_verdict(answer.clicks or [], survey.sent_at, policy)
            if reason:
                answer.state, answer.via, answer.clicks = AnswerState.DISCARDED, f"scanner: {reason}"[:80], []
                done["discarded"] += 1
            else:
                answer.state, answer.confirmed_at, answer.via, answer.clicks = (
                    AnswerState.CONFIRMED, now, "settled", None)
                # Answered when last clicked; a click never carries a comment.
                _changed(s, rt, answer, AnswerChange.ANSWERED, None, answer.updated_at, "settled", now,
                         comment_settles=False)
                done["confirmed"] += 1
    return done


def unsubscribe(rt: Runtime, token: str) -> Survey:
    """Record the opt-out of the customer behind a survey link; idempotent."""
    survey = find_survey(rt, token)
    hashed = survey.email_hash or email_hash(rt, survey.email)
    if hashed:
        with rt.transaction() as s:
            if s.get(OptOut, hashed) is None:
                s.add(OptOut(email_hash=hashed, created_at=rt.now()))
    return survey
