"""Every console POST carries a CSRF token: the hidden field `csrf`, or the header `X-CSRF-Token`
(htmx requests, set by console.js). Signed in, it is the session's own token; before signing in
(the sign-in and one-time-link forms) it is the value of the `ces_csrf` cookie, which a page sets
and the form repeats (a site that cannot read our cookies cannot repeat it)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import FormData

from ces.worker.web.bodies import read_body

COOKIE = "ces_csrf"
FIELD = "csrf"
HEADER = "x-csrf-token"


def form_token(request: Request) -> str:
    """The token a page's forms carry: the session's, or the pre-sign-in cookie's (made if missing)."""
    live = getattr(request.state, "live", None)
    if live is not None:
        return live.csrf
    token = request.cookies.get(COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not token:
        token = request.state.new_csrf_cookie = secrets.token_urlsafe(32)
    return token


async def read_form(request: Request) -> FormData:
    """The urlencoded form within `server.max_form_bytes`, kept on the request: `await request.form()`
    and FastAPI's Form() parameters read this same one afterwards."""
    limit = request.app.state.rt.settings.server.max_form_bytes
    body = await read_body(request, request.headers.get("content-length"), limit)
    form = FormData(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    request._form = form  # Starlette's cache of request.form(): the body cannot be read twice
    return form


def valid(request: Request, form: FormData) -> bool:
    sent = form.get(FIELD) or request.headers.get(HEADER) or ""
    live = getattr(request.state, "live", None)
    expected = live.csrf if live is not None else request.cookies.get(COOKIE, "")
    return bool(sent and expected) and hmac.compare_digest(str(sent).encode(), expected.encode())
