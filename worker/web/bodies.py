"""Request bodies read within a limit, before anything else is done with the request.

A body is read straight from ASGI's receive and refused as soon as it is known to be too large
(a declared Content-Length, or the bytes so far): nothing larger than the limit is ever held,
and nothing is spooled to disk.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import ClientDisconnect, Request

from ces.connectors.timeparse import is_digits


class TooLarge(Exception):
    pass


class NotAForm(Exception):
    """A body in an encoding the pages never send (multipart, JSON, ...)."""


async def read_body(request: Request, content_length: str | None, limit: int) -> bytes:
    if content_length and is_digits(content_length) and int(content_length) > limit:
        raise TooLarge
    body = b""
    more = True
    while more:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        body += message.get("body", b"")
        if len(body) > limit:
            raise TooLarge
        more = message.get("more_body", False)
    return body


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """An urlencoded form (what our pages and their script send), the first value of each field.

    Multipart is refused rather than parsed: no page sends it, and a multipart parser is more
    to go wrong (and spools files) for nothing."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise NotAForm(kind)
    body = await read_body(request, request.headers.get("content-length"), limit)
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}
