"""Claiming a row for work: a conditional UPDATE with a lease, so that two workers (or a
redelivered message) never do the same work, and a crashed worker's claim expires.

The statements are built once per table and run with parameters: a claim is on the path of every
solve, and building a statement costs more CPU than running it."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from sqlalchemy import Row, Table, and_, bindparam, or_, update
from sqlalchemy.orm import Session


def claim(session: Session, model, row_id: int, *, due_column: str | None = None, ready_state: str,
          working_state: str, now: datetime, lease_seconds: float) -> int | None:
    """Move the row from ready_state (once `due_column`, if given, is not after `now`) or from an
    expired working_state into working_state; return the new attempt number, or None if someone
    else has it."""
    stmt = _claiming(model.__table__, due_column, whole_row=False)
    return session.execute(stmt, _params(row_id, ready_state, working_state, now, lease_seconds)).scalar_one_or_none()


def claim_row(session: Session, model, row_id: int, *, due_column: str | None = None, ready_state: str,
              working_state: str, now: datetime, lease_seconds: float) -> Row | None:
    """The same claim, returning the whole row as it now is (a Core row: no second statement to
    load it, and no ORM object to build), or None if someone else has it."""
    stmt = _claiming(model.__table__, due_column, whole_row=True)
    return session.execute(stmt, _params(row_id, ready_state, working_state, now, lease_seconds)).one_or_none()


def _params(row_id: int, ready_state: str, working_state: str, now: datetime, lease_seconds: float) -> dict:
    return {"b_id": row_id, "b_ready": ready_state, "b_working": working_state, "b_now": now,
            "b_lease_until": now + timedelta(seconds=lease_seconds)}


@functools.cache
def _claiming(table: Table, due_column: str | None, whole_row: bool):
    c = table.c
    ready = c.state == bindparam("b_ready")
    if due_column:
        ready = and_(ready, c[due_column] <= bindparam("b_now"))
    stmt = (update(table)
            .where(c.id == bindparam("b_id"),
                   or_(ready, and_(c.state == bindparam("b_working"), c.lease_until < bindparam("b_now"))))
            .values(state=bindparam("b_working", type_=c.state.type),
                    lease_until=bindparam("b_lease_until", type_=c.lease_until.type), attempts=c.attempts + 1))
    return stmt.returning(*c) if whole_row else stmt.returning(c.attempts)
