"""CES reports (each reads what its Scope allows: `Scope.everything()` for the CLI). The cohort is the surveys sent in [since, until); their confirmed answers are the
responses (a provisional click counts once it settles; see surveys/answers.py).

CES (ces7) = share of answers 5–7 ("at least somewhat agree"), reported beside the mean. For the
effort5 scale the share is of answers 1–2 (low effort) and a lower mean is better. Scales are never
mixed: a report covers one scale.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, select, text

from ces.worker.alerts.business_days import follow_up_due
from ces.worker.db.models import (
    Answer,
    AnswerState,
    AssessmentRecord,
    FollowUp,
    Solve,
    Survey,
    SurveyState,
    Ticket,
    TicketSignalsRecord,
)
from ces.worker.model.effects import signal_label
from ces.worker.model.store import adopted_effects
from ces.worker.queries.ces import report_rows
from ces.worker.queries.intervals import newcombe
from ces.worker.queries.scope import Scope
from ces.worker.runtime import Runtime
from ces.worker.surveys.scales import scale_of

GROUPS = ("connector", "channel", "group", "agent", "week")


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def default_range(today: date) -> tuple[date, date]:
    """The last 30 days, today included (until is exclusive)."""
    return today - timedelta(days=29), today + timedelta(days=1)


def _ratio(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def ces_report(scope: Scope, rt: Runtime, since: date, until: date, *, scale: str = "ces7",
               by: str | None = None) -> dict:
    """From the daily rollups, as the console's pages (worker/queries/ces.py)."""
    rows = report_rows(scope, rt, since, until, scale=scale, by=by)
    return {"since": since.isoformat(), "until": until.isoformat(), "scale": scale_of(scale).key, "rows": rows}


SIGNAL_BUCKETS = ("transfers", "reopened", "repeat_contact", "channel_switch", "reply_delay_breach")


def _buckets():
    """Each signal's bucket as a small integer or a boolean (cheaper to group by than text); named by
    `_bucket_value`. Their order is SIGNAL_BUCKETS'."""
    T = TicketSignalsRecord
    transfers = T.group_transfers + T.assignee_transfers
    return [
        case((transfers == 0, 0), (transfers == 1, 1), else_=2).label("transfers"),
        (T.reopens > 0).label("reopened"),
        ((T.repeat_contacts + T.repeat_after) > 0).label("repeat_contact"),
        T.channel_switch.label("channel_switch"),
        T.reply_breach.label("reply_delay_breach"),
    ]


def _bucket_value(name: str, raw) -> str:
    if name == "transfers":
        return ("0", "1", "2+")[raw]
    return "yes" if raw else "no"


