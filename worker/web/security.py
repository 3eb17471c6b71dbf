"""The security headers of the people's pages (/s/, /u/, /a/), on every response under them:
the pages' own, and what the framework answers there (404, 405, errors)."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

HTML_PREFIXES = ("/s/", "/u/", "/a/")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}
_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in PAGE_HEADERS.items()]
_NAMES = {name for name, _ in _RAW}


def is_page(path: str) -> bool:
    return path.startswith(HTML_PREFIXES)


def plain_page(status: int, title: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A minimal page for what the framework answers under the page prefixes (404, 405, 500)."""
    html = f"<!DOCTYPE html><html lang=\"en\"><title>{title}</title><p>{title}.</p></html>"
    return HTMLResponse(html, status_code=status, headers={**(headers or {}), **PAGE_HEADERS})


class PageHeaders:
    """Adds the headers a response under the page prefixes lacks. Plain ASGI; other paths pass as they are."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not is_page(scope["path"]):
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                if not _NAMES <= present:
                    message["headers"] = [*message.get("headers", []), *(h for h in _RAW if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)
