"""/follow-ups: the queue of hard interactions to follow up, and the actions on a case
(acknowledge, mark followed up with a note, give it an owner). The actions make the same change
as an alert's /a/ links (alerts/followup.change); with htmx the case's card is swapped in place,
without JavaScript the form posts and the page comes back (303).

admin: every case; lead: their teams' cases, assigns owners; agent: the cases of their own
tickets (Scope.follow_ups), which they acknowledge and mark followed up."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ces.worker.alerts.followup import MAX_NOTE, NoteTooLong, UnknownCase, UnknownOwner, act_on_case, assign
from ces.worker.console.auth import Caller, require
from ces.worker.console.overview import DRIVER_NAMES
from ces.worker.console.ranges import day_or_none
from ces.worker.console.render import NotFound, Problem, environment, page, redirect, safe_next
from ces.worker.console.security import console_router
from ces.worker.console.services import rt_of
from ces.worker.db.models import Role
from ces.worker.i18n import N_
from ces.worker.queries import follow_ups
from ces.worker.queries.follow_ups import STATES, Case, Filters
from ces.worker.rollups import DRIVERS
from ces.worker.signals.effort import duration

router = console_router()
STATE_NAMES = {"waiting": N_("Waiting (open or acknowledged)"), "open": N_("Open"),
               "acknowledged": N_("Acknowledged"), "followed_up": N_("Followed up"), "all": N_("All")}
DONE = {"acknowledge": N_("Acknowledged."), "followed_up": N_("Marked as followed up."),
        "owner": N_("Owner saved.")}


class Clock:
    """Times as the people of `alerts.timezone` read them, and ages from now."""

    def __init__(self, rt):
        self.zone, self.now = rt.settings.alerts.timezone, rt.now()

    def when(self, at: datetime | None) -> str:
        return at.astimezone(ZoneInfo(self.zone)).strftime("%a %-d %b %Y, %H:%M") if at else ""

    def since(self, at: datetime) -> str:
        return duration(max(0.0, (self.now - at).total_seconds()))

    def until(self, at: datetime) -> str:
        return duration(abs((at - self.now).total_seconds()))


def object_id(text: str) -> int:
    """A row id from a URL; anything else is not found (never a validation error page)."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound
    return int(text)


def may_assign(caller: Caller) -> bool:
    return caller.role in (Role.ADMIN, Role.LEAD)


async def with_owner_choices(request: Request, caller: Caller, cases: list[Case]) -> list[Case]:
    """Whom each case may be given to, for those who assign."""
    if may_assign(caller) and cases:
        choices = await run_in_threadpool(follow_ups.owner_choices, caller.scope, rt_of(request), [c.id for c in cases])
        for c in cases:
            c.choices = choices.get(c.id, [])
    return cases


def _filters(request: Request, caller: Caller) -> Filters:
    """The queue's filters; `from`, `to` (both days included) and `driver` come from the report pages'
    links: the high-effort tickets last solved in that range (every state, unless one is chosen)."""
    q = request.query_params
    first, last = day_or_none(q.get("from")), day_or_none(q.get("to"))
    driver = q.get("driver") if q.get("driver") in DRIVERS else None
    drill = bool(first or last or driver)
    state = q.get("state") if q.get("state") in STATES else "all" if drill else "waiting"
    return Filters(state=state, team=q.get("team") or None, overdue=q.get("overdue") == "1",
                   mine=q.get("mine") == "1", owner_id=caller.person.id, since=first,
                   until=last + timedelta(days=1) if last else None, driver=driver)


@router.get("/follow-ups")
async def queue(request: Request, caller: Caller = Depends(require())):
    rt = rt_of(request)
    filters = _filters(request, caller)
    cases = await with_owner_choices(request, caller, await run_in_threadpool(
        follow_ups.follow_up_queue, caller.scope, rt, filters))
    teams = await run_in_threadpool(follow_ups.teams, caller.scope, rt)
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return page(request, "followups.html", caller=caller, cases=cases, filters=filters, teams=teams,
                driver_names=DRIVER_NAMES,
                states=STATE_NAMES, clock=Clock(rt), back=back, may_assign=may_assign(caller),
                max_note=MAX_NOTE, limit=follow_ups.LIMIT, days=rt.settings.alerts.follow_up_business_days,
                zone=rt.settings.alerts.timezone)


async def _answer(request: Request, caller: Caller, case_id: int, done: str, error: str | None = None):
    """htmx: the case's card, in place; a plain form post: back to the page it came from."""
    form = await request.form()
    back = safe_next(str(form.get("back") or "/follow-ups"))
    if not request.headers.get("hx-request"):
        if error:
            raise Problem(N_("Nothing was changed"), error, status=422, max_note=MAX_NOTE)
        return redirect(back)
    rt = rt_of(request)
    case = await run_in_threadpool(follow_ups.follow_up_case, caller.scope, rt, case_id)
    if case is None:
        raise NotFound
    await with_owner_choices(request, caller, [case])
    html = environment("en").get_template("_case.html").render(
        case=case, clock=Clock(rt), back=back, may_assign=may_assign(caller), max_note=MAX_NOTE, csrf=caller.csrf,
        notice=None if error else DONE[done], error=error, error_params={"max_note": MAX_NOTE})
    return HTMLResponse(html)


@router.post("/follow-ups/{case}/{action}")
async def act(request: Request, case: str, action: str, caller: Caller = Depends(require())):
    case_id = object_id(case)
    form = await request.form()
    rt, by = rt_of(request), caller.person.email
    if action == "owner":
        if not may_assign(caller):
            raise NotFound  # agents do not assign; the action does not exist for them
        owner = str(form.get("owner") or "")
        if owner and not (owner.isascii() and owner.isdigit() and len(owner) <= 18):
            raise Problem(status=400)
        try:
            await run_in_threadpool(assign, rt, caller.scope, case_id, int(owner) if owner else None, by=by)
        except UnknownCase:
            raise NotFound from None
        except UnknownOwner:
            return await _answer(request, caller, case_id, action, N_("That person cannot see this ticket."))
        return await _answer(request, caller, case_id, action)
    if action not in ("acknowledge", "followed_up"):
        raise NotFound
    try:
        await run_in_threadpool(act_on_case, rt, caller.scope, case_id, action, by=by,
                                note=str(form.get("note") or "") if action == "followed_up" else None)
    except UnknownCase:
        raise NotFound from None
    except NoteTooLong:
        return await _answer(request, caller, case_id, action,
                             N_("The note is longer than %(max_note)s characters. Please shorten it."))
    return await _answer(request, caller, case_id, action)
