"""`/api/v1`: the public API — network, availability, plans, accounts, trips, and the event feed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from servers.api.deps import OperatorDep, ServerDep, VehicleDep
from servers.contract.fake import fake_vehicle_form
from servers.contract.models import CheckInIn, CreditIn, LoginIn, PlanIn, PointStatusIn, SignupIn, TripIn
from servers.core.vehicles import DrivingProfile, Vehicle
from servers.domain.errors import DomainError
from servers.service import views

router = APIRouter(prefix="/api/v1", tags=["public"])
IdempotencyKey = Annotated[str | None, Header(max_length=64, description="repeat it to retry safely")]


@router.get("/health", summary="Is this server up, how far is its log, and which other companies it can reach")
async def health(server: ServerDep) -> dict[str, Any]:
    silent = server.availability.unavailable()
    return {"status": "ok", "company": server.company, "seq": server.engine.state.seq,
            "peers": {c: c not in silent for c in server.peers if c != server.company}}


@router.get("/network", summary="Cities, roads, companies and stations of the whole network")
async def network(server: ServerDep) -> dict[str, Any]:
    return views.network_json(server.network)


@router.get("/stations", summary="This company's stations with live availability")
async def stations(server: ServerDep, hours: float = Query(default=6.0, gt=0, le=72)) -> list[dict[str, Any]]:
    now = server.engine.clock()
    return [server.participant.availability(s.id, now, now + timedelta(hours=hours))
            for s in server.network.stations_of(server.company)]


@router.get("/stations/{station_id}/availability", summary="One station's points and bookings in a window")
async def station_availability(station_id: str, server: ServerDep, start: datetime | None = None,
                         hours: float = Query(default=6.0, gt=0, le=72)) -> dict[str, Any]:
    begin = start or server.engine.clock()
    return server.participant.availability(station_id, begin, begin + timedelta(hours=hours))


@router.put("/points/{point_id}/status", summary="Operator: put a point out of order or back in service")
async def point_status(point_id: str, body: PointStatusIn, _: OperatorDep, server: ServerDep) -> dict[str, str]:
    server.participant.set_point_status(point_id, body.status, body.reason)
    await server.engine.durable()
    return {"point_id": point_id, "status": body.status}


@router.post("/vehicles/{vehicle_id}/revoke", summary="Operator: revoke a vehicle's tokens and broker login")
async def revoke(vehicle_id: str, _: OperatorDep, server: ServerDep) -> dict[str, Any]:
    revoked = server.accounts.revoke(vehicle_id)
    await server.engine.durable()
    return revoked


@router.post("/plan", summary="Preview a plan for an inline vehicle (nothing is reserved)")
async def plan(body: PlanIn, server: ServerDep) -> dict[str, Any]:
    charge = body.capacity_kwh if body.charge_kwh is None else min(body.charge_kwh, body.capacity_kwh)
    vehicle = Vehicle(capacity_kwh=body.capacity_kwh, consumption_kwh_per_km=body.consumption_kwh_per_km,
                      charge_kwh=charge, profile=DrivingProfile(body.profile or "normal"),
                      max_ac_kw=body.max_ac_kw, max_dc_kw=body.max_dc_kw)
    plans = server.planner.plan(body, vehicle, server.planner.exclusions(body.avoid_stations),
                                    k=body.alternatives)
    return {"plans": [server.planner.explain(p, vehicle) for p in plans]}


@router.get("/signup/fake", summary="A plausible sign-up form filled by Faker (pt_BR)")
async def fake_form(seed: int | None = None) -> dict[str, Any]:
    return fake_vehicle_form(seed)


@router.post("/accounts", status_code=201, summary="Sign up: owner and vehicle; returns a token")
async def signup(body: SignupIn, server: ServerDep) -> dict[str, Any]:
    session = await server.accounts.signup(body)
    await server.engine.durable()
    return session.to_json()


@router.post("/sessions", summary="Log in by CPF or e-mail; returns a token")
async def login(body: LoginIn, server: ServerDep) -> dict[str, Any]:
    session = await server.accounts.login(body.login, body.password)
    await server.engine.durable()
    return session.to_json()


@router.get("/me", summary="My account: owner, vehicle, credit, statement")
async def me(vehicle_id: VehicleDep, server: ServerDep) -> dict[str, Any]:
    return server.accounts.view(vehicle_id)


@router.post("/me/credit", summary="Add credit (R$)")
async def add_credit(body: CreditIn, vehicle_id: VehicleDep, server: ServerDep,
                     idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    added = server.accounts.add_credit(vehicle_id, body.amount, idempotency_key or uuid.uuid4().hex)
    await server.engine.durable()
    return added


@router.post("/trips", summary="Book a trip: every stop at every company, all or none",
             responses={409: {"description": "refused, with the reason and the alternatives"}})
async def book(body: TripIn, vehicle_id: VehicleDep, server: ServerDep,
               idempotency_key: IdempotencyKey = None) -> Any:
    reply = await server.coordinator.book(vehicle_id, idempotency_key or uuid.uuid4().hex, body)
    await server.engine.durable()
    if reply["status"] == "REFUSED":
        return JSONResponse(views.refusal_error(reply), status_code=409)
    return JSONResponse(reply, status_code=201)


@router.get("/trips", summary="My confirmed and cancelled trips")
async def my_trips(vehicle_id: VehicleDep, server: ServerDep) -> list[dict[str, Any]]:
    return server.trips.trips_of(vehicle_id)


@router.get("/trips/{trip_id}", summary="One of my trips")
async def my_trip(trip_id: str, vehicle_id: VehicleDep, server: ServerDep) -> dict[str, Any]:
    return server.trips.trip_of(vehicle_id, trip_id)


@router.post("/trips/{trip_id}/cancel", summary="Cancel a confirmed trip (refund by the policy)")
async def cancel(trip_id: str, vehicle_id: VehicleDep, server: ServerDep) -> dict[str, Any]:
    cancelled = await server.coordinator.cancel(vehicle_id, trip_id)
    await server.engine.durable()
    return cancelled


@router.post("/trips/{trip_id}/check-in", summary="Start or finish charging at a reserved stop")
async def check_in(trip_id: str, body: CheckInIn, vehicle_id: VehicleDep, server: ServerDep) -> dict[str, Any]:
    if body.trip_id != trip_id:
        raise DomainError("trip_id in the body and the path differ", code="TRIP_MISMATCH")
    reply = await server.coordinator.check_in(vehicle_id, body)
    await server.engine.durable()
    return reply


@router.get("/reservations", summary="My reserved points, stop by stop")
async def reservations(vehicle_id: VehicleDep, server: ServerDep) -> list[dict[str, Any]]:
    return server.trips.reservations_of(vehicle_id)


@router.get("/events", summary="The event feed: events after a sequence number (secrets redacted)")
async def events(server: ServerDep, after: int = Query(default=0, ge=0),
                 limit: int = Query(default=100, ge=1, le=1000),
                 type: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    def read() -> dict[str, Any]:  # the durable log only, read on a worker thread
        found = server.store.read_all(after=after, limit=limit, types=type or None)
        return {"head": server.store.head(), "events": [views.event_json(e) for e in found]}

    return await anyio.to_thread.run_sync(read)


@router.get("/stats", summary="Figures of this company: points, occupancy, trips confirmed and refused")
async def stats(server: ServerDep) -> dict[str, Any]:
    return server.engine.read(lambda s: views.stats(s, server.network, server.company, server.engine.clock()))


@router.get("/log/state", summary="The state rebuilt by replaying this log up to a sequence number or time")
async def state_at(server: ServerDep, at: int | None = Query(default=None, ge=0),
                   at_time: datetime | None = None) -> dict[str, Any]:
    # A replay of the log on disk, into a state of its own: on a worker thread, not the event loop.
    return await anyio.to_thread.run_sync(views.state_at, server.store, server.network, server.company, at, at_time)


@router.get("/log/digest", summary="A fingerprint of the running state and the sequence it is at")
async def state_digest(server: ServerDep) -> dict[str, Any]:
    return server.engine.read(lambda s: {"seq": s.seq, "digest": views.digest(s)})


@router.get("/log/verify", summary="Check this log's hash chain and stream versions")
async def verify(server: ServerDep) -> dict[str, Any]:
    report = await anyio.to_thread.run_sync(server.store.verify)
    return {"ok": report.ok, "first_bad_seq": report.first_bad_seq, "reason": report.reason,
            "checked": report.checked}
