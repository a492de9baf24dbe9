"""Typed domain errors; each carries a stable code that the edges (HTTP, MQTT) map to a reply."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the domain refuses; `code` is stable, `message` is for people."""

    code = "DOMAIN_ERROR"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None,
                 status: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:  # another server's refusal, passed on as it came
            self.status = status
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    """The account, trip, station or point does not exist here."""

    code = "NOT_FOUND"
    status = 404


class Forbidden(DomainError):
    """The caller is who they say, but this is not theirs to do."""

    code = "FORBIDDEN"
    status = 403


class Conflict(DomainError):
    """The request conflicts with the current state (taken, already decided, duplicate)."""

    code = "CONFLICT"
    status = 409


class Unauthorized(DomainError):
    """Missing, wrong or expired credentials."""

    code = "UNAUTHORIZED"
    status = 401


class InsufficientCredit(DomainError):
    """The vehicle's credit does not cover the trip."""

    code = "INSUFFICIENT_CREDIT"
    status = 402


class Unavailable(DomainError):
    """A peer or resource needed to answer cannot be reached now; retry later."""

    code = "UNAVAILABLE"
    status = 503
