"""Closing the loop: each recipient's own links (GET shows, only POST changes) and the console's
follow-up queue make the same change (`change`), which goes open → acknowledged → followed up,
with who and when; a lead may give a case an owner."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ces.worker.db.models import Alert, AlertLink, FollowUp, FollowUpState, User
from ces.worker.db.types import storable_text
from ces.worker.queries.scope import Scope
from ces.worker.runtime import Runtime

ACTIONS = ("acknowledge", "followed_up")
MAX_NOTE = 1000


class UnknownLink(Exception):
    """A forged, unknown or already used link."""


class NoteTooLong(Exception):
    """The note on what was done is longer than MAX_NOTE: nothing changed, the link still works."""


class UnknownCase(Exception):
    """No such case, or not in the caller's scope (the console answers 404 either way)."""


class UnknownOwner(Exception):
    """The owner given is no active user who can see the case."""


def case(s: Session, *, key: str, ticket_pk: int, survey_id: int | None, connector_id: str, team: str | None,
         agent: str | None, now: datetime) -> FollowUp:
    """The follow-up case for a key, created once."""
    dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
    s.execute(dialect.insert(FollowUp).values(key=key, ticket_pk=ticket_pk, survey_id=survey_id,
                                              connector_id=connector_id, team=team, agent=agent,
                                              state=FollowUpState.OPEN, created_at=now)
              .on_conflict_do_nothing(index_elements=["key"]))
    return s.scalars(select(FollowUp).where(FollowUp.key == key)).one()


def links(s: Session, rt: Runtime, follow_up_id: int, recipient: str, now: datetime) -> dict[str, str]:
    out = {}
    for action in ACTIONS:
        token = secrets.token_urlsafe(32)
        s.add(AlertLink(token=token, follow_up_id=follow_up_id, recipient=recipient, action=action, created_at=now))
        out[action] = f"{rt.settings.public_url}/a/{token}"
    return out


@dataclass
class LinkView:
    link: AlertLink
    case: FollowUp
    told: dict | None  # what the latest alert or update about the case said (score, comment, customer)


def _told(s: Session, follow_up_id: int) -> dict | None:
    return s.scalar(select(Alert.content).where(Alert.follow_up_id == follow_up_id, Alert.kind.in_(["alert", "update"]))
                    .order_by(Alert.id.desc()).limit(1))


def look(rt: Runtime, token: str) -> LinkView:
    if not token or len(token) > 64:
        raise UnknownLink(token)
    with rt.transaction() as s:
        link = s.get(AlertLink, token)
        if link is None:
            raise UnknownLink(token)
        return LinkView(link, s.get(FollowUp, link.follow_up_id), _told(s, link.follow_up_id))


def clean_note(note: str | None) -> str | None:
    note = storable_text(note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise NoteTooLong(f"the note is longer than {MAX_NOTE} characters")
    return note


def change(item: FollowUp, action: str, *, by: str, note: str | None, now: datetime) -> bool:
    """The one state change of a case, whoever makes it (an alert's link, the console): acknowledge,
    or mark followed up (which implies acknowledged) with a short note on what was done. What is
    done stays done: a second acknowledgement or follow-up changes nothing. True if it changed."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    changed = False
    if item.acknowledged_at is None:
        item.acknowledged_at, item.acknowledged_by = now, by
        item.state, changed = FollowUpState.ACKNOWLEDGED, True
    if action == "followed_up" and item.followed_up_at is None:
        item.followed_up_at, item.followed_up_by, item.followed_up_note = now, by, note
        item.state, changed = FollowUpState.FOLLOWED_UP, True
    return changed


def act(rt: Runtime, token: str, who: str | None = None, note: str | None = None) -> LinkView:
    """Use a link once: acknowledge, or mark followed up, with a short note on what was done."""
    note = clean_note(note)
    now = rt.now()
    with rt.transaction() as s:
        link = s.get(AlertLink, token) if token and len(token) <= 64 else None
        if link is None or link.used_at is not None:
            raise UnknownLink(token)
        used = s.execute(update(AlertLink).where(AlertLink.token == token, AlertLink.used_at.is_(None))
                         .values(used_at=now)).rowcount
        if not used:
            raise UnknownLink(token)
        by = (storable_text(who or "") or "").strip()[:200] or link.recipient
        item = s.get(FollowUp, link.follow_up_id, with_for_update=True)
        change(item, link.action, by=by, note=note, now=now)
        return LinkView(link, item, _told(s, item.id))


def _in_scope(s: Session, scope: Scope, case_id: int) -> FollowUp:
    item = s.scalars(scope.follow_ups(select(FollowUp).where(FollowUp.id == case_id)).with_for_update()).first()
    if item is None:
        raise UnknownCase(case_id)
    return item


def act_on_case(rt: Runtime, scope: Scope, case_id: int, action: str, *, by: str, note: str | None = None) -> bool:
    """The console's way to the same change: a case the caller's scope includes, by its id."""
    note = clean_note(note)
    with rt.transaction() as s:
        return change(_in_scope(s, scope, case_id), action, by=by, note=note, now=rt.now())


def assign(rt: Runtime, scope: Scope, case_id: int, owner_id: int | None, *, by: str) -> None:
    """Give a case an owner (None: nobody), who must be an active console user able to see it."""
    with rt.transaction() as s:
        item = _in_scope(s, scope, case_id)
        if owner_id is not None:
            owner = s.get(User, owner_id)
            if owner is None or owner.disabled_at is not None or _in_scope_of(s, owner, case_id) is None:
                raise UnknownOwner(owner_id)
        if item.owner_id != owner_id:
            item.owner_id, item.assigned_at, item.assigned_by = owner_id, rt.now(), by


def _in_scope_of(s: Session, user: User, case_id: int) -> int | None:
    return s.scalar(Scope.for_user(user).follow_ups(select(FollowUp.id).where(FollowUp.id == case_id)))
