"""The scheduler (exactly one per installation): every sweep it enqueues what is due.

It is the safety net that makes the broker best effort: events whose push was lost (Redis was
down), retries whose time has come, delayed surveys, and work whose worker died (lease expired).
A survey whose worker died after handing it to the mail server is marked uncertain, never resent.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from datetime import datetime, timedelta

import redis
import structlog
from sqlalchemy import and_, or_, select, update

from ces.worker import audit
from ces.worker.alerts.trigger import SEND_ALERT, digest_due
from ces.worker.console.sessions import drop_expired
from ces.worker.db.models import Alert, AlertState, EventState, Job, Survey, SurveyAttempt, SurveyState, WebhookEvent
from ces.worker.health.check import on_sweep
from ces.worker.intake import PROCESS_EVENT
from ces.worker.jobs import JOBS_PER_MESSAGE, RUN_JOBS, due_jobs
from ces.worker.logs import error_text
from ces.worker.model.refit import queue_refit
from ces.worker.privacy import apply_retention
from ces.worker.rollups import refresh as refresh_rollups
from ces.worker.runtime import Runtime
from ces.worker.surveys.answers import settle_answers
from ces.worker.surveys.create import SEND_SURVEY
from ces.worker.surveys.remind import SEND_REMINDER, due_reminders

log = structlog.get_logger("ces.scheduler")

BATCH = 1000
# A refit is due after model.refit_days: looking once a minute instead of every sweep spares an idle
# sweep a transaction and two queries (the last fit's time, a scan for enough answers).
REFIT_CHECK_SECONDS = 60
_refit_checked: weakref.WeakKeyDictionary[Runtime, datetime] = weakref.WeakKeyDictionary()


def _enqueued(rt: Runtime, task: str, ids, per_message: int = 0) -> list[int]:
    """The ids queued for `task`, in order, up to the first the broker refuses (the rest wait for the
    next tick); with `per_message`, that many ids go in each message, as a list."""
    sent: list[int] = []
    ids = list(ids)
    step = per_message or 1
    for start in range(0, len(ids), step):
        chunk = ids[start:start + step]
        if not rt.enqueue(task, chunk if per_message else chunk[0]):
            break
        sent += chunk
    return sent


def _held_back(rt: Runtime, model, sent: list[int], now) -> int:
    """The queued rows are not due again for requeue_after_seconds (a lost broker message is queued again then)."""
    if sent:
        with rt.transaction() as s:
            s.execute(update(model).where(model.id.in_(sent))
                      .values(next_try_at=now + timedelta(seconds=rt.settings.worker.requeue_after_seconds)))
    return len(sent)


def _due(rt: Runtime, model, ready_state: str, working_state: str, task: str) -> int:
    now = rt.now()
    with rt.reading() as s:  # on SQLite no write lock for a look that usually finds nothing
        ids = s.scalars(select(model.id).where(or_(
            and_(model.state == ready_state, model.next_try_at <= now),
            and_(model.state == working_state, model.lease_until < now),
        )).order_by(model.id).limit(BATCH)).all()
    return _held_back(rt, model, _enqueued(rt, task, ids), now)


def _abandoned_sends(rt: Runtime) -> int:
    now = rt.now()
    reason = "the worker stopped after handing the survey to the mail server; not resent automatically"
    with rt.reading() as s:  # looked at every sweep, rarely found: on SQLite no write lock to look
        ids = s.scalars(select(Survey.id).where(Survey.state == SurveyState.SENDING, Survey.lease_until < now)
                        .limit(BATCH)).all()
    if not ids:
        return 0
    with rt.transaction() as s:  # the same conditions again: the worker may have recorded it since
        moved = s.scalars(update(Survey).where(Survey.id.in_(ids), Survey.state == SurveyState.SENDING,
                                               Survey.lease_until < now)
                          .values(state=SurveyState.UNCERTAIN, reason=reason, lease_until=None, next_try_at=None)
                          .returning(Survey.id)).all()
        if moved:
            s.execute(update(SurveyAttempt).where(SurveyAttempt.survey_id.in_(moved),
                                                  SurveyAttempt.finished_at.is_(None))
                      .values(outcome=SurveyState.UNCERTAIN, detail=reason, finished_at=now))
    return len(moved)


def _reminders(rt: Runtime) -> int:
    return _held_back(rt, Survey, _enqueued(rt, SEND_REMINDER, due_reminders(rt)), rt.now())


def _jobs(rt: Runtime) -> int:
    return _held_back(rt, Job, _enqueued(rt, RUN_JOBS, due_jobs(rt), JOBS_PER_MESSAGE), rt.now())


def _alerts(rt: Runtime) -> int:
    ids = digest_due(rt)
    for alert_id in ids:
        rt.enqueue(SEND_ALERT, alert_id)
    now = rt.now()
    reason = "the worker stopped while delivering; the route may have it: not resent automatically"
    abandoned = (Alert.state == AlertState.SENDING, Alert.lease_until < now)
    with rt.reading() as s:  # a delivery whose worker died mid-call (rare: looked at without a write lock)
        found = s.scalar(select(Alert.id).where(*abandoned).limit(1)) is not None
    if found:
        with rt.transaction() as s:  # uncertain, never resent
            s.execute(update(Alert).where(*abandoned)
                      .values(state=AlertState.UNCERTAIN, reason=reason, lease_until=None, next_try_at=None))
    return len(ids) + _due(rt, Alert, AlertState.PENDING, "(none)", SEND_ALERT)


def _refit(rt: Runtime) -> int:
    """queue_refit, at most once per REFIT_CHECK_SECONDS of the runtime's clock (a test's fake clock
    drives it); a scheduler's first sweep looks at once, and a failed look is tried the next sweep."""
    now, last = rt.now(), _refit_checked.get(rt)
    if last is not None and timedelta(0) <= now - last < timedelta(seconds=REFIT_CHECK_SECONDS):
        return 0
    queued = queue_refit(rt)
    _refit_checked[rt] = now
    return queued


