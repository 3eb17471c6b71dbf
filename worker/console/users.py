"""People who sign in to the console: accounts, one-time sign-in links, passwords.

A link's token is shown once (printed by `ces users add|reset`) and only its SHA-256 is stored.
Opening a link (GET) only looks; setting the password (POST) uses it up, atomically, so that a mail
scanner that opens every link spends nothing and a second POST finds it gone.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ces.worker import audit
from ces.worker.console import passwords
from ces.worker.db.models import ApiToken, AuditEntry, ConsoleSession, Role, SignInLink, User
from ces.worker.privacy import normalize_email

NAME_LENGTH = User.__table__.c.name.type.length

INVITE, RESET = "invite", "reset"


class UserError(Exception):
    """One line for the admin (the CLI) or the person (a page); `cli_hint`, what to type next, is
    added only on the command line (a page has its own buttons for it)."""

    def __init__(self, message: str, cli_hint: str = ""):
        super().__init__(message)
        self.for_cli = f"{message} ({cli_hint})" if cli_hint else message


@dataclass(frozen=True)
class Person:
    """A user as the console needs it, detached from the database session."""

    id: int
    email: str
    name: str | None
    role: str
    teams: tuple[str, ...]
    has_password: bool
    has_totp: bool
    single_sign_on: bool

    @classmethod
    def of(cls, user: User) -> Person:
        return cls(user.id, user.email, user.name, user.role, tuple(user.teams or ()), user.password_hash is not None,
                   user.totp_secret is not None, user.oidc_subject is not None)

    @property
    def display_name(self) -> str:
        return self.name or self.email


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _valid_email(email: str) -> str:
    address = normalize_email(email)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address):
        raise UserError(f"{email[:100]!r} is not an e-mail address")
    if len(local) > 64 or len(address) > 254:  # RFC 5321's limits: no mail server takes a longer one
        shown = repr(email) if len(email) <= 100 else f"{email[:100]!r}…"
        raise UserError(f"{shown} is too long for an e-mail address (64 characters before the @, 254 in all)")
    return address


def _valid_name(name: str | None) -> str | None:
    name = (name or "").strip()
    if len(name) > NAME_LENGTH:
        raise UserError(f"a name is at most {NAME_LENGTH} characters")
    return name or None


def find(s: Session, email: str) -> User | None:
    return s.scalar(select(User).where(User.email == normalize_email(email)))


def _user(s: Session, email: str) -> User:
    user = find(s, email)
    if user is None:
        raise UserError(f"no user {normalize_email(email)!r}", "see `ces users list`")
    return user


def _new_link(rt, s: Session, user: User, purpose: str) -> str:
    """A fresh one-time link; the person's older unused links stop working."""
    now = rt.now()
    s.execute(update(SignInLink).where(SignInLink.user_id == user.id, SignInLink.used_at.is_(None))
              .values(used_at=now))
    token = secrets.token_urlsafe(32)
    s.add(SignInLink(token_hash=token_hash(token), user_id=user.id, purpose=purpose, created_at=now,
                     expires_at=now + timedelta(hours=rt.settings.console.link_hours)))
    return f"{rt.settings.console_url}/login/link/{token}"


def _role(role: str) -> str:
    if role not in Role.ALL:
        raise UserError(f"role {role!r}: use admin, lead or agent")
    return role


def _teams(teams: list[str]) -> list[str]:
    return sorted({t.strip() for t in teams if t.strip()})


def add(rt, email: str, role: str, teams: list[str], name: str | None = None, *, actor: str = audit.CLI,
        origin: str | None = None) -> str:
    """Create the account; returns its one-time link, where the person sets a password.
    (`origin`: the client address of a console request, for the audit log.)"""
    address, name = _valid_email(email), _valid_name(name)
    try:
        with rt.transaction() as s:
            user = User(email=address, name=name, role=_role(role), teams=_teams(teams),
                        created_at=rt.now())
            s.add(user)
            s.flush()
            audit.record(s, rt.now(), actor, "user.add", audit.user(user.id), address=origin, role=role,
                         teams=user.teams)
            return _new_link(rt, s, user, INVITE)
    except IntegrityError:
        raise UserError(f"{address} has an account already",
                        f"`ces users reset {address}` for a new link") from None


