"""The health of the installation, as the admin page and `ces status` show it: one component per
connector, then SMTP, the worker, the scheduler and Redis, each with its state (the worst of its
rules' findings), the findings and the facts behind them. JSON-ready: times are Unix seconds."""

from __future__ import annotations

from typing import Any

import redis
from sqlalchemy import func, select

from ces.connectors.base import Connector
from ces.worker.db.models import EventState, WebhookEvent
from ces.worker.db.types import UTCDateTime
from ces.worker.health import rules
from ces.worker.health.rules import Finding
from ces.worker.runtime import Runtime

DAY_MINUTES = 24 * 60


def _component(name: str, title: str, findings: list[Finding | None], facts: dict[str, Any]) -> dict:
    found = [f for f in findings if f]
    return dict(name=name, title=title, state=rules.worst(found), facts=facts,
                findings=[dict(state=f.state, cause=f.cause, fix=f.fix) for f in found])


def _secrets(rt: Runtime, conn: Connector, webhook: bool) -> str:
    """The keys of a connector's API credentials (or of its webhook secret), for a fix's words: a
    console connector's are typed in its form, a file's come from the environment or a file."""
    names = [n for n in conn.settings.secret_names if ("webhook" in n or "signing" in n) == webhook]
    if conn.id in rt.live_connectors.snapshot().stored:
        return f"{' / '.join(names) or 'its credentials'} of connector {conn.id} (Edit at /admin/connectors/{conn.id})"
    keys = " / ".join(f"{n}_env" for n in names) or "its credentials"
    return f"{keys} of connector {conn.id}"


def connector_facts(rt: Runtime, conn: Connector, now: float) -> dict[str, Any]:
    counters, h = rt.health, rt.settings.health
    day = counters.per_minute("webhooks", conn.id, DAY_MINUTES, now)
    burst = counters.per_minute("signature_failures", conn.id, max(1, round(h.signature_minutes)), now)
    used = rt.http.limiter.current(conn.rate_key) if rt.http.limiter else -1
    last, api = counters.facts(f"connector:{conn.id}"), counters.facts(f"api:{conn.rate_key}")
    return dict(
        webhooks_last_hour=sum(day[-60:]), webhooks_last_day=sum(day),
        webhooks_per_hour=[sum(day[i:i + 60]) for i in range(0, DAY_MINUTES, 60)],
        last_webhook_at=last.get("last_webhooks"), last_signature_failure_at=last.get("last_signature_failures"),
        signature_failures_last_hour=sum(counters.per_minute("signature_failures", conn.id, 60, now)),
        signature_failures_recent=sum(burst),
        api_calls=api.get("calls", 0), api_errors=api.get("errors", 0), last_api_error=api.get("last_error"),
        last_api_error_at=api.get("last_error_at"), last_api_status=api.get("last_status"),
        last_api_ok_at=api.get("last_ok"), auth_status=api.get("auth_status"), down_since=api.get("down_since"),
        rate_limit_used=None if used < 0 else used, rate_limit_per_minute=conn.rate_limit,
        surveys_sent_last_day=sum(counters.per_minute("surveys_sent", conn.id, DAY_MINUTES, now)),
        surveys_failed_last_day=sum(counters.per_minute("surveys_failed", conn.id, DAY_MINUTES, now)))


def connector_health(rt: Runtime, conn: Connector, now: float, problem: str | None = None) -> dict:
    h = rt.settings.health
    facts = connector_facts(rt, conn, now)
    findings = [rules.stored_problem(conn.id, problem), rules.api_refused(facts, _secrets(rt, conn, webhook=False)),
                rules.unreachable(facts, now, h.unreachable_minutes),
                rules.signature_burst(facts["signature_failures_recent"], h.signature_failures,
                                      h.signature_minutes, _secrets(rt, conn, webhook=True))]
    mode = "disabled" if not conn.settings.enabled else ("dry-run" if conn.settings.dry_run else "enabled")
    return _component(f"connector:{conn.id}", f"{conn.title} · {conn.id}", findings,
                      dict(facts, kind=conn.kind, mode=mode))


def connectors_health(rt: Runtime, now: float) -> list[dict]:
    """Every connector the processes work with (the file's and the console's), and the console's
    that cannot work at all (settings that no longer validate) with their cause; a deleted one is
    in neither, so it drops out of the report."""
    snap = rt.live_connectors.snapshot()
    found = [connector_health(rt, conn, now, snap.failing.get(conn.id)) for conn in snap.connectors.values()]
    return found + [_component(f"connector:{cid}", f"Console connector · {cid}",
                               [rules.stored_problem(cid, problem)], dict(kind=None, mode="failing"))
                    for cid, problem in snap.failing.items() if cid not in snap.connectors]


def waiting(rt: Runtime) -> tuple[int, float | None]:
    """Work waiting for a worker: stored webhook events not yet processed (the oldest one's time)
    plus the messages in the broker's queue."""
    with rt.engine.connect() as db:
        count, oldest = db.execute(select(func.count(), func.min(WebhookEvent.received_at))
                                   .where(WebhookEvent.state.in_(EventState.PENDING))).one()
    if oldest is not None:
        oldest = UTCDateTime().process_result_value(oldest, rt.engine.dialect).timestamp()
    try:
        queued = int(rt.health.client.llen(f"{rt.settings.broker_prefix}{rt.settings.queue}"))
    except redis.RedisError:
        queued = 0
    return count + queued, oldest


def worker_health(rt: Runtime, now: float) -> dict:
    try:
        backlog, oldest = waiting(rt)
    except Exception as exc:  # the database is down: said here, never a crash of the page
        finding = Finding(rules.FAILING, f"the database does not answer ({type(exc).__name__})",
                          "start the database or fix database_url; webhooks get 503 and are retried meanwhile")
        return _component("worker", "Worker", [finding], dict(backlog=None, oldest_waiting_at=None))
    samples = rt.health.backlog_samples()
    finding = rules.backlog_growing(samples, now, rt.settings.health.backlog_minutes)
    return _component("worker", "Worker", [finding], dict(backlog=backlog, oldest_waiting_at=oldest))


def health(rt: Runtime) -> dict:
    """Everything, checked now. Without Redis only what the database tells is known."""
    now = rt.now().timestamp()
    reachable = rt.health.reachable()
    components = []
    if reachable:
        components += connectors_health(rt, now)
        smtp = rt.health.facts("smtp")
        components.append(_component("smtp", "SMTP", [rules.smtp_refusing(smtp, rt.settings.health.smtp_refusals)],
                                     smtp))
        components.append(worker_health(rt, now))
        sweep = rt.health.facts("scheduler").get("last_sweep_at")
        components.append(_component("scheduler", "Scheduler", [rules.scheduler_silent(
            sweep, now, rt.settings.health.sweep_seconds)], dict(last_sweep_at=sweep)))
    components.append(_component("redis", "Redis", [rules.redis_down(reachable)], dict(reachable=reachable)))
    return dict(state=rules.worst([Finding(c["state"], "", "") for c in components if c["state"] != rules.OK]),
                checked_at=now, components=components)
