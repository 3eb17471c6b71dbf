"""/login/oidc (the button on /login: off to the provider) and /login/oidc/callback (back, signed in)."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ces.worker.console import oidc, users
from ces.worker.console.render import NotFound, Problem, redirect, safe_next
from ces.worker.console.security import console_router, set_cookie
from ces.worker.console.services import rt_of
from ces.worker.console.signin import sign_in
from ces.worker.i18n import N_

router = console_router()
NOT_SIGNED_IN = N_("Single sign-on did not sign you in")


def _configured(request: Request):
    rt = rt_of(request)
    if rt.settings.console.oidc is None:
        raise NotFound
    return rt


@router.get("/login/oidc")
async def go(request: Request):
    rt = _configured(request)
    try:
        url, flow = await run_in_threadpool(oidc.start, rt)
    except oidc.OidcError as exc:
        raise Problem(NOT_SIGNED_IN, str(exc), status=503) from None
    flow["next"] = safe_next(request.query_params.get("next"))
    response = redirect(url)
    sealed = await run_in_threadpool(oidc.seal, rt, flow)
    set_cookie(request, response, oidc.COOKIE, sealed, path=oidc.COOKIE_PATH, max_age=oidc.FLOW_SECONDS)
    return response


@router.get("/login/oidc/callback")
async def back(request: Request):
    rt = _configured(request)
    params = request.query_params
    flow = await run_in_threadpool(oidc.unseal, rt, request.cookies.get(oidc.COOKIE))
    if flow is None or not params.get("state") or params.get("state") != flow.get("state"):
        raise Problem(NOT_SIGNED_IN, N_("This sign-in was started elsewhere or took too long. Start it again."))
    if params.get("iss") and params["iss"] != rt.settings.console.oidc.issuer:
        raise Problem(NOT_SIGNED_IN, N_("The answer came from another provider."))
    if params.get("error") or not params.get("code"):
        raise Problem(NOT_SIGNED_IN, N_("The provider did not sign you in (cancelled or refused)."))
    try:
        claims = await run_in_threadpool(oidc.finish, rt, params["code"], flow)
        who = oidc.identity(rt, claims)
    except oidc.OidcError as exc:
        raise Problem(NOT_SIGNED_IN, str(exc), status=403) from None
    person = await run_in_threadpool(users.single_sign_on, rt, who.subject, who.email, who.name, who.role, who.teams)
    if person is None:
        raise Problem(NOT_SIGNED_IN, N_("Your console account is disabled. Ask an admin."), status=403)
    response = await sign_in(request, person, "oidc", safe_next(flow.get("next")))
    response.delete_cookie(oidc.COOKIE, path=oidc.COOKIE_PATH)
    return response
