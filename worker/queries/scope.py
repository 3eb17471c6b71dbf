"""Who may see what: the one place the console's access rules live (README, "Console").

A Scope is built from the caller and turns into WHERE clauses on a statement that selects from (or
joins) the model named by the method: `scope.surveys(stmt)` needs Survey in the statement,
`scope.tickets(stmt)` Ticket, `scope.follow_ups(stmt)` FollowUp, `scope.rollups(stmt)` DailyRollup. A query function never builds its
own access filter; out of scope, an object is not found (404) and a listing leaves it out.

- admin, the CLI: everything (`Scope.everything()`).
- lead: the helpdesk groups (teams) given; all of them when none are.
- agent: the tickets where they were the agent when the survey was sent (the survey's snapshot of
  the assignee's e-mail, compared lower-cased); a ticket with no survey (flagged by its signals
  alone), where they were its agent when its signals were last collected (tickets.assignee_email).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from ces.worker.db.models import DailyRollup, FollowUp, Role, Solve, Survey, Ticket


@dataclass(frozen=True)
class Scope:
    role: str
    teams: tuple[str, ...] = ()
    agent_email: str | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(Role.ADMIN)

    @classmethod
    def for_user(cls, user) -> Scope:
        """From a users row or a console Person (role, teams, email)."""
        if user.role == Role.ADMIN:
            return cls.everything()
        if user.role == Role.LEAD:
            return cls(Role.LEAD, tuple(sorted(user.teams or ())))
        return cls(Role.AGENT, agent_email=user.email.strip().lower())

    @property
    def is_everything(self) -> bool:
        return self.role == Role.ADMIN or (self.role == Role.LEAD and not self.teams)

    def _agent_surveys(self):
        return func.lower(Survey.assignee_email) == self.agent_email

    def _narrowed(self, stmt: Select, team, agents_rows) -> Select:
        """Everything for an admin (or a lead of no team); a lead's teams by the `team` column; an agent's
        own rows by `agents_rows()` (called only for an agent with an e-mail: the others see nothing)."""
        if self.is_everything:
            return stmt
        if self.role == Role.LEAD:
            return stmt.where(team.in_(self.teams))
        return stmt.where(agents_rows()) if self.agent_email else stmt.where(false())

    def surveys(self, stmt: Select) -> Select:
        return self._narrowed(stmt, Survey.group_name, self._agent_surveys)

    def tickets(self, stmt: Select) -> Select:
        return self._narrowed(stmt, Ticket.group_name, self._agents_tickets)

    def _agents_tickets(self):
        surveyed = select(Solve.id).join(Survey, Survey.solve_id == Solve.id).where(Solve.ticket_pk == Ticket.id)
        theirs = surveyed.where(self._agent_surveys())
        return or_(exists(theirs), and_(~exists(surveyed), self._agent_ticket()))

    def _agent_ticket(self, ticket=Ticket):
        """A ticket with no survey is the agent's who had it when its signals were last collected."""
        return func.lower(ticket.assignee_email) == self.agent_email

    def rollups(self, stmt: Select) -> Select:
        """Daily rollup rows (worker/rollups.py): a lead's teams' rows, an agent's own e-mail's rows."""
        return self._narrowed(stmt, DailyRollup.group_name, lambda: DailyRollup.agent_email == self.agent_email)

    def follow_ups(self, stmt: Select) -> Select:
        return self._narrowed(stmt, FollowUp.team, self._agents_follow_ups)

    def _agents_follow_ups(self):
        theirs = select(Survey.id).where(and_(Survey.id == FollowUp.survey_id, self._agent_surveys()))
        ticket = aliased(Ticket)  # not the statement's own tickets, if it joins them
        signal_only = select(ticket.id).where(ticket.id == FollowUp.ticket_pk, self._agent_ticket(ticket))
        return or_(exists(theirs), and_(FollowUp.survey_id.is_(None), exists(signal_only)))
