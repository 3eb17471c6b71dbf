"""The ticket row: found or created, and locked so that one ticket's events apply one at a time."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import Row, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ces.worker.db.models import Ticket

TICKETS = Ticket.__table__


def lock_ticket(s: Session, connector_id: str, external_id: str, now: datetime) -> Row:
    """The ticket's row (a Core row), created if new, locked until the transaction ends."""
    return s.execute(_upsert(s.bind.dialect.name), dict(
        connector_id=connector_id, external_id=external_id, solve_count=0, reopen_count=0, created_at=now,
        updated_at=now)).one()


def update_ticket(s: Session, ticket_pk: int, changes: dict) -> None:
    if changes:
        s.execute(update(TICKETS).where(TICKETS.c.id == ticket_pk).values(**changes))


@functools.cache
def _upsert(dialect_name: str):
    # One statement where an insert and a SELECT … FOR UPDATE were two: on a conflict the row is
    # "updated" to itself, which locks it (PostgreSQL) and lets RETURNING give it back.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (dialect.insert(TICKETS)
            .on_conflict_do_update(index_elements=["connector_id", "external_id"],
                                   set_={"updated_at": TICKETS.c.updated_at})
            .returning(*TICKETS.c))
