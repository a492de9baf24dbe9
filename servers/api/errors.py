"""Errors as JSON with a stable code, mapped here at the edge and nowhere else — and declared per route.

Every error body is an `ErrorOut` (`{code, message, details}`); `errors(...)` builds a route's `responses=` so
its OpenAPI lists each error status it may answer with that shape and the codes behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contract.models import ErrorOut, ValidationErrorOut
from events.errors import LogUnavailable
from servers.bookings.errors import DomainError

log = logging.getLogger(__name__)

# The error statuses a route may declare, and what each means whatever the route.
MEANING = {
    400: "Refused as asked",
    401: "Not authenticated",
    403: "Not the caller's to do",
    404: "Not found",
    409: "In conflict with the current state",
    422: "Not valid",
    429: "Too many attempts",
    500: "A bug: the server logged it, and nothing half-done is left",
    503: "The event log cannot be written or reached, or another company did not answer: nothing changed; try "
         "again later",
}
# Code groups many routes share.
VEHICLE: Mapping[int, Sequence[str]] = {401: ["BAD_TOKEN"]}
OPERATOR: Mapping[int, Sequence[str]] = {401: ["BAD_OPERATOR_TOKEN"]}
PEER: Mapping[int, Sequence[str]] = {401: ["UNSIGNED", "UNKNOWN_PEER", "BAD_SIGNATURE", "STALE_SIGNATURE",
                                           "REPLAYED"]}
INVALID: Mapping[int, Sequence[str]] = {422: ["VALIDATION_ERROR"]}
WRITES: Mapping[int, Sequence[str]] = {503: ["LOG_UNWRITABLE", "LOG_UNAVAILABLE"]}
READS_LOG: Mapping[int, Sequence[str]] = {503: ["LOG_UNAVAILABLE"]}


def errors(*groups: Mapping[int, Sequence[str]], models: Mapping[int, Any] | None = None,
           ) -> dict[int | str, dict[str, Any]]:
    """A route's error responses for OpenAPI: each status with its codes, as `ErrorOut` (422 `VALIDATION_ERROR`
    as `ValidationErrorOut`, or the model `models` names for a status); always 500 `INTERNAL` and a default."""
    codes: dict[int, list[str]] = {500: ["INTERNAL"]}
    for group in groups:
        for status, names in group.items():
            codes.setdefault(status, []).extend(n for n in names if n not in codes.get(status, []))
    declared: dict[int | str, dict[str, Any]] = {}
    for status in sorted(codes):
        model = (models or {}).get(status)
        if model is None and status == 422:
            model = ValidationErrorOut if codes[status] == ["VALIDATION_ERROR"] else ValidationErrorOut | ErrorOut
        declared[status] = {"model": model or ErrorOut,
                            "description": f"{MEANING[status]}: " + ", ".join(f"`{c}`" for c in codes[status])}
    # Whatever else may come (405 `METHOD_NOT_ALLOWED`, …) has the same shape. Declaring it also keeps FastAPI
    # from adding its own 422 body, which is not ours, to routes whose parameters cannot fail validation.
    declared["default"] = {"model": ErrorOut, "description": "Any other error, in the same shape"}
    return declared


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape of the API (`ErrorOut`)."""
    return ErrorOut(code=code, message=message, details=dict(details or {})).model_dump()


def reply_for(exc: Exception) -> JSONResponse:
    """The error reply for a failure of a route: a domain refusal with its code and status, 503 for a log out of
    reach, else 500 `INTERNAL` (logged). The app's handlers answer with it, and so does what answers outside them
    (`PeerAuth`'s direct routes)."""
    if isinstance(exc, DomainError):
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)
    if isinstance(exc, LogUnavailable):
        # A log in a database that is down or failing over: nothing was decided; the client may retry.
        log.error("event log unavailable: %s", exc)
        return JSONResponse(error_body("LOG_UNAVAILABLE", "the event log cannot be reached; try again later"),
                            status_code=503)
    log.error("unexpected error", exc_info=exc)
    return JSONResponse(error_body("INTERNAL", "unexpected server error"), status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the error shape."""

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return reply_for(exc)

    @app.exception_handler(LogUnavailable)
    async def log_unavailable(_: Request, exc: LogUnavailable) -> JSONResponse:
        return reply_for(exc)

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
        return reply_for(exc)
