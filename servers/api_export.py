"""Export the API for people: the OpenAPI document and a Postman (v2.1) collection, into docs/api/.

    python -m servers export-api [--out docs/api]

Insomnia imports either file. The collection has a variable per company
(`voltpoint`, …) holding its base URL, and `token` for the vehicle routes.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from servers.api.app import create_app
from servers.bootstrap import build_server
from servers.core.network import load_network
from servers.settings import Settings

_EXAMPLES: dict[str, dict[str, Any]] = {
    "/api/v1/accounts": {"name": "Maria da Silva", "email": "maria@example.com", "cpf": "529.982.247-25",
                         "password": "s3nha-forte", "plate": "RCG1A23", "model": "BYD Dolphin",
                         "capacity_kwh": 44.9, "consumption_kwh_per_km": 0.15, "profile": "normal",
                         "initial_credit": 500},
    "/api/v1/sessions": {"login": "529.982.247-25", "password": "s3nha-forte"},
    "/api/v1/me/credit": {"amount": 150},
    "/api/v1/trips": {"origin": "salvador", "destination": "fortaleza"},
    "/api/v1/plan": {"origin": "salvador", "destination": "fortaleza", "capacity_kwh": 60, "charge_kwh": 48,
                     "alternatives": 2},
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
            if path.startswith("/peer/v1/"):
                request["description"] += " — needs X-Recarga-Peer/Timestamp/Signature (docs/booking.md)"
            if "requestBody" in op:
                request["header"].append({"key": "Content-Type", "value": "application/json"})
                request["body"] = {"mode": "raw", "raw": json.dumps(_EXAMPLES.get(path, {}), indent=2)}
            tag = (op.get("tags") or ["other"])[0]
            folders.setdefault(tag, []).append({"name": op.get("summary", path), "request": request})
    return {
        "info": {"name": "recarga", "description": "The recarga company server API (public and peer).",
                 "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "variable": [{"key": c, "value": f"http://127.0.0.1:{port}"} for c, port in companies.items()]
        + [{"key": "token", "value": ""}],
        "item": [{"name": name, "item": items} for name, items in folders.items()],
    }


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
