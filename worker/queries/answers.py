"""The customers' answers and comments, as the console's answers page and its CSV list them.

The cohort is `ces report`'s: surveys sent in [since, until) (UTC days) with a confirmed answer, so a
number on a report and the list behind it count the same rows. Search finds comments holding every
word of the query, by substring and without regard to case, which works in every script (Chinese,
Japanese and Korean have no word breaks for a full text parser to use); on PostgreSQL a trigram
index (migration 0106) serves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from ces.worker.db.models import Answer, AnswerState, AssessmentRecord, Solve, Survey, SurveyState
from ces.worker.queries.reports import day_start
from ces.worker.queries.scope import Scope
from ces.worker.rollups import names_driver
from ces.worker.surveys.scales import SCALES

MAX_QUERY_WORDS = 8


@dataclass(frozen=True)
class AnswerFilter:
    since: date
    until: date  # exclusive, as `ces report --until`
    connector: str | None = None
    channel: str | None = None
    group: str | None = None
    # The agent as the survey recorded them: their e-mail (as scopes and the report pages match
    # agents) when it holds an @, else their name (`ces report --by agent`).
    agent: str | None = None
    language: str | None = None
    scale: str | None = None
    score: tuple[int, int] | None = None  # from, to (both included)
    low: bool = False  # only high-effort answers (1–3 on ces7, 4–5 on effort5)
    with_comment: bool = False
    driver: str | None = None  # a driver of effort (rollups.DRIVERS) among the ticket's assessed reasons
    q: str = ""

    def words(self) -> list[str]:
        return self.q.split()[:MAX_QUERY_WORDS]

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (what a link or the CSV link carries), defaults left out;
        the range as the console's pages write it, `from` and `to` with both days included."""
        out = {"from": self.since.isoformat(), "to": (self.until - timedelta(days=1)).isoformat()}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("since", "until") or value in (None, "", False):
                continue
            if isinstance(value, tuple):
                value = str(value[0]) if value[0] == value[1] else f"{value[0]}-{value[1]}"
            out[f.name] = "1" if value is True else str(value)
        return out


@dataclass(frozen=True)
class AnswerRow:
    survey_id: int
    ticket_pk: int | None
    ticket: str
    connector: str
    answered_at: datetime
    scale: str
    score: int
    comment: str | None
    language: str | None
    agent: str | None
    group: str | None
    channel: str | None

    @property
    def low(self) -> bool:
        return SCALES[self.scale].is_low(self.score)

    @property
    def points(self) -> int:
        return SCALES[self.scale].points


COLUMNS = (Survey.id, Solve.ticket_pk, Survey.ticket_external_id, Survey.connector_id, Answer.answered_at,
           Answer.scale, Answer.score, Answer.comment, Survey.locale, Survey.assignee, Survey.group_name,
           Survey.channel)
CSV_COLUMNS = ("answered_at", "connector", "ticket", "scale", "score", "comment", "language", "agent", "group",
               "channel")


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(scope: Scope, f: AnswerFilter) -> Select:
    stmt = (select(*COLUMNS).select_from(Survey)
            .join(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
            .outerjoin(Solve, Solve.id == Survey.solve_id)
            .where(Survey.state == SurveyState.SENT,
                   Survey.sent_at >= day_start(f.since), Survey.sent_at < day_start(f.until)))
    equal = {Survey.connector_id: f.connector, Survey.channel: f.channel, Survey.group_name: f.group,
             Survey.locale: f.language, Survey.scale: f.scale}
    stmt = stmt.where(*(column == value for column, value in equal.items() if value is not None))
    if f.agent and "@" in f.agent:
        stmt = stmt.where(func.lower(Survey.assignee_email) == f.agent.lower())
    elif f.agent:
        stmt = stmt.where(Survey.assignee == f.agent)
    if f.score:
        stmt = stmt.where(Answer.score.between(*f.score))
    if f.driver:
        stmt = stmt.where(_has_driver(f.driver))
    if f.low:
        stmt = stmt.where(or_(*(and_(Answer.scale == s.key, Answer.score.between(s.low_min, s.low_max))
                                for s in SCALES.values())))
    if f.with_comment:
        stmt = stmt.where(Answer.comment.is_not(None), Answer.comment != "")
    for word in f.words():
        stmt = stmt.where(Answer.comment.ilike(_like(word), escape="\\"))
    return scope.surveys(stmt)


def _has_driver(driver: str):
    """The ticket's assessment names one of the driver's reason codes (rollups.DRIVERS)."""
    return exists().where(AssessmentRecord.ticket_pk == Solve.ticket_pk,
                          names_driver(driver, AssessmentRecord.reason_codes))


def count(session: Session, scope: Scope, f: AnswerFilter) -> int:
    return session.scalar(select(func.count()).select_from(_matching(scope, f).subquery()))


def page(session: Session, scope: Scope, f: AnswerFilter, *, offset: int, limit: int) -> list[AnswerRow]:
    """Newest answer first."""
    stmt = _matching(scope, f).order_by(Answer.answered_at.desc(), Survey.id.desc()).offset(offset).limit(limit)
    return [AnswerRow(*row) for row in session.execute(stmt)]


def after(session: Session, scope: Scope, f: AnswerFilter, cursor: tuple[datetime, int] | None, *,
          limit: int) -> list[AnswerRow]:
    """The next `limit` answers after `cursor` (the last one's answered_at and survey id), newest first:
    a page that stays right while answers arrive."""
    stmt = _matching(scope, f)
    if cursor is not None:
        at, survey_id = cursor
        stmt = stmt.where(or_(Answer.answered_at < at, and_(Answer.answered_at == at, Survey.id < survey_id)))
    stmt = stmt.order_by(Answer.answered_at.desc(), Survey.id.desc()).limit(limit)
    return [AnswerRow(*row) for row in session.execute(stmt)]


def all_rows(session: Session, scope: Scope, f: AnswerFilter, *, batch: int = 1000) -> Iterator[AnswerRow]:
    """Every matching answer, newest first, read in batches (the CSV streams them)."""
    stmt = _matching(scope, f).order_by(Answer.answered_at.desc(), Survey.id.desc())
    for row in session.execute(stmt.execution_options(yield_per=batch)):
        yield AnswerRow(*row)


def choices(session: Session, scope: Scope, since: date, until: date) -> dict[str, list[str]]:
    """The values the filters offer: those present among the caller's surveys sent in the range."""
    out = {}
    for name, column in (("connector", Survey.connector_id), ("channel", Survey.channel),
                         ("group", Survey.group_name), ("agent", Survey.assignee), ("language", Survey.locale)):
        stmt = scope.surveys(select(column).distinct().where(
            column.is_not(None), Survey.state == SurveyState.SENT,
            Survey.sent_at >= day_start(since), Survey.sent_at < day_start(until)))
        out[name] = sorted(session.scalars(stmt))
    return out

