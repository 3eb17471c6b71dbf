"""Who is asking: one dependency resolves the signed-in caller, `require(*roles)` adds the role.

    @router.get("/teams")
    async def teams(request: Request, caller: Caller = Depends(require("admin", "lead"))): ...

Signed out → the sign-in page, then back here (`next`: same-site paths only). Half signed in (the
second factor not yet given) → that step. An admin who must have a second factor
(`console.require_totp_for_admins`) and has none → its enrolment, before anything else.
Out of role → 403: a page's existence is no secret. Objects out of the caller's Scope are another
matter: the query finds nothing and the page answers 404 (render.NotFound), never 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from ces.worker.console.render import Forbidden, Redirect, SignInRequired, with_next
from ces.worker.console.sessions import Live, live_session
from ces.worker.console.users import Person
from ces.worker.db.models import Role
from ces.worker.i18n import N_
from ces.worker.queries.scope import Scope

TOTP_ENROL = "/account/totp"
ROLE_NAMES = (N_("admin"), N_("lead"), N_("agent"))  # as the pages show a role: _(role)


@dataclass(frozen=True)
class Caller:
    person: Person
    session_id: str
    csrf: str
    method: str
    scope: Scope

    @property
    def role(self) -> str:
        return self.person.role


def must_enrol(request: Request, live: Live) -> bool:
    settings = request.app.state.rt.settings.console
    return (settings.require_totp_for_admins and live.person.role == Role.ADMIN and not live.person.has_totp
            and live.method == "password")


async def signed_in(request: Request, *, enrolling: bool = False) -> Caller:
    live = await live_session(request)
    if live is None:
        raise SignInRequired
    if not live.second_factor_done:
        raise Redirect(with_next("/login/totp", request.url.path if request.method == "GET" else None))
    if not enrolling and must_enrol(request, live):
        raise Redirect(TOTP_ENROL)
    caller = Caller(live.person, live.id, live.csrf, live.method, Scope.for_user(live.person))
    request.state.caller = caller  # problem pages after this point still show the top bar
    return caller


def require(*roles: str, enrolling: bool = False):
    """A dependency: the signed-in caller, if their role is one of `roles` (any role when none)."""
    unknown = set(roles) - set(Role.ALL)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(request: Request) -> Caller:
        caller = await signed_in(request, enrolling=enrolling)
        if roles and caller.role not in roles:
            raise Forbidden
        return caller

    return dependency
