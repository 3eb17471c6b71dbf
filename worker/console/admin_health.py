"""GET /admin/health (admins only): the health of each connector, SMTP, the worker, the scheduler
and Redis, with the cause and the fix of what is wrong: the same report as `ces status`
(worker/health/report.py)."""

from __future__ import annotations

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ces.worker.console.auth import Caller, require
from ces.worker.console.render import page
from ces.worker.console.security import console_router
from ces.worker.db.models import Role
from ces.worker.health.report import health
from ces.worker.health.rules import when
from ces.worker.i18n import N_

router = console_router()

STATE_NAMES = {"ok": N_("ok"), "warning": N_("warning"), "failing": N_("failing")}


def hours_ago(hours: int) -> list[str]:
    """The labels of the per-hour chart, oldest first: "-23 h" … "now"."""
    return [f"-{hours - 1 - i} h" if i < hours - 1 else "now" for i in range(hours)]


@router.get("/admin/health")
async def admin_health(request: Request, caller: Caller = Depends(require(Role.ADMIN))):
    report = await run_in_threadpool(health, request.app.state.rt)
    return page(request, "admin_health.html", caller=caller, report=report, when=when, states=STATE_NAMES,
                hour_labels=hours_ago(24))
