"""/admin/audit: the audit log as a page — every sign-in, admin action, connector change and API
call: who, what, which, when, from where — newest first, paged, filtered by day, actor and action.
People are named by id in the log ("user:5"); the page shows their current e-mail beside it, so
the log itself never holds one (a filter typed as an e-mail is looked up, never stored)."""

from __future__ import annotations

from datetime import datetime, time, timezone

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ces.worker import audit
from ces.worker.console import users
from ces.worker.console.admin_pages import ADMIN_ONLY, PAGE_SIZE, number_or_none, older_page
from ces.worker.console.auth import Caller
from ces.worker.console.ranges import day_or_none
from ces.worker.console.render import page
from ces.worker.console.security import console_router
from ces.worker.console.services import rt_of

router = console_router()


def _entries(rt, f: dict) -> tuple[list[dict], list[str], dict[str, str]]:
    since = datetime.combine(f["since"], time.min, tzinfo=timezone.utc) if f["since"] else None
    names = {audit.user(p["id"]): p["email"] for p in users.listing(rt)}
    with rt.transaction() as s:
        rows = [dict(id=e.id, at=e.at, actor=e.actor, action=e.action, target=e.target, address=e.address,
                     detail=e.detail) for e in audit.entries(s, since=since, actor=audit.actor_named(s, f["actor"]),
                                                             action=f["action"], before=f["before"], limit=PAGE_SIZE)]
        return rows, audit.actions(s), names


@router.get("/admin/audit")
async def audit_page(request: Request, caller: Caller = ADMIN_ONLY):
    q = request.query_params
    f = dict(since=day_or_none(q.get("since")), actor=(q.get("actor") or "").strip()[:320],
             action=(q.get("action") or "")[:60] or None, before=number_or_none(q.get("before")))
    rows, actions, names = await run_in_threadpool(_entries, rt_of(request), f)
    params = {k: (v.isoformat() if k == "since" else v) for k, v in f.items() if v and k != "before"}
    return page(request, "admin_audit.html", caller=caller, rows=rows, actions=actions, names=names, f=f,
                params=params, older=older_page(rows))
