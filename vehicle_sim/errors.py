"""The errors of the vehicle's MQTT client library."""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error raised by the MQTT client library."""


class ConnectFailed(ClientError):
    """The broker could not be reached, or refused the login, within the time allowed."""


class RequestTimeout(ClientError):
    """No reply to a request arrived in time (retry with the same request id; the server dedupes)."""

    def __init__(self, request_id: str, op: str, timeout: float) -> None:
        """Record which request timed out."""
        super().__init__(f"no reply to {op!r} (id {request_id}) within {timeout:g} s")
        self.request_id = request_id
        self.op = op
        self.timeout = timeout


class ReplyError(ClientError):
    """The server answered with an error: a stable `code` and a `message` for people."""

    def __init__(self, code: str, message: str, details: dict[str, object] | None = None) -> None:
        """Record the server's error code, message and optional details."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
