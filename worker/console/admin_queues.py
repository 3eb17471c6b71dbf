"""/admin/queues: what did not go out — failed and uncertain surveys and alerts with their reasons,
and parked (failed) webhook events — and the way back: resend or replay, one or many. The rows are
`ces surveys|alerts|events --failed`'s (queries/listings.py) and the actions the same functions
as `ces surveys|alerts resend` and `ces events replay` (worker/resend.py): the same rules, each
action one audit entry."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ces.worker.console.admin_pages import ADMIN_ONLY, PAGE_SIZE, acting, choice, number_or_none, numbers, older_page
from ces.worker.console.auth import Caller
from ces.worker.console.render import NotFound, page
from ces.worker.console.security import console_router
from ces.worker.console.services import rt_of
from ces.worker.db.models import AlertState, SurveyState
from ces.worker.i18n import N_
from ces.worker.queries import listings
from ces.worker.queries.scope import Scope
from ces.worker.resend import replay_many, resend_many

router = console_router()
KINDS = {"surveys": N_("Surveys"), "alerts": N_("Alerts"), "events": N_("Parked events")}
STATES = {"failed": N_("Failed"), "uncertain": N_("Uncertain")}  # the same words in SurveyState and AlertState
assert set(STATES) == set(SurveyState.PROBLEMS) == set(AlertState.PROBLEMS)


def _filters(values) -> dict:
    return dict(kind=choice(values.get("kind"), KINDS) or "surveys", connector=values.get("connector") or None,
                state=choice(values.get("state"), STATES), before=number_or_none(values.get("before")))


def _rows(rt, f: dict) -> list[dict]:
    common = dict(failed=True, limit=PAGE_SIZE, connector=f["connector"], before=f["before"])
    if f["kind"] == "events":
        return listings.events(rt, **common)
    listing = listings.surveys if f["kind"] == "surveys" else listings.alerts
    return listing(Scope.everything(), rt, state=f["state"], **common)


async def _queue(request: Request, caller: Caller, f: dict, *, outcome=None, status: int = 200):
    rt = rt_of(request)
    rows = await run_in_threadpool(_rows, rt, f)
    counts = await run_in_threadpool(listings.problem_counts, rt)
    params = {k: v for k, v in f.items() if v and k != "before"}
    return page(request, "admin_queues.html", status=status, caller=caller, rows=rows, f=f, kinds=KINDS,
                states=STATES, connectors=sorted(rt.connectors), params=params, older=older_page(rows),
                outcome=outcome, counts=counts)


@router.get("/admin/queues")
async def queues(request: Request, caller: Caller = ADMIN_ONLY):
    return await _queue(request, caller, _filters(request.query_params))


@router.post("/admin/queues/{kind}")
async def send_again(request: Request, kind: str, caller: Caller = ADMIN_ONLY):
    """Resend (surveys, alerts) or replay (events) the ids ticked; the page comes back with what
    was queued and, one line each, what was not and why."""
    if kind not in KINDS:
        raise NotFound
    form = await request.form()
    ids, who = numbers(form.getlist("id"))[:PAGE_SIZE], acting(request, caller)  # at most a page's worth
    rt = rt_of(request)
    if kind == "events":
        outcome = await run_in_threadpool(replay_many, rt, ids, **who)
    else:
        outcome = await run_in_threadpool(resend_many, rt, kind[:-1], ids, uncertain=form.get("uncertain") == "1",
                                          **who)
    f = _filters({**dict(form), "kind": kind})
    return await _queue(request, caller, f, outcome=outcome, status=200 if ids else 400)
