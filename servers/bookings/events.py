"""The events of a company server's log: one frozen class per type, named in the past tense.

Each class is a `msgspec.Struct`: typed for mypy, and turned to and from the
same JSON as before in a few microseconds (`to_new` for an append, `parse`
for the fold). `NAME` is the type written in the log; `REGISTRY` finds a
class by it. Fields added after logs were first written have defaults, so
old logs still replay. Votes are typed too: a participant answers a prepare
with a `Yes` (the points it holds) or a `No` (why, and what is free instead).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import msgspec

from contract.vocabulary import BookingStatus as BookingStatus
from contract.vocabulary import CanceledReason as CanceledReason
from contract.vocabulary import Role as Role
from events.model import ANY_VERSION, NewEvent, RecordedEvent, StreamAppend


class TripStatus(StrEnum):
    """A trip (one two-phase transaction) at its coordinator: the protocol's states (drivers see `BookingStatus`)."""

    REQUESTED = "REQUESTED"
    COMMITTED = "COMMITTED"
    ABORTED = "ABORTED"
    CANCELLED = "CANCELLED"


class HoldStatus(StrEnum):
    """A participant's hold on a point (a released hold leaves the state: RELEASED is what a release answers)."""

    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"


class Charging(StrEnum):
    """What happened at a reserved stop."""

    NOT_YET = ""
    CHARGING = "CHARGING"
    FINISHED = "FINISHED"
    NO_SHOW = "NO_SHOW"
    RELEASED = "RELEASED"  # re-booked elsewhere (its point failed): released here, the rest of the trip kept


# Point statuses an operator sets that take a point's future reservations away (OCPI's names; OUT_OF_ORDER is
# how logs of before 2026-12-02 wrote OUTOFORDER), and the cancellation reason each gives.
FAULTS = {"OUTOFORDER": "BROKEN_CHARGER", "OUT_OF_ORDER": "BROKEN_CHARGER", "INOPERATIVE": "POWER_OUTAGE",
          "REMOVED": "BROKEN_CHARGER", "BLOCKED": "BLOCKED"}


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every event; `NAME` is its type in the log."""

    NAME: ClassVar[str]


REGISTRY: dict[str, type[Event]] = {}
E = TypeVar("E", bound=type[Event])


def _register(cls: E) -> E:
    REGISTRY[cls.NAME] = cls
    return cls


def to_new(event: Event) -> NewEvent:
    """The event as the log appends it: its type and its data as plain JSON values."""
    return NewEvent(event.NAME, msgspec.to_builtins(event))


def append(stream_id: str, *events: Event, expected_version: int = ANY_VERSION) -> StreamAppend:
    """These events appended to one stream (at `expected_version`, or wherever it is)."""
    return StreamAppend(stream_id, tuple(to_new(e) for e in events), expected_version)


def parse(recorded: RecordedEvent) -> Event:
    """The typed event of a recorded one (KeyError for a type this server does not know)."""
    return msgspec.convert(recorded.data, REGISTRY[recorded.type], strict=False)


# -- accounts (home company) --------------------------------------------------------------------------
class Owner(msgspec.Struct, frozen=True):
    """The person behind an account (as in the seed: name, e-mail, CPF)."""

    name: str
    email: str
    cpf: str


class VehicleData(msgspec.Struct, frozen=True):
    """The car of an account, as signed up."""

    plate: str
    model: str
    capacity_kwh: float
    consumption_kwh_per_km: float
    charge_kwh: float
    max_ac_kw: float
    max_dc_kw: float
    profile: str


@_register
class AccountOpened(Event, frozen=True):
    NAME = "AccountOpened"
    vehicle_id: str
    owner: Owner
    vehicle: VehicleData
    password_hash: str
    broker_password_hash: str


@_register
class TokenIssued(Event, frozen=True):
    NAME = "TokenIssued"
    vehicle_id: str
    token_hash: str
    expires_at: str


@_register
class TokenRevoked(Event, frozen=True):
    NAME = "TokenRevoked"
    vehicle_id: str
    token_hash: str


@_register
class BrokerCredentialsIssued(Event, frozen=True):
    NAME = "BrokerCredentialsIssued"
    vehicle_id: str
    generation: int
    broker_password_hash: str


@_register
class CreditAdded(Event, frozen=True):
    NAME = "CreditAdded"
    vehicle_id: str
    amount_cents: int
    request_id: str = ""


@_register
class TripDebited(Event, frozen=True):
    NAME = "TripDebited"
    vehicle_id: str
    trip_id: str
    amount_cents: int


@_register
class TripRefunded(Event, frozen=True):
    NAME = "TripRefunded"
    vehicle_id: str
    trip_id: str
    amount_cents: int


@_register
class VehicleUpdated(Event, frozen=True):
    NAME = "VehicleUpdated"
    vehicle_id: str
    changes: dict[str, Any]


# -- votes ------------------------------------------------------------------------------------------
class HoldData(msgspec.Struct, frozen=True):
    """One point held for one stop of a trip."""

    stop: int
    station_id: str
    point_id: str
    power_kw: float
    start: str
    end: str
    energy_kwh: float


class Yes(msgspec.Struct, frozen=True, tag="yes", tag_field="vote"):
    """A participant holds a point for each of its stops."""

    trip_id: str
    holds: list[HoldData] = []


class No(msgspec.Struct, frozen=True, tag="no", tag_field="vote", omit_defaults=True):
    """A participant cannot hold a stop (or did not answer): why, and what is free instead."""

    trip_id: str = ""
    code: str = "REFUSED"
    reason: str = ""
    stop: int | None = None
    station_id: str | None = None
    conflicts: list[dict[str, Any]] = []
    alternatives: list[dict[str, Any]] = []
    company: str | None = None  # the company that did not answer (PEER_UNAVAILABLE)


Vote = Yes | No


def vote_of(data: Any) -> Vote:
    """A vote as it travels (JSON), typed."""
    vote: Vote = msgspec.convert(data, Vote, strict=False)  # type: ignore[arg-type]  # a union as the type
    return vote


# -- trips (coordinator) ----------------------------------------------------------------------------
@_register
class TripRequested(Event, frozen=True):
    NAME = "TripRequested"
    trip_id: str
    vehicle_id: str
    request_id: str
    attempt: int
    priority: str
    plan: dict[str, Any]
    participants: list[str]
    stops_by_company: dict[str, list[dict[str, Any]]]
    cost_cents: int
    cost_by_company_cents: dict[str, int]


@_register
class TripVoteRecorded(Event, frozen=True):
    NAME = "TripVoteRecorded"
    trip_id: str
    company: str
    vote: Vote


@_register
class TripCommitted(Event, frozen=True):
    NAME = "TripCommitted"
    trip_id: str


@_register
class TripAborted(Event, frozen=True):
    NAME = "TripAborted"
    trip_id: str
    code: str = ""
    reason: str = ""


@_register
class TripCancelled(Event, frozen=True):
    NAME = "TripCancelled"
    trip_id: str
    refund_cents: int
    reason: str = ""  # in words (the driver's own, if they gave any)
    cancellation_reason: CanceledReason = CanceledReason.NO_CANCELED  # logs of before 2026-12-02 lack it
    who_canceled: Role = Role.EMSP


@_register
class TripParticipantAcked(Event, frozen=True):
    NAME = "TripParticipantAcked"
    trip_id: str
    company: str
    status: TripStatus | None = None  # the decision acknowledged (logs of before 2026-12-02 may lack it)


@_register
class TripStopCheckedIn(Event, frozen=True):
    NAME = "TripStopCheckedIn"
    trip_id: str
    stop: int


@_register
class TripStopMissed(Event, frozen=True):
    """A stop not begun by its company's no-show timeout: NO_SHOW (its point is free again there)."""

    NAME = "TripStopMissed"
    trip_id: str
    stop: int


