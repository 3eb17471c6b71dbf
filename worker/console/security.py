"""What every console answer carries, in one place: the route class of every console router checks
the CSRF token of every POST (and every other unsafe method) before the handler runs, turns a
Problem into its page, and adds the strict CSP (no inline script or style at all), no-store and
the other headers; the static files get the same CSP, nosniff and a long cache for versioned URLs.

A console router is made with `console_router()`; then a page cannot forget any of this."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from ces.worker.console import csrf
from ces.worker.console.render import STATIC_DIR, Problem
from ces.worker.console.sessions import live_session
from ces.worker.i18n import N_
from ces.worker.logs import error_text
from ces.worker.web.bodies import TooLarge

log = structlog.get_logger("ces.console")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a one-time link's token must not travel in a Referer
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
}


def secure_cookies(request: Request) -> bool:
    return request.app.state.rt.settings.console_url.startswith("https://")


def set_cookie(request: Request, response, name: str, value: str, **options) -> None:
    response.set_cookie(name, value, httponly=True, samesite="lax", secure=secure_cookies(request),
                        **{"path": "/", **options})


async def _check_csrf(request: Request) -> None:
    try:
        form = await csrf.read_form(request)
    except TooLarge:
        raise Problem(N_("This form is too large"), status=413) from None
    if not csrf.valid(request, form):
        raise Problem(N_("This form has expired"),
                      N_("Nothing was changed. Go back, reload the page and send it again."), status=403)


class ConsoleRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def console_handler(request: Request):
            try:
                await live_session(request)  # before any form is rendered or checked: one token per request
                if request.method not in SAFE_METHODS:
                    await _check_csrf(request)
                response = await handler(request)
            except Problem as problem:
                response = problem.response(request, getattr(request.state, "caller", None))
            except (HTTPException, RequestValidationError, ClientDisconnect):
                raise  # the app's handlers answer these
            except Exception as exc:
                response = _failed(request, exc)
            for name, value in HEADERS.items():
                response.headers.setdefault(name, value)
            new_token = getattr(request.state, "new_csrf_cookie", None)
            if new_token:
                set_cookie(request, response, csrf.COOKIE, new_token)
            return response

        return console_handler


def _failed(request: Request, exc: Exception):
    """A page that failed answers as a page, with the console's headers, and the connection stays
    open; the log has the why (the exception's text is not shown: it may quote what was stored)."""
    log.error("console_page_failed", path=request.url.path, error=error_text(exc)[:200], exc_info=exc)
    problem = Problem(N_("Something went wrong"),
                      N_("Try again in a moment. If it happens again, tell your administrator: the "
                         "server's log says what failed."), status=500)
    try:
        return problem.response(request, getattr(request.state, "caller", None))
    except Exception:
        raise exc from None  # the page itself cannot be drawn: the app's own answer


def console_router() -> APIRouter:
    """A router for console pages: CSRF on every POST, the headers on every answer, no OpenAPI."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)


class StaticAssets:
    """worker/web/static/ at /static/: the console CSP and nosniff on every file; a URL with a
    version (`?v=`, see render.static_url) is cached for a year, others are revalidated."""

    def __init__(self):
        self.files = StaticFiles(directory=str(STATIC_DIR))

    async def __call__(self, scope, receive, send):
        versioned = b"v=" in scope.get("query_string", b"")
        cache = b"public, max-age=31536000, immutable" if versioned else b"no-cache"

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*[(k, v) for k, v in message.get("headers", [])
                                        if k.lower() not in (b"cache-control",)],
                                      (b"cache-control", cache), (b"content-security-policy", CSP.encode()),
                                      (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.files(scope, receive, with_headers)
