"""Drivers told at once, over MQTT, when a charger of their trip fails: moved, re-booked, or not.

From the coordinator's durable events (`TripStopMoved`, `TripStopBroken`, `TripAmended`, `TripAmendAborted`),
one message to the vehicle on its reply topic — the one topic a vehicle may read — with `op: "notice"` and no
request id: what happened (the notice, as the trip's `notices` keep it) and the trip as it is now (the new plan,
each stop's status, the price). QoS 1: a vehicle with a kept session gets it when it comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from contract import topics
from events.model import RecordedEvent
from servers.adapters.packets import PacketBudget
from servers.bookings import events as ev
from servers.bootstrap import Server

log = logging.getLogger(__name__)

NOTICES = {e.NAME for e in (ev.TripStopMoved, ev.TripStopBroken, ev.TripAmended, ev.TripAmendAborted)}


class DriverNotices:
    """Publishes each driver's notices of failed chargers to their vehicle (see the module's docstring)."""

    def __init__(self, server: Server, client: mqtt.Client, budget: PacketBudget) -> None:
        self.server = server
        self.client = client
        self.budget = budget
        self.sent = 0

    def start(self) -> None:
        """From now on, on every durable batch of events."""
        self.server.engine.subscribe(self._on_durable)

    def _on_durable(self, recorded: Sequence[RecordedEvent]) -> None:
        for event in recorded:
            if event.type in NOTICES:
                self._publish(event)

    def _publish(self, event: RecordedEvent) -> None:
        trip = self.server.engine.state.trips.get(event.data["trip_id"])
        at = event.recorded_at.isoformat()
        notice = next((n for n in reversed(trip.notices) if n["at"] == at), None) if trip is not None else None
        if trip is None or notice is None:  # a retry that told nothing new
            return
        message: dict[str, Any] = {"id": None, "op": "notice", "ok": True,
                                   "result": {**notice, "trip_id": trip.trip_id,
                                              "trip": self.server.trips.itinerary(trip)}}
        topic, payload = topics.vehicle_reply(self.server.company, trip.vehicle_id), orjson.dumps(message, default=str)
        if not self.budget.fits(topic, payload):  # the trip itself in the notice: drop it, the notice still fits
            message["result"].pop("trip")
            payload = orjson.dumps(message, default=str)
        try:
            self.client.publish(topic, payload, qos=1)
            self.sent += 1
        except (RuntimeError, ValueError) as exc:  # shutting down: the trip's notices keep it
            log.warning("trip %s: notice not published (%s)", trip.trip_id, exc)