@_register
class TripStopCharged(Event, frozen=True):
    """The charge detail record of a stop, as its company answered the driver's finish: the driver's copy."""

    NAME = "TripStopCharged"
    trip_id: str
    stop: int
    company_id: str
    station_id: str
    point_id: str
    energy_kwh: float
    started_at: str
    finished_at: str
    charge_minutes: float
    idle_minutes: float
    price: dict[str, int]  # cents by part, and the total


@_register
class NoShowFeeCharged(Event, frozen=True):
    """A stop recorded NO_SHOW: its company's no-show fee, taken from the credit — what the credit cannot cover
    is owed (the balance never goes below zero)."""

    NAME = "NoShowFeeCharged"
    vehicle_id: str
    trip_id: str
    stop: int
    company_id: str
    amount_cents: int  # taken from the credit
    owed_cents: int = 0  # the rest of the fee


@_register
class OwedFeesPaid(Event, frozen=True):
    """Credit added while no-show fees were owed: what it could cover of them, paid at once."""

    NAME = "OwedFeesPaid"
    vehicle_id: str
    amount_cents: int


@_register
class TripEnded(Event, frozen=True):
    """Every stop of a reserved trip is over (or it had none, and its arrival has passed)."""

    NAME = "TripEnded"
    trip_id: str
    status: BookingStatus  # FULFILLED (a stop at least charged, or none to charge at) or NO_SHOW


@_register
class TripStopMoved(Event, frozen=True):
    """The station's company moved a stop to another of its points there (the first one failed)."""

    NAME = "TripStopMoved"
    trip_id: str
    stop: int
    point_id: str
    from_point_id: str
    reason: str  # OCPI's CanceledReason of the point that failed


@_register
class TripStopBroken(Event, frozen=True):
    """A stop's point failed and its station has no other point free for it: the trip is to be re-booked."""

    NAME = "TripStopBroken"
    trip_id: str
    stop: int
    point_id: str
    reason: str


