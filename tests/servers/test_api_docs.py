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
