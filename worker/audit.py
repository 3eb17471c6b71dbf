"""The audit log: every sign-in, every admin action and every API call, as (who, what, which, when,
from where). People and objects are named by id ("user:5", "token:3"), never by what a customer
wrote or by an address typed at a sign-in, so `ces erase` has nothing to remove here; the scheduler's
retention pass drops entries older than `retention.audit_days`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from ces.worker.db.models import AuditEntry, User
from ces.worker.privacy import normalize_email

CLI = "cli"
UNKNOWN = "unknown"


def user(user_id: int | None) -> str:
    return f"user:{user_id}" if user_id is not None else UNKNOWN


def token(token_id: int) -> str:
    return f"token:{token_id}"


def record(s: Session, at: datetime, actor: str, action: str, target: str | None = None, *,
           address: str | None = None, **detail: Any) -> None:
    """One entry, in the caller's transaction: what it records happened if and only if it did."""
    s.add(AuditEntry(at=at, actor=actor, action=action, target=target, address=address, detail=detail or None))


def record_now(rt, actor: str, action: str, target: str | None = None, *, address: str | None = None,
               **detail: Any) -> None:
    with rt.transaction() as s:
        record(s, rt.now(), actor, action, target, address=address, **detail)


def entries(s: Session, *, since: datetime | None = None, actor: str | None = None, action: str | None = None,
            before: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """Newest first; `before`: older than this entry (the console's pages)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for column, value in ((AuditEntry.actor, actor), (AuditEntry.action, action)):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    return list(s.scalars(stmt))


def actor_named(s: Session, typed: str) -> str | None:
    """An actor filter as typed: as the log names it ("user:5", "token:3", "cli"), or a person's
    e-mail address, looked up here (never stored)."""
    typed = typed.strip()
    if "@" not in typed:
        return typed or None
    found = s.scalar(select(User.id).where(User.email == normalize_email(typed)))
    return user(found) if found is not None else UNKNOWN


# Each next action from the index (ix_audit_log_action), not a scan of every row: a million
# entries answer in well under a millisecond (README, "Admin pages").
DISTINCT_ACTIONS = text("""
    WITH RECURSIVE found(action) AS (
        SELECT MIN(action) FROM audit_log
        UNION ALL
        SELECT (SELECT MIN(action) FROM audit_log WHERE action > found.action) FROM found
        WHERE found.action IS NOT NULL)
    SELECT action FROM found WHERE action IS NOT NULL""")


def actions(s: Session) -> list[str]:
    """The actions the log holds, for a filter's choices."""
    return list(s.scalars(DISTINCT_ACTIONS))


def expire(rt) -> dict[str, int]:
    """Retention (the scheduler, every minute): entries older than `retention.audit_days` (0 keeps them)."""
    days = rt.settings.retention.audit_days
    if not days:
        return {"audit_entries": 0}
    with rt.transaction() as s:
        return {"audit_entries": s.execute(delete(AuditEntry).where(
            AuditEntry.at < rt.now() - timedelta(days=days))).rowcount}
