"""Export the API for people: the OpenAPI document and a Postman (v2.1) collection, into docs/api/.

    python -m federation export-api [--out docs/api]

Insomnia imports either file. The collection has a variable per company
(`voltpoint`, …) holding its base URL, and `token` for the vehicle routes,
which the sign-up and login samples keep by themselves (a test script). The
sample sign-up draws a new driver each run; the peer routes sign themselves
with `peer_secret` (federation/postman_scripts.py says how). Every request shows
an example of each response OpenAPI declares for it (success and errors),
drawn from the response's schema.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from http import HTTPStatus
from pathlib import Path
from typing import Any

from federation import postman_scripts
from servers.api.app import create_app
from servers.bootstrap import build_server
from servers.settings import Settings
from servers.world.network import load_network

_EXAMPLES: dict[str, dict[str, Any]] = {
    # A new driver at each run (NEW_DRIVER draws them), so a second run is not refused ACCOUNT_EXISTS.
    "/api/v1/accounts": {"name": "Maria da Silva", "email": "{{signup_email}}", "cpf": "{{signup_cpf}}",
                         "password": "s3nha-forte", "plate": "{{signup_plate}}", "model": "BYD Dolphin",
                         "capacity_kwh": 44.9, "consumption_kwh_per_km": 0.15, "profile": "normal",
                         "initial_credit": 500},
    "/api/v1/sessions": {"login": "{{signup_cpf}}", "password": "s3nha-forte"},
    "/api/v1/me/credit": {"amount": 150},
    # Names as people type them are fine: the API matches them to city ids.
    "/api/v1/trips": {"origin": "Salvador", "destination": "Vitória da Conquista"},
    "/api/v1/plan": {"origin": "Salvador", "destination": "Fortaleza", "capacity_kwh": 60, "charge_kwh": 48,
                     "alternatives": 2},
    # Safe to send for real: aborting a trip the company does not know changes nothing.
    "/peer/v1/abort": {"trip_id": "{{trip_id}}", "reason": "tried from Postman"},
}


def openapi(company: str = "voltpoint") -> dict[str, Any]:
    """The OpenAPI document of a company server (every company serves the same API)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = build_server(Settings(company=company, data_dir=Path(tmp), mqtt=False,
                                       broker_key="only-for-the-openapi-document"))
        try:
            return create_app(server).openapi()
        finally:
            asyncio.run(server.close())