def tick(rt: Runtime) -> dict[str, int]:
    settled = settle_answers(rt)
    done = {
        "events": _due(rt, WebhookEvent, EventState.RECEIVED, EventState.PROCESSING, PROCESS_EVENT),
        "surveys": _due(rt, Survey, SurveyState.PENDING, SurveyState.PREPARING, SEND_SURVEY),
        "uncertain": _abandoned_sends(rt),
        "reminders": _reminders(rt),
        "refits": _refit(rt),  # before _jobs: queued and enqueued in the same sweep
        "jobs": _jobs(rt),
        "alerts": _alerts(rt),
        "rollup_days": refresh_rollups(rt),
        "answers_confirmed": settled["confirmed"],
        "answers_discarded": settled["discarded"],
    }
    if any(done.values()):
        log.info("scheduler_tick", **done)
    return done


class Leadership:
    """Exactly one scheduler sweeps: a second one (started by mistake, or on standby for fail-over)
    waits while the first renews its Redis lease. Without Redis it sweeps anyway: every tick is
    idempotent, a second sweeper only costs queries."""

    _RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"

    def __init__(self, rt: Runtime, ttl_seconds: float, me: str | None = None):
        self.client = redis.Redis.from_url(rt.settings.broker_url, socket_timeout=2, socket_connect_timeout=2)
        self.key = f"{rt.settings.broker_prefix}ces:scheduler:leader"
        self.me = me or f"{socket.gethostname()}:{os.getpid()}"
        self.ttl_ms = int(ttl_seconds * 1000)
        self.leading = False

    def holds(self) -> bool:
        try:
            if self.client.set(self.key, self.me, nx=True, px=self.ttl_ms) or \
                    self.client.eval(self._RENEW, 1, self.key, self.me, self.ttl_ms):
                if not self.leading:
                    log.info("scheduler_leading", scheduler=self.me)
                self.leading = True
                return True
        except redis.RedisError:
            return True
        if self.leading:
            log.warning("scheduler_lost_lead", scheduler=self.me)
        self.leading = False
        return False


def run(rt: Runtime, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    interval = rt.settings.worker.sweep_interval_seconds
    log.info("scheduler_started", interval=interval)
    last_retention = 0.0
    leader = Leadership(rt, ttl_seconds=max(5.0, interval * 10))
    while not stop.is_set():
        if not leader.holds():
            stop.wait(interval)
            continue
        try:
            tick(rt)
            on_sweep(rt)  # health: the sweep recorded, the backlog sampled, the check queued when due
            if time.monotonic() - last_retention > 60:
                last_retention = time.monotonic()
                done = apply_retention(rt) | drop_expired(rt) | audit.expire(rt)
                if any(done.values()):
                    log.info("retention_applied", **done)
        except Exception as exc:  # the database may be down for a while; keep sweeping
            log.warning("scheduler_tick_failed", error=type(exc).__name__, detail=error_text(exc)[:200])
        stop.wait(interval)
