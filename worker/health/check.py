"""What the scheduler does for health at every sweep (one call, cheap: Redis only, except the
backlog sample every [health] sample_seconds), and the worker job it queues every probe_seconds:
a light probe of each connector's API, then the rules, then the admins' notices. Workers also
watch the scheduler: when it stops, one of them runs the check, so that its silence is notified."""

from __future__ import annotations

import threading

import structlog

from ces.worker.health import rules
from ces.worker.health.notify import notify_changes
from ces.worker.health.report import health, waiting
from ces.worker.runtime import Runtime

log = structlog.get_logger("ces.health")
HEALTH_CHECK = "ces.health_check"


def on_sweep(rt: Runtime) -> None:
    """The scheduler's hook: the sweep is recorded; the backlog sampled; the check queued when due."""
    h, counters = rt.settings.health, rt.health
    counters.swept()
    if counters.once_per("backlog_sample", h.sample_seconds):
        counters.backlog(waiting(rt)[0], keep_seconds=h.backlog_minutes * 60 * 2)
    if counters.once_per("check", h.probe_seconds):
        rt.enqueue(HEALTH_CHECK, 0)


def probe(rt: Runtime) -> dict[str, bool]:
    """One light call per enabled connector (`ces connectors test`'s first check), through the
    shared rate limit; its outcome reaches the counters by the HTTP client's observer."""
    done = {}
    for conn in rt.connectors.values():
        if not conn.settings.enabled:
            continue
        try:
            results = conn.check()
            done[conn.id] = bool(results) and results[0].ok
        except Exception as exc:  # a connector's bug never stops the others' probes
            log.warning("health_probe_failed", connector=conn.id, error=type(exc).__name__)
            done[conn.id] = False
    return done


def run_check(rt: Runtime) -> dict:
    """The worker job: probe (unless [health] probe = false), judge, notify. Returns the report."""
    if rt.settings.health.probe:
        probe(rt)
    report = health(rt)
    report["notified"] = notify_changes(rt, report)
    return report


def watch_once(rt: Runtime) -> dict | None:
    """A worker's look at the scheduler: silent, and no other worker did it this interval → the check."""
    h = rt.settings.health
    last_sweep = rt.health.facts("scheduler").get("last_sweep_at")
    if rules.scheduler_silent(last_sweep, rt.now().timestamp(), h.sweep_seconds) is None:
        return None
    if not rt.health.once_per("watchdog", h.probe_seconds):
        return None
    return run_check(rt)


def start_watchdog(rt: Runtime) -> threading.Thread:
    """`ces worker`'s thread that calls watch_once every [health] probe_seconds."""
    def loop():
        while True:
            threading.Event().wait(rt.settings.health.probe_seconds)
            try:
                watch_once(rt)
            except Exception as exc:  # Redis or the database down: the next round tries again
                log.warning("health_watch_failed", error=type(exc).__name__)

    thread = threading.Thread(target=loop, name="ces-health-watchdog", daemon=True)
    thread.start()
    return thread
