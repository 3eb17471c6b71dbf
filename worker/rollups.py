"""Daily rollups: the report numbers per UTC day and dimensions (connector, channel, group, agent,
agent e-mail, language, scale, drivers), so that a page or `ces report` over a year reads a few
thousand rows instead of every survey.

Whatever writes a source row (a survey sent, a confirmed answer or its change, an assessment, a new
solve, a rebuild) marks the day it counts in as dirty, in the same transaction: the sessions of
db/engine.py do it for every object they flush (`track`), and a Core statement that writes these
tables calls `mark_*` itself (send.py, collect.py, rebuild.py). A dirty
day is then RECOMPUTED from the source rows — its rollups deleted and inserted again — never
incremented, so retries, duplicates, answer changes and rebuilds cannot double-count. Readers
refresh the dirty days first (`refresh`), and the scheduler refreshes them on every tick.

Survey counts belong to the day the survey was sent (the report's cohort: surveys sent in the range
and their confirmed answers); ticket counts (assessed, high effort) to the day the ticket was last
solved.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, delete, event, false, func, insert, inspect, literal, or_, select

from ces.worker.db.models import (
    Answer,
    AnswerState,
    AssessmentRecord,
    DailyRollup,
    RollupDirty,
    Solve,
    Survey,
    SurveyState,
    Ticket,
)

# The drivers of effort (issue 12, "Drivers") and the assessment reason codes behind each: bit i of
# DailyRollup.drivers is DRIVERS[i].
DRIVERS: dict[str, tuple[str, ...]] = {
    "transfers": ("group_transfers", "assignee_transfers"),
    "reopens": ("reopened",),
    "repeat_contacts": ("repeat_contact", "not_resolved_first_time"),
    "channel_switches": ("channel_switch",),
    "slow_first_reply": ("slow_first_reply",),
    "long_waits": ("long_wait",),
    "repeated_information": ("repeated_information",),
}
_BIT_OF_CODE = {code: 1 << i for i, codes in enumerate(DRIVERS.values()) for code in codes}
DIMENSIONS = ("connector_id", "channel", "group_name", "agent", "agent_email", "language", "scale", "drivers")
SCORES = tuple(f"score_{n}" for n in range(1, 8))
COUNTS = ("surveys_sent", "answers", "score_sum", *SCORES, "tickets_assessed", "high_answered", "high_signals")


def names_driver(driver: str, reason_codes):
    """SQL: the assessment's `reason_codes` column names one of the driver's codes (any of them)."""
    codes = DRIVERS.get(driver, ())
    if not codes:
        return false()
    padded = literal(",") + reason_codes + literal(",")
    return or_(*(padded.contains(f",{code},", autoescape=True) for code in codes))


def drivers_mask(reason_codes: str | None) -> int:
    mask = 0
    for code in (reason_codes or "").split(","):
        mask |= _BIT_OF_CODE.get(code, 0)
    return mask


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


# --- marking --------------------------------------------------------------------------------------

def mark_days(s, days: Iterable[date]) -> None:
    """`s`: a Session or a Connection, inside the transaction that changed the source rows. A plain
    insert of a row per day: it never waits on a concurrent mark of the same day."""
    rows = [{"day": d} for d in sorted(set(days))]
    if rows:
        s.execute(insert(RollupDirty), rows)


def mark_surveys(s, survey_ids: Iterable[int]) -> None:
    """The days these surveys were sent in (a survey not sent counts nowhere)."""
    ids = list(survey_ids)
    if ids:
        mark_days(s, (utc_day(at) for at in s.execute(
            select(Survey.sent_at).where(Survey.id.in_(ids), Survey.sent_at.isnot(None))).scalars()))


def mark_tickets(s, ticket_pks: Iterable[int]) -> None:
    """The day each ticket was last solved and the days its surveys were sent: an assessment counts
    on the first and gives its drivers to the rows of the second."""
    pks = list(ticket_pks)
    if not pks:
        return
    solved = s.execute(select(Ticket.last_solved_at).where(Ticket.id.in_(pks), Ticket.last_solved_at.isnot(None)))
    sent = s.execute(select(Survey.sent_at).join(Solve, Solve.id == Survey.solve_id)
                     .where(Solve.ticket_pk.in_(pks), Survey.sent_at.isnot(None)))
    mark_days(s, [utc_day(at) for at in solved.scalars()] + [utc_day(at) for at in sent.scalars()])


# What a flushed object's rollups depend on: a change elsewhere (a comment, a lease) marks nothing.
_TRACKED = {
    Survey: ("state", "sent_at", "scale", "connector_id", "channel", "group_name", "assignee", "assignee_email",
             "locale", "solve_id"),
    Answer: ("state", "score", "survey_id"),
    AssessmentRecord: ("reason_codes", "level", "basis", "survey_id"),
    Ticket: ("last_solved_at", "connector_id", "channel", "group_name", "assignee", "assignee_email"),
}


def _touched(obj, attrs: tuple[str, ...], new: bool) -> bool:
    state = inspect(obj)
    return new or state.deleted or any(state.attrs[a].history.has_changes() for a in attrs)


def _values(obj, attr: str) -> list:
    """The attribute's value now and before this flush."""
    history = inspect(obj).attrs[attr].history
    return [v for v in (*history.added, *history.unchanged, *history.deleted) if v is not None]


