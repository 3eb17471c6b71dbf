"""What the admin queues show: surveys that did not go out (their reason quoting the customer's
address, as an SMTP refusal does) and parked webhook events, stored as the pipeline leaves them."""

from __future__ import annotations

from ces.worker.db.models import EventState, SurveyState, Ticket, WebhookEvent
from tests.planted import solved_and_surveyed

CUSTOMER = "cara.customer@example.test"


def failed_survey(rt, external: str, state: str = SurveyState.FAILED, *, connector: str = "zendesk-main") -> int:
    """A survey of a solved, unanswered ticket that did not go out (its reason quotes the address,
    as an SMTP refusal does)."""
    now = rt.now()
    with rt.transaction() as s:
        ticket = Ticket(connector_id=connector, external_id=external, created_at=now, updated_at=now, status="solved",
                        solve_count=1, last_solved_at=now)
        s.add(ticket)
        s.flush()
        return solved_and_surveyed(s, ticket, now, token=f"t-{external}", scale="ces7", state=state, send_after=now,
                                   created_at=now, email=CUSTOMER, attempts=3,
                                   reason=f"550 mailbox {CUSTOMER} unavailable").id


def parked_event(rt, n: int, connector: str = "zendesk-main") -> int:
    now = rt.now()
    with rt.transaction() as s:
        event = WebhookEvent(connector_id=connector, delivery_id=f"d-{n}", kind="status", ticket_id=str(n),
                             status="bogus", summary="status bogus", occurred_at=now, received_at=now,
                             state=EventState.FAILED, attempts=3, outcome="failed after 3 attempts",
                             error="ValueError: 'bogus' is not a valid Status")
        s.add(event)
        s.flush()
        return event.id
