"""When to alert, and whom: a low answer once it has settled; an update when it changes after the
alert went out; the daily digest of tickets flagged by their signals alone. Every delivery is a row
with a dedupe key, so that nothing is sent twice through retries, duplicates or restarts."""

from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ces.config.models import AlertRoute
from ces.connectors import base
from ces.worker.alerts.followup import case, links
from ces.worker.alerts.send import SUPERSEDED, writeback_prefix, writebacks
from ces.worker.db.models import (
    Alert,
    AlertState,
    Answer,
    AnswerHistory,
    AnswerState,
    AssessmentRecord,
    JobKind,
    Solve,
    Survey,
    SurveyState,
    Ticket,
)
from ces.worker.jobs import schedule
from ces.worker.runtime import Runtime
from ces.worker.signals.collect import reassess
from ces.worker.surveys.scales import scale_of

log = structlog.get_logger("ces.alerts")
SEND_ALERT = "ces.send_alert"


def is_low(rt: Runtime, score: int, scale: str) -> bool:
    a = rt.settings.alerts
    return score <= a.low_ces7 if scale == "ces7" else score >= a.low_effort5


def answer_changed(s: Session, survey_id: int, now: datetime, settle_seconds: float, *, comment: bool) -> None:
    """An answer was confirmed or changed: check for alerts once it has settled (a comment settles it)."""
    ticket_pk = s.scalar(select(Solve.ticket_pk).join(Survey, Survey.solve_id == Solve.id)
                         .where(Survey.id == survey_id))
    if ticket_pk is not None:
        due = now if comment else now + timedelta(seconds=settle_seconds)
        schedule(s, JobKind.ALERT, ticket_pk, due)


def _fits(values: list[str], value: str | None) -> bool:
    return not values or (value is not None and value.casefold() in {v.casefold() for v in values})


def _routes(rt: Runtime, trigger: str, connector_id: str, group: str | None, brand: str | None) -> list[AlertRoute]:
    return [r for r in rt.settings.alerts.routes if trigger in r.on and _fits(r.connectors, connector_id)
            and _fits(r.groups, group) and _fits(r.brands, brand)]


def _recipients(route: AlertRoute, assignee_email: str | None) -> list[str]:
    if route.type != "email":
        return [route.name]
    out = list(route.to)
    if route.to_assignee and assignee_email and assignee_email not in out:
        out.append(assignee_email)
    return out


def _insert(s: Session, values: dict) -> int | None:
    """The new alert's id, or None if its dedupe key was seen before."""
    dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
    return s.execute(dialect.insert(Alert).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
                     .returning(Alert.id)).scalar_one_or_none()


def _version(score: int, comment: str | None) -> str:
    return f"{score}-{hashlib.sha256((comment or '').encode()).hexdigest()[:12]}"


def what_changed(before: dict, score: int, comment: str | None) -> list[str]:
    """What is new since the message a recipient got before: "score changed from 2 to 4", "new comment".
    (A changed score's earlier comment is not withdrawn: it stays with the score it was written for.)"""
    changes = []
    if before.get("score") != score:
        changes.append(f"score changed from {before.get('score')} to {score}")
    if comment and comment != before.get("comment"):
        changes.append("new comment")
    return changes


def _write_back(s: Session, survey: Survey, tag: str, c: dict, now: datetime) -> int | None:
    """The score's tag on the ticket, in place of the one an earlier answer left there: a customer who
    changes 2 to 6 leaves `ces_6` only. Numbered per survey, so that 2 → 6 → 2 writes `ces_2` again."""
    prefix = writeback_prefix(survey.id)
    earlier = writebacks(s, prefix)
    if earlier and earlier[-1].content.get("tags") == [tag]:
        return None
    # One waiting for a retry would put its stale tag back after ours; one being sent is waited for
    # (send_alert). Conditional: one claimed meanwhile stays `sending`, and so is waited for.
    s.execute(update(Alert).where(Alert.id.in_([a.id for a in earlier]), Alert.state == AlertState.PENDING)
              .values(state=AlertState.SKIPPED, next_try_at=None, reason=SUPERSEDED))
    stale = sorted({t for a in earlier for t in a.content.get("tags", [])} - {tag})
    return _insert(s, dict(
        dedupe_key=f"{prefix}#{len(earlier) + 1}", survey_id=survey.id, kind="writeback", route="writeback",
        route_type="tags", recipient=survey.connector_id,
        # What the tag call needs, nothing of the customer: a write-back has no reader but the helpdesk.
        content={"kind": "writeback", "connector": c["connector"], "ticket_id": c["ticket_id"], "tags": [tag],
                 "remove_tags": stale},
        state=AlertState.PENDING, attempts=0, created_at=now, next_try_at=now))


