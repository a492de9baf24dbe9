"""The API documents in docs/api are what the code serves."""

from __future__ import annotations

import json
from pathlib import Path

from servers.api_export import export

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"


def test_the_exported_openapi_and_postman_collection_are_up_to_date(tmp_path):
    for fresh in export(tmp_path):
        committed = DOCS / fresh.name
        assert committed.exists(), f"run `python -m servers export-api` to create {committed}"
        assert json.loads(committed.read_text()) == json.loads(fresh.read_text()), (
            f"{committed.name} is stale: run `python -m servers export-api`")


def test_every_route_has_a_summary_and_errors_have_a_stable_shape():
    spec = json.loads((DOCS / "openapi.json").read_text())
    routes = [(path, method, op) for path, methods in spec["paths"].items() for method, op in methods.items()]
    assert len(routes) >= 25
    assert all(op.get("summary") for _, _, op in routes)
    collection = json.loads((DOCS / "recarga.postman_collection.json").read_text())
    names = [i["name"] for folder in collection["item"] for i in folder["item"]]
    assert len(names) == len(routes)


def test_the_mqtt_docs_name_only_operations_the_gateway_answers_and_every_error_code_of_its_edge():
    import re

    import vehicle_sim.client
    from servers.adapters.gateway import SIGNUP_OPS, VEHICLE_OPS

    text = (DOCS.parent / "mqtt.md").read_text() + (vehicle_sim.client.__doc__ or "")
    named = {a or b for a, b in re.findall(r'"op": "(\w+)"|request(?:_raw)?\("(\w+)"', text)}
    assert named and named <= set(VEHICLE_OPS) | set(SIGNUP_OPS), named - set(VEHICLE_OPS) - set(SIGNUP_OPS)
    for code in ("BAD_JSON", "PAYLOAD_TOO_LARGE", "BAD_REQUEST", "UNKNOWN_OP", "BAD_TOKEN", "VALIDATION_ERROR",
                 "REQUEST_ID_REUSED", "INTERNAL"):
        assert f"`{code}`" in text, f"docs/mqtt.md does not list {code}"
