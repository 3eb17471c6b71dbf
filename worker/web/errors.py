from __future__ import annotations

from fastapi.responses import JSONResponse


def json_error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error shape of every JSON endpoint."""
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)
