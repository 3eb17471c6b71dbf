"""Recording a customer's answer. Bad input changes nothing and says why."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ces.worker.db.models import Answer, Survey, SurveyState
from ces.worker.runtime import Runtime
from ces.worker.surveys.scales import scale_of

MAX_COMMENT = 5000
ANSWERABLE = (SurveyState.SENT, SurveyState.UNCERTAIN)


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


def open_survey(rt: Runtime, token: str) -> Answered:
    """The survey behind a token, if it can still be answered; its current answer if any."""
    if not token or len(token) > 64:
        raise UnknownSurvey("no survey has this link")
    with rt.transaction() as s:
        survey = s.scalars(select(Survey).where(Survey.token == token)).one_or_none()
        if survey is None or survey.state not in ANSWERABLE:
            raise UnknownSurvey("no survey has this link")
        answer = s.scalars(select(Answer).where(Answer.survey_id == survey.id)).one_or_none()
    if survey.expires_at and rt.now() >= survey.expires_at:
        raise SurveyClosed("this survey is closed", survey)
    return Answered(survey, answer)


def record_answer(rt: Runtime, token: str, score: int | None, comment: str | None = None) -> Answered:
    found = open_survey(rt, token)
    survey = found.survey
    scale = scale_of(survey.scale)
    if score is None and found.answer is None:
        raise BadScore("choose a score first", survey)
    if score is not None and not scale.valid(score):
        raise BadScore(f"the score must be between 1 and {scale.points}", survey)
    if comment is not None:
        comment = comment.strip() or None
        if comment and len(comment) > MAX_COMMENT:
            raise CommentTooLong(f"the comment is longer than {MAX_COMMENT} characters", survey)
    now = rt.now()
    with rt.transaction() as s:
        dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
        ins = dialect.insert(Answer).values(survey_id=survey.id, scale=survey.scale,
                                            score=score if score is not None else found.answer.score,
                                            comment=comment, answered_at=now, updated_at=now, changes=0)
        excluded = ins.excluded
        stmt = ins.on_conflict_do_update(index_elements=["survey_id"], set_={
            "score": excluded.score,
            "comment": func.coalesce(excluded.comment, Answer.comment),
            "updated_at": now,
            "changes": Answer.changes + case((Answer.score != excluded.score, 1), else_=0),
        })
        s.execute(stmt)
        answer = s.scalars(select(Answer).where(Answer.survey_id == survey.id)).one()
    return Answered(survey, answer)
