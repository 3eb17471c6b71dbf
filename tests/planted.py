"""Rows planted straight in the database, for the tests of the queries and pages that read them."""

from __future__ import annotations

from datetime import datetime

from ces.worker.db.models import Solve, Survey, Ticket


def solved_and_surveyed(s, ticket: Ticket, solved_at: datetime, **survey) -> Survey:
    """The ticket's first solve and that solve's survey (of the ticket's connector and external id; `survey`
    holds the rest of its columns), flushed so that their ids are known."""
    solve = Solve(ticket_pk=ticket.id, number=1, solved_at=solved_at)
    s.add(solve)
    s.flush()
    row = Survey(solve_id=solve.id, connector_id=ticket.connector_id, ticket_external_id=ticket.external_id, **survey)
    s.add(row)
    s.flush()
    return row
