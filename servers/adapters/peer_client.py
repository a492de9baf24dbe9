"""The `Peers` of a coordinator: its own participant called directly, other companies over signed REST."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from servers.contract.models import CheckInIn, DecisionIn, PrepareIn
from servers.domain.errors import DomainError
from servers.peer_auth import sign
from servers.service.participant import Participant
from servers.service.peers import PeerRefused, PeerUnavailable


class HttpPeers:
    """Signed `/peer/v1` calls to other companies; the local company is served in-process."""

    def __init__(self, company: str, addresses: Mapping[str, str], secrets: Mapping[str, str],
                 local: Participant, local_outcome: Callable[[str], str], timeout_s: float = 5.0) -> None:
        self.company = company
        self.addresses = dict(addresses)
        self.secrets = secrets
        self.local = local
        self.local_outcome = local_outcome
        self._http = httpx.Client(timeout=timeout_s, headers={"User-Agent": f"recarga-peer/{company}"})

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _call(self, target: str, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        base = self.addresses.get(target)
        if base is None:
            raise PeerRefused(404, "UNKNOWN_COMPANY", f"no address for company {target!r}")
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = sign(self.secrets, self.company, target, method, path, body)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(method, base.rstrip("/") + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise PeerUnavailable(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise PeerUnavailable(f"HTTP {response.status_code}, not JSON") from exc
        if response.status_code >= 400:
            raise PeerRefused(response.status_code, str(data.get("code", "ERROR")), str(data.get("message", "")))
        return data

    def _local(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except DomainError as exc:
            raise PeerRefused(exc.status, exc.code, exc.message) from exc

    def prepare(self, company: str, req: PrepareIn) -> dict[str, Any]:
        if company == self.company:
            return self._local(lambda: self.local.prepare(req))  # type: ignore[no-any-return]
        return self._call(company, "POST", "/peer/v1/prepare", req.model_dump(mode="json"))  # type: ignore[no-any-return]

    def commit(self, company: str, trip_id: str) -> dict[str, Any]:
        if company == self.company:
            return self._local(lambda: self.local.commit(trip_id))  # type: ignore[no-any-return]
        return self._call(company, "POST", "/peer/v1/commit", DecisionIn(trip_id=trip_id).model_dump())  # type: ignore[no-any-return]

    def abort(self, company: str, trip_id: str, reason: str) -> dict[str, Any]:
        if company == self.company:
            return self._local(lambda: self.local.abort(trip_id, reason))  # type: ignore[no-any-return]
        payload = DecisionIn(trip_id=trip_id, reason=reason[:200]).model_dump()
        return self._call(company, "POST", "/peer/v1/abort", payload)  # type: ignore[no-any-return]

    def release(self, company: str, trip_id: str, reason: str) -> dict[str, Any]:
        if company == self.company:
            return self._local(lambda: self.local.release(trip_id, reason))  # type: ignore[no-any-return]
        payload = DecisionIn(trip_id=trip_id, reason=reason[:200]).model_dump()
        return self._call(company, "POST", "/peer/v1/release", payload)  # type: ignore[no-any-return]

    def outcome(self, company: str, trip_id: str) -> str:
        if company == self.company:
            return self.local_outcome(trip_id)
        data = self._call(company, "GET", f"/peer/v1/trips/{trip_id}/outcome")
        return str(data["outcome"])

    def check_in(self, company: str, req: CheckInIn) -> dict[str, Any]:
        if company == self.company:
            return self._local(lambda: self.local.check_in(req))  # type: ignore[no-any-return]
        return self._call(company, "POST", "/peer/v1/check-in", req.model_dump())  # type: ignore[no-any-return]
