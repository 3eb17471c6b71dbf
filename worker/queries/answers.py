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
from datetime import date, datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from ces.worker.db.models import Answer, AnswerState, Solve, Survey, SurveyState
from ces.worker.i18n import N_
from ces.worker.queries.scope import Scope
from ces.worker.reports import day_start, default_range
from ces.worker.surveys.scales import SCALES

MAX_QUERY_WORDS = 8
MAX_TEXT = 200  # a filter value longer than any group, agent or search people type


@dataclass(frozen=True)
class AnswerFilter:
    since: date
    until: date  # exclusive, as `ces report --until`
    connector: str | None = None
    channel: str | None = None
    group: str | None = None
    agent: str | None = None  # the agent's name as the survey recorded it (`ces report --by agent`)
    language: str | None = None
    scale: str | None = None
    score: int | None = None
    low: bool = False  # only high-effort answers (1–3 on ces7, 4–5 on effort5)
    with_comment: bool = False
    q: str = ""

    def words(self) -> list[str]:
        return self.q.split()[:MAX_QUERY_WORDS]

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (what a link or the CSV link carries), defaults left out."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, "", False):
                continue
            out[f.name] = "1" if value is True else value.isoformat() if isinstance(value, date) else str(value)
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
             Survey.assignee: f.agent, Survey.locale: f.language, Survey.scale: f.scale, Answer.score: f.score}
    stmt = stmt.where(*(column == value for column, value in equal.items() if value is not None))
    if f.low:
        stmt = stmt.where(or_(*(and_(Answer.scale == s.key, Answer.score.between(s.low_min, s.low_max))
                                for s in SCALES.values())))
    if f.with_comment:
        stmt = stmt.where(Answer.comment.is_not(None), Answer.comment != "")
    for word in f.words():
        stmt = stmt.where(Answer.comment.ilike(_like(word), escape="\\"))
    return scope.surveys(stmt)


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


class FilterProblem(ValueError):
    """A filter value that cannot be used: `message` is a msgid (N_) with %(name)s parameters."""

    def __init__(self, message: str, **params):
        super().__init__(message % params)
        self.message, self.params = message, params


def _text(params, name: str) -> str | None:
    value = (params.get(name) or "").strip()
    if len(value) > MAX_TEXT:
        raise FilterProblem(N_("“%(name)s” is too long."), name=name)
    return value or None


def _day(params, name: str, default: date) -> date:
    value = params.get(name)
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterProblem(N_("“%(value)s” is not a date like 2026-01-31."), value=value[:40]) from None


def _score(params) -> int | None:
    value = params.get("score")
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 7):
        raise FilterProblem(N_("A score is a number from 1 to 7."))
    return int(value)


def parse_filter(params, today: date) -> AnswerFilter:
    """The filter from query parameters (the console's page, its CSV and the API read the same)."""
    since, until = default_range(today)
    since, until = _day(params, "since", since), _day(params, "until", until)
    if until <= since:
        raise FilterProblem(N_("The end of the range must come after its start."))
    scale = _text(params, "scale")
    if scale is not None and scale not in SCALES:
        raise FilterProblem(N_("The scale is ces7 or effort5."))
    return AnswerFilter(since=since, until=until, connector=_text(params, "connector"),
                        channel=_text(params, "channel"), group=_text(params, "group"), agent=_text(params, "agent"),
                        language=_text(params, "language"), scale=scale, score=_score(params),
                        low=params.get("low") == "1", with_comment=params.get("with_comment") == "1",
                        q=_text(params, "q") or "")
