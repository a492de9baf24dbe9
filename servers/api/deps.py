"""Dependencies of the routes: the server, the authenticated vehicle, the authenticated peer.

All `async`: they run on the event loop, where the server's state lives (FastAPI would run plain
functions on a thread pool).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from servers.bookings.errors import Unauthorized
from servers.bootstrap import Server


async def get_server(request: Request) -> Server:
    """The server this app serves."""
    server: Server = request.app.state.server
    return server


ServerDep = Annotated[Server, Depends(get_server)]


async def current_vehicle(server: ServerDep, authorization: Annotated[str | None, Header()] = None) -> str:
    """The vehicle id behind a `Bearer` token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("send 'Authorization: Bearer <token>'", code="BAD_TOKEN")
    return server.accounts.authenticate(authorization[7:].strip())


VehicleDep = Annotated[str, Depends(current_vehicle)]


async def current_peer(request: Request) -> str:
    """The company that signed this peer request (checked by `PeerAuth` before anything else)."""
    peer: str = request.state.peer
    return peer


PeerDep = Annotated[str, Depends(current_peer)]


async def current_operator(server: ServerDep, x_operator_token: Annotated[str | None, Header()] = None) -> None:
    """Only the company's operator (X-Operator-Token) passes."""
    expected = server.settings.operator_token
    if not expected or not x_operator_token or not hmac.compare_digest(expected.encode(), x_operator_token.encode()):
        raise Unauthorized("operator token missing or wrong", code="BAD_OPERATOR_TOKEN")


OperatorDep = Annotated[None, Depends(current_operator)]
