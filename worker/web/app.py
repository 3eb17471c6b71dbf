"""The HTTP app. JSON for machines (webhooks, health), HTML for people (survey pages)."""

from __future__ import annotations

import gc
import logging
import re
import time
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from ces.worker import logs
from ces.worker.console.security import StaticAssets
from ces.worker.console.site import add_console
from ces.worker.demo.mailview import router as demo_router
from ces.worker.intake import EventWriter
from ces.worker.metrics import register
from ces.worker.runtime import Runtime, get_runtime
from ces.worker.web import followups, health, home, pages, webhooks
from ces.worker.web.errors import json_error
from ces.worker.web.security import PageHeaders, is_page, plain_page

log = structlog.get_logger("ces.http")

# Survey, unsubscribe, alert and sign-in links carry secrets: access logs show only their shape.
_TOKEN_PATH = re.compile(rf"^/({logs.TOKEN_LINKS})/[^/]+")


def redact(path: str) -> str:
    return _TOKEN_PATH.sub(lambda m: f"/{m.group(1)}/<token>", path)


class AccessLog:
    """One structured line per request, token paths redacted. Plain ASGI: no per-request task."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or logs.threshold > logging.INFO:
            return await self.app(scope, receive, send)  # nothing to log: no wrapper either
        started = time.perf_counter()
        status = {"code": 500}

        async def record(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            log.info("request", method=scope["method"], path=redact(scope["path"]), status=status["code"],
                     ms=round((time.perf_counter() - started) * 1000, 1))


class _Intake:
    """Intake's hot path as a bare ASGI endpoint: Starlette runs an object (not a function) as is,
    without wrapping it into a per-request handler of its own."""

    async def __call__(self, scope, receive, send):
        request = Request(scope, receive)
        response = await webhooks.receive(scope["path_params"]["connector_id"], request)
        await response(scope, receive, send)


def create_app(rt: Runtime | None = None, only: str = "all") -> FastAPI:
    """`only`: "public" (webhooks, the customers' pages), "console" (the console), or "all"."""
    rt = rt or get_runtime()
    public, console = only != "console", only != "public" and rt.settings.console.enabled
    # No trailing-slash redirects: Starlette builds them from the Host header, which anyone can set.
    app = FastAPI(title="ces-worker", version="0.1.0", lifespan=_lifespan(rt), docs_url=None, redoc_url=None,
                  redirect_slashes=False)
    app.state.rt = rt
    # Intake's hot path as a plain Starlette route, ahead of the FastAPI one (which stays, for the
    # OpenAPI schema): the same function without FastAPI's per-request dependency resolution.
    # A webhook URL typed with a trailing slash is the same endpoint (it used to be a redirect to it).
    if public:
        app.router.routes[:0] = [Route(path, _Intake(), methods=["POST"])
                                 for path in ("/webhooks/{connector_id}", "/webhooks/{connector_id}/")]
    register(rt)
    app.include_router(health.router)
    if public:
        app.include_router(webhooks.router)
        app.include_router(pages.router)
        app.include_router(followups.router)
    if console:
        add_console(app)  # GET / is the console's
    else:
        app.include_router(home.router)
    if public and rt.settings.demo.mail_dir:
        app.include_router(demo_router)
    app.mount("/static", StaticAssets())

    app.add_middleware(PageHeaders)
    app.add_middleware(AccessLog)
    _add_error_handlers(app)
    return app


def _lifespan(rt: Runtime):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The console's connectors loaded now and then watched from a thread: never on a webhook.
        await run_in_threadpool(rt.live_connectors.start_polling)
        # Long-lived objects built at start-up leave the collector's generations, and young
        # collections run less often: fewer pauses in the intake's tail latency.
        gc.freeze()
        gc.set_threshold(20000, 20, 20)
        writer = EventWriter(rt)
        await writer.start()
        app.state.writer = writer
        try:
            yield
        finally:
            await writer.stop()
            rt.live_connectors.stop_polling()

    return lifespan


def _add_error_handlers(app: FastAPI) -> None:
    """Every error answers in the one JSON shape (API) or as a plain page (pages)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if is_page(request.url.path):
            titles = {404: "Not found", 405: "Method not allowed"}
            return plain_page(exc.status_code, titles.get(exc.status_code, "Bad request"), exc.headers)
        codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 429: "rate_limited"}
        return json_error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if is_page(request.url.path):
            return plain_page(422, "Bad request")
        return json_error(422, "invalid_request", "; ".join(e.get("msg", "") for e in exc.errors())[:500])

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect):
        return Response(status_code=400)  # nobody is there to read it; not an error of ours

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        # Starlette logs the exception itself; this is only the answer (outside PageHeaders).
        if is_page(request.url.path):
            return plain_page(500, "Something went wrong")
        return json_error(500, "internal_error", "the server could not handle this request")


def create_public_app() -> FastAPI:
    """`ces serve --only public --processes N`: each process's app (uvicorn takes a factory by name)."""
    return create_app(only="public")


def create_console_app() -> FastAPI:
    return create_app(only="console")

