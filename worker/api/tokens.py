"""API tokens: made by an admin for a person (`ces tokens create`), shown once, stored as a SHA-256,
with scopes and an expiry. A token sees what its person sees (their role and teams), within its
scopes; a disabled person's tokens stop working with their sessions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ces.worker import audit
from ces.worker.console import users
from ces.worker.db.models import ApiToken, User
from ces.worker.privacy import normalize_email
from ces.worker.queries.scope import Scope

PREFIX = "ces_"
SHOWN = len(PREFIX) + 6  # the start of a secret that listings show: tells tokens apart, opens nothing
SCOPES = ("read:answers", "read:surveys", "read:reports", "read:flags")
NAME_MAX = 100


class TokenError(Exception):
    """One line for the admin."""


@dataclass(frozen=True)
class Holder:
    """Who calls: the token and the person it was made for."""

    token_id: int
    user_id: int
    scopes: frozenset[str]
    scope: Scope

    @property
    def actor(self) -> str:
        return audit.token(self.token_id)


def create(rt, email: str, name: str, scopes: list[str], days: float, *, actor: str = audit.CLI,
           origin: str | None = None) -> tuple[int, str]:
    """A new token for this person: (its id, the secret, which is never shown again)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise TokenError(f"scopes: use {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})")
    if not 0 < days <= 3650:
        raise TokenError("--days: from 1 to 3650")
    name = name.strip()[:NAME_MAX] or "token"
    secret = PREFIX + secrets.token_urlsafe(32)
    now = rt.now()
    with rt.transaction() as s:
        person = users.find(s, email)
        if person is None or person.disabled_at is not None:
            raise TokenError(f"{normalize_email(email)}: no such account, or it is disabled")
        row = ApiToken(name=name, token_hash=users.token_hash(secret), prefix=secret[:SHOWN], created_by=actor,
                       user_id=person.id, scopes=sorted(set(scopes)), created_at=now,
                       expires_at=now + timedelta(days=days))
        s.add(row)
        s.flush()
        audit.record(s, now, actor, "token.create", audit.token(row.id), address=origin, user=person.id,
                     scopes=row.scopes)
        return row.id, secret


def revoke(rt, token_id: int, *, actor: str = audit.CLI, origin: str | None = None) -> None:
    with rt.transaction() as s:
        done = s.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                         .values(revoked_at=rt.now())).rowcount
        if not done:
            raise TokenError(f"token {token_id}: no such token, or revoked already")
        audit.record(s, rt.now(), actor, "token.revoke", audit.token(token_id), address=origin)


def holder(rt, secret: str, now: datetime) -> Holder | None:
    """The live token behind a secret (not expired, not revoked, its person not disabled), or None."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    with rt.transaction() as s:
        found = s.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == users.token_hash(secret))).first()
        if found is None:
            return None
        token, person = found
        if token.revoked_at is not None or token.expires_at <= now or person.disabled_at is not None:
            return None
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            token.last_used_at = now  # at most once a minute: a busy script costs no write per call
        return Holder(token.id, person.id, frozenset(token.scopes), Scope.for_user(person))


def listing(rt) -> list[dict]:
    with rt.transaction() as s:
        rows = s.execute(select(ApiToken, User.email).join(User, User.id == ApiToken.user_id)
                         .order_by(ApiToken.id)).all()
        now = rt.now()
        return [dict(id=t.id, name=t.name, person=email, scopes=t.scopes, created=t.created_at, expires=t.expires_at,
                     last_used=t.last_used_at, prefix=t.prefix, created_by=t.created_by,
                     state="revoked" if t.revoked_at else "expired" if t.expires_at <= now else "active")
                for t, email in rows]