@_register
class TripAmendRequested(Event, frozen=True):
    """A re-booking of a reserved trip from one stop on (a two-phase transaction of its own, `amendment_id`)."""

    NAME = "TripAmendRequested"
    trip_id: str
    amendment_id: str  # "{trip}~{n}": the id its new stops are held under at their companies
    from_stop: int
    plan: dict[str, Any]  # the whole trip as it would be
    participants: list[str]  # companies of the new stops
    stops_by_company: dict[str, list[dict[str, Any]]]  # the new stops, by the index they get in `plan`
    releases: dict[str, dict[str, list[int]]]  # company -> hold id -> old stops it releases at the commit
    cost_cents: int  # the whole trip's cost as it would be
    cost_by_company_cents: dict[str, int]


@_register
class TripAmended(Event, frozen=True):
    """The re-booking is committed: the trip is now its plan (old stops released, new ones reserved)."""

    NAME = "TripAmended"
    trip_id: str
    amendment_id: str
    points: list[str] = []  # the point reserved at each new stop, in order from `from_stop`


@_register
class TripAmendAborted(Event, frozen=True):
    NAME = "TripAmendAborted"
    trip_id: str
    amendment_id: str
    code: str
    reason: str


@_register
class TripAmendAcked(Event, frozen=True):
    """A company applied its part of a re-booking's decision (`what`: commit, abort, or release old stops)."""

    NAME = "TripAmendAcked"
    trip_id: str
    amendment_id: str
    company: str
    what: str


@_register
class RequestAnswered(Event, frozen=True):
    NAME = "RequestAnswered"
    vehicle_id: str
    request_id: str
    reply: dict[str, Any]
    op: str | None = None  # the operation answered (logs of before 2026-12-02 lack it)


# -- holds and reservations (participant) -----------------------------------------------------------
@_register
class HoldsPlaced(Event, frozen=True):
    NAME = "HoldsPlaced"
    trip_id: str
    coordinator: str
    priority: str
    deadline: str
    holds: list[HoldData]


@_register
class PrepareRefused(Event, frozen=True):
    NAME = "PrepareRefused"
    trip_id: str
    coordinator: str
    priority: str
    code: str
    reason: str
    stop: int
    station_id: str
    conflicts: list[dict[str, Any]] = []
    alternatives: list[dict[str, Any]] = []

    def vote(self) -> No:
        """The no vote this refusal was."""
        return No(trip_id=self.trip_id, code=self.code, reason=self.reason, stop=self.stop,
                  station_id=self.station_id, conflicts=self.conflicts, alternatives=self.alternatives)


@_register
class HoldsConfirmed(Event, frozen=True):
    NAME = "HoldsConfirmed"
    trip_id: str


@_register
class HoldsReleased(Event, frozen=True):
    NAME = "HoldsReleased"
    trip_id: str
    reason: str = ""


@_register
class HoldDeadlineExtended(Event, frozen=True):
    NAME = "HoldDeadlineExtended"
    trip_id: str
    deadline: str


@_register
class ChargingStarted(Event, frozen=True):
    NAME = "ChargingStarted"
    trip_id: str
    hold_index: int
    point_id: str
    station_id: str = ""
    started_at: str = ""  # logs of before 2026-12-02 lack it: the event's own time


@_register
class ChargingFinished(Event, frozen=True):
    """Charging at a reserved stop is over: the company's charge detail record (OCPI's CDR) of the session."""

    NAME = "ChargingFinished"
    trip_id: str
    hold_index: int
    point_id: str
    station_id: str = ""
    energy_kwh: float = 0.0
    cost_cents: int = 0  # the price's total
    # The CDR (logs of before 2026-12-02 have only the energy and its cost):
    started_at: str = ""
    finished_at: str = ""
    charge_minutes: float = 0.0
    idle_minutes: float = 0.0
    price: dict[str, int] = {}  # cents by part (servers.world.tariffs.Price.to_json)


@_register
class NoShowRecorded(Event, frozen=True):
    NAME = "NoShowRecorded"
    trip_id: str
    hold_index: int
    point_id: str
    fee_cents: int = 0  # the company's no-show fee, charged to the driver by their home company


@_register
class HoldMoved(Event, frozen=True):
    """A reserved point failed: the stop moved to another point of the same station, free for its window."""

    NAME = "HoldMoved"
    trip_id: str
    hold_index: int
    point_id: str
    power_kw: float
    from_point_id: str
    reason: str


@_register
class HoldBroken(Event, frozen=True):
    """A reserved point failed and no other point of its station is free for the stop: its coordinator re-books."""

    NAME = "HoldBroken"
    trip_id: str
    hold_index: int
    point_id: str
    reason: str


@_register
class HoldNoticeDelivered(Event, frozen=True):
    """The trip's coordinator has heard of a moved or broken stop."""

    NAME = "HoldNoticeDelivered"
    trip_id: str
    hold_index: int


@_register
class StopsReleased(Event, frozen=True):
    """Some stops of a reserved trip released here: the trip was re-booked elsewhere from them on."""

    NAME = "StopsReleased"
    trip_id: str
    stops: list[int]
    reason: str = ""


@_register
class PointStatusChanged(Event, frozen=True):
    NAME = "PointStatusChanged"
    point_id: str
    status: str
    reason: str = ""
