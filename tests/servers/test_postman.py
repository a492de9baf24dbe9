"""The REST API as a Postman or Insomnia user meets it: the collection's own scripts run (in node, with a small
stand-in for Postman's sandbox) against a live server; city names; `/docs` without internet."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.fake import cpf_is_valid
from federation.launcher import LocalNetwork
from servers.peer_auth import pair_key
from tests.live import LiveNetworks

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parent
COLLECTION = json.loads((HERE.parents[1] / "docs" / "api" / "recarga.postman_collection.json").read_text())
NODE = shutil.which("node") or shutil.which("nodejs")


def item(path: str, method: str) -> dict[str, Any]:
    """The collection's request for a route."""
    for folder in COLLECTION["item"]:
        for found in folder["item"]:
            raw = found["request"]["url"]["raw"].split("}}", 1)[1]
            if raw == path.replace("{", "{{").replace("}", "}}") and found["request"]["method"] == method:
                return found
    raise AssertionError(f"no {method} {path} in the collection")


def script(found: dict[str, Any], listen: str) -> str:
    return "\n".join(line for e in found.get("event", []) if e["listen"] == listen for line in e["script"]["exec"])


def run(source: str, variables: dict[str, str], request: dict[str, Any] | None = None,
        response: Any = None) -> dict[str, Any]:
    if NODE is None:
        pytest.skip("node is needed to run the collection's scripts")
    done = subprocess.run([NODE, str(HERE / "postman_sandbox.js")], capture_output=True, text=True, timeout=30,
                          input=json.dumps({"script": source, "variables": variables, "request": request or {},
                                            "response": response}), check=True)
    return json.loads(done.stdout)


def fill(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"{{(\w+)}}", lambda m: variables.get(m.group(1), ""), text)


@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("postman", mqtt=False) as running:
        yield running


def variables(net: LocalNetwork) -> dict[str, str]:
    found = {v["key"]: v["value"] for v in COLLECTION["variable"]}
    return {**found, **{cid: p.api_url for cid, p in net.companies.items()}}


def test_the_sample_sign_up_runs_twice_and_keeps_the_token_for_the_next_requests(net):
    signup = item("/api/v1/accounts", "POST")
    login = item("/api/v1/sessions", "POST")
    known = variables(net)
    for _ in range(2):  # a second run used to be refused ACCOUNT_EXISTS
        known = run(script(signup, "prerequest"), known)["variables"]
        assert cpf_is_valid(known["signup_cpf"])
        answer = httpx.post(fill(signup["request"]["url"]["raw"], known), timeout=30,
                            json=json.loads(fill(signup["request"]["body"]["raw"], known)))
        assert answer.status_code == 201, answer.text
        known = run(script(signup, "test"), known, response=answer.json())["variables"]
        assert known["token"] == answer.json()["token"]
    logged = httpx.post(fill(login["request"]["url"]["raw"], known), timeout=30,
                        json=json.loads(fill(login["request"]["body"]["raw"], known)))
    assert logged.status_code == 200, logged.text
    known = run(script(login, "test"), known, response=logged.json())["variables"]
    me = httpx.get(fill(item("/api/v1/me", "GET")["request"]["url"]["raw"], known), timeout=30,
                   headers={"Authorization": f"Bearer {known['token']}"})
    assert me.status_code == 200 and me.json()["owner"]["cpf"].replace(".", "").replace("-", "") == known["signup_cpf"]


@pytest.mark.parametrize(("path", "method"), [("/peer/v1/availability/{station_id}", "GET"),
                                              ("/peer/v1/abort", "POST")])
def test_peer_requests_sign_themselves_with_the_configured_secret(net, path, method):
    found = item(path, method)
    known = variables(net)
    caller, target = known["peer_caller"], known["peer_target"]
    known["peer_secret"] = net.peer_secrets[pair_key(caller, target)]
    url = fill(found["request"]["url"]["raw"], known)
    body = fill(found["request"].get("body", {}).get("raw", ""), known)
    request = {"method": method, "path": "/" + "/".join(found["request"]["url"]["path"]), "body": body or None}
    signed = run(script(found, "prerequest"), known, request)["headers"]
    answer = httpx.request(method, url, content=body.encode() if body else None, timeout=30,
                           headers={**signed, "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    forged = run(script(found, "prerequest"), {**known, "peer_secret": "not-the-secret"}, request)["headers"]
    refused = httpx.request(method, url, content=body.encode() if body else None, timeout=30,
                            headers={**forged, "Content-Type": "application/json"})
    assert refused.status_code == 401 and refused.json()["code"] == "BAD_SIGNATURE"


@pytest.mark.parametrize(("typed", "city"), [("Vitória da Conquista", "vitoria-da-conquista"),
                                             ("vitoria da conquista", "vitoria-da-conquista"),
                                             ("FORTALEZA", "fortaleza"), ("juazeiro", "juazeiro")])
def test_city_names_as_people_type_them_are_accepted(net, typed, city):
    answer = httpx.post(net.companies["voltpoint"].api_url + "/api/v1/plan", timeout=30,
                        json={"origin": "Salvador", "destination": typed})
    assert answer.status_code == 200, answer.text
    assert answer.json()["plans"][0]["destination"] == city


def test_an_unknown_city_says_where_the_ids_are_listed(net):
    answer = httpx.post(net.companies["voltpoint"].api_url + "/api/v1/plan", timeout=30,
                        json={"origin": "Salvador", "destination": "Atlantis"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "UNKNOWN_CITY" and "GET /api/v1/network" in answer.json()["message"]


def test_docs_load_nothing_from_outside(net):
    api = net.companies["voltpoint"].api_url
    page = httpx.get(api + "/docs", timeout=30)
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources  # no CDN
    for source in sources:
        asset = httpx.get(api + source, timeout=30)
        assert asset.status_code == 200 and len(asset.content) > 500, source
    assert "/openapi.json" in page.text
