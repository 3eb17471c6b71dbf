"""/admin/people: the console's accounts — invite (a one-time sign-in link, shown once, as
`ces users add` prints it), a new link (with the second factor removed, for a lost phone), role
and teams, disable (their sessions end and their API tokens are revoked at once). The last enabled
admin can be neither disabled nor demoted here. Single sign-on's group → role mapping is shown as
the configuration says it. Every action is one audit entry (worker/console/users.py writes it)."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ces.worker.console import users
from ces.worker.console.admin_pages import ADMIN_ONLY, acting, number_or_none
from ces.worker.console.auth import Caller
from ces.worker.console.render import NotFound, page, redirect, verbatim
from ces.worker.console.security import console_router
from ces.worker.console.services import rt_of
from ces.worker.db.models import Role
from ces.worker.i18n import N_

router = console_router()
DONE = {"changed": N_("Role and teams saved."), "disabled": N_("Disabled: their sessions ended and their API tokens are revoked.")}


def _teams(text: str) -> list[str]:
    """Teams as typed: separated by commas (helpdesk group names)."""
    return [t for t in (part.strip() for part in text.split(",")) if t]


async def _people(request: Request, caller: Caller, *, status: int = 200, **shown):
    rt = rt_of(request)
    people = await run_in_threadpool(users.listing, rt)
    return page(request, "admin_people.html", status=status, caller=caller, people=people, roles=Role.ALL,
                oidc=rt.settings.console.oidc, link_hours=rt.settings.console.link_hours,
                notice=DONE.get(request.query_params.get("done")), **shown)


async def _email(request: Request, person: str) -> str:
    """The account of a URL's id (its e-mail is how users.py finds it), or 404."""
    user_id = number_or_none(person)
    email = await run_in_threadpool(users.email_of, rt_of(request), user_id) if user_id is not None else None
    if email is None:
        raise NotFound
    return email


@router.get("/admin/people")
async def people(request: Request, caller: Caller = ADMIN_ONLY):
    return await _people(request, caller)


@router.post("/admin/people/invite")
async def invite(request: Request, caller: Caller = ADMIN_ONLY):
    form = await request.form()
    email = str(form.get("email") or "")
    try:
        link = await run_in_threadpool(users.add, rt_of(request), email, str(form.get("role") or ""),
                                       _teams(str(form.get("teams") or "")), str(form.get("name") or "") or None,
                                       **acting(request, caller))
    except users.UserError as exc:
        return await _people(request, caller, status=400, error=verbatim(str(exc)))
    return await _people(request, caller, link=link, link_for=email.strip().lower())


@router.post("/admin/people/{person}/{action}")
async def act(request: Request, person: str, action: str, caller: Caller = ADMIN_ONLY):
    """reset (a new link; `totp=1` removes the second factor too), enable (a disabled account, with a
    new link), change (role, teams), disable."""
    if action not in ("reset", "enable", "change", "disable"):
        raise NotFound
    email, form, rt = await _email(request, person), await request.form(), rt_of(request)
    try:
        if action in ("reset", "enable"):  # both answer with a new one-time link, shown once
            options = {"totp": form.get("totp") == "1"} if action == "reset" else {}
            link = await run_in_threadpool(users.reset if action == "reset" else users.enable, rt, email,
                                           **options, **acting(request, caller))
            return await _people(request, caller, link=link, link_for=email)
        if action == "change":
            await run_in_threadpool(users.change, rt, email, str(form.get("role") or ""),
                                    _teams(str(form.get("teams") or "")), **acting(request, caller))
        elif form.get("confirm") != "1":  # the box is required in the page; a disable cannot be undone
            return await _people(request, caller, status=400, error=N_("Tick the box to confirm, then disable."))
        else:
            await run_in_threadpool(users.disable, rt, email, keep_an_admin=True, **acting(request, caller))
    except users.UserError as exc:
        return await _people(request, caller, status=409, error=verbatim(str(exc)))
    return redirect(f"/admin/people?done={'changed' if action == 'change' else 'disabled'}")
