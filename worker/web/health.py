"""Health: /healthz (the process answers), /readyz (database and broker reachable), /metrics."""

from __future__ import annotations

import asyncio

import redis
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

router = APIRouter()


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _database(rt) -> str:
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"


def _broker(rt) -> str:
    try:
        client = redis.Redis.from_url(rt.settings.broker_url, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
        client.close()
        return "ok"
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    rt = request.app.state.rt
    database, broker = await asyncio.gather(run_in_threadpool(_database, rt), run_in_threadpool(_broker, rt))
    ok = database == "ok"  # not the broker: intake answers 202 while Redis is down (README)
    return JSONResponse({"database": database, "broker": broker}, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