def reset(rt, email: str, *, totp: bool = False, actor: str = audit.CLI, origin: str | None = None) -> str:
    """A new one-time link (older unused ones die); with `totp`, the second factor is removed too."""
    with rt.transaction() as s:
        user = _user(s, email)
        if user.disabled_at is not None:
            raise UserError(f"{user.email} is disabled")
        if totp:
            user.totp_secret, user.totp_last_step = None, None
        audit.record(s, rt.now(), actor, "user.reset", audit.user(user.id), address=origin, totp_removed=totp)
        return _new_link(rt, s, user, RESET)


def _keep_an_admin(s: Session, user: User, role: str | None) -> None:
    """The console refuses to disable or demote the last enabled admin: nobody could undo it there.
    The admins' rows are locked, so two admins demoting each other at once cannot both succeed.
    (The command line may: whoever runs it can always `ces users add --role admin`.)"""
    if user.role != Role.ADMIN or user.disabled_at is not None or role == Role.ADMIN:
        return
    admins = s.scalars(select(User.id).where(User.role == Role.ADMIN, User.disabled_at.is_(None))
                       .with_for_update()).all()
    if set(admins) <= {user.id}:
        raise UserError(f"{user.email} is the last admin: make someone else admin first")


def disable(rt, email: str, *, actor: str = audit.CLI, origin: str | None = None,
            keep_an_admin: bool = False) -> tuple[int, int]:
    """The account can no longer sign in; its sessions end now and its API tokens are revoked.
    Returns how many sessions ended and how many tokens were revoked."""
    now = rt.now()
    with rt.transaction() as s:
        user = _user(s, email)
        if keep_an_admin:
            _keep_an_admin(s, user, None)
        audit.record(s, now, actor, "user.disable", audit.user(user.id), address=origin)
        if user.disabled_at is None:
            user.disabled_at = now
        s.execute(update(SignInLink).where(SignInLink.user_id == user.id, SignInLink.used_at.is_(None))
                  .values(used_at=now))
        tokens = s.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                           .values(revoked_at=now)).rowcount
        return s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id)).rowcount, tokens


def enable(rt, email: str, *, actor: str = audit.CLI, origin: str | None = None) -> str:
    """A disabled account may sign in again: returns a new one-time link (its password, if it set
    one, works again too). Its API tokens stay revoked: an admin makes new ones."""
    with rt.transaction() as s:
        user = _user(s, email)
        if user.disabled_at is None:
            raise UserError(f"{user.email} is not disabled")
        user.disabled_at = None
        audit.record(s, rt.now(), actor, "user.enable", audit.user(user.id), address=origin)
        return _new_link(rt, s, user, RESET)


def change(rt, email: str, role: str, teams: list[str], *, actor: str, origin: str | None = None) -> None:
    """A new role and teams (the console); never the last admin's role. A password account keeps its
    sessions: every request reads the role afresh. (A single sign-on account gets the provider's
    role and teams back at its next sign-in.)"""
    with rt.transaction() as s:
        user = _user(s, email)
        _keep_an_admin(s, user, _role(role))
        user.role, user.teams = role, _teams(teams)
        audit.record(s, rt.now(), actor, "user.change", audit.user(user.id), address=origin, role=role,
                     teams=user.teams)


def email_of(rt, user_id: int) -> str | None:
    with rt.transaction() as s:
        return s.scalar(select(User.email).where(User.id == user_id))


