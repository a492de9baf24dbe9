"""Errors as JSON with a stable code, mapped here at the edge and nowhere else."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.errors import LogUnavailable
from servers.domain.errors import DomainError

log = logging.getLogger(__name__)


def error_body(code: str, message: str, details: object | None = None) -> dict[str, object]:
    """The one error shape of the API."""
    return {"code": code, "message": message, "details": details or {}}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the error shape."""

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(LogUnavailable)
    async def log_unavailable(_: Request, exc: LogUnavailable) -> JSONResponse:
        # A log in a database that is down or failing over: nothing was decided; the client may retry.
        log.error("event log unavailable: %s", exc)
        return JSONResponse(error_body("LOG_UNAVAILABLE", "the event log cannot be reached; try again later"),
                            status_code=503)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
                   for e in exc.errors()]
        return JSONResponse(error_body("VALIDATION_ERROR", "the request is not valid", {"errors": details}),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, f"HTTP_{exc.status_code}")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(error_body("INTERNAL", "unexpected server error"), status_code=500)
