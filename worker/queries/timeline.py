"""One ticket as its customer went through it: created, the teams and agents it passed through,
reopens, every reply and wait against the channel's target, the customer's other contacts, the
survey, each answer and change, the alerts and the follow-up — in time order, for the ticket page.

Built from the stored rows (the normalized history, signals, surveys, answer history, alerts,
follow-up cases), never from the helpdesk. Waits follow the signals' definition (worker/signals.py):
the first reply from the ticket's opening, then each customer message waiting for the next agent
reply. An event is a kind and its facts; the page words it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select

from ces.connectors.models import RESOLVED, Actor, EntryKind, HistoryEntry
from ces.worker.alerts.content import customer_text
from ces.worker.db.models import (
    Alert,
    AnswerHistory,
    AssessmentRecord,
    FollowUp,
    Solve,
    Survey,
    SurveyState,
    Ticket,
    TicketHistoryRecord,
    TicketSignalsRecord,
    User,
)
from ces.worker.queries.scope import Scope
from ces.worker.runtime import Runtime
from ces.worker.signals.definitions import OPEN_LIKE, normalized
from ces.worker.surveys.scales import scale_of

ALERT_KINDS = ("alert", "update")


@dataclass
class Event:
    at: datetime | None
    kind: str  # created, team, transfer_team, agent, transfer_agent, solved, reopened, customer, reply, …
    facts: dict = field(default_factory=dict)
    hard: bool = False  # one of the things that make a ticket hard (a transfer, a slow reply, a reopen…)


@dataclass
class TicketView:
    pk: int
    connector: str
    ticket_id: str
    channel: str | None
    team: str | None
    agent: str | None
    status: str | None
    url: str | None
    customer: str | None = None  # the survey's snapshot (name <e-mail>); signal-only tickets: none
    level: str | None = None
    index: int | None = None
    basis: str | None = None
    reasons: list[str] = field(default_factory=list)
    target_seconds: float | None = None
    events: list[Event] = field(default_factory=list)


def _history(s, ticket: Ticket) -> tuple[list[HistoryEntry], list[dict]]:
    record = s.get(TicketHistoryRecord, ticket.id)
    if record is None:
        return [], []
    entries = [HistoryEntry.model_validate(e) for e in record.history.get("entries") or []]
    return normalized(entries), record.contacts or []


def _walk(entries: list[HistoryEntry], opened: datetime | None, channel: str | None,
          target: float | None) -> list[Event]:
    """The history's events, with each agent reply's wait against the target."""
    events, groups, agents, status = [], [], [], None
    waiting_since, first_reply = None, True
    for e in entries:
        if e.kind == EntryKind.GROUP and e.value and (not groups or groups[-1] != e.value):
            events.append(Event(e.at, "transfer_team" if groups else "team", {"team": e.value}, hard=bool(groups)))
            groups.append(e.value)
        elif e.kind == EntryKind.ASSIGNEE and e.value and (not agents or agents[-1] != e.value):
            events.append(Event(e.at, "transfer_agent" if agents else "agent", {"agent": e.value}, hard=bool(agents)))
            agents.append(e.value)
        elif e.kind == EntryKind.STATUS and e.value:
            if status in RESOLVED and e.value in OPEN_LIKE:
                events.append(Event(e.at, "reopened", {}, hard=True))
            elif e.value in RESOLVED and status not in RESOLVED:
                events.append(Event(e.at, "solved" if e.value == "solved" else "closed"))
            status = e.value
        elif e.kind == EntryKind.MESSAGE and e.actor == Actor.CUSTOMER:
            via = e.channel.value if e.channel else None
            events.append(Event(e.at, "customer", {"channel": via}, hard=bool(via and channel and via != channel)))
            waiting_since = waiting_since or e.at
        elif e.kind == EntryKind.MESSAGE and e.actor == Actor.AGENT:
            since = waiting_since or (opened if first_reply else None)
            wait = (e.at - since).total_seconds() if since and e.at >= since else None
            slow = wait is not None and target is not None and wait > target
            events.append(Event(e.at, "reply", {"wait": wait, "first": first_reply, "target": target}, hard=slow))
            waiting_since, first_reply = None, False
    return events


def _contacts(s, scope: Scope, ticket: Ticket, contacts: list[dict], opened: datetime | None) -> list[Event]:
    others = [c for c in contacts if (c.get("connector"), c.get("id")) != (ticket.connector_id, ticket.external_id)]
    if not others:
        return []
    wanted = or_(*[and_(Ticket.connector_id == c["connector"], Ticket.external_id == c["id"]) for c in others])
    pages = {(c, i): pk for pk, c, i in s.execute(
        scope.tickets(select(Ticket.id, Ticket.connector_id, Ticket.external_id).where(wanted)))}
    events = []
    for c in others:
        at = datetime.fromisoformat(c["created_at"]) if isinstance(c["created_at"], str) else c["created_at"]
        after = opened is not None and at > opened
        events.append(Event(at, "came_back" if after else "contact_before",
                            {"ticket_id": c["id"], "connector": c["connector"], "channel": c.get("channel"),
                             "pk": pages.get((c["connector"], c["id"]))}, hard=True))
    return events


def _solves(s, ticket: Ticket) -> list[Event]:
    """Solves and reopens as the webhooks told them: for a ticket whose history holds no status."""
    events = []
    for solved_at, reopened_at in s.execute(select(Solve.solved_at, Solve.reopened_at)
                                            .where(Solve.ticket_pk == ticket.id).order_by(Solve.number)):
        events.append(Event(solved_at, "solved"))
        if reopened_at is not None:
            events.append(Event(reopened_at, "reopened", hard=True))
    if not events and ticket.last_solved_at is not None:
        events.append(Event(ticket.last_solved_at, "solved"))
    return events


def _surveys(s, ticket: Ticket, rt: Runtime) -> list[Event]:
    events = []
    surveys = s.scalars(select(Survey).join(Solve, Solve.id == Survey.solve_id)
                        .where(Solve.ticket_pk == ticket.id).order_by(Solve.number)).all()
    for survey in surveys:
        if survey.sent_at is not None:
            events.append(Event(survey.sent_at, "survey_sent", {"delivery": survey.delivery, "scale": survey.scale}))
        elif survey.state in (SurveyState.SKIPPED, SurveyState.CANCELLED, SurveyState.FAILED):
            events.append(Event(survey.created_at, "no_survey", {"state": survey.state, "reason": survey.reason}))
        scale = scale_of(survey.scale)
        for h in s.scalars(select(AnswerHistory).where(AnswerHistory.survey_id == survey.id)
                           .order_by(AnswerHistory.at, AnswerHistory.id)):
            low = h.score <= rt.settings.alerts.low_ces7 if h.scale == "ces7" else h.score >= rt.settings.alerts.low_effort5
            events.append(Event(h.at, f"answer_{h.kind}", {"score": h.score, "points": scale.points,
                                                           "label": scale.labels[h.score - 1], "comment": h.comment},
                                hard=low))
    return events


def _follow_up(s, ticket: Ticket) -> list[Event]:
    events = []
    cases = s.scalars(select(FollowUp).where(FollowUp.ticket_pk == ticket.id).order_by(FollowUp.id)).all()
    for case in cases:
        events.append(Event(case.created_at, "flagged", {"survey": case.survey_id is not None}))
        if case.assigned_at and case.owner_id:
            owner = s.get(User, case.owner_id)
            events.append(Event(case.assigned_at, "assigned", {"owner": owner.name or owner.email if owner else None,
                                                               "by": case.assigned_by}))
        if case.acknowledged_at:
            events.append(Event(case.acknowledged_at, "acknowledged", {"by": case.acknowledged_by}))
        if case.followed_up_at:
            events.append(Event(case.followed_up_at, "followed_up", {"by": case.followed_up_by,
                                                                      "note": case.followed_up_note}))
    alerts = s.execute(select(Alert.created_at, Alert.sent_at, Alert.route, Alert.route_type, Alert.kind, Alert.state)
                       .join(FollowUp, FollowUp.id == Alert.follow_up_id)
                       .where(FollowUp.ticket_pk == ticket.id, Alert.kind.in_(ALERT_KINDS)).order_by(Alert.id)).all()
    for created, sent, route, route_type, kind, state in alerts:
        events.append(Event(sent or created, "alert", {"route": route, "type": route_type, "is_update": kind == "update",
                                                       "state": state}))
    return events


def helpdesk_url(rt: Runtime, ticket: Ticket, survey_url: str | None) -> str | None:
    """Where an agent opens the ticket: as its connector recorded it, else its connector's rule."""
    if ticket.ticket_url or survey_url:
        return ticket.ticket_url or survey_url
    connector = rt.connector(ticket.connector_id)
    return connector.ticket_url(ticket.external_id) if connector is not None else None


