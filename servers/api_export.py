"""Export the API for people: the OpenAPI document and a Postman (v2.1) collection, into docs/api/.

    python -m servers export-api [--out docs/api]

Insomnia imports either file. The collection has a variable per company
(`voltpoint`, …) holding its base URL, and `token` for the vehicle routes,
which the sign-up and login samples keep by themselves (a test script). The
sample sign-up draws a new driver each run; the peer routes sign themselves
with `peer_secret` (servers/postman_scripts.py says how).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from servers import postman_scripts
from servers.api.app import create_app
from servers.bootstrap import build_server
from servers.core.network import load_network
from servers.settings import Settings

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
            item: dict[str, Any] = {"name": op.get("summary", path), "request": request}
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
