"""`/api/v1`: the public API — network, availability, plans, accounts, trips, and the event feed.

Every route declares its reply's model. The large replies (the network, stations' bookings, the event feed,
the state at a point of the log) and the booking's two outcomes are sent with `json_reply`
(servers/api/replies.py); FastAPI validates the others on the way out.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from contract.fake import fake_vehicle_form
from contract.models import (
    AccountOut,
    BookingRefusedOut,
    CancelledOut,
    CancelReasonIn,
    CheckInIn,
    CheckInOut,
    CompanyFiguresOut,
    CreditIn,
    CreditOut,
    DigestOut,
    ErrorOut,
    EventsOut,
    HealthOut,
    ItineraryOut,
    LoginIn,
    NetworkOut,
    PlanIn,
    PlansOut,
    PointLiveOut,
    PointStatusIn,
    PointStatusOut,
    ReservationOut,
    RevokedOut,
    SessionOut,
    SignupFormOut,
    SignupIn,
    StateAtOut,
    StationAvailabilityOut,
    StatsOut,
    TripIn,
    VerifyOut,
)
from servers.api.deps import OperatorDep, ServerDep, VehicleDep
from servers.api.errors import INVALID, OPERATOR, READS_LOG, VEHICLE, WRITES, errors
from servers.api.replies import json_reply
from servers.bookings import lifecycle
from servers.bookings.errors import DomainError, NotFound
from servers.bookings.events import CanceledReason
from servers.service import views
from servers.world.vehicles import DrivingProfile, Vehicle

router = APIRouter(prefix="/api/v1", tags=["public"])
IdempotencyKey = Annotated[str | None, Header(max_length=64, description="repeat it to retry safely")]
# The planner's refusals of a trip the car cannot make, whatever is booked (docs/planner.md).
PLANNING = ["UNKNOWN_CITY", "OUT_OF_RANGE", "NO_ROAD"]
DEPARTURE = ["DEPARTURE_IN_PAST", "DEPARTURE_TOO_FAR"]


@router.get("/health", summary="Is this server up, how far is its log, and which other companies it can reach",
            responses=errors())
async def health(server: ServerDep) -> HealthOut:
    silent = server.availability.unavailable()
    return HealthOut(status="ok", company=server.company, seq=server.engine.state.seq,
                     peers={c: c not in silent for c in server.peers if c != server.company})


@router.get("/network", summary="Cities, roads, companies and stations of the whole network",
            response_model=NetworkOut, responses=errors())
async def network(server: ServerDep) -> Response:
    return json_reply(views.network_json(server.network))


@router.get("/stations", summary="This company's stations with live availability",
            response_model=list[StationAvailabilityOut], responses=errors(INVALID))
async def stations(server: ServerDep, hours: float = Query(default=6.0, gt=0, le=72)) -> Response:
    now = server.engine.clock()
    return json_reply([server.participant.availability(s.id, now, now + timedelta(hours=hours))
                       for s in server.network.stations_of(server.company)])


@router.get("/stations/{station_id}/availability", summary="One station's points and bookings in a window",
            response_model=StationAvailabilityOut, responses=errors({404: ["UNKNOWN_STATION"]}, INVALID))
async def station_availability(station_id: str, server: ServerDep, start: datetime | None = None,
                         hours: float = Query(default=6.0, gt=0, le=72)) -> Response:
    begin = start or server.engine.clock()
    return json_reply(server.participant.availability(station_id, begin, begin + timedelta(hours=hours)))


@router.get("/points/status", summary="Every point's live status (OCPI's names), as on MQTT",
            response_model=list[PointLiveOut], responses=errors())
async def points_status(server: ServerDep) -> Response:
    return json_reply([p.to_json() for p in server.points.all()])


@router.get("/points/{point_id}/status", summary="One point's live status (OCPI's names)",
            response_model=PointLiveOut, responses=errors({404: ["UNKNOWN_POINT"]}))
async def one_point_status(point_id: str, server: ServerDep) -> Response:
    if point_id not in server.points.station_of:
        raise NotFound(f"no point {point_id!r} at {server.company}", code="UNKNOWN_POINT")
    server.points.tick(server.engine.clock())
    return json_reply(server.points.get(point_id).to_json())


@router.put("/points/{point_id}/status", summary="Operator: set a point's status (out of order, back in service…)",
            responses=errors(OPERATOR, {404: ["UNKNOWN_POINT"]}, INVALID, WRITES))
async def point_status(point_id: str, body: PointStatusIn, _: OperatorDep, server: ServerDep) -> PointStatusOut:
    recorded = server.participant.set_point_status(point_id, body.status, body.reason)
    await server.engine.durable()  # the live status follows the durable event
    return PointStatusOut.model_validate({"point_id": point_id, "status": recorded,
                                          "live": server.points.get(point_id).status})


@router.post("/vehicles/{vehicle_id}/revoke", summary="Operator: revoke a vehicle's tokens and broker login",
             response_model=RevokedOut, responses=errors(OPERATOR, {404: ["UNKNOWN_ACCOUNT"]}, WRITES))
async def revoke(vehicle_id: str, _: OperatorDep, server: ServerDep) -> dict[str, Any]:
    revoked = server.accounts.revoke(vehicle_id)
    await server.engine.durable()
    return revoked


@router.post("/plan", summary="Preview a plan for an inline vehicle (nothing is reserved)",
             response_model=PlansOut, responses=errors({400: PLANNING, 422: ["VALIDATION_ERROR", *DEPARTURE]}))
async def plan(body: PlanIn, server: ServerDep) -> dict[str, Any]:
    charge = body.capacity_kwh if body.charge_kwh is None else min(body.charge_kwh, body.capacity_kwh)
    vehicle = Vehicle(capacity_kwh=body.capacity_kwh, consumption_kwh_per_km=body.consumption_kwh_per_km,
                      charge_kwh=charge, profile=DrivingProfile(body.profile or "normal"),
                      max_ac_kw=body.max_ac_kw, max_dc_kw=body.max_dc_kw)
    plans = server.planner.plan(body, vehicle, server.planner.exclusions(body.avoid_stations),
                                    k=body.alternatives)
    return {"plans": [server.planner.explain(p, vehicle) for p in plans]}


@router.get("/signup/fake", summary="A plausible sign-up form filled by Faker (pt_BR)",
            response_model=SignupFormOut, responses=errors(INVALID))
async def fake_form(seed: int | None = None) -> dict[str, Any]:
    return fake_vehicle_form(seed)


@router.post("/accounts", status_code=201, summary="Sign up: owner and vehicle; returns a token",
             response_model=SessionOut,
             responses=errors({400: ["INVALID_CPF"], 409: ["ACCOUNT_EXISTS"]}, INVALID, WRITES))
async def signup(body: SignupIn, server: ServerDep) -> dict[str, Any]:
    session = await server.accounts.signup(body)
    await server.engine.durable()
    return session.to_json()


@router.post("/sessions", summary="Log in by CPF or e-mail; returns a token", response_model=SessionOut,
             responses=errors({401: ["BAD_CREDENTIALS"], 429: ["TOO_MANY_ATTEMPTS"]}, INVALID, WRITES))
async def login(body: LoginIn, server: ServerDep) -> dict[str, Any]:
    session = await server.accounts.login(body.login, body.password)
    await server.engine.durable()
    return session.to_json()


# `response_model_exclude_unset`: a field the service leaves out (a credit's trip_id) stays out, not null.
@router.get("/me", summary="My account: owner, vehicle, credit, statement", response_model=AccountOut,
            response_model_exclude_unset=True, responses=errors(VEHICLE))
async def me(vehicle_id: VehicleDep, server: ServerDep) -> dict[str, Any]:
    return server.accounts.view(vehicle_id)


@router.post("/me/credit", summary="Add credit (R$)", response_model=CreditOut,
             responses=errors(VEHICLE, {409: ["REQUEST_ID_REUSED"]}, INVALID, WRITES))
async def add_credit(body: CreditIn, vehicle_id: VehicleDep, server: ServerDep,
                     idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    added = server.accounts.add_credit(vehicle_id, body.amount, idempotency_key or uuid.uuid4().hex)
    await server.engine.durable()
    return added


@router.post("/trips", summary="Book a trip: every stop at every company, all or none", status_code=201,
             response_model=ItineraryOut, responses=errors(
                 VEHICLE, {404: ["UNKNOWN_ACCOUNT"],
                           409: ["POINT_TAKEN", "PEER_UNAVAILABLE", "INSUFFICIENT_CREDIT", "NO_PLAN", "TRIP_OVERLAPS",
                                 *PLANNING, "REQUEST_ID_REUSED"],
                           422: ["VALIDATION_ERROR", *DEPARTURE]}, WRITES,
                 models={409: BookingRefusedOut | ErrorOut}))
async def book(body: TripIn, vehicle_id: VehicleDep, server: ServerDep,
               idempotency_key: IdempotencyKey = None) -> Response:
    """A refused booking is a 409 `BookingRefusedOut`: its details hold the refusal — what is free instead (points
    and whole plans) and, per code, the company that did not answer, the cost or the trip in the way. A request id
    already used for another operation is a 409 `ErrorOut`, `REQUEST_ID_REUSED`."""
    reply = await server.coordinator.book(vehicle_id, idempotency_key or uuid.uuid4().hex, body)
    await server.engine.durable()
    # As the coordinator recorded it: a repeated id gets the recorded answer back as it was.
    if reply["status"] in lifecycle.REFUSALS:
        return json_reply(views.refusal_error(reply), status_code=409)
    return json_reply(reply, status_code=201)


@router.get("/trips", summary="My confirmed and cancelled trips", response_model=list[ItineraryOut],
            responses=errors(VEHICLE))
async def my_trips(vehicle_id: VehicleDep, server: ServerDep) -> list[dict[str, Any]]:
    return server.trips.trips_of(vehicle_id)


@router.get("/trips/{trip_id}", summary="One of my trips", response_model=ItineraryOut,
            responses=errors(VEHICLE, {404: ["UNKNOWN_TRIP"]}))
async def my_trip(trip_id: str, vehicle_id: VehicleDep, server: ServerDep) -> dict[str, Any]:
    return server.trips.trip_of(vehicle_id, trip_id)


@router.post("/trips/{trip_id}/cancel", summary="Cancel a reserved trip (refund by the policy), saying why",
             response_model=CancelledOut,
             responses=errors(VEHICLE, {404: ["UNKNOWN_TRIP"], 409: ["NOT_CONFIRMED", "TRIP_STARTED"]}, INVALID,
                              WRITES))
async def cancel(trip_id: str, vehicle_id: VehicleDep, server: ServerDep,
                 body: CancelReasonIn | None = None) -> dict[str, Any]:
    """The body is optional: OCPI's reason (TRAFFIC, BROKEN_VEHICLE, NO_CANCELED, UNKNOWN) and the driver's words."""
    why = body or CancelReasonIn()
    cancelled = await server.coordinator.cancel(vehicle_id, trip_id, CanceledReason(why.reason), why.note)
    await server.engine.durable()
    return cancelled


@router.post("/trips/{trip_id}/check-in", summary="Start or finish charging at a reserved stop",
             response_model=CheckInOut, response_model_exclude_unset=True, responses=errors(
                 VEHICLE,
                 # The station's company refuses with its own codes and statuses; they come back as they came.
                 {400: ["TRIP_MISMATCH"], 404: ["UNKNOWN_TRIP", "UNKNOWN_STOP"],
                  409: ["NOT_CONFIRMED", "NOT_RESERVED", "ALREADY_DONE", "NOT_CHARGING", "NO_SHOW"],
                  503: ["PEER_UNAVAILABLE"]}, INVALID, WRITES))
async def check_in(trip_id: str, body: CheckInIn, vehicle_id: VehicleDep, server: ServerDep) -> dict[str, Any]:
    if body.trip_id != trip_id:
        raise DomainError("trip_id in the body and the path differ", code="TRIP_MISMATCH")
    reply = await server.coordinator.check_in(vehicle_id, body)
    await server.engine.durable()
    return reply


@router.get("/reservations", summary="My reserved points, stop by stop", response_model=list[ReservationOut],
            responses=errors(VEHICLE))
async def reservations(vehicle_id: VehicleDep, server: ServerDep) -> list[dict[str, Any]]:
    return server.trips.reservations_of(vehicle_id)


@router.get("/events", summary="The event feed: events after a sequence number (secrets redacted)",
            response_model=EventsOut, responses=errors(INVALID, READS_LOG))
async def events(server: ServerDep, after: int = Query(default=0, ge=0),
                 limit: int = Query(default=100, ge=1, le=1000),
                 type: Annotated[list[str] | None, Query()] = None) -> Response:
    def read() -> dict[str, Any]:  # the durable log only, read on a worker thread
        found = server.store.read_all(after=after, limit=limit, types=type or None)
        return {"head": server.store.head(), "events": [views.event_json(e) for e in found]}

    return json_reply(await anyio.to_thread.run_sync(read))


@router.get("/stats", summary="Figures of this company: points, occupancy, trips confirmed and refused",
            response_model=StatsOut, responses=errors())
async def stats(server: ServerDep) -> dict[str, Any]:
    return server.engine.read(lambda s: views.stats(s, server.network, server.company, server.engine.clock()))


@router.get("/company/figures", summary="This company's charging figures: charge detail records, kWh, revenue by "
            "part, no-shows and their fees; its tariff and booking terms", response_model=CompanyFiguresOut,
            responses=errors())
async def company_figures(server: ServerDep) -> dict[str, Any]:
    return server.engine.read(lambda s: views.figures(s, server.network, server.company))


@router.get("/log/state", summary="The state rebuilt by replaying this log up to a sequence number or time",
            response_model=StateAtOut, responses=errors(INVALID, READS_LOG))
async def state_at(server: ServerDep, at: int | None = Query(default=None, ge=0),
                   at_time: datetime | None = None) -> Response:
    # A replay of the log on disk, into a state of its own: on a worker thread, not the event loop.
    return json_reply(await anyio.to_thread.run_sync(views.state_at, server.store, server.network, server.company,
                                                      at, at_time))


@router.get("/log/digest", summary="A fingerprint of the running state and the sequence it is at",
            responses=errors())
async def state_digest(server: ServerDep) -> DigestOut:
    digest = server.engine.read(lambda s: DigestOut(seq=s.seq, digest=views.digest(s)))
    await server.engine.durable()  # a state is told only once the log holds it: a replay can then match it
    return digest


@router.get("/log/verify", summary="Check this log's hash chain and stream versions", responses=errors(READS_LOG))
async def verify(server: ServerDep) -> VerifyOut:
    report = await anyio.to_thread.run_sync(server.store.verify)
    return VerifyOut(ok=report.ok, first_bad_seq=report.first_bad_seq, reason=report.reason, checked=report.checked)
