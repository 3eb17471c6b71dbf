"""CES reports. The cohort is the surveys sent in [since, until); their confirmed answers are the
responses (a provisional click counts once it settles; see surveys/answers.py).

CES (ces7) = share of answers 5–7 ("at least somewhat agree"), reported beside the mean. For the
effort5 scale the share is of answers 1–2 (low effort) and a lower mean is better. Scales are never
mixed: a report covers one scale.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ces.worker.db.models import Answer, AnswerState, Survey, SurveyState
from ces.worker.runtime import Runtime
from ces.worker.surveys.scales import scale_of

GROUPS = ("connector", "channel", "group", "agent", "week")


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def default_range(today: date) -> tuple[date, date]:
    """The last 30 days, today included (until is exclusive)."""
    return today - timedelta(days=29), today + timedelta(days=1)


def _week(session: Session):
    if session.bind.dialect.name == "postgresql":
        return func.to_char(func.date_trunc("week", Survey.sent_at), "YYYY-MM-DD")
    return func.date(Survey.sent_at, "weekday 0", "-6 days")  # the Monday of that week


def _group_column(session: Session, by: str):
    return {
        "connector": Survey.connector_id,
        "channel": Survey.channel,
        "group": Survey.group_name,
        "agent": Survey.assignee,
        "week": _week(session),
    }[by]


def _ratio(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def ces_report(rt: Runtime, since: date, until: date, *, scale: str = "ces7", by: str | None = None) -> dict:
    sc = scale_of(scale)
    with rt.transaction() as s:
        good = func.sum(case((Answer.score.between(sc.good_min, sc.good_max), 1), else_=0))
        cols = [func.count(Survey.id), func.count(Answer.id), good, func.avg(Answer.score)]
        key = _group_column(s, by).label("key") if by else None
        stmt = (select(*([key] if key is not None else []), *cols)
                .select_from(Survey)
                .outerjoin(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
                .where(Survey.state == SurveyState.SENT, Survey.scale == scale,
                       Survey.sent_at >= day_start(since), Survey.sent_at < day_start(until)))
        if key is not None:
            stmt = stmt.group_by(key).order_by(key)
        result = s.execute(stmt).all()
    rows = []
    for r in result:
        values = r[1:] if key is not None else r
        sent, responses, good_count, mean = values
        row = {by: r[0]} if by else {}
        row.update(surveys_sent=sent, responses=responses, response_rate=_ratio(responses, sent),
                   ces=_ratio(good_count or 0, responses), mean=round(float(mean), 2) if mean is not None else None)
        rows.append(row)
    if not rows and not by:
        rows = [dict(surveys_sent=0, responses=0, response_rate=None, ces=None, mean=None)]
    return {"since": since.isoformat(), "until": until.isoformat(), "scale": sc.key, "rows": rows}
