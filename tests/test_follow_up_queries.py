"""The read side of the follow-up queue and the ticket page (worker/queries/follow_ups.py,
timeline.py) and the console's write side (alerts/followup.act_on_case, assign), on both databases:
scope, filters, overdue, owners, the timeline's order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ces.worker.alerts.followup import UnknownCase, UnknownOwner, act_on_case, assign
from ces.worker.db.models import User
from ces.worker.queries.follow_ups import Filters, follow_up_queue, owner_choices, teams
from ces.worker.queries.scope import Scope
from ces.worker.queries.timeline import find_tickets, ticket_timeline
from tests.console import add_user
from tests.followup_data import NOW, seed
from tests.pipeline import Clock


class Person:
    def __init__(self, role, email="x@acme.test", teams=()):
        self.role, self.email, self.teams = role, email, list(teams)


LEE = Scope.for_user(Person("lead", teams=["Billing"]))
AMY = Scope.for_user(Person("agent", "amy@acme.test"))


@pytest.fixture
def rt(make_rt):
    return make_rt(clock=Clock(NOW))


@pytest.fixture
def data(rt):
    for email, role, team in (("lee@acme.test", "lead", ("Billing",)), ("amy@acme.test", "agent", ()),
                              ("bob@acme.test", "agent", ())):
        add_user(rt, email, role, teams=team, name=email.split("@")[0].title(), password=None)
    return seed(rt)


def ids(cases) -> list[str]:
    return [c.ticket_id for c in cases]


def user(rt, email: str) -> int:
    with rt.transaction() as s:
        return s.scalar(select(User.id).where(User.email == email))


def test_the_queue_by_scope_and_filter_oldest_first(rt, data):
    assert ids(follow_up_queue(Scope.everything(), rt)) == ["2002", "1001", "3003"]
    assert ids(follow_up_queue(LEE, rt)) == ["2002", "1001"]
    assert ids(follow_up_queue(AMY, rt)) == ["1001"]
    assert ids(follow_up_queue(LEE, rt, Filters(overdue=True))) == ["2002"]
    assert ids(follow_up_queue(Scope.everything(), rt, Filters(team="Returns"))) == ["3003"]
    assert teams(LEE, rt) == ["Billing"] and teams(Scope.everything(), rt) == ["Billing", "Returns"]
    [case] = follow_up_queue(AMY, rt)
    assert (case.score, case.points, case.index, case.reasons[1]) == (3, 7, 70, "reopened once")


def test_acting_and_assigning_within_the_scope_only(rt, data):
    amy, bob = user(rt, "amy@acme.test"), user(rt, "bob@acme.test")
    case_1001, case_2002 = data["1001"]["case"], data["2002"]["case"]
    choices = owner_choices(LEE, rt, [case_1001, case_2002])
    assert [n for _, n in choices[case_1001]] == ["Amy", "Lee"] and [n for _, n in choices[case_2002]] == ["Bob", "Lee"]
    with pytest.raises(UnknownOwner):
        assign(rt, LEE, case_1001, bob, by="lee@acme.test")
    with pytest.raises(UnknownCase):
        assign(rt, LEE, data["3003"]["case"], None, by="lee@acme.test")
    assign(rt, LEE, case_1001, amy, by="lee@acme.test")
    assert ids(follow_up_queue(AMY, rt, Filters(mine=True, owner_id=amy))) == ["1001"]
    with pytest.raises(UnknownCase):
        act_on_case(rt, AMY, case_2002, "acknowledge", by="amy@acme.test")
    assert act_on_case(rt, AMY, case_1001, "followed_up", by="amy@acme.test", note="done") is True
    assert act_on_case(rt, AMY, case_1001, "followed_up", by="amy@acme.test", note="again") is False
    assert ids(follow_up_queue(LEE, rt)) == ["2002"]
    [done] = follow_up_queue(LEE, rt, Filters(state="followed_up"))
    assert (done.state, done.note, done.acknowledged_by, done.owner) == ("followed_up", "done", "amy@acme.test", "Amy")


def test_the_timeline_in_time_order_within_the_scope(rt, data):
    assert ticket_timeline(AMY, rt, data["2002"]["ticket"]) is None
    view = ticket_timeline(AMY, rt, data["1001"]["ticket"])
    kinds = [e.kind for e in view.events]
    assert kinds[:4] == ["contact_before", "created", "team", "agent"]
    assert kinds.index("transfer_team") < kinds.index("reply") < kinds.index("reopened") < kinds.index("survey_sent")
    contact = view.events[0]
    assert contact.facts["pk"] is None  # #1000 is not Amy's ticket: not linked
    assert ticket_timeline(LEE, rt, data["1001"]["ticket"]).events[0].facts["pk"] == data["1000"]["ticket"]
    first_reply = next(e for e in view.events if e.kind == "reply")
    assert (first_reply.facts["wait"], first_reply.hard) == (34 * 3600, True)
    signal_only = ticket_timeline(Scope.everything(), rt, data["3003"]["ticket"])  # no history stored
    assert [e.kind for e in signal_only.events] == ["created", "solved", "flagged"]
    assert find_tickets(AMY, rt, "#1001") == [(data["1001"]["ticket"], "zendesk-main", "1001")]
    assert find_tickets(AMY, rt, "2002") == []
