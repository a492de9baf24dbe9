"""Replies sent as they were built, for the routes where checking them on the way out would cost.

FastAPI validates what a route returns against its `response_model`, then writes it: cheap for a small reply
(~50 µs), but for a large one building the model objects costs more than the route itself (the network's reply
took 2.4 times the server CPU validated), and the peers' batch and occupancy routes are called all day. Those
routes declare their model for OpenAPI all the same and return `json_reply(...)`: orjson bytes, which FastAPI
passes on untouched. tests/servers/test_api_contract.py holds what they really send to the models they declare.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


def json_reply(content: Any, status_code: int = 200) -> Response:
    """`content` as JSON, not validated against the route's response model."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")
