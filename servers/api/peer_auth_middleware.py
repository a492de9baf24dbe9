"""Peer authentication as ASGI middleware: a `/peer/` request is checked before it is even parsed.

As a dependency, the signature would be checked only after FastAPI validated
the body, so an unsigned request with a bad body would learn 422 instead of
401. Here the body is read once, verified, and handed on unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servers.api.errors import error_body
from servers.bookings.errors import Unauthorized
from servers.peer_auth import Verifier

PREFIX = "/peer/"


class PeerAuth:
    """Refuse every unsigned, forged, stale or replayed `/peer/` request with 401; mark the others' caller."""

    def __init__(self, app: ASGIApp, verifier: Callable[[], Verifier]) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope["path"] + (f"?{query}" if query else "")
        try:
            peer = self.verifier().verify(Headers(scope=scope), scope["method"], path, body)
        except Unauthorized as exc:
            await JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)(scope, receive, send)
            return
        scope.setdefault("state", {})["peer"] = peer
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
