"""Sending one alert: claimed with a lease, delivered through its route, every outcome recorded.
A crash between the route's acceptance and our commit leaves the alert `uncertain` (listed by
`ces alerts --failed`, never resent automatically); a broken route never blocks the others."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ces.connectors.errors import UncertainApiError, Unsupported
from ces.worker.alerts.routes import deliver
from ces.worker.claims import claim
from ces.worker.db.models import Alert, AlertState
from ces.worker.mail import MailUncertain
from ces.worker.retry import GiveUp, decide
from ces.worker.runtime import Runtime

log = structlog.get_logger("ces.alerts")
SUPERSEDED = "superseded by a later answer"
WAITING = "waiting for the previous write-back to finish"


def writeback_prefix(survey_id: int) -> str:
    """A survey's write-backs are keyed `writeback:{survey}:#n`, numbered from 1."""
    return f"writeback:{survey_id}:"


def writebacks(s: Session, prefix: str, *where) -> list[Alert]:
    """The write-backs whose keys start with `prefix` (one survey's), oldest first."""
    return list(s.scalars(select(Alert).where(Alert.kind == "writeback", Alert.dedupe_key.startswith(prefix), *where)
                          .order_by(Alert.id)))


def writeback_siblings(s: Session, alert: Alert, *where) -> list[Alert]:
    """The other write-backs of the same survey as `alert`."""
    return writebacks(s, alert.dedupe_key.rpartition(":")[0] + ":", Alert.id != alert.id, *where)


def _writeback_turn(s: Session, alert: Alert) -> str | None:
    """A survey's write-backs go one at a time, the latest answer's last: "superseded" once a later
    one exists (it carries the tag now), "wait" while an earlier one is being sent (its tag, landing
    after we removed it, would stay on the ticket), else None (and None for every other alert)."""
    if alert.kind != "writeback":
        return None
    if writeback_siblings(s, alert, Alert.id > alert.id):
        return "superseded"
    if writeback_siblings(s, alert, Alert.id < alert.id, Alert.state == AlertState.SENDING):
        return "wait"
    return None


def send_alert(rt: Runtime, alert_id: int) -> str | None:
    now = rt.now()
    with rt.transaction() as s:
        attempt = claim(s, Alert, alert_id, ready_state=AlertState.PENDING,
                        working_state=AlertState.SENDING, now=now, lease_seconds=rt.settings.worker.lease_seconds)
        if attempt is None:
            return None
        alert = s.get(Alert, alert_id)
        turn = _writeback_turn(s, alert)
        if turn == "wait":  # not an attempt; looked at again at the next sweep
            alert.state, alert.attempts, alert.lease_until = AlertState.PENDING, attempt - 1, None
            alert.reason = WAITING
            alert.next_try_at = now + timedelta(seconds=rt.settings.worker.sweep_interval_seconds)
            return "waiting"
        previous = None
        if alert.content.get("edit"):
            previous = s.scalar(select(Alert.remote_ref).where(Alert.id == alert.content["edit"]))
    if turn == "superseded":
        return _finish(rt, alert_id, attempt, AlertState.SKIPPED, SUPERSEDED)
    route = next((r for r in rt.settings.alerts.routes if r.name == alert.route), None)
    try:
        ref = deliver(rt, alert, route, previous)
    except (UncertainApiError, MailUncertain) as exc:
        return _finish(rt, alert_id, attempt, AlertState.UNCERTAIN, str(exc))
    except Unsupported as exc:
        return _finish(rt, alert_id, attempt, AlertState.SKIPPED, str(exc))
    except Exception as exc:
        decision = decide(attempt - alert.attempts_before_resend, exc, rt.settings.worker)
        if isinstance(decision, GiveUp):
            return _finish(rt, alert_id, attempt, AlertState.FAILED, decision.reason)
        with rt.transaction() as s:
            superseded = _writeback_turn(s, alert) == "superseded"  # a later answer's write-back has the tag now
            if not superseded:
                s.execute(update(Alert).where(Alert.id == alert_id, Alert.state == AlertState.SENDING,
                                              Alert.attempts == attempt)
                          .values(state=AlertState.PENDING, reason=f"retrying: {decision.reason}"[:500],
                                  next_try_at=rt.now() + timedelta(seconds=decision.delay), lease_until=None))
        if superseded:
            return _finish(rt, alert_id, attempt, AlertState.SKIPPED, SUPERSEDED)
        log.info("alert_retry", alert_id=alert_id, route=alert.route, attempt=attempt, reason=decision.reason)
        return "retry"
    return _finish(rt, alert_id, attempt, AlertState.SENT, None, remote_ref=ref, sent_at=rt.now())


def _finish(rt: Runtime, alert_id: int, attempt: int, state: str, reason: str | None, **values) -> str:
    with rt.transaction() as s:
        s.execute(update(Alert).where(Alert.id == alert_id, Alert.state == AlertState.SENDING,
                                      Alert.attempts == attempt)
                  .values(state=state, reason=(reason or None) and reason[:500], lease_until=None, next_try_at=None,
                          **values))
    log.info("alert_" + state, alert_id=alert_id, attempt=attempt, reason=reason)
    return state
