"""GET /: signed out, the sign-in page; signed in, who you are (the overview replaces this page)."""

from __future__ import annotations

from fastapi import Depends, Request

from ces.worker.console.auth import Caller, require
from ces.worker.console.render import page
from ces.worker.console.security import console_router

router = console_router()


@router.get("/")
async def home(request: Request, caller: Caller = Depends(require())):
    return page(request, "home.html", caller=caller)
