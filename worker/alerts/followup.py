"""Closing the loop: each recipient's own links; GET shows, only POST changes the state, which goes
open → acknowledged → followed up, with who and when."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ces.worker.db.models import Alert, AlertLink, FollowUp, FollowUpState
from ces.worker.db.types import storable_text
from ces.worker.runtime import Runtime

ACTIONS = ("acknowledge", "followed_up")
MAX_NOTE = 1000


class UnknownLink(Exception):
    """A forged, unknown or already used link."""


class NoteTooLong(Exception):
    """The note on what was done is longer than MAX_NOTE: nothing changed, the link still works."""


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


def act(rt: Runtime, token: str, who: str | None = None, note: str | None = None) -> LinkView:
    """Use a link once: acknowledge, or mark followed up (which implies acknowledged), with a short
    note on what was done."""
    note = storable_text(note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise NoteTooLong(f"the note is longer than {MAX_NOTE} characters")
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
        if item.acknowledged_at is None:
            item.acknowledged_at, item.acknowledged_by = now, by
            item.state = FollowUpState.ACKNOWLEDGED
        if link.action == "followed_up" and item.followed_up_at is None:
            item.followed_up_at, item.followed_up_by, item.followed_up_note = now, by, note
            item.state = FollowUpState.FOLLOWED_UP
        return LinkView(link, item, _told(s, item.id))
