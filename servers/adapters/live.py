"""Live topics: what a station and each point look like now (retained) and a feed of booking events, on a beat.

Under a storm of bookings a station changes many times a second; a subscriber
can only notice so much. So durable events mark their stations dirty and
queue for the feed, and every `PERIOD_S` one retained availability message
goes out per dirty station and one feed message carries every event since the
last beat — the cost follows the beat, not the bookings.

Each point's live OCPI status (`server.points`) is retained on its own topic,
published on the beat only when it changed — by an event or because a
reservation's window opened or closed (the beat is the timer that tells it the
time) — never for a booking of a future window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from contract import topics
from events.model import RecordedEvent
from servers.adapters.packets import PacketBudget, split_array
from servers.bookings import events as ev
from servers.bootstrap import Server
from servers.service.participant import hold_stream
from servers.service.point_status import PointLive

log = logging.getLogger(__name__)

PERIOD_S = 0.5
WINDOW = timedelta(hours=6)  # the stretch of time an availability message shows
# The feed carries the booking events (trips, holds, points): no account event, so no secret to redact and no
# owner's name, e-mail or CPF.
FEED = {e.NAME for e in (ev.TripRequested, ev.TripCommitted, ev.TripAborted, ev.TripCancelled,
                         ev.TripParticipantAcked, ev.TripStopCheckedIn, ev.HoldsPlaced, ev.PrepareRefused,
                         ev.HoldsConfirmed, ev.HoldsReleased, ev.HoldDeadlineExtended, ev.ChargingStarted,
                         ev.ChargingFinished, ev.NoShowRecorded, ev.PointStatusChanged)}
# Events that change what a station's availability looks like.
AVAILABILITY = {e.NAME for e in (ev.HoldsPlaced, ev.HoldsConfirmed, ev.HoldsReleased, ev.ChargingStarted,
                                 ev.ChargingFinished, ev.NoShowRecorded, ev.PointStatusChanged)}


class LiveTopics:
    """Publishes a company's live topics on its broker, from the server's durable events."""

    def __init__(self, server: Server, client: mqtt.Client, budget: PacketBudget) -> None:
        self.server = server
        self.client = client
        self.budget = budget
        self.company = server.company
        self._dirty: set[str] = set()
        self._feed: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Listen to durable events and publish on the beat."""
        self.server.engine.subscribe(self._on_durable)
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        """Stop the beat."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_durable(self, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.type in FEED:
                self._feed.append({"seq": event.seq, "stream_id": event.stream_id, "type": event.type,
                                   "recorded_at": event.recorded_at.isoformat(), "data": event.data})
            if event.type in AVAILABILITY:
                self._dirty.update(self._stations_of(event))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(PERIOD_S)
            try:
                self.flush()
            except Exception:  # a failed beat must not end the live topics
                log.exception("live topics: publishing failed")

    def flush(self) -> None:
        """Publish what changed since the last beat."""
        points = self.server.points
        points.tick(self.server.engine.clock())
        for live in points.take_changed():
            self.publish_point(live)
        if self._feed:
            feed, self._feed = self._feed, []
            topic = topics.booking_feed(self.company)
            # Under a storm one beat's events pass a broker's packet limit: several messages, in order.
            for payload, left_out in split_array(b"events", [orjson.dumps(e) for e in feed], self.budget.room(topic)):
                if left_out:
                    log.warning("live feed: %d event(s) larger than the broker's packet limit left out", left_out)
                self.client.publish(topic, payload, qos=0)
        dirty, self._dirty = self._dirty, set()
        for station_id in sorted(dirty):
            self.publish_availability(station_id)

    def publish_availability(self, station_id: str) -> None:
        """Publish (retained) one station's points and bookings of the next six hours."""
        now = self.server.engine.clock()
        data = self.server.participant.availability(station_id, now, now + WINDOW)
        topic, payload = topics.station_availability(self.company, station_id), orjson.dumps(data)
        if not self.budget.fits(topic, payload):  # a station booked solid: never at the price of the connection
            log.warning("availability of %s (%d bytes) is over the broker's packet limit: not published",
                        station_id, len(payload))
            return
        self.client.publish(topic, payload, qos=1, retain=True)

    def publish_all_availability(self) -> None:
        """Publish every station's availability and every point's status (on connect)."""
        for station in self.server.network.stations_of(self.company):
            self.publish_availability(station.id)
        for live in self.server.points.all():
            self.publish_point(live)

    def publish_point(self, live: PointLive) -> None:
        """Publish (retained) one point's live status."""
        self.client.publish(topics.point_status(self.company, live.point_id), orjson.dumps(live.to_json()), qos=1,
                            retain=True)

    def _stations_of(self, event: RecordedEvent) -> set[str]:
        if event.type == ev.HoldsPlaced.NAME:
            return {h["station_id"] for h in event.data["holds"]}
        if event.type == ev.PointStatusChanged.NAME:
            return {self.server.network.point_owner(event.data["point_id"]).id}
        part = self.server.engine.state.participations.get(event.data["trip_id"])
        if part is not None:
            return {h.station_id for h in part.holds}
        # Released (the state forgot it): its stations are in the hold stream's first event.
        first = self.server.engine.first(hold_stream(event.data["trip_id"]))
        return {h["station_id"] for h in first.data["holds"]} if first is not None and \
            first.type == ev.HoldsPlaced.NAME else set()
