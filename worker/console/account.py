"""/account: who you are, your password, your second factor (enrol with a code, or remove it)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from ces.worker.console import passwords, sessions, totp, users
from ces.worker.console.auth import TOTP_ENROL, Caller, must_enrol, require
from ces.worker.console.render import Problem, page, redirect
from ces.worker.console.security import console_router
from ces.worker.console.services import rt_of
from ces.worker.console.signin import run_hashing
from ces.worker.db.models import Role
from ces.worker.i18n import N_

router = console_router()
NOTICES = {"password": N_("Your password is changed. Your other sessions are signed out."),
           "totp": N_("Your second factor is on. Sign-ins now ask for a code."),
           "totp-removed": N_("Your second factor is off.")}


def _account(request: Request, caller: Caller, *, status: int = 200, error: str | None = None):
    return page(request, "account.html", status=status, caller=caller, error=error,
                min_length=passwords.MIN_LENGTH, notice=NOTICES.get(request.query_params.get("done")),
                totp_required=_totp_required(request, caller))


def _totp_required(request: Request, caller: Caller) -> bool:
    return rt_of(request).settings.console.require_totp_for_admins and caller.role == Role.ADMIN


@router.get("/account")
async def account(request: Request, caller: Caller = Depends(require())):
    return _account(request, caller)


@router.post("/account/password")
async def change_password(request: Request, caller: Caller = Depends(require())):
    form = await request.form()
    current, new = str(form.get("current", "")), str(form.get("password", ""))
    rt = rt_of(request)
    stored = await run_in_threadpool(users.stored_hash, rt, caller.person.id)
    if not await run_hashing(request, passwords.verify, stored, current):
        return _account(request, caller, status=400, error=N_("Your current password is not right."))
    error = passwords.problem(new, caller.person.email)
    if error is None and new != form.get("confirm"):
        error = N_("The two new passwords are not the same.")
    if error is not None:
        return _account(request, caller, status=400, error=error)
    hashed = await run_hashing(request, passwords.hash_password, new)
    await run_in_threadpool(users.change_password, rt, caller.person.id, hashed, caller.session_id)
    return redirect("/account?done=password")


async def _pending_secret(request: Request, caller: Caller) -> str:
    """The secret being enrolled in this session (made on first view, kept until confirmed)."""
    live = await sessions.live_session(request)
    if live.totp_pending:
        return live.totp_pending
    secret = totp.new_secret()
    await run_in_threadpool(sessions.update_session, rt_of(request), caller.session_id, totp_pending=secret)
    return secret


async def _enrol_page(request: Request, caller: Caller, *, status: int = 200, error: str | None = None):
    secret = await _pending_secret(request, caller)
    live = await sessions.live_session(request)
    return page(request, "totp_enrol.html", status=status, caller=caller, error=error, secret=secret,
                uri=totp.uri(secret, caller.person.email), qr=totp.qr_data_uri(secret, caller.person.email),
                forced=must_enrol(request, live))


@router.get(TOTP_ENROL)
async def enrol_form(request: Request, caller: Caller = Depends(require(enrolling=True))):
    if caller.person.has_totp:
        return redirect("/account")
    return await _enrol_page(request, caller)


@router.post(TOTP_ENROL)
async def enrol(request: Request, caller: Caller = Depends(require(enrolling=True))):
    form = await request.form()
    rt = rt_of(request)
    live = await sessions.live_session(request)
    if caller.person.has_totp or not live.totp_pending:
        return redirect("/account")
    if not await run_in_threadpool(totp.enrol, rt, caller.person.id, live.totp_pending, str(form.get("code", ""))):
        return await _enrol_page(request, caller, status=400,
                                 error=N_("That code is not right. Check the time on your phone and try the next one."))
    await run_in_threadpool(sessions.update_session, rt, caller.session_id, totp_pending=None)
    return redirect("/account?done=totp")


@router.post("/account/totp/remove")
async def remove(request: Request, caller: Caller = Depends(require())):
    if _totp_required(request, caller):
        raise Problem(N_("A second factor is required"), N_("Admins of this installation must keep one."), status=403)
    form = await request.form()
    rt = rt_of(request)
    secret = await run_in_threadpool(totp.secret_of, rt, caller.person.id)
    if secret is None:
        return redirect("/account")
    if not await run_in_threadpool(totp.use_code, rt, caller.person.id, secret, str(form.get("code", ""))):
        return _account(request, caller, status=400, error=N_("That code is not right, or was used already."))
    await run_in_threadpool(totp.remove, rt, caller.person.id)
    return redirect("/account?done=totp-removed")
