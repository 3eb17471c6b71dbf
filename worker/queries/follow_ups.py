"""The follow-up queue: the cases (follow_ups) the caller's scope includes, with what makes each
hard (the answer, the effort index and its reasons as the alerts word them), its owner, its age and
its target time (business days, alerts/business_days.py), filtered by state, team, overdue and
owner. Overdue: not followed up by the target time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from ces.worker.alerts.business_days import follow_up_due
from ces.worker.alerts.content import customer_text
from ces.worker.db.models import Answer, AnswerState, AssessmentRecord, FollowUp, FollowUpState, Survey, Ticket, User
from ces.worker.queries.reports import day_start
from ces.worker.queries.scope import Scope
from ces.worker.rollups import names_driver
from ces.worker.runtime import Runtime
from ces.worker.surveys.scales import scale_of

STATES = ("waiting", "open", "acknowledged", "followed_up", "all")  # waiting: open or acknowledged
WAITING = (FollowUpState.OPEN, FollowUpState.ACKNOWLEDGED)
LIMIT = 200


@dataclass(frozen=True)
class Filters:
    state: str = "waiting"
    team: str | None = None
    overdue: bool = False
    mine: bool = False  # owned by the caller (`owner_id`)
    owner_id: int | None = None
    # The report pages' drill-down: tickets last solved in [since, until) whose assessment names a driver.
    since: date | None = None
    until: date | None = None
    driver: str | None = None


@dataclass
class Case:
    id: int
    ticket_pk: int
    ticket_id: str
    connector: str
    team: str | None
    agent: str | None
    state: str
    opened_at: datetime
    due_at: datetime
    overdue: bool
    score: int | None = None
    points: int | None = None
    label: str | None = None
    level: str | None = None
    index: int | None = None
    reasons: list[str] = field(default_factory=list)
    owner_id: int | None = None
    owner: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    followed_up_at: datetime | None = None
    followed_up_by: str | None = None
    note: str | None = None
    customer: str | None = None  # as the survey's snapshot has them (signal-only cases: none)
    choices: list[tuple[int, str]] = field(default_factory=list)  # who may own it (filled by the page)


def _statement(scope: Scope, filters: Filters):
    snapshot = aliased(Survey)  # not Survey itself: the scope's subquery on Survey must not correlate with it
    stmt = (select(FollowUp, Ticket.external_id, Answer, AssessmentRecord, User.name, User.email, snapshot.name,
                   snapshot.email)
            .join(Ticket, Ticket.id == FollowUp.ticket_pk)
            .outerjoin(snapshot, snapshot.id == FollowUp.survey_id)
            .outerjoin(Answer, and_(Answer.survey_id == FollowUp.survey_id, Answer.state == AnswerState.CONFIRMED))
            .outerjoin(AssessmentRecord, AssessmentRecord.ticket_pk == FollowUp.ticket_pk)
            .outerjoin(User, User.id == FollowUp.owner_id))
    if filters.state == "waiting":
        stmt = stmt.where(FollowUp.state.in_(WAITING))
    elif filters.state in (FollowUpState.OPEN, FollowUpState.ACKNOWLEDGED, FollowUpState.FOLLOWED_UP):
        stmt = stmt.where(FollowUp.state == filters.state)
    if filters.team:
        stmt = stmt.where(FollowUp.team == filters.team)
    if filters.overdue:  # the rest of the rule (past the target) is checked on the oldest, below
        stmt = stmt.where(FollowUp.followed_up_at.is_(None))
    if filters.mine:
        stmt = stmt.where(FollowUp.owner_id == filters.owner_id)
    if filters.since:
        stmt = stmt.where(Ticket.last_solved_at >= day_start(filters.since))
    if filters.until:
        stmt = stmt.where(Ticket.last_solved_at < day_start(filters.until))
    if filters.driver:
        stmt = stmt.where(names_driver(filters.driver, AssessmentRecord.reason_codes))
    # Waiting cases oldest first (the most urgent); done ones newest first.
    order = FollowUp.created_at.desc() if filters.state == FollowUpState.FOLLOWED_UP else FollowUp.created_at
    return scope.follow_ups(stmt).order_by(order, FollowUp.id).limit(LIMIT)


def _case(rt: Runtime, row, now: datetime) -> Case:
    item, ticket_id, answer, assessment, owner_name, owner_email, customer_name, customer_email = row
    due = follow_up_due(rt.settings.alerts, item.created_at)
    case = Case(id=item.id, ticket_pk=item.ticket_pk, ticket_id=ticket_id, connector=item.connector_id,
                team=item.team, agent=item.agent, state=item.state, opened_at=item.created_at, due_at=due,
                overdue=item.followed_up_at is None and now > due, owner_id=item.owner_id,
                owner=owner_name or owner_email, acknowledged_at=item.acknowledged_at,
                acknowledged_by=item.acknowledged_by, followed_up_at=item.followed_up_at,
                followed_up_by=item.followed_up_by, note=item.followed_up_note,
                customer=customer_text({"customer": {"name": customer_name, "email": customer_email}})
                if customer_name or customer_email else None)
    if answer is not None:
        scale = scale_of(answer.scale)
        case.score, case.points, case.label = answer.score, scale.points, scale.labels[answer.score - 1]
    if assessment is not None:
        case.level, case.index = assessment.level, assessment.effort_index
        case.reasons = [r["text"] for r in assessment.reasons]
    return case


def follow_up_queue(scope: Scope, rt: Runtime, filters: Filters = Filters()) -> list[Case]:
    """Waiting cases oldest first: as the target comes later for a later case, the overdue ones are
    the oldest, so that the first LIMIT not followed up hold every overdue one there is room for."""
    now = rt.now()
    with rt.transaction() as s:
        cases = [_case(rt, row, now) for row in s.execute(_statement(scope, filters)).all()]
    return [c for c in cases if c.overdue] if filters.overdue else cases


def follow_up_case(scope: Scope, rt: Runtime, case_id: int) -> Case | None:
    """One case, if the scope includes it."""
    now = rt.now()
    with rt.transaction() as s:
        row = s.execute(scope.follow_ups(_statement(Scope.everything(), Filters(state="all"))
                                         .where(FollowUp.id == case_id))).first()
        return _case(rt, row, now) if row is not None else None


def ticket_cases(scope: Scope, rt: Runtime, ticket_pk: int) -> list[Case]:
    """The cases of one ticket (one per surveyed answer, or one for its signals), oldest first."""
    now = rt.now()
    with rt.transaction() as s:
        rows = s.execute(scope.follow_ups(_statement(Scope.everything(), Filters(state="all"))
                                          .where(FollowUp.ticket_pk == ticket_pk))).all()
        return [_case(rt, row, now) for row in rows]


def teams(scope: Scope, rt: Runtime) -> list[str]:
    """The teams of the cases the scope includes, for the queue's filter."""
    with rt.transaction() as s:
        found = s.scalars(scope.follow_ups(select(FollowUp.team).where(FollowUp.team.isnot(None)).distinct()))
        return sorted(found, key=str.casefold)


def owner_choices(scope: Scope, rt: Runtime, case_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """For each case, the active console users who could own it: those whose own scope includes it
    (the same rule as every page: an owner can open what they are given)."""
    if not case_ids:
        return {}
    out: dict[int, list[tuple[int, str]]] = {i: [] for i in case_ids}
    with rt.transaction() as s:
        visible = set(s.scalars(scope.follow_ups(select(FollowUp.id).where(FollowUp.id.in_(case_ids)))))
        people = s.scalars(select(User).where(User.disabled_at.is_(None)).order_by(User.name, User.email)).all()
        for person in people:
            theirs = s.scalars(Scope.for_user(person).follow_ups(
                select(FollowUp.id).where(FollowUp.id.in_(visible))))
            for case_id in theirs:
                out[case_id].append((person.id, person.name or person.email))
    return out
