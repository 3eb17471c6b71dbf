"""What a fit learns from, read from the database: the confirmed answers to surveys sent in the
window, each with its ticket's signals, whether it was low (scale-aware), and today's fixed index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from ces.worker.db.models import Answer, AnswerState, Solve, Survey, SurveyState, TicketSignalsRecord
from ces.worker.model.effects import labels
from ces.worker.model.features import vector
from ces.worker.signals.effort import assessment
from ces.worker.surveys.scales import scale_of


@dataclass
class TrainingSet:
    features: list[list[float]]
    low: list[bool]
    fixed_index: list[float]
    labels: list[list[str]]  # the drivers and signal buckets each has (effects.labels)


def _sent_in(since: datetime, until: datetime):
    return and_(Survey.state == SurveyState.SENT, Survey.sent_at >= since, Survey.sent_at < until)


def has_answers(s: Session, since: datetime, until: datetime, count: int) -> bool:
    """Whether at least `count` surveys of the window were answered: reads at most that many rows."""
    nth = (select(Survey.id).join(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
           .where(_sent_in(since, until)).offset(count - 1).limit(1))
    return s.scalar(nth) is not None


def training_set(s: Session, settings, since: datetime, until: datetime) -> TrainingSet:
    rows = s.execute(
        select(Answer.scale, Answer.score, TicketSignalsRecord.data)
        .select_from(Survey)
        .join(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
        .join(Solve, Solve.id == Survey.solve_id)
        .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == Solve.ticket_pk)
        .where(_sent_in(since, until))
        .order_by(Survey.id))  # a fixed order: the same answers give the same folds
    out = TrainingSet([], [], [], [])
    for scale, score, signals in rows:
        index, codes = fixed_assessment(signals, settings)
        out.features.append(vector(signals))
        out.low.append(scale_of(scale).is_low(score))
        out.fixed_index.append(index)
        out.labels.append(labels(signals, codes))
    return out


def fixed_assessment(signals: dict, settings) -> tuple[float, list[str]]:
    """Today's fixed weights' index of the signals, and their reasons' codes."""
    _, index, reasons, _, _ = assessment(signals, None, settings.effort,
                                         window_days=settings.signals.repeat_window_days,
                                         many_messages=settings.signals.many_customer_messages)
    return index, [code for code, _, _ in reasons]


PROFILE = {
    "transfers": lambda d: (d.get("group_transfers") or 0) + (d.get("assignee_transfers") or 0) > 0,
    "reopened": lambda d: (d.get("reopens") or 0) > 0,
    "repeat_contact": lambda d: (d.get("repeat_contacts") or 0) + (d.get("repeat_after") or 0) > 0,
    "channel_switch": lambda d: bool(d.get("channel_switch")),
    "slow_reply": lambda d: bool(d.get("slow_first_reply") or d.get("long_wait")),
}


def response_profile(s: Session, since: datetime, until: datetime) -> dict:
    """The share of tickets with each signal among the surveyed customers who answered and those
    who did not: where they differ, the answers speak for some customers more than others."""
    answered = exists().where(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED)
    rows = s.execute(select(answered, TicketSignalsRecord.data).select_from(Survey)
                     .join(Solve, Solve.id == Survey.solve_id)
                     .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == Solve.ticket_pk)
                     .where(_sent_in(since, until)))
    counts = {True: [0] * (len(PROFILE) + 1), False: [0] * (len(PROFILE) + 1)}
    for did_answer, data in rows:
        tally = counts[bool(did_answer)]
        tally[0] += 1
        for i, present in enumerate(PROFILE.values(), start=1):
            tally[i] += present(data)
    return {"answered": counts[True][0], "silent": counts[False][0],
            "signals": [{"signal": name,
                         "answered": round(counts[True][i] / counts[True][0], 4) if counts[True][0] else None,
                         "silent": round(counts[False][i] / counts[False][0], 4) if counts[False][0] else None}
                        for i, name in enumerate(PROFILE, start=1)]}
