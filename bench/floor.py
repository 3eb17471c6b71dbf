"""The floor of the intake benchmark: the same server stack (FastAPI on uvicorn with uvloop and
httptools, one process) answering every webhook with a bare 202 and doing nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench.floor:app` for several processes
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/webhooks/{connector_id}")
async def receive(connector_id: str, request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"status": "accepted", "events": 1}, status_code=202)


if __name__ == "__main__":
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if processes > 1:
        uvicorn.run("bench.floor:app", host="127.0.0.1", port=int(sys.argv[1]), workers=processes, access_log=False,
                    log_level="warning")
    else:
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning")
