"""The ticket row: found or created, and locked so that one ticket's events apply one at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ces.worker.db.models import Ticket


def lock_ticket(s: Session, connector_id: str, external_id: str, now: datetime) -> Ticket:
    dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
    s.execute(dialect.insert(Ticket).values(connector_id=connector_id, external_id=external_id,
                                            solve_count=0, reopen_count=0, created_at=now, updated_at=now)
              .on_conflict_do_nothing(index_elements=["connector_id", "external_id"]))
    # FOR UPDATE serializes a ticket's events on PostgreSQL; SQLite has one writer anyway.
    return s.scalars(select(Ticket).where(Ticket.connector_id == connector_id, Ticket.external_id == external_id)
                     .with_for_update()).one()
