"""Puts the console into the HTTP app (worker/web/app.py calls add_console when it serves it)."""

from __future__ import annotations

from fastapi import FastAPI

from ces.worker.api import routes as api_routes
from ces.worker.console import (
    account,
    admin_audit,
    admin_connectors,
    admin_health,
    admin_pages,
    admin_people,
    admin_queues,
    admin_tokens,
    answers,
    followups,
    overview,
    signin,
    sso,
    ticket,
)
from ces.worker.console.services import Services

ROUTERS = [signin.router, sso.router, account.router, overview.router, followups.router, ticket.router,
           answers.router, admin_pages.router, admin_queues.router, admin_people.router, admin_tokens.router,
           admin_audit.router, admin_health.router,
           admin_connectors.router]


def add_console(app: FastAPI) -> None:
    app.state.console = Services.build(app.state.rt.settings)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(api_routes.router)  # the read API is served with the console (an internal address)