def listing(rt) -> list[dict]:
    with rt.transaction() as s:
        last_seen = dict(s.execute(select(ConsoleSession.user_id, func.max(ConsoleSession.last_seen_at))
                                   .group_by(ConsoleSession.user_id)).all())
        # The audit log knows the last sign-in (as long as `retention.audit_days` keeps it).
        signed_in = dict(s.execute(select(AuditEntry.actor, func.max(AuditEntry.at))
                                   .where(AuditEntry.action == "sign_in").group_by(AuditEntry.actor)).all())
        return [dict(id=u.id, email=u.email, name=u.name, role=u.role, teams=list(u.teams or []),
                     sign_in=("single sign-on" if u.oidc_subject and not u.password_hash
                              else "password" if u.password_hash else "link not used yet"),
                     totp=u.totp_secret is not None, state="disabled" if u.disabled_at else "active",
                     created=u.created_at, last_seen=last_seen.get(u.id),
                     last_sign_in=signed_in.get(audit.user(u.id)), single_sign_on=u.oidc_subject is not None)
                for u in s.scalars(select(User).order_by(User.email))]


def _usable_link(s: Session, token: str, now) -> tuple[SignInLink, User] | None:
    row = s.execute(select(SignInLink, User).join(User, User.id == SignInLink.user_id)
                    .where(SignInLink.token_hash == token_hash(token))).first()
    if row is None:
        return None
    link, user = row
    if link.used_at is not None or link.expires_at <= now or user.disabled_at is not None:
        return None
    return link, user


def open_link(rt, token: str) -> Person | None:
    """Who a link is for, if it can still be used. Changes nothing."""
    with rt.transaction() as s:
        found = _usable_link(s, token, rt.now())
        return Person.of(found[1]) if found else None


def use_link(rt, token: str, password_hash: str) -> Person | None:
    """Sets the password and uses the link up, once (None if it is gone); every session of the
    person ends, as after any password change."""
    now = rt.now()
    with rt.transaction() as s:
        found = _usable_link(s, token, now)
        if found is None:
            return None
        link, user = found
        taken = s.execute(update(SignInLink).where(SignInLink.token_hash == link.token_hash,
                                                   SignInLink.used_at.is_(None)).values(used_at=now)).rowcount
        if not taken:  # another request used it first
            return None
        _set_password(s, user, password_hash, now)
        return Person.of(user)


def _set_password(s: Session, user: User, password_hash: str, now, keep_session: str | None = None) -> None:
    user.password_hash, user.password_changed_at = password_hash, now
    ending = delete(ConsoleSession).where(ConsoleSession.user_id == user.id)
    if keep_session is not None:
        ending = ending.where(ConsoleSession.id != keep_session)
    s.execute(ending)


def change_password(rt, user_id: int, password_hash: str, session_id: str) -> None:
    """A new password; every other session of the person ends, this one stays."""
    with rt.transaction() as s:
        user = s.get(User, user_id)
        _set_password(s, user, password_hash, rt.now(), keep_session=session_id)


def stored_hash(rt, user_id: int) -> str | None:
    with rt.transaction() as s:
        return s.scalar(select(User.password_hash).where(User.id == user_id))


def password_sign_in(rt, email: str, password: str) -> Person | None:
    """The person whose password this is (enabled accounts only), or None. Runs on the hash pool:
    one Argon2 verification whatever the account, so no answer comes faster than another."""
    with rt.transaction() as s:
        user = find(s, email)
        stored = user.password_hash if user is not None and user.disabled_at is None else None
        if not passwords.verify(stored, password):
            return None
        if passwords.needs_rehash(stored):
            user.password_hash = passwords.hash_password(password)
        return Person.of(user)


def single_sign_on(rt, subject: str, email: str, name: str | None, role: str, teams: list[str]) -> Person | None:
    """The account of a person the provider vouched for, created or brought up to date from the
    group mapping (the provider is the truth for role and teams); None if it is disabled here.
    An existing account with the same e-mail and no provider identity yet is linked to it."""
    with rt.transaction() as s:
        user = s.scalar(select(User).where(User.oidc_subject == subject))
        if user is None:
            user = find(s, email)
            if user is not None and user.oidc_subject is not None:
                return None  # the address belongs to another identity at the provider
        if user is None:
            user = User(email=normalize_email(email), created_at=rt.now())
            s.add(user)
        if user.disabled_at is not None:
            return None
        user.oidc_subject, user.role, user.teams = subject, role, teams
        user.name = (name or "").strip()[:NAME_LENGTH] or user.name  # the provider's, cut to fit its column
        s.flush()
        return Person.of(user)
