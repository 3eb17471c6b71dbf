"""GET / (Overview): how the customers' effort looks for a range and filters, against the period
before; GET /drivers: what each driver of effort costs in CES points; GET /teams (Teams and
agents): CES per group and agent with its 95 % interval.

Signed out, / is the sign-in page (auth.require). Every number is the query code path of `ces
report` (worker/queries/ces.py) under the caller's Scope, and links to the list behind it.
"""

from __future__ import annotations

import time
import weakref

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ces.worker.console import ranges
from ces.worker.console.auth import Caller, require
from ces.worker.console.ranges import Range, range_of
from ces.worker.console.render import page
from ces.worker.console.security import console_router
from ces.worker.db.models import Role
from ces.worker.i18n import N_
from ces.worker.model.store import adopted_effects
from ces.worker.queries import ces
from ces.worker.queries.drivers import drivers
from ces.worker.surveys.scales import scale_of

router = console_router()
CHOICES_SECONDS = 300
_choices_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # runtime → {scope: (when, choices)}


def _choices(rt, caller: Caller) -> dict:
    """The filters' values, kept a few minutes per scope: reading them scans every rollup row (a
    new team or agent shows in the lists within CHOICES_SECONDS; the numbers are always current)."""
    kept = _choices_cache.setdefault(rt, {})
    now = time.monotonic()
    cached = kept.get(caller.scope)
    if cached is None or now - cached[0] > CHOICES_SECONDS:
        cached = kept[caller.scope] = (now, ces.choices(caller.scope, rt))
    return cached[1]



def _overview(rt, caller: Caller, r: Range) -> dict:
    now, weeks = ces.summary(caller.scope, rt, r.since, r.until, r.filters)
    before = ces.totals(caller.scope, rt, *r.previous, r.filters)
    return dict(now=now, before=before, weeks=weeks,
                choices=_choices(rt, caller))


@router.get("/")
async def overview(request: Request, caller: Caller = Depends(require())):
    r = range_of(request, caller)
    found = await run_in_threadpool(_overview, request.app.state.rt, caller, r)
    return page(request, "overview.html", caller=caller, r=r, scale=scale_of(r.filters.scale), fmt=ranges,
                **found)


def _teams(rt, caller: Caller, r: Range) -> dict:
    minimum = rt.settings.console.min_answers
    agents = ces.by_agent(caller.scope, rt, r.since, r.until, r.filters, minimum)
    groups = [] if caller.role == Role.AGENT else ces.by_group(caller.scope, rt, r.since, r.until, r.filters,
                                                                 minimum)
    return dict(groups=groups, agents=agents, minimum=minimum, choices=_choices(rt, caller))


@router.get("/teams")
async def teams(request: Request, caller: Caller = Depends(require())):
    r = range_of(request, caller)
    found = await run_in_threadpool(_teams, request.app.state.rt, caller, r)
    return page(request, "teams.html", caller=caller, r=r, scale=scale_of(r.filters.scale), fmt=ranges, **found)


# The drivers as the page names them (rollups.DRIVERS keys).
DRIVER_NAMES = {"transfers": N_("Transfers"), "reopens": N_("Reopens"), "repeat_contacts": N_("Repeat contacts"),
                "channel_switches": N_("Channel switches"), "slow_first_reply": N_("Slow first reply"),
                "long_waits": N_("Long waits"), "repeated_information": N_("Repeated information")}


def _drivers(rt, caller: Caller, r: Range) -> dict:
    with rt.transaction() as s:  # the adopted model's adjusted effects: the installation's, kept with its fit
        model_id, effects = adopted_effects(s)
    return dict(drivers=drivers(caller.scope, rt, r.since, r.until, r.filters), names=DRIVER_NAMES,
                now=ces.totals(caller.scope, rt, r.since, r.until, r.filters),
                choices=_choices(rt, caller), model_id=model_id, effects=effects)


@router.get("/drivers")
async def drivers_page(request: Request, caller: Caller = Depends(require())):
    r = range_of(request, caller)
    found = await run_in_threadpool(_drivers, request.app.state.rt, caller, r)
    return page(request, "drivers.html", caller=caller, r=r, scale=scale_of(r.filters.scale), fmt=ranges, **found)
