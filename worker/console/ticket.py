"""/tickets/{id}: what one customer went through (queries/timeline.py), with the ticket's follow-up
cases and their actions (the queue's cards); /tickets finds a ticket by its helpdesk id. Out of the
caller's scope, or no such ticket: 404."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from ces.worker.alerts.followup import MAX_NOTE
from ces.worker.console.auth import Caller, require
from ces.worker.console.followups import Clock, may_assign, object_id, with_owner_choices
from ces.worker.console.render import NotFound, page, redirect
from ces.worker.console.security import console_router
from ces.worker.console.services import rt_of
from ces.worker.queries import follow_ups, timeline
from ces.worker.signals.effort import duration

router = console_router()
MAX_ID = 64


@router.get("/tickets")
async def find(request: Request, caller: Caller = Depends(require())):
    wanted = (request.query_params.get("id") or "").strip()[:MAX_ID]
    found = await run_in_threadpool(timeline.find_tickets, caller.scope, rt_of(request), wanted) if wanted else []
    if len(found) == 1:
        return redirect(f"/tickets/{found[0][0]}")
    return page(request, "tickets.html", caller=caller, wanted=wanted, found=found)


@router.get("/tickets/{ticket}")
async def ticket(request: Request, ticket: str, caller: Caller = Depends(require())):
    rt, ticket_pk = rt_of(request), object_id(ticket)
    view = await run_in_threadpool(timeline.ticket_timeline, caller.scope, rt, ticket_pk)
    if view is None:
        raise NotFound
    cases = await with_owner_choices(request, caller, await run_in_threadpool(
        follow_ups.ticket_cases, caller.scope, rt, ticket_pk))
    return page(request, "ticket.html", caller=caller, view=view, cases=cases, clock=Clock(rt),
                back=request.url.path, may_assign=may_assign(caller), max_note=MAX_NOTE, duration=duration)