def postman(spec: dict[str, Any], companies: dict[str, int]) -> dict[str, Any]:
    """A Postman v2.1 collection of every route, public and peer, with example bodies."""
    first = next(iter(companies))
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            raw = "{{" + first + "}}" + path.replace("{", "{{").replace("}", "}}")
            request: dict[str, Any] = {"method": method.upper(), "header": [],
                                       "url": {"raw": raw, "host": ["{{" + first + "}}"],
                                               "path": [p for p in path.replace("{", "{{").replace("}", "}}")
                                                        .split("/") if p]},
                                       "description": op.get("summary", "")}
            if path.startswith("/api/v1/") and path not in ("/api/v1/accounts", "/api/v1/sessions"):
                request["header"].append({"key": "Authorization", "value": "Bearer {{token}}"})
            events: list[dict[str, Any]] = []
            if path.startswith("/peer/v1/"):
                request["description"] += (" — signed by the collection's pre-request script with {{peer_secret}} "
                                           "(X-Recarga-Peer/Timestamp/Signature, docs/booking.md)")
                events.append(_script("prerequest", postman_scripts.SIGN_PEER))
            if path == "/api/v1/accounts":
                events.append(_script("prerequest", postman_scripts.NEW_DRIVER))
            if path in ("/api/v1/accounts", "/api/v1/sessions"):
                events.append(_script("test", postman_scripts.KEEP_TOKEN))
            if "requestBody" in op:
                request["header"].append({"key": "Content-Type", "value": "application/json"})
                request["body"] = {"mode": "raw", "raw": json.dumps(_EXAMPLES.get(path, {}), indent=2,
                                                                    ensure_ascii=False)}
            tag = (op.get("tags") or ["other"])[0]
            item: dict[str, Any] = {"name": op.get("summary", path), "request": request,
                                    "response": _examples(spec, op, request)}
            if events:
                item["event"] = events
            folders.setdefault(tag, []).append(item)
    return {
        "info": {"name": "recarga", "description": "The recarga company server API (public and peer).",
                 "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "variable": [{"key": c, "value": f"http://127.0.0.1:{port}"} for c, port in companies.items()]
        + [{"key": "token", "value": ""}, {"key": "signup_cpf", "value": ""}, {"key": "signup_email", "value": ""},
           {"key": "signup_plate", "value": ""}, {"key": "station_id", "value": "vp-salvador-1"},
           {"key": "trip_id", "value": "t0postman0example"}, {"key": "point_id", "value": "vp-salvador-1-p1"},
           {"key": "vehicle_id", "value": ""},
           # The peer routes call the first company as the second one; paste that pair's secret.
           {"key": "peer_caller", "value": list(companies)[1] if len(companies) > 1 else first},
           {"key": "peer_target", "value": first},
           {"key": "peer_secret", "value": "",
            "description": "the value of the pair's key in run/peer-secrets.json (e.g. 'eflux:voltpoint')"}],
        "item": [{"name": name, "item": items} for name, items in folders.items()],
    }


def _examples(spec: dict[str, Any], op: dict[str, Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    """Postman's saved responses for one operation: an example body for each declared status."""
    found = []
    for status, response in op["responses"].items():
        if not status.isdigit():  # "default": the shape of any other error, already shown by the others
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        body = example(spec, schema) if schema is not None else None
        codes = re.findall(r"`([A-Z_]+)`", response.get("description", ""))
        if codes and isinstance(body, dict) and "code" in body:  # an error: the route's own first code
            body["code"], body["message"] = codes[0], response["description"].split(":")[0]
        found.append({"name": f"{status} {response.get('description', '')}".strip(), "originalRequest": request,
                      "status": HTTPStatus(int(status)).phrase, "code": int(status),
                      "_postman_previewlanguage": "json",
                      "header": [{"key": "Content-Type", "value": "application/json"}],
                      "body": json.dumps(body, indent=2, ensure_ascii=False)})
    return found


def example(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value that fits `schema` (an OpenAPI 3.1 schema, with `$ref`s into `spec`): its own examples where it
    has some, else the first of its choices, one item per list, every property of an object."""
    while "$ref" in schema:
        schema = {**_resolve(spec, schema["$ref"]), **{k: v for k, v in schema.items() if k != "$ref"}}
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for choice in ("oneOf", "anyOf"):
        options = [o for o in schema.get(choice, []) if o.get("type") != "null"]
        if options:
            return example(spec, options[0])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if schema.get("properties"):
            return {name: example(spec, sub) for name, sub in schema["properties"].items()}
        extra = schema.get("additionalProperties")
        key = example(spec, schema["propertyNames"]) if "propertyNames" in schema else "key"
        return {key: example(spec, extra)} if isinstance(extra, dict) and extra else {}
    if kind == "array":
        if "prefixItems" in schema:
            return [example(spec, sub) for sub in schema["prefixItems"]]
        return [example(spec, schema["items"])] if schema.get("items") else []
    if kind == "string":
        return "2026-12-01T10:00:00+00:00" if schema.get("format") == "date-time" else "string"
    return {"integer": 0, "number": 0.0, "boolean": True}.get(str(kind))


def _resolve(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def _script(listen: str, source: str) -> dict[str, Any]:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": source.splitlines()}}


def export(out: Path) -> list[Path]:
    """Write openapi.json and recarga.postman_collection.json into `out`."""
    spec = openapi()
    network = load_network()
    out.mkdir(parents=True, exist_ok=True)
    files = {out / "openapi.json": spec,
             out / "recarga.postman_collection.json": postman(spec, {c.id: c.api_port for c in network.companies})}
    for path, data in files.items():
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return list(files)
