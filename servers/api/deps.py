"""Dependencies of the routes: the server, the authenticated vehicle, the authenticated peer."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from servers.bootstrap import Server
from servers.domain.errors import Unauthorized


def get_server(request: Request) -> Server:
    """The server this app serves."""
    server: Server = request.app.state.server
    return server


ServerDep = Annotated[Server, Depends(get_server)]


def current_vehicle(server: ServerDep, authorization: Annotated[str | None, Header()] = None) -> str:
    """The vehicle id behind a `Bearer` token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("send 'Authorization: Bearer <token>'", code="BAD_TOKEN")
    return server.accounts.authenticate(authorization[7:].strip())


VehicleDep = Annotated[str, Depends(current_vehicle)]


async def current_peer(request: Request, server: ServerDep) -> str:
    """The company that signed this peer request (401 for unsigned, forged, stale or replayed)."""
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return server.verifier.verify(request.headers, request.method, path, body)


PeerDep = Annotated[str, Depends(current_peer)]


def current_operator(server: ServerDep, x_operator_token: Annotated[str | None, Header()] = None) -> None:
    """Only the company's operator (X-Operator-Token) passes."""
    expected = server.settings.operator_token
    if not expected or not x_operator_token or not hmac.compare_digest(expected, x_operator_token):
        raise Unauthorized("operator token missing or wrong", code="BAD_OPERATOR_TOKEN")


OperatorDep = Annotated[None, Depends(current_operator)]
