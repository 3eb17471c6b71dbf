"""GET / where the console is not served (`ces serve --only public`, or `[console] enabled = false`):
a small page saying what runs here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ces.worker.web.pages import _HEADERS as PAGE_HEADERS

router = APIRouter()

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>ces-worker</title>
<style>body{{margin:2rem auto;max-width:40rem;padding:0 1rem;font:16px/1.5 system-ui,sans-serif;color:#111827}}
code{{background:#f3f4f6;padding:0 .2rem}}</style>
</head>
<body>
<h1>ces-worker</h1>
<p>This server runs ces-worker: it receives helpdesk webhooks (<code>POST /webhooks/&lt;connector&gt;</code>)
and serves the Customer Effort Score survey pages that customers open from their e-mail.</p>
<ul>
<li><a href="/healthz">/healthz</a>: the process answers</li>
<li><a href="/readyz">/readyz</a>: the database and the broker answer</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>{demo}
</ul>
<p>The console is not served here (another process serves it, or it is disabled); the <code>ces</code>
command line tells everything.</p>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    demo = ('\n<li><a href="/demo/mail">/demo/mail</a>: the demo\'s mailbox</li>'
            if request.app.state.rt.settings.demo.mail_dir else "")
    return HTMLResponse(_PAGE.format(demo=demo), headers=PAGE_HEADERS)