def _after_flush(session, _context) -> None:
    days: set[date] = set()
    surveys: set[int] = set()
    tickets: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        attrs = _TRACKED.get(type(obj))
        if attrs is None or not _touched(obj, attrs, obj in session.new):
            continue
        if isinstance(obj, Survey):
            days.update(utc_day(at) for at in _values(obj, "sent_at"))
        elif isinstance(obj, Answer):
            surveys.update(_values(obj, "survey_id"))
        elif isinstance(obj, AssessmentRecord):
            tickets.update(_values(obj, "ticket_pk"))
        else:
            days.update(utc_day(at) for at in _values(obj, "last_solved_at"))
    connection = session.connection()
    mark_days(connection, days)
    mark_surveys(connection, surveys)
    mark_tickets(connection, tickets)


def track(factory) -> None:
    """Sessions from `factory` mark the days of the rows they flush."""
    event.listen(factory, "after_flush", _after_flush)


# --- recomputing ----------------------------------------------------------------------------------

def _counted(s, columns: list, stmt):
    """(*columns, count) grouped by every column: the database counts, Python only maps the groups."""
    return s.execute(stmt.add_columns(func.count()).group_by(*columns)).all()


def _survey_rows(s, lo: datetime, hi: datetime):
    columns = [Survey.connector_id, Survey.channel, Survey.group_name, Survey.assignee, Survey.assignee_email,
               Survey.locale, Survey.scale, AssessmentRecord.reason_codes, Answer.score]
    return _counted(s, columns, select(*columns)
        .select_from(Survey)
        .outerjoin(Solve, Solve.id == Survey.solve_id)
        .outerjoin(AssessmentRecord, AssessmentRecord.ticket_pk == Solve.ticket_pk)
        .outerjoin(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
        .where(Survey.state == SurveyState.SENT, Survey.sent_at >= lo, Survey.sent_at < hi))


def _ticket_rows(s, lo: datetime, hi: datetime):
    columns = [Ticket.connector_id, Ticket.channel, Ticket.group_name, Ticket.assignee,
               func.coalesce(Survey.assignee_email, Ticket.assignee_email),  # signal-only: the ticket's agent
               Survey.locale, Survey.scale, AssessmentRecord.reason_codes, AssessmentRecord.level,
               AssessmentRecord.basis]
    return _counted(s, columns, select(*columns)
        .select_from(AssessmentRecord)
        .join(Ticket, Ticket.id == AssessmentRecord.ticket_pk)
        .outerjoin(Survey, Survey.id == AssessmentRecord.survey_id)
        .where(Ticket.last_solved_at >= lo, Ticket.last_solved_at < hi))


def _key(connector, channel, group, agent, email, locale, scale, codes) -> tuple:
    return (connector, channel, group, agent, email.strip().lower() if email else None, locale, scale,
            drivers_mask(codes))


def day_rows(s, day: date) -> list[dict]:
    """The rollup rows of one day, from the source rows."""
    lo, hi = day_start(day), day_start(day + timedelta(days=1))
    totals: dict[tuple, dict[str, int]] = {}

    def counts(key: tuple) -> dict[str, int]:
        return totals.setdefault(key, dict.fromkeys(COUNTS, 0))

    for *dims, score, n in _survey_rows(s, lo, hi):
        c = counts(_key(*dims))
        c["surveys_sent"] += n
        if score is not None:
            c["answers"] += n
            c["score_sum"] += score * n
            c[f"score_{score}"] += n
    for *dims, level, basis, n in _ticket_rows(s, lo, hi):
        c = counts(_key(*dims))
        c["tickets_assessed"] += n
        if level == "high":
            c["high_answered" if basis == "survey" else "high_signals"] += n
    return [dict(zip(DIMENSIONS, key), day=day, **c) for key, c in totals.items()]


def recompute_day(s, day: date) -> None:
    s.execute(delete(DailyRollup).where(DailyRollup.day == day))
    rows = day_rows(s, day)
    if rows:
        s.execute(insert(DailyRollup), rows)


def refresh(rt, batch: int = 50) -> int:
    """Recompute every dirty day, one transaction per day; the number of days recomputed. A day
    marked again meanwhile stays dirty and is recomputed once more; two refreshers never both take
    a day (the one whose delete of the mark finds nothing leaves it)."""
    done = 0
    while True:
        with rt.reading() as s:  # every sweep looks: on SQLite without taking the write lock
            days = s.execute(select(RollupDirty.day).distinct().order_by(RollupDirty.day).limit(batch)).scalars().all()
        for day in days:
            with rt.transaction() as s:
                if s.execute(delete(RollupDirty).where(RollupDirty.day == day)).rowcount:
                    recompute_day(s, day)
                    done += 1
        if len(days) < batch:
            return done


def rebuild_all(rt) -> int:
    """Mark every day that has source rows and recompute them (tests, repairs)."""
    with rt.transaction() as s:
        sent = s.execute(select(Survey.sent_at).where(Survey.sent_at.isnot(None))).scalars()
        solved = s.execute(select(Ticket.last_solved_at).where(Ticket.last_solved_at.isnot(None))).scalars()
        existing = s.execute(select(DailyRollup.day).distinct()).scalars()
        mark_days(s, [utc_day(a) for a in sent] + [utc_day(a) for a in solved] + list(existing))
    return refresh(rt)
