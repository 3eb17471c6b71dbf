"""Signing in and out: /login (e-mail and password), /login/totp (the second step), /logout, and
/login/link/{token} (a one-time link: GET shows the form, only the POST uses the link up)."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ces.worker import audit
from ces.worker.console import passwords, sessions, totp, users
from ces.worker.console.render import NotFound, Problem, page, redirect, safe_next, with_next
from ces.worker.console.security import console_router, set_cookie
from ces.worker.console.services import address_of, rt_of, services
from ces.worker.i18n import N_

router = console_router()

TOO_MANY = N_("Too many attempts")
TRY_LATER = N_("Sign-in is paused here after too many wrong attempts. Try again in %(minutes)s minutes.")
TRY_LATER_ONE = N_("Sign-in is paused here after too many wrong attempts. Try again in a minute.")
BUSY = N_("The server is busy")
BUSY_TEXT = N_("Too many sign-ins at once. Try again in a few seconds.")
LINK_GONE = N_("This link cannot be used")
LINK_GONE_TEXT = N_("It was used already, has expired, or was replaced by a newer one. Ask an admin for a new "
                    "link.")


def _throttled(minutes: int) -> Problem:
    return Problem(TOO_MANY, TRY_LATER if minutes > 1 else TRY_LATER_ONE, status=429,
                   headers={"Retry-After": str(minutes * 60)}, minutes=minutes)


async def run_hashing(request: Request, fn, *args):
    try:
        return await services(request).hash_pool.run(fn, *args)
    except passwords.Busy:
        raise Problem(BUSY, BUSY_TEXT, status=503, headers={"Retry-After": "5"}) from None


def _sso(request: Request) -> bool:
    return rt_of(request).settings.console.oidc is not None


def _login_page(request: Request, target: str, *, status: int = 200, email: str = "", error: str | None = None):
    notices = {"password": N_("Your password is set. Sign in with it."), "out": N_("You are signed out.")}
    return page(request, "login.html", status=status, email=email, error=error, sso=_sso(request), next=target,
                notice=notices.get(request.query_params.get("done")))


@router.get("/login")
async def login_form(request: Request):
    live = await sessions.live_session(request)
    if live is not None and live.second_factor_done:
        return redirect(safe_next(request.query_params.get("next")))
    return _login_page(request, safe_next(request.query_params.get("next")))


@router.post("/login")
async def login(request: Request):
    form = await request.form()
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    throttle, address = services(request).throttle, address_of(request)
    wait = await run_in_threadpool(throttle.wait_minutes, email, address)
    if wait:
        raise _throttled(wait)
    rt = rt_of(request)
    person = await run_hashing(request, users.password_sign_in, rt, email, password)
    if person is None:
        await run_in_threadpool(throttle.failed, email, address)
        await run_in_threadpool(_audit_failure, rt, email, address)
        return _login_page(request, target, status=401, email=email,
                           error=N_("The e-mail address or the password is wrong."))
    await run_in_threadpool(throttle.succeeded, email)
    return await sign_in(request, person, "password", target)


def _audit_failure(rt, email: str, address: str) -> None:
    """A failed password sign-in, by the account's id when there is one (never the typed address)."""
    with rt.transaction() as s:
        found = users.find(s, email)
        audit.record(s, rt.now(), audit.user(found.id if found else None), "sign_in_failed", address=address)


async def sign_in(request: Request, person: users.Person, method: str, target: str):
    """A new session (the old one of this browser ends), the cookie, and on to the next step."""
    rt = rt_of(request)
    await run_in_threadpool(audit.record_now, rt, audit.user(person.id), "sign_in", address=address_of(request),
                            method=method)
    old = await sessions.live_session(request)
    if old is not None:
        await run_in_threadpool(sessions.end, rt, old.id)
    done = method != "password" or not person.has_totp
    cookie = await run_in_threadpool(sessions.start, rt, person, method, second_factor_done=done)
    response = redirect(target if done else with_next("/login/totp", target))
    set_cookie(request, response, sessions.COOKIE, cookie, max_age=int(rt.settings.console.session_max_hours * 3600))
    return response


async def _half_signed_in(request: Request) -> sessions.Live | None:
    live = await sessions.live_session(request)
    return live if live is not None and not live.second_factor_done else None


@router.get("/login/totp")
async def totp_form(request: Request):
    if await _half_signed_in(request) is None:
        return redirect(with_next("/login", request.query_params.get("next")))
    return page(request, "totp_step.html", next=safe_next(request.query_params.get("next")))


@router.post("/login/totp")
async def totp_step(request: Request):
    live = await _half_signed_in(request)
    form = await request.form()
    target = safe_next(str(form.get("next", "")))
    if live is None:
        return redirect(with_next("/login", target))
    rt, throttle, address = rt_of(request), services(request).throttle, address_of(request)
    wait = await run_in_threadpool(throttle.wait_minutes, live.person.email, address)
    if wait:
        raise _throttled(wait)
    secret = await run_in_threadpool(totp.secret_of, rt, live.person.id)
    if secret is None or not await run_in_threadpool(totp.use_code, rt, live.person.id, secret,
                                                     str(form.get("code", ""))):
        await run_in_threadpool(throttle.failed, live.person.email, address)
        await run_in_threadpool(audit.record_now, rt, audit.user(live.person.id), "second_factor_failed",
                                address=address)
        return page(request, "totp_step.html", status=401, next=target,
                    error=N_("That code is not right, or was used already. Wait for the next one."))
    await run_in_threadpool(throttle.succeeded, live.person.email)
    await run_in_threadpool(sessions.update_session, rt, live.id, second_factor_done=True)
    return redirect(target)


@router.post("/logout")
async def logout(request: Request):
    live = await sessions.live_session(request)
    if live is not None:
        await run_in_threadpool(sessions.end, rt_of(request), live.id)
        await run_in_threadpool(audit.record_now, rt_of(request), audit.user(live.person.id), "sign_out",
                                address=address_of(request))
    response = redirect("/login?done=out")
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.get("/login/link/{token}")
async def link_form(request: Request, token: str):
    person = await run_in_threadpool(users.open_link, rt_of(request), token)
    if person is None:
        raise NotFound(LINK_GONE, LINK_GONE_TEXT)
    return page(request, "link.html", person=person, min_length=passwords.MIN_LENGTH)


@router.post("/login/link/{token}")
async def link_use(request: Request, token: str):
    rt = rt_of(request)
    person = await run_in_threadpool(users.open_link, rt, token)
    if person is None:
        raise NotFound(LINK_GONE, LINK_GONE_TEXT)
    form = await request.form()
    password = str(form.get("password", ""))
    error = passwords.problem(password, person.email)
    if error is None and password != form.get("confirm"):
        error = N_("The two passwords are not the same.")
    if error is not None:
        return page(request, "link.html", status=400, person=person, min_length=passwords.MIN_LENGTH, error=error)
    hashed = await run_hashing(request, passwords.hash_password, password)
    if await run_in_threadpool(users.use_link, rt, token, hashed) is None:
        raise NotFound(LINK_GONE, LINK_GONE_TEXT)
    await run_in_threadpool(audit.record_now, rt, audit.user(person.id), "password_set", address=address_of(request))
    return redirect("/login?done=password")
