"""The peer routes servers call each other with all day, answered by `PeerAuth` without FastAPI's stack.

`POST /peer/v1/batch` carries nearly every call between servers, and `GET /peer/v1/occupancy` is each
server's long poll of the others; FastAPI's middleware, routing and dependencies around them cost 5–8 % of a
server under load (docs/benchmarks.md, issue #12). Here, once `PeerAuth` has verified the caller, the request
is parsed and decided by the same functions as the FastAPI routes (`decide_batch`, `occupancy_since` in
servers/api/peer.py), which stay declared for OpenAPI and answer everything these do not.

The rule that keeps the wire unchanged: a route here answers only a request FastAPI would accept, with the
values FastAPI would have read from it; anything else (a body that does not validate, another content type, a
query spelt otherwise) goes on to FastAPI, whose refusal is then the one sent. tests/servers/test_peer_direct.py
holds both paths to the same answers.
"""

from __future__ import annotations

import re

from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from contract.models import BatchIn
from servers.api import peer
from servers.api.peer_auth_middleware import Direct
from servers.bootstrap import Server

BATCH = peer.router.prefix + "/batch"
OCCUPANCY = peer.router.prefix + "/occupancy"
# The occupancy query as peers send it (servers/adapters/peer_client.py): `after` at least -1, `wait` 0–10 s,
# plain digits only. FastAPI reads every such query to these same numbers; any other spelling goes to FastAPI.
_OCCUPANCY_QUERY = re.compile(rb"after=(-1|0|[1-9][0-9]{0,17})&wait=((?:10|[0-9])(?:\.[0-9]{1,6})?)")


def routes(server: Server) -> dict[tuple[str, str], Direct]:
    """The routes `PeerAuth` answers itself for `server`, by (method, path)."""

    async def batch(caller: str, scope: Scope, body: bytes) -> Response | None:
        ops = parse_batch(scope, body)
        return await peer.decide_batch(server, caller, ops) if ops is not None else None

    async def occupancy(caller: str, scope: Scope, body: bytes) -> Response | None:
        query = parse_occupancy(scope)
        return await peer.occupancy_since(server, *query) if query is not None else None

    return {("POST", BATCH): batch, ("GET", OCCUPANCY): occupancy}


def parse_batch(scope: Scope, body: bytes) -> BatchIn | None:
    """The batch in `body`, or None when FastAPI is to answer (not JSON as FastAPI reads it, or not valid)."""
    # FastAPI reads a body as JSON only under a JSON content type; under another it refuses it (422).
    content_type = Headers(scope=scope).get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        return None
    try:
        return BatchIn.model_validate_json(body)
    except ValidationError:  # malformed JSON too: FastAPI words the refusal
        return None


def parse_occupancy(scope: Scope) -> tuple[int, float] | None:
    """`after` and `wait` of an occupancy query spelt as peers spell it; None for any other query."""
    found = _OCCUPANCY_QUERY.fullmatch(scope.get("query_string", b""))
    if found is None:
        return None
    wait = float(found[2])
    return (int(found[1]), wait) if wait <= 10 else None
