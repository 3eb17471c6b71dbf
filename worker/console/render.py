"""Console pages: Jinja2 templates (autoescaped; customer text is never `|safe`), the gettext
catalogs of the `console` domain (English shipped; worker/console/babel.cfg extracts them), and
the problems a handler raises to answer with a page instead (sign in, 403, 404, 429, 503)."""

from __future__ import annotations

import gettext
import hashlib
from functools import cache
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ces.worker.console import csrf
from ces.worker.console.nav import ADMIN_NAV, nav_for
from ces.worker.console.ranges import FIRST_DAY, LAST_DAY
from ces.worker.i18n import N_

TEMPLATES = Path(__file__).parent / "templates"
LOCALE_DIR = Path(__file__).parent / "locale"
STATIC_DIR = Path(__file__).parent.parent / "web" / "static"
DOMAIN = "console"
PRODUCT = "ces-worker"


def verbatim(text: str) -> str:
    """A message that is no msgid (it may quote what someone typed, e.g. an address with a %), made
    safe for the templates' `_()`, which formats every message it is given."""
    return text.replace("%", "%%")


@cache
def static_url(path: str) -> str:
    """/static/<path>?v=<hash of the file>: cached for a year, and a new file is a new URL."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]
    return f"/static/{path}?v={digest}"


@cache
def environment(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(
        gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[locale], fallback=True), newstyle=True)
    env.globals.update(static=static_url, product=PRODUCT, day_min=FIRST_DAY.isoformat(), day_max=LAST_DAY.isoformat())
    return env


def page(request: Request, template: str, *, status: int = 200, caller=None, **context) -> HTMLResponse:
    """A whole page. `caller` (auth.Caller) fills the top bar: the nav, the name, sign out."""
    path = request.url.path
    nav = nav_for(caller.person.role, path) if caller is not None else []
    admin_nav = nav_for(caller.person.role, path, ADMIN_NAV) if caller is not None and path.startswith("/admin") else []
    html = environment("en").get_template(template).render(caller=caller, nav=nav, admin_nav=admin_nav,
                                                          csrf=csrf.form_token(request), path=path, **context)
    return HTMLResponse(html, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None) -> str:
    """A path on this site to go to after signing in; anything else (another site, a scheme,
    `//host`, a backslash that browsers read as a slash) is the home page."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return "/"
    return value


def with_next(path: str, next_url: str | None) -> str:
    target = safe_next(next_url)
    return path if target == "/" else f"{path}?next={quote(target, safe='/')}"


class Problem(Exception):
    """Raised in a console handler (or a dependency) to answer with a page."""

    status = 400
    title = N_("Something is not right")
    message = ""

    def __init__(self, title: str | None = None, message: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None, **params):
        """`title` and `message` are msgids (N_), `params` fill their %(name)s placeholders."""
        super().__init__(title or self.title)
        self.title, self.message = title or self.title, message if message is not None else self.message
        self.status, self.headers, self.params = status or self.status, headers or {}, params

    def response(self, request: Request, caller=None) -> Response:
        resp = page(request, "message.html", status=self.status, caller=caller, title=self.title,
                    message=self.message, params=self.params)
        resp.headers.update(self.headers)
        return resp


class SignInRequired(Problem):
    status = 401

    def response(self, request: Request, caller=None) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        url = with_next("/login", target if request.method == "GET" else None)
        if request.headers.get("hx-request"):  # htmx: the whole page goes to the sign-in
            return Response(status_code=401, headers={"HX-Redirect": url})
        return redirect(url)


class Redirect(Problem):
    def __init__(self, url: str):
        super().__init__()
        self.url = url

    def response(self, request: Request, caller=None) -> Response:
        return redirect(self.url)


class Forbidden(Problem):
    status = 403
    title = N_("Not for your role")
    message = N_("Your role does not include this page. Ask an admin if you need it.")


class NotFound(Problem):
    status = 404
    title = N_("Not found")
    message = N_("There is nothing here, or it is not yours to see.")
