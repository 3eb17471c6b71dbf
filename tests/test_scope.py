"""Who sees what (worker/queries/scope.py), on the real databases: a Scope's WHERE clauses on
surveys, tickets and follow-ups for each role, the way the console's queries will apply them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from ces.worker.db.models import Answer, FollowUp, Survey, Ticket
from ces.worker.queries.scope import Scope
from tests.planted import solved_and_surveyed

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
# ticket id: (team, the agent's e-mail on the survey; None: signal-only, no survey)
TICKETS = {"1": ("Billing", "Amy@Acme.test"), "2": ("Billing", "bob@acme.test"), "3": ("Returns", "amy@acme.test"),
           "4": ("Returns", "bob@acme.test"), "5": ("Billing", None), "6": (None, "carl@acme.test"),
           "7": ("Returns", None)}
# signal-only tickets whose agent the helpdesk told when their signals were collected
TICKET_AGENTS = {"7": "amy@acme.test"}


@pytest.fixture
def tickets(rt):
    with rt.transaction() as s:
        for external, (team, agent) in TICKETS.items():
            ticket = Ticket(connector_id="zendesk-main", external_id=external, created_at=NOW, updated_at=NOW,
                            group_name=team, assignee_email=TICKET_AGENTS.get(external))
            s.add(ticket)
            s.flush()
            survey_id = None
            if agent is not None:
                survey = solved_and_surveyed(s, ticket, NOW, token=f"token-{external}", scale="ces7", send_after=NOW,
                                             created_at=NOW, group_name=team, assignee_email=agent, state="sent")
                s.add(Answer(survey_id=survey.id, scale="ces7", score=2, answered_at=NOW, updated_at=NOW))
                survey_id = survey.id
            s.add(FollowUp(key=f"ticket:{ticket.id}", ticket_pk=ticket.id, survey_id=survey_id,
                           connector_id="zendesk-main", team=team, created_at=NOW))


class Person:
    def __init__(self, role, email="someone@acme.test", teams=()):
        self.role, self.email, self.teams = role, email, list(teams)


def seen(rt, scope: Scope) -> dict[str, list[str]]:
    with rt.transaction() as s:
        return {
            "surveys": sorted(s.scalars(scope.surveys(select(Survey.ticket_external_id)))),
            "answers": sorted(s.scalars(scope.surveys(select(Survey.ticket_external_id)
                                                      .join(Answer, Answer.survey_id == Survey.id)))),
            "tickets": sorted(s.scalars(scope.tickets(select(Ticket.external_id)))),
            "follow_ups": sorted(s.scalars(scope.follow_ups(select(Ticket.external_id)
                                                            .join(FollowUp, FollowUp.ticket_pk == Ticket.id)))),
        }


def everywhere(*ids: str) -> dict[str, list[str]]:
    with_survey = [i for i in ids if TICKETS[i][1] is not None]
    return {"surveys": with_survey, "answers": with_survey, "tickets": list(ids), "follow_ups": list(ids)}


def test_admins_and_the_cli_see_everything(rt, tickets):
    assert Scope.everything() == Scope.for_user(Person("admin", teams=["Billing"]))
    assert Scope.everything().is_everything
    assert seen(rt, Scope.everything()) == everywhere(*TICKETS)


def test_a_lead_sees_their_teams_and_all_of_them_when_none_are_given(rt, tickets):
    assert seen(rt, Scope.for_user(Person("lead", teams=["Billing"]))) == everywhere("1", "2", "5")
    assert seen(rt, Scope.for_user(Person("lead", teams=["Returns", "Billing"]))) == everywhere("1", "2", "3", "4", "5", "7")
    assert seen(rt, Scope.for_user(Person("lead"))) == everywhere(*TICKETS)
    assert seen(rt, Scope.for_user(Person("lead", teams=["Nobody's"]))) == everywhere()


def test_an_agent_sees_only_the_tickets_they_were_the_agent_of(rt, tickets):
    """When the survey was sent (its snapshot), or for a ticket with no survey, when its signals were
    collected (tickets.assignee_email)."""
    amy = Scope.for_user(Person("agent", email="AMY@acme.test", teams=["Billing"]))  # teams do not widen it
    assert seen(rt, amy) == everywhere("1", "3", "7")  # 7: no survey, hers when its signals were collected
    assert seen(rt, Scope.for_user(Person("agent", email="bob@acme.test"))) == everywhere("2", "4")
    assert seen(rt, Scope.for_user(Person("agent", email="dora@acme.test"))) == everywhere()


def test_a_scope_narrows_a_query_that_has_its_own_filters(rt, tickets):
    lead = Scope.for_user(Person("lead", teams=["Billing"]))
    with rt.transaction() as s:
        stmt = lead.surveys(select(Survey.ticket_external_id).where(Survey.assignee_email == "bob@acme.test"))
        assert list(s.scalars(stmt)) == ["2"]
