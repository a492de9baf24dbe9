"""How a coordinator reaches the participants of a trip: itself directly, other companies over REST."""

from __future__ import annotations

from typing import Any, Protocol

from servers.contract.models import CheckInIn, PrepareIn


class PeerUnavailable(Exception):
    """A peer did not answer (down, timed out, or failed); the call may be retried."""


class PeerRefused(Exception):
    """A peer answered with an error (e.g. a protocol violation); retrying will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Peers(Protocol):
    """The participant operations of every company, addressed by company id."""

    def prepare(self, company: str, req: PrepareIn) -> dict[str, Any]: ...

    def commit(self, company: str, trip_id: str) -> dict[str, Any]: ...

    def abort(self, company: str, trip_id: str, reason: str) -> dict[str, Any]: ...

    def release(self, company: str, trip_id: str, reason: str) -> dict[str, Any]: ...

    def outcome(self, company: str, trip_id: str) -> str: ...

    def check_in(self, company: str, req: CheckInIn) -> dict[str, Any]: ...