def _content(survey: Survey, answer: Answer, ticket: Ticket, assessment: AssessmentRecord | None) -> dict:
    """What every alert about this answer carries; the comment is the one written with its score."""
    scale = scale_of(answer.scale)
    return dict(kind="alert", connector=survey.connector_id, ticket_id=survey.ticket_external_id,
                ticket_url=survey.ticket_url or ticket.ticket_url, score=answer.score, points=scale.points,
                scale=scale.key, label=scale.labels[answer.score - 1], comment=answer.comment,
                customer={"name": survey.name, "email": survey.email}, agent=survey.assignee,
                team=survey.group_name, channel=survey.channel,
                level=assessment.level if assessment else "high", index=assessment.effort_index if assessment else None,
                reasons=assessment.reasons if assessment else [])


def check_answer(rt: Runtime, ticket_pk: int) -> str:
    """The job behind an answer: write the score back, and alert on a settled low answer."""
    now = rt.now()
    settle = timedelta(seconds=rt.settings.alerts.settle_seconds)
    reassess(rt, ticket_pk)  # the assessment the alert shows includes this answer
    new_ids: list[int | None] = []
    with rt.transaction() as s:
        row = s.execute(select(Survey, Answer)
                        .join(Solve, Solve.id == Survey.solve_id)
                        .join(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
                        .where(Solve.ticket_pk == ticket_pk, Survey.state.in_(SurveyState.REACHED))
                        .order_by(Solve.number.desc()).limit(1)).first()
        if row is None:
            return "no confirmed answer"
        survey, answer = row
        if now - answer.updated_at < settle and not answer.comment:
            schedule(s, JobKind.ALERT, ticket_pk, answer.updated_at + settle)
            return "waiting for the answer to settle"
        c = _content(survey, answer, s.get(Ticket, ticket_pk), s.get(AssessmentRecord, ticket_pk))
        conn = rt.connector(survey.connector_id)
        if rt.settings.alerts.writeback and conn is not None and base.TAGS in conn.capabilities:
            new_ids.append(_write_back(s, survey, f"{rt.settings.alerts.writeback_tag_prefix}{answer.score}", c, now))
        sent_before = s.scalars(select(Alert).where(Alert.follow_up_id.isnot(None), Alert.kind.in_(["alert", "update"]),
                                                    Alert.survey_id == survey.id)
                                .order_by(Alert.id)).all()
        if not sent_before and not is_low(rt, answer.score, answer.scale):
            return "answer is not low: no alert"
        new_ids += _plan_deliveries(rt, s, survey, answer, c, list(sent_before), ticket_pk, now)
    queued = [i for i in new_ids if i]
    for alert_id in queued:
        rt.enqueue(SEND_ALERT, alert_id)
    return f"{len(queued)} alert(s)"


def _plan_deliveries(rt: Runtime, s: Session, survey: Survey, answer: Answer, c: dict, sent_before: list[Alert],
                     ticket_pk: int, now: datetime) -> list[int | None]:
    """One alert per route and recipient the first time; after it, one update per change of the
    answer (none if the recipient has this version already). The new alerts' ids (None: seen before)."""
    version = _version(answer.score, answer.comment)
    # An update is keyed by the latest fact of the answer's history, so that 2 → 4 → 2 → 4 tells
    # each change (answers from before the history have only their version).
    fact = s.scalar(select(func.max(AnswerHistory.id)).where(AnswerHistory.survey_id == survey.id))
    item = case(s, key=f"survey:{survey.id}", ticket_pk=ticket_pk, survey_id=survey.id,
                connector_id=survey.connector_id, team=survey.group_name, agent=survey.assignee, now=now)
    new_ids: list[int | None] = []
    for route in _routes(rt, "low_answer", survey.connector_id, survey.group_name, survey.brand):
        for recipient in _recipients(route, survey.assignee_email):
            first = f"alert:{survey.id}:{route.name}:{recipient}"
            original = next((a for a in sent_before if a.dedupe_key == first), None)
            latest = [a for a in sent_before if a.route == route.name and a.recipient == recipient]
            if original is None:
                key, kind, extra = first, "alert", {}
            elif latest[-1].content.get("version") == version:
                continue
            else:  # changed after the alert: one follow-up per route (or an edit in place)
                key, kind = f"update:{survey.id}:{route.name}:{recipient}:{fact or version}", "update"
                before = latest[-1].content
                extra = {"previous": {"score": before.get("score"), "comment": before.get("comment")},
                         "changes": what_changed(before, answer.score, answer.comment), "edit": original.id}
            new_ids.append(_insert(s, dict(
                dedupe_key=key, survey_id=survey.id, kind=kind, route=route.name, route_type=route.type,
                recipient=recipient, follow_up_id=item.id, state=AlertState.PENDING, attempts=0, created_at=now,
                next_try_at=now, content={**c, **extra, "kind": kind, "version": version,
                                          "links": links(s, rt, item.id, recipient, now)})))
    return new_ids


def digest_due(rt: Runtime) -> list[int]:
    """At digest_time (in the configured time zone), one digest per route and team of the tickets
    flagged high effort by their signals alone since the previous digest."""
    routes = [r for r in rt.settings.alerts.routes if "digest" in r.on]
    if not routes:
        return []
    a = rt.settings.alerts
    tz = ZoneInfo(a.timezone)
    now = rt.now()
    local = now.astimezone(tz)
    at = time(*map(int, a.digest_time.split(":")))
    today = local.date() if local.time() >= at else local.date() - timedelta(days=1)
    until = datetime.combine(today, at, tzinfo=tz)
    since = until - timedelta(days=1)
    created: list[int] = []
    with rt.transaction() as s:
        flagged = s.execute(select(AssessmentRecord, Ticket).join(Ticket, Ticket.id == AssessmentRecord.ticket_pk)
                            .where(AssessmentRecord.basis == "signals", AssessmentRecord.assessed_at >= since,
                                   AssessmentRecord.assessed_at < until)).all()
        for route in routes:
            teams: dict[str | None, list] = {}
            for assessment, ticket in flagged:
                if assessment.level in route.levels and _routes_fit(route, ticket):
                    teams.setdefault(ticket.group_name, []).append((assessment, ticket))
            for team, items in sorted(teams.items(), key=lambda kv: kv[0] or ""):
                for recipient in _recipients(route, None):
                    key = f"digest:{route.name}:{team or '-'}:{today.isoformat()}:{recipient}"
                    if s.scalar(select(Alert.id).where(Alert.dedupe_key == key)):
                        continue
                    tickets = []
                    for assessment, ticket in sorted(items, key=lambda it: -it[0].effort_index):
                        item = case(s, key=f"ticket:{ticket.id}", ticket_pk=ticket.id, survey_id=None,
                                    connector_id=ticket.connector_id, team=ticket.group_name, agent=ticket.assignee,
                                    now=now)
                        tickets.append({"ticket_id": ticket.external_id, "connector": ticket.connector_id,
                                        "ticket_url": ticket.ticket_url, "index": assessment.effort_index,
                                        "reasons": assessment.reasons,
                                        "links": links(s, rt, item.id, recipient, now)})
                    new = _insert(s, dict(dedupe_key=key, kind="digest", route=route.name, route_type=route.type,
                                          recipient=recipient, state=AlertState.PENDING, attempts=0, created_at=now,
                                          next_try_at=now, content={"kind": "digest", "team": team,
                                                                    "date": today.isoformat(), "tickets": tickets}))
                    if new:
                        created.append(new)
    return created


def _routes_fit(route: AlertRoute, ticket: Ticket) -> bool:
    return _fits(route.connectors, ticket.connector_id) and _fits(route.groups, ticket.group_name) and \
        _fits(route.brands, ticket.brand)
