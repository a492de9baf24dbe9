"""The API documents in docs/api are what the code serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from federation.api_export import export

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"


def test_the_exported_openapi_and_postman_collection_are_up_to_date(tmp_path):
    for fresh in export(tmp_path):
        committed = DOCS / fresh.name
        assert committed.exists(), f"run `python -m federation export-api` to create {committed}"
        assert json.loads(committed.read_text()) == json.loads(fresh.read_text()), (
            f"{committed.name} is stale: run `python -m federation export-api`")


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


# Objects whose keys are data, not fields: an event's data, and an error's details (their shape depends on the code).
FREE_FORM = {"EventOut.data", "ErrorOut.details", "OpError.details"}


def _resolve(spec: dict, schema: dict) -> tuple[dict, str | None]:
    """The schema behind a `$ref` (and the component's name), else the schema itself."""
    if "$ref" not in schema:
        return schema, None
    name = schema["$ref"].rsplit("/", 1)[-1]
    return spec["components"]["schemas"][name], name


def _undescribed(spec: dict, schema: dict, where: str, seen: set[str]) -> list[str]:
    """The places under `schema` that say nothing of what they hold: `{}`, or an object without properties."""
    schema, name = _resolve(spec, schema)
    if name is not None:
        if name in seen:
            return []
        seen.add(name)
        where = name
    found = []
    for choice in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(choice, []):
            found += _undescribed(spec, option, where, seen)
    if any(k in schema for k in ("anyOf", "oneOf", "allOf", "enum", "const")):
        return found
    kind = schema.get("type")
    if kind == "object":
        extra = schema.get("additionalProperties")
        if not schema.get("properties") and not (isinstance(extra, dict) and extra) and where not in FREE_FORM:
            found.append(where)
        for field, sub in schema.get("properties", {}).items():
            found += _undescribed(spec, sub, f"{where}.{field}", seen)
        if isinstance(extra, dict) and extra:
            found += _undescribed(spec, extra, f"{where}[*]", seen)
    elif kind == "array":
        for sub in schema.get("prefixItems", []) or [schema.get("items", {})]:
            found += _undescribed(spec, sub, f"{where}[]", seen)
    elif kind not in ("string", "integer", "number", "boolean", "null"):
        found.append(where)
    return found


def _operations(spec: dict) -> list[tuple[str, dict]]:
    return [(f"{method.upper()} {path}", op) for path, methods in spec["paths"].items()
            for method, op in methods.items()]


def test_every_success_response_has_a_schema_that_names_every_field():
    spec = json.loads((DOCS / "openapi.json").read_text())
    missing, loose = [], []
    for label, op in _operations(spec):
        for status, response in op["responses"].items():
            if not status.startswith("2"):
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if not schema:
                missing.append(f"{label} {status}")
            else:
                loose += [f"{label} {status}: {place}" for place in _undescribed(spec, schema, "body", set())]
    assert missing == [], "success responses without a schema"
    assert loose == [], "success responses with free-form parts"


ERROR_SHAPES = {"ErrorOut", "ValidationErrorOut", "BookingRefusedOut"}


def test_every_error_response_of_every_route_is_declared_in_the_error_shape():
    spec = json.loads((DOCS / "openapi.json").read_text())
    for name in ERROR_SHAPES:
        shape = spec["components"]["schemas"][name]
        assert set(shape["required"]) == set(shape["properties"]) == {"code", "message", "details"}, name
    for label, op in _operations(spec):
        responses = op["responses"]
        assert {"500", "default"} <= set(responses), f"{label} does not declare 500 INTERNAL and a default"
        params = op.get("requestBody") or any(p["in"] == "query" for p in op.get("parameters", []))
        assert ("422" in responses) == bool(params), f"{label}: 422 declared if and only if it takes a body/query"
        for status, response in responses.items():
            if status.startswith("2"):
                continue
            schema = response["content"]["application/json"]["schema"]
            refs = [o["$ref"] for o in schema.get("anyOf", [schema])]
            assert {r.rsplit("/", 1)[-1] for r in refs} <= ERROR_SHAPES, f"{label} {status}: {schema}"
            if status != "default":
                assert re.search(r"`[A-Z_]+`", response["description"]), f"{label} {status} names no code"


def test_every_error_code_a_route_declares_is_in_the_table_of_stable_codes():
    spec = json.loads((DOCS / "openapi.json").read_text())
    table = (DOCS.parent / "booking.md").read_text().split("## Error codes", 1)[1].split("\n## ", 1)[0]
    declared = {code for _, op in _operations(spec) for response in op["responses"].values()
                for code in re.findall(r"`([A-Z_]+)`", response["description"])}
    assert declared - set(re.findall(r"`([A-Z_]+)`", table)) == set(), "codes missing from docs/booking.md"


def test_the_postman_collection_shows_a_valid_example_of_every_response_a_route_declares():
    import jsonschema

    spec = json.loads((DOCS / "openapi.json").read_text())
    collection = json.loads((DOCS / "recarga.postman_collection.json").read_text())
    items = {(i["request"]["method"], i["request"]["url"]["raw"].split("}}", 1)[1].replace("{{", "{")
              .replace("}}", "}")): i for folder in collection["item"] for i in folder["item"]}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            shown = {str(r["code"]): json.loads(r["body"]) for r in items[(method.upper(), path)]["response"]}
            assert set(shown) == {s for s in op["responses"] if s != "default"}, f"{method} {path}"
            for status, body in shown.items():
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                jsonschema.validate(body, {**schema, "components": spec["components"]})


def test_the_contract_names_the_connector_types_of_the_network_file():
    from typing import get_args

    from contract.models import Connector
    from servers.world.network import Connector as NetworkConnector

    assert get_args(Connector) == get_args(NetworkConnector)
