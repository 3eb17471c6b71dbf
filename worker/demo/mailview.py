"""/demo/mail: the demo's mailbox, so that a newcomer sees the surveys customers received."""

from __future__ import annotations

import email
import email.policy
from email.utils import formatdate
from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

router = APIRouter()


def _mails(request: Request) -> list[Path]:
    directory = Path(request.app.state.rt.settings.demo.mail_dir)
    return sorted(directory.glob("*.eml")) if directory.is_dir() else []


@router.get("/demo/mail", response_class=HTMLResponse)
async def mailbox(request: Request):
    rows = []
    for path in reversed(_mails(request)):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        when = msg["Date"] or formatdate(path.stat().st_mtime, usegmt=True)  # as received, if it had none
        rows.append(f"<tr><td>{escape(str(when))}</td><td>{escape(msg['To'] or '')}</td>"
                    f"<td><a href=\"/demo/mail/{path.stem}\">{escape(msg['Subject'] or '')}</a></td></tr>")
    html = ("<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>Demo mailbox</title>"
            "<style>body{font:15px system-ui,sans-serif;margin:2rem}td,th{padding:.3rem .6rem;text-align:left}"
            "</style><h1>Demo mailbox</h1><p>Every survey the demo sent. Open one and click an answer.</p>"
            "<table><tr><th>Date</th><th>To</th><th>Subject</th></tr>" + "".join(rows) + "</table></html>")
    return HTMLResponse(html)


@router.get("/demo/mail/{name}")
async def one_mail(request: Request, name: str):
    for path in _mails(request):
        if path.stem == name:
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            html = msg.get_body(("html",))
            if html is not None:
                return HTMLResponse(html.get_content())
            return PlainTextResponse(msg.get_body(("plain",)).get_content())
    return HTMLResponse("<p>No such mail.</p>", status_code=404)
