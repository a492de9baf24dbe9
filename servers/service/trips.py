"""The driver's view of their trips at the home company: one trip, all trips, every reserved stop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from servers.bookings import lifecycle
from servers.bookings.errors import NotFound
from servers.bookings.events import BookingStatus, CanceledReason, Role, TripStatus, Vote, Yes
from servers.bookings.state import Trip, parse_time
from servers.service.engine import Engine
from servers.world.network import Network


def trip_stream(trip_id: str) -> str:
    """The stream of one trip at its coordinator."""
    return f"trip:{trip_id}"


class TripsView:
    """Read model of the coordinator's trips, as their drivers see them."""

    def __init__(self, engine: Engine, network: Network) -> None:
        self.engine = engine
        self.network = network
        # Read for every stop of every itinerary (one is built at each commit decision): resolved once.
        self._terms = {c.id: c.booking_terms.to_json() for c in network.companies}
        self._names = {c.id: c.name for c in network.companies}

    def trip(self, vehicle_id: str, trip_id: str) -> Trip:
        """The trip, if it is this vehicle's (a forgotten or another's trip is UNKNOWN_TRIP)."""
        trip = self.engine.state.trips.get(trip_id)
        if trip is None or trip.vehicle_id != vehicle_id:
            raise NotFound(f"no trip {trip_id!r} of this vehicle", code="UNKNOWN_TRIP")
        return trip

    def itinerary(self, trip: Trip, votes: dict[str, Vote] | None = None) -> dict[str, Any]:
        """A trip as its driver sees it, each stop with its OCPI booking status; `votes` name the held points
        at the commit, before the state has them (the trip is RESERVED then)."""
        held = (dict(enumerate(trip.points)) if votes is None else
                {h.stop: h.point_id for v in votes.values() if isinstance(v, Yes) for h in v.holds})
        status = lifecycle.trip_status(trip) if votes is None else BookingStatus.RESERVED
        stops = []
        terms: dict[str, Any] = {}
        for index, stop in enumerate(trip.plan.get("stops", [])):
            company = stop["company_id"]
            terms[company] = self._terms[company]
            fee = trip.noshow_fees.get(str(index))
            until = parse_time(stop["window_start"]) - timedelta(minutes=terms[company]["cancel_until_minutes"])
            stops.append({**stop, "stop": index, "point_id": held.get(index) or None,
                          "company_name": self._names[company],
                          "status": lifecycle.stop_status(trip, index) if votes is None else status,
                          "refund_until": until.isoformat(),  # money.refund_until, from the terms resolved once
                          "noshow_fee": fee / 100 if fee is not None else None})
        canceled = ({"cancellation_reason": trip.cancellation_reason or CanceledReason.NO_CANCELED,
                     "who_canceled": trip.who_canceled or Role.EMSP} if trip.status is TripStatus.CANCELLED
                    else None)
        return {"status": status, "trip_id": trip.trip_id, "canceled": canceled,
                "broken_stops": sorted(int(s) for s in trip.broken), "notices": list(trip.notices),
                "vehicle_id": trip.vehicle_id, "plan": trip.plan, "stops": stops,
                "cost": trip.cost_cents / 100,
                "cost_by_company": {c: v / 100 for c, v in trip.cost_by_company_cents.items()},
                "requested_at": trip.requested_at, "asked_at": trip.asked_at or None, "refund": trip.refund_cents / 100,
                "reason": trip.reason, "terms": terms, "charges": list(trip.charges)}

    def trip_of(self, vehicle_id: str, trip_id: str) -> dict[str, Any]:
        """One trip of a vehicle, as its driver sees it."""
        return self.itinerary(self.trip(vehicle_id, trip_id))

    def trips_of(self, vehicle_id: str) -> list[dict[str, Any]]:
        """Every confirmed or cancelled trip of a vehicle still kept (docs/eventlog.md: retention), newest first."""
        state = self.engine.state
        acc = state.accounts.get(vehicle_id)
        return [self.itinerary(state.trips[t]) for t in reversed(acc.trips)] if acc is not None else []

    def reservations_of(self, vehicle_id: str) -> list[dict[str, Any]]:
        """Every stop of a vehicle's trips still RESERVED (each with its own status: some may be over)."""
        return [{"trip_id": t["trip_id"], **stop} for t in self.trips_of(vehicle_id)
                if t["status"] == BookingStatus.RESERVED for stop in t["stops"]]