def ticket_timeline(scope: Scope, rt: Runtime, ticket_pk: int) -> TicketView | None:
    """The ticket page's content, or None if there is no such ticket in the scope."""
    with rt.transaction() as s:
        ticket = s.scalars(scope.tickets(select(Ticket).where(Ticket.id == ticket_pk))).first()
        if ticket is None:
            return None
        survey = s.execute(select(Survey.ticket_url, Survey.assignee, Survey.group_name, Survey.channel, Survey.name,
                                  Survey.email)
                           .join(Solve, Solve.id == Survey.solve_id).where(Solve.ticket_pk == ticket.id)
                           .order_by(Solve.number.desc()).limit(1)).first()
        view = TicketView(pk=ticket.id, connector=ticket.connector_id, ticket_id=ticket.external_id,
                          channel=ticket.channel or (survey and survey.channel), status=ticket.status,
                          team=ticket.group_name or (survey and survey.group_name),
                          agent=ticket.assignee or (survey and survey.assignee),
                          url=helpdesk_url(rt, ticket, survey and survey.ticket_url))
        if survey is not None and (survey.name or survey.email):
            view.customer = customer_text({"customer": {"name": survey.name, "email": survey.email}})
        assessment = s.get(AssessmentRecord, ticket.id)
        if assessment is not None:
            view.level, view.index, view.basis = assessment.level, assessment.effort_index, assessment.basis
            view.reasons = [r["text"] for r in assessment.reasons]
        signals = s.get(TicketSignalsRecord, ticket.id)
        view.target_seconds = (signals.data.get("reply_target_seconds") if signals else None) or \
            rt.settings.signals.reply_targets.get(view.channel or "")
        entries, contacts = _history(s, ticket)
        opened = ticket.opened_at or (entries[0].at if entries else ticket.created_at)
        events = [Event(opened, "created", {"channel": view.channel})]
        events += _walk(entries, opened, view.channel, view.target_seconds)
        if not any(e.kind == EntryKind.STATUS for e in entries):
            events += _solves(s, ticket)
        events += _contacts(s, scope, ticket, contacts, opened)
        events += _surveys(s, ticket, rt)
        events += _follow_up(s, ticket)
    view.events = sorted(events, key=lambda e: (e.at is None, e.at or opened))
    return view


def find_tickets(scope: Scope, rt: Runtime, ticket_id: str, limit: int = 20) -> list[tuple[int, str, str]]:
    """The tickets in scope with this helpdesk id (one per connector): (pk, connector, id)."""
    with rt.transaction() as s:
        return [tuple(r) for r in s.execute(scope.tickets(
            select(Ticket.id, Ticket.connector_id, Ticket.external_id)
            .where(Ticket.external_id == ticket_id.strip().lstrip("#"))).order_by(Ticket.connector_id).limit(limit))]