def signal_report(scope: Scope, rt: Runtime, since: date, until: date, *, scale: str = "ces7") -> dict:
    """CES, mean and counts with and without each signal, and the share of the high-effort tickets
    solved in the range that each driver accounts for: what to fix first.

    Two grouped queries over the signal columns (the covering index ix_ticket_signals_buckets and
    ix_assessments_level_ticket let PostgreSQL read them from the indexes; bench/README.md)."""
    sc = scale_of(scale)
    lo, hi = day_start(since), day_start(until)
    with rt.transaction() as s:
        if s.bind.dialect.name == "postgresql":
            s.execute(text("SET LOCAL jit = off"))  # compiling costs more than it saves on these queries
        buckets = _buckets()
        model_id, effects = adopted_effects(s)
        good = func.sum(case((Answer.score.between(sc.good_min, sc.good_max), 1), else_=0))
        surveys = s.execute(scope.surveys(
            select(*buckets, func.count(Survey.id), func.count(Answer.id), good, func.sum(Answer.score))
            .select_from(Survey).join(Solve, Solve.id == Survey.solve_id)
            .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == Solve.ticket_pk)
            .outerjoin(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
            .where(Survey.state == SurveyState.SENT, Survey.scale == scale, Survey.sent_at >= lo, Survey.sent_at < hi)
            .group_by(*buckets))).all()
        flagged = s.execute(scope.tickets(
            select(*buckets, func.count()).select_from(Ticket)
            .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == Ticket.id)
            .join(AssessmentRecord, AssessmentRecord.ticket_pk == Ticket.id)
            .where(AssessmentRecord.level == "high", Ticket.last_solved_at >= lo, Ticket.last_solved_at < hi)
            .group_by(*buckets))).all()
    n = len(SIGNAL_BUCKETS)
    totals: dict[tuple[str, str], list[float]] = {}
    for row in surveys:
        for i, name in enumerate(SIGNAL_BUCKETS):
            t = totals.setdefault((name, _bucket_value(name, row[i])), [0, 0, 0, 0, 0])
            for j, value in enumerate(row[n:]):
                t[j] += value or 0
    high_total = sum(r[n] for r in flagged)
    for row in flagged:
        for i, name in enumerate(SIGNAL_BUCKETS):
            totals.setdefault((name, _bucket_value(name, row[i])), [0, 0, 0, 0, 0])[4] += row[n]
    order = {"0": 0, "1": 1, "2+": 2, "no": 0, "yes": 1}
    rows = []
    for (name, value), (sent, responses, good_count, score_sum, high) in sorted(
            totals.items(), key=lambda kv: (SIGNAL_BUCKETS.index(kv[0][0]), order[kv[0][1]])):
        rows.append({"signal": name, "value": value, "surveys_sent": int(sent), "responses": int(responses),
                     "response_rate": _ratio(responses, sent), "ces": _ratio(good_count, responses),
                     "mean": round(score_sum / responses, 2) if responses else None,
                     "high_effort": int(high), "high_effort_share": _ratio(high, high_total),
                     **_cost(totals, name, value), "odds_ratio": effects.get(signal_label(name, value))})
    return {"since": since.isoformat(), "until": until.isoformat(), "scale": sc.key, "high_effort_tickets": high_total,
            "model_id": model_id, "rows": rows}


def _cost(totals: dict, name: str, value: str) -> dict:
    """The CES points this bucket costs against the signal's none (transfers 0, else no): its share
    of the signal's answers × (CES without − CES with), with Newcombe's 95 % interval × the share."""
    absent = totals.get((name, "0" if name == "transfers" else "no"))
    present = totals[(name, value)]
    answers = sum(t[1] for (n, _), t in totals.items() if n == name)
    interval = newcombe(int(absent[2]), int(absent[1]), int(present[2]), int(present[1])) if absent else None
    if value in ("0", "no") or interval is None:
        return {"cost": None, "cost_low": None, "cost_high": None}
    share = present[1] / answers
    difference = absent[2] / absent[1] - present[2] / present[1]
    return {"cost": round(share * difference, 4), "cost_low": round(share * interval[0], 4),
            "cost_high": round(share * interval[1], 4)}


def follow_up_report(scope: Scope, rt: Runtime, since: date, until: date, *, days: int | None = None) -> dict:
    """Time to acknowledge and the share followed up within `days` business days (Monday–Friday in
    `alerts.timezone`, default `alerts.follow_up_business_days`: the console queue's target), by
    team and agent, for the follow-up cases opened in the range."""
    days = rt.settings.alerts.follow_up_business_days if days is None else days
    with rt.transaction() as s:
        cases = s.execute(scope.follow_ups(
            select(FollowUp.team, FollowUp.agent, FollowUp.created_at, FollowUp.acknowledged_at,
                   FollowUp.followed_up_at)
            .where(FollowUp.created_at >= day_start(since), FollowUp.created_at < day_start(until)))).all()
    groups: dict[tuple, list] = {}
    for team, agent, created, acked, done in cases:
        groups.setdefault((team, agent), []).append((created, acked, done))
    rows = []
    for (team, agent), items in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")):
        waits = [(a - c).total_seconds() for c, a, _ in items if a]
        on_time = sum(1 for c, _, d in items if d and d <= follow_up_due(rt.settings.alerts, c, days))
        rows.append({"team": team, "agent": agent, "alerts": len(items), "acknowledged": len(waits),
                     "median_seconds_to_acknowledge": round(statistics.median(waits)) if waits else None,
                     "followed_up": sum(1 for _, _, d in items if d),
                     "followed_up_within_days": _ratio(on_time, len(items))})
    return {"since": since.isoformat(), "until": until.isoformat(), "days": days, "rows": rows}
