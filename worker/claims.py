"""Claiming a row for work: a conditional UPDATE with a lease, so that two workers (or a
redelivered message) never do the same work, and a crashed worker's claim expires."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Row, and_, or_, update
from sqlalchemy.orm import Session


def claim(session: Session, model, row_id: int, *, ready, ready_state: str, working_state: str,
          now: datetime, lease_seconds: float) -> int | None:
    """Move the row from ready_state (when `ready` holds) or from an expired working_state into
    working_state; return the new attempt number, or None if someone else has it."""
    stmt = _claiming(model, row_id, ready, ready_state, working_state, now, lease_seconds).returning(model.attempts)
    return session.execute(stmt).scalar_one_or_none()


def claim_row(session: Session, model, row_id: int, *, ready, ready_state: str, working_state: str,
              now: datetime, lease_seconds: float) -> Row | None:
    """The same claim, returning the whole row as it now is (a Core row: no second statement to
    load it, and no ORM object to build), or None if someone else has it."""
    stmt = _claiming(model, row_id, ready, ready_state, working_state, now, lease_seconds)
    return session.execute(stmt.returning(*model.__table__.c)).one_or_none()


def _claiming(model, row_id: int, ready, ready_state: str, working_state: str, now: datetime,
              lease_seconds: float):
    return (update(model)
            .where(model.id == row_id,
                   or_(and_(model.state == ready_state, ready),
                       and_(model.state == working_state, model.lease_until < now)))
            .values(state=working_state, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=model.attempts + 1))
