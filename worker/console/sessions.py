"""Console sessions, kept in the database: the cookie holds a random value, the row its SHA-256.

A session ends at `session_max_hours` after sign-in whatever happens, and after
`session_idle_minutes` without a request; a disabled person's sessions end at their next request
(and at once through `ces users disable`, which deletes them).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import delete, or_, select, update

from ces.worker.console.users import Person
from ces.worker.db.models import ConsoleSession, SignInLink, User

COOKIE = "ces_session"
TOUCH_SECONDS = 60  # last_seen_at is written at most this often: not a write per request


@dataclass(frozen=True)
class Live:
    """A session that is valid now, with its person."""

    id: str
    csrf: str
    method: str  # password or oidc
    second_factor_done: bool
    totp_pending: str | None
    person: Person


def _id(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "replace")).hexdigest()


def start(rt, person: Person, method: str, *, second_factor_done: bool) -> str:
    """A new session; returns the cookie's value (shown to nobody else, stored nowhere)."""
    cookie, now = secrets.token_urlsafe(32), rt.now()
    with rt.transaction() as s:
        s.add(ConsoleSession(id=_id(cookie), user_id=person.id, csrf=secrets.token_urlsafe(32), method=method,
                             second_factor_done=second_factor_done, created_at=now, last_seen_at=now,
                             expires_at=now + timedelta(hours=rt.settings.console.session_max_hours)))
    return cookie


def resolve(rt, cookie: str | None) -> Live | None:
    """The live session of this cookie, or None (an expired one, or a disabled person's, is deleted)."""
    if not cookie:
        return None
    now, idle = rt.now(), timedelta(minutes=rt.settings.console.session_idle_minutes)
    with rt.transaction() as s:
        row = s.execute(select(ConsoleSession, User).join(User, User.id == ConsoleSession.user_id)
                        .where(ConsoleSession.id == _id(cookie))).first()
        if row is None:
            return None
        session, user = row
        if session.expires_at <= now or session.last_seen_at + idle <= now or user.disabled_at is not None:
            s.delete(session)
            return None
        if (now - session.last_seen_at).total_seconds() >= TOUCH_SECONDS:
            session.last_seen_at = now
        return Live(session.id, session.csrf, session.method, session.second_factor_done, session.totp_pending,
                    Person.of(user))


def end(rt, session_id: str) -> None:
    with rt.transaction() as s:
        s.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


def update_session(rt, session_id: str, **values) -> None:
    with rt.transaction() as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.id == session_id).values(**values))


def drop_expired(rt) -> dict[str, int]:
    """Retention (the scheduler, every minute): sessions and sign-in links past their time."""
    now = rt.now()
    idle = timedelta(minutes=rt.settings.console.session_idle_minutes)
    with rt.transaction() as s:
        sessions = s.execute(delete(ConsoleSession).where(
            or_(ConsoleSession.expires_at <= now, ConsoleSession.last_seen_at <= now - idle))).rowcount
        links = s.execute(delete(SignInLink).where(SignInLink.expires_at <= now)).rowcount
    return {"console_sessions": sessions, "sign_in_links": links}


async def live_session(request) -> Live | None:
    """The request's live session, looked up once per request (kept on request.state)."""
    if not hasattr(request.state, "live"):
        request.state.live = await run_in_threadpool(resolve, request.app.state.rt, request.cookies.get(COOKIE))
    return request.state.live
