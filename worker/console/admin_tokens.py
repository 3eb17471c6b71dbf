"""/admin/tokens: keys to the read API (/api/v1/) — make one for a person (scopes, days; the
secret shown once, only its hash kept), list them (the secret's first characters, scopes, who made
it, last use, expiry), revoke. The same functions as `ces tokens create|list|revoke`
(worker/api/tokens.py), which write the audit entries."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ces.worker import audit
from ces.worker.api import tokens
from ces.worker.console import users
from ces.worker.console.admin_pages import ADMIN_ONLY, acting, number_or_none
from ces.worker.console.auth import Caller
from ces.worker.console.render import NotFound, page, redirect, verbatim
from ces.worker.console.security import console_router
from ces.worker.console.services import rt_of
from ces.worker.i18n import N_

router = console_router()
DAYS = 90


def _listing(rt) -> tuple[list[dict], list[dict]]:
    """The tokens, each with the name of who made it; and the enabled people a token may be for."""
    people = users.listing(rt)
    names = {audit.user(p["id"]): p["email"] for p in people} | {audit.CLI: N_("the command line")}
    rows = tokens.listing(rt)
    for row in rows:
        row["creator"] = names.get(row["created_by"] or "", row["created_by"] or "–")
    return rows[::-1], [p for p in people if p["state"] == "active"]


async def _tokens(request: Request, caller: Caller, *, status: int = 200, **shown):
    rows, people = await run_in_threadpool(_listing, rt_of(request))
    return page(request, "admin_tokens.html", status=status, caller=caller, tokens=rows, people=people,
                scopes=tokens.SCOPES, days=DAYS,
                notice=N_("Token revoked.") if request.query_params.get("done") == "revoked" else None, **shown)


@router.get("/admin/tokens")
async def tokens_page(request: Request, caller: Caller = ADMIN_ONLY):
    return await _tokens(request, caller)


@router.post("/admin/tokens/create")
async def create(request: Request, caller: Caller = ADMIN_ONLY):
    form = await request.form()
    try:
        days = float(str(form.get("days") or DAYS))
        token_id, secret = await run_in_threadpool(tokens.create, rt_of(request), str(form.get("person") or ""),
                                                   str(form.get("name") or ""), list(form.getlist("scope")), days,
                                                   **acting(request, caller))
    except ValueError:
        return await _tokens(request, caller, status=400, error=N_("Days: a number from 1 to 3650."))
    except tokens.TokenError as exc:
        return await _tokens(request, caller, status=400, error=verbatim(str(exc)))
    return await _tokens(request, caller, secret=secret, secret_id=token_id)


@router.post("/admin/tokens/{token}/revoke")
async def revoke(request: Request, token: str, caller: Caller = ADMIN_ONLY):
    token_id = number_or_none(token)
    if token_id is None:
        raise NotFound
    try:
        await run_in_threadpool(tokens.revoke, rt_of(request), token_id, **acting(request, caller))
    except tokens.TokenError as exc:
        return await _tokens(request, caller, status=409, error=verbatim(str(exc)))
    return redirect("/admin/tokens?done=revoked")
