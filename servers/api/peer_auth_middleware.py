"""Peer authentication as ASGI middleware: a `/peer/` request is checked before it is even parsed.

As a dependency, the signature would be checked only after FastAPI validated
the body, so an unsigned request with a bad body would learn 422 instead of
401. Here the body is read once, verified, and handed on unchanged — or, for
the routes the servers call each other with all day, answered right here
(`Direct`: servers/api/peer_direct.py), without FastAPI's stack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servers.api.errors import reply_for
from servers.peer_auth import Verifier

PREFIX = "/peer/"

#: A route answered here: given the verified caller, the scope and the body, its response — or None when the
#: request is not one it answers the same as FastAPI would (a body or query that does not validate), which then
#: goes on to FastAPI, the caller already verified.
Direct = Callable[[str, Scope, bytes], Awaitable[Response | None]]


class PeerAuth:
    """Refuse every unsigned, forged, stale or replayed `/peer/` request with 401; mark the others' caller."""

    def __init__(self, app: ASGIApp, verifier: Callable[[], Verifier],
                 direct: Mapping[tuple[str, str], Direct] | None = None) -> None:
        self.app = app
        self.verifier = verifier
        self.direct = dict(direct or {})  # (method, path) -> the route answered here

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
        response: Response | None
        # This layer may sit outside the app's error handlers (servers/api/app.py): what fails here (a refusal, a
        # direct route's error, a bug) is answered here, in the same shape the handlers give it.
        try:
            query = scope.get("query_string", b"").decode("latin-1")
            path = scope["path"] + (f"?{query}" if query else "")
            peer = self.verifier().verify(Headers(scope=scope), scope["method"], path, body)
            direct = self.direct.get((scope["method"], scope["path"]))
            response = await direct(peer, scope, body) if direct is not None else None
        except Exception as exc:
            response = reply_for(exc)  # Unauthorized: 401 with its code
        if response is not None:
            await response(scope, receive, send)
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
