"""Read models for the public API: the network, figures, the redacted feed, the state at a point in time."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from events.fold import event_at, replay
from events.model import RecordedEvent
from events.store import EventStore
from servers.bookings import events as ev
from servers.bookings.point_status import normalise
from servers.bookings.state import CONFIRMED, FOLD, HELD, ServerState
from servers.world.network import Network

REDACTED = "…redacted…"


def network_json(network: Network) -> dict[str, Any]:
    """The network as clients draw it."""
    return {
        "cities": [{"id": c.id, "name": c.name, "state": c.state, "lat": c.lat, "lon": c.lon}
                   for c in network.cities],
        "roads": [{"id": r.id, "a": r.a, "b": r.b, "highway": r.highway, "km": r.km} for r in network.roads],
        "companies": [{"id": c.id, "name": c.name, "state": c.state, "price_per_kwh": c.price_per_kwh,
                       "color": c.color, "tariff": c.own_tariff.to_json(), "booking_terms": c.booking_terms.to_json()}
                      for c in network.companies],
        "stations": [{"id": s.id, "company_id": s.company_id, "city_id": s.city_id, "name": s.name,
                      "points": [{"id": p.id, "power_kw": p.power_kw, "connector": p.connector} for p in s.points],
                      **({"tariff": s.tariff.to_json()} if s.tariff is not None else {})}
                     for s in network.stations],
    }


def refusal_error(reply: dict[str, Any]) -> dict[str, Any]:
    """A refused booking in the API's error shape, alternatives in the details."""
    details = {k: v for k, v in reply.items() if k not in ("code", "reason")}
    return {"code": reply["code"], "message": reply["reason"], "details": details}


def redact(value: Any) -> Any:
    """Drop stored hashes of secrets from data shown to third parties."""
    if isinstance(value, dict):
        return {k: (REDACTED if k.endswith("_hash") else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def event_json(event: RecordedEvent) -> dict[str, Any]:
    """One event for the public feed."""
    return {"seq": event.seq, "stream_id": event.stream_id, "version": event.version, "type": event.type,
            "recorded_at": event.recorded_at.isoformat(), "data": redact(event.data), "hash": event.hash}


def stats(state: ServerState, network: Network, company: str, now: datetime) -> dict[str, Any]:
    """Per-company figures for the dashboards."""
    points = [p.id for s in network.stations_of(company) for p in s.points]
    busy_now = sum(1 for pid in points for h in state.occupancy.get(pid, {}).values()
                   if h.window[0] <= now < h.window[1])
    return {
        "company": company, "seq": state.seq, "points": len(points), "busy_now": busy_now,
        "out_of_order": sum(1 for pid in points if pid in state.point_status),
        "occupancy_now": round(busy_now / len(points), 4) if points else 0.0,
        "held": sum(1 for p in state.participations.values() if p.status == HELD),
        "reserved": sum(1 for p in state.participations.values() if p.status == CONFIRMED),
        "accounts": len(state.accounts),
        # All-time figures from the event counts: the state itself forgets what is over (retention).
        "trips_confirmed": state.counts.get(ev.TripCommitted.NAME, 0) - state.counts.get(ev.TripCancelled.NAME, 0),
        "trips_aborted": state.counts.get(ev.TripAborted.NAME, 0),
        "trips_cancelled": state.counts.get(ev.TripCancelled.NAME, 0),
        "trips_kept": len(state.trips),  # in memory now: undecided, unsettled, or within their retention
        "requests_refused": state.requests_refused,
        "prepares_refused": state.refusals,
    }


def figures(state: ServerState, network: Network, company: str) -> dict[str, Any]:
    """A company's charging figures (its charge detail records summed, its no-shows), its tariff and terms."""
    c = network.company(company)
    f = state.figures
    return {"company": company, "sessions": f["sessions"], "energy_kwh": f["energy_kwh"],
            "revenue_cents": dict(f["revenue_cents"]), "noshows": f["noshows"],
            "noshow_fees_cents": f["noshow_fees_cents"], "tariff": c.own_tariff.to_json(),
            "booking_terms": c.booking_terms.to_json()}


def state_at(store: EventStore, network: Network, company: str, at: int | None,
             at_time: datetime | None) -> dict[str, Any]:
    """Replay the log up to `at` (sequence) or `at_time` and summarise that state for people."""
    state, seq = replay(store, FOLD, until_seq=at, until_time=at_time)
    now = at_time or (state_time(store, seq) or datetime.fromtimestamp(0).astimezone())
    holds = [{"trip_id": h.trip_id, "stop": h.stop, "station_id": h.station_id, "point_id": h.point_id,
              "start": h.start, "end": h.end, "status": h.status, "charging": h.charging}
             for part in state.participations.values() for h in part.holds if h.status in (HELD, CONFIRMED)]
    trips = [{"trip_id": t.trip_id, "vehicle_id": t.vehicle_id, "status": t.status,
              "participants": t.participants, "cost": t.cost_cents / 100, "requested_at": t.requested_at,
              "origin": t.plan.get("origin"), "destination": t.plan.get("destination")}
             for t in state.trips.values()]
    accounts = [{"vehicle_id": a.vehicle_id, "name": a.owner.get("name"), "plate": a.vehicle.get("plate"),
                 "balance": a.balance_cents / 100, "trips": len(a.trips)} for a in state.accounts.values()]
    return {"seq": seq, "at_time": now.isoformat(), "stats": stats(state, network, company, now),
            "holds": holds, "trips": trips, "accounts": accounts,
            "point_status": {p: normalise(s) for p, s in state.point_status.items()}, "counts": dict(state.counts)}


def digest(state: ServerState) -> str:
    """A fingerprint of a whole state: equal states, equal digests (replay vs. the running server)."""
    blob = json.dumps(FOLD.to_json(state), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def state_time(store: EventStore, seq: int) -> datetime | None:
    """When the event at `seq` was recorded."""
    event = event_at(store, seq)
    return event.recorded_at if event is not None else None
