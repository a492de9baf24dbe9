"""The shared message models: what clients and peers send and get back, over REST and MQTT.

Clients (the vehicle simulator, the dashboards) may import this module; it
knows nothing of the server's internals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from contract.vocabulary import BookingStatus, CanceledReason, Role, normalise

Profile = Literal["economic", "normal", "aggressive"]


def as_utc(moment: datetime) -> datetime:
    """The network's one time zone: a time without a zone is taken as UTC, any other is converted to it."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class In(BaseModel):
    """Base of every inbound message: unknown fields are refused, strings stripped."""

    # No NaN or infinity: JSON has neither, and Python's parser would let them in as numbers.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class SignupIn(In):
    """Open an account: the owner (as in the seed: CPF, name, e-mail, password) and the vehicle."""

    name: str = Field(min_length=2, max_length=120, examples=["Maria da Silva"])
    email: EmailStr = Field(examples=["maria@example.com"])
    cpf: str = Field(min_length=11, max_length=14, examples=["529.982.247-25"])
    password: str = Field(min_length=6, max_length=128, examples=["s3nha-forte"])
    plate: str = Field(pattern=r"^[A-Z]{3}-?[0-9][A-Z0-9][0-9]{2}$", examples=["RCG1A23"])
    model: str = Field(default="BYD Dolphin", min_length=1, max_length=80)
    capacity_kwh: float = Field(default=44.9, gt=5, le=250)
    consumption_kwh_per_km: float = Field(default=0.15, gt=0.05, le=0.6)
    charge_kwh: float | None = Field(default=None, ge=0, description="current charge; full when omitted")
    max_ac_kw: float = Field(default=11.0, gt=0, le=50)
    max_dc_kw: float = Field(default=100.0, gt=0, le=400)
    profile: Profile = "normal"
    initial_credit: float = Field(default=0.0, ge=0, le=10_000, description="R$ credited at sign-up")

    @field_validator("plate", mode="before")
    @classmethod
    def _upper_plate(cls, value: Any) -> Any:
        return value.upper().replace(" ", "") if isinstance(value, str) else value


class LoginIn(In):
    """Log in by CPF or e-mail."""

    login: str = Field(min_length=3, max_length=254, examples=["529.982.247-25"])
    password: str = Field(min_length=1, max_length=128)


class CreditIn(In):
    """Add credit (R$)."""

    amount: float = Field(gt=0, le=10_000, examples=[150.0])


class TripIn(In):
    """Ask for a trip: plan it and reserve every stop, all or none."""

    origin: str = Field(min_length=1, max_length=64, examples=["salvador"])
    destination: str = Field(min_length=1, max_length=64, examples=["fortaleza"])
    departure: UtcDatetime | None = Field(default=None, description="UTC (a time without a zone is taken as UTC); "
                                          "now when omitted; from 5 minutes ago to a year ahead")
    profile: Profile | None = None
    charge_kwh: float | None = Field(default=None, ge=0, description="charge at departure; the account's when omitted")
    avoid_stations: list[str] = Field(default_factory=list, max_length=50,
                                      description="stations to plan around (e.g. to take an alternative)")
    arrival_kwh: float | None = Field(default=None, ge=0, le=250,
                                      description="least charge on reaching the destination (default: the reserve)")
    stop_arrival_kwh: float | None = Field(default=None, ge=0, le=250,
                                           description="least charge on reaching a charger (default: the reserve)")
    max_charge_fraction: float = Field(default=1.0, gt=0, le=1,
                                       description="a stop charges at most to this share of the battery")
    stop_penalty_minutes: float = Field(default=10.0, ge=0, le=240,
                                        description="fewer vs faster stops: one stop less is worth this many minutes "
                                                    "of arrival (0: the fastest plan, whatever its stops)")


class PlanArgs(TripIn):
    """A plan preview for the vehicle asking (MQTT `plan`): a trip and how many alternatives."""

    alternatives: int = Field(default=1, ge=1, le=5, strict=True)


class VehicleUpdateIn(In):
    """Change the car's charge or its driving profile (MQTT `update_vehicle`)."""

    charge_kwh: float | None = Field(default=None, ge=0, le=300, strict=True)
    profile: Profile | None = None

    @model_validator(mode="after")
    def _something(self) -> VehicleUpdateIn:
        if self.charge_kwh is None and self.profile is None:
            raise ValueError("nothing to update (charge_kwh, profile)")
        return self


class LogoutIn(BaseModel):
    """Revoke a token (MQTT `logout`): the one in `token`, the session's own when it is sent."""

    token: str | None = Field(default=None, max_length=200)


class FakeIn(BaseModel):
    """A Faker-filled sign-up form (MQTT `fake`); the same `seed` gives the same form."""

    seed: int | None = None


class PlanIn(TripIn):
    """A plan preview for a vehicle described inline (no account needed)."""

    capacity_kwh: float = Field(default=60.0, gt=5, le=250)
    consumption_kwh_per_km: float = Field(default=0.16, gt=0.05, le=0.6)
    max_ac_kw: float = Field(default=11.0, gt=0, le=50)
    max_dc_kw: float = Field(default=100.0, gt=0, le=400)
    alternatives: int = Field(default=1, ge=1, le=5)


# The OCPI cancellation reasons a driver may give (the others are the station companies').
DriverReason = Literal["TRAFFIC", "BROKEN_VEHICLE", "NO_CANCELED", "UNKNOWN"]


class CancelReasonIn(In):
    """Why the driver cancels: OCPI's reason (NO_CANCELED: none given) and, if they like, their own words."""

    reason: DriverReason = "NO_CANCELED"
    note: str = Field(default="", max_length=200, examples=["plans changed"])


class TripRefIn(In):
    """One of my trips (MQTT `trip`)."""

    trip_id: str = Field(min_length=1, max_length=64)


class CancelIn(CancelReasonIn):
    """Cancel a reserved trip (MQTT: the trip and the reason together)."""

    trip_id: str = Field(min_length=1, max_length=64)


class CheckInIn(In):
    """A vehicle at a reserved point: start or finish charging there."""

    trip_id: str = Field(min_length=1, max_length=64)
    stop: int = Field(ge=0, le=100)
    action: Literal["start", "finish"]
    energy_kwh: float | None = Field(default=None, ge=0, le=300)


class StopIn(In):
    """One stop a coordinator asks a participant to hold."""

    stop: int = Field(ge=0, le=100)
    station_id: str = Field(min_length=1, max_length=64)
    start: UtcDatetime
    end: UtcDatetime
    min_power_kw: float = Field(ge=0, le=1000)
    energy_kwh: float = Field(ge=0, le=300)


class PrepareIn(In):
    """Peer phase one: hold these stops for this trip."""

    trip_id: str = Field(min_length=1, max_length=64)
    coordinator: str = Field(min_length=1, max_length=64)
    priority: UtcDatetime = Field(description="when the trip first asked for a hold; earlier keeps priority")
    stops: list[StopIn] = Field(min_length=1, max_length=50)


class DecisionIn(In):
    """Peer phase two: apply the decision for this trip (commit, abort) or release it (cancel)."""

    trip_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=200)
    # A release of some stops only: the trip was re-booked elsewhere from them on (docs/booking.md).
    stops: list[int] | None = Field(default=None, max_length=100)


class OutcomeIn(In):
    """Cooperative termination: what was decided for this trip?"""

    trip_id: str = Field(min_length=1, max_length=64)
    # The earlier trip this one is asked to yield a point to (the priority rule): an undecided trip is
    # aborted as YIELDED instead of TIMEOUT.
    asked_by: str | None = Field(default=None, min_length=1, max_length=64)
    point_id: str | None = Field(default=None, min_length=1, max_length=64)  # the point wanted


class PrepareOp(In):
    """A prepare in a batch."""

    op: Literal["prepare"]
    args: PrepareIn


class DecisionOp(In):
    """A commit, abort or release in a batch."""

    op: Literal["commit", "abort", "release"]
    args: DecisionIn


class OutcomeOp(In):
    """An outcome query in a batch."""

    op: Literal["outcome"]
    args: OutcomeIn


class CheckInOp(In):
    """A forwarded check-in in a batch."""

    op: Literal["check_in"]
    args: CheckInIn


class NoticeIn(In):
    """A station's company tells a trip's coordinator that a stop's point failed: the stop moved to another point
    of the station (MOVED), or none was free there (BROKEN: the coordinator re-books the trip from that stop)."""

    trip_id: str = Field(min_length=1, max_length=64, description="the coordinator's trip")
    hold_id: str = Field(min_length=1, max_length=64, description="the id the stop is held under here")
    stop: int = Field(ge=0, le=100)
    kind: Literal["MOVED", "BROKEN"]
    point_id: str = Field(min_length=1, max_length=80, description="MOVED: the new point; BROKEN: the failed one")
    from_point_id: str = Field(default="", max_length=80)
    reason: CanceledReason


class NoticeOp(In):
    """A notice of a failed point in a batch."""

    op: Literal["notice"]
    args: NoticeIn


PeerOp = Annotated[PrepareOp | DecisionOp | OutcomeOp | CheckInOp | NoticeOp, Field(discriminator="op")]


class BatchIn(In):
    """Many peer operations in one signed request, applied in order and made durable together."""

    ops: list[PeerOp] = Field(min_length=1, max_length=500)


class PointStatusIn(In):
    """An operator sets a point's status, by OCPI's names (docs/booking.md "Live point status").

    OUTOFORDER, INOPERATIVE, BLOCKED, REMOVED take the point out of service and move its reservations
    away; PLANNED and UNKNOWN take it out of service and keep them; AVAILABLE, CHARGING and RESERVED all put
    it back in service (what it does then follows from its bookings). OUT_OF_ORDER, the spelling of before
    2026-12-02, is read as OUTOFORDER.
    """

    status: Literal["AVAILABLE", "RESERVED", "CHARGING", "BLOCKED", "INOPERATIVE", "OUTOFORDER", "PLANNED",
                    "REMOVED", "UNKNOWN", "OUT_OF_ORDER"]
    reason: str = Field(default="", max_length=200)

    @field_validator("status", mode="after")
    @classmethod
    def _ocpi_spelling(cls, value: str) -> str:
        return normalise(value)


# -- replies -----------------------------------------------------------------------------------------------------
# What the servers answer, route by route (OpenAPI documents each of them). Times are ISO 8601 strings with a
# zone, as the servers write them; amounts are in R$ unless a field says cents.

IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-12-01T10:00:00+00:00"])]
CompanyId = Annotated[str, Field(examples=["voltpoint"])]
CityId = Annotated[str, Field(examples=["salvador"])]
StationId = Annotated[str, Field(examples=["vp-salvador-1"])]
PointId = Annotated[str, Field(examples=["vp-salvador-1-p1"])]
TripId = Annotated[str, Field(examples=["t3f9c0a1b2c3d4e5f"])]
VehicleId = Annotated[str, Field(examples=["v1a2b3c4d5e6f"])]
#: OCPI connector types (the network file's `Connector`; tests/servers/test_api_contract.py keeps them equal).
Connector = Literal["TYPE_2", "CCS_2", "CHADEMO", "GBT"]
#: OCPI's EVSE statuses (servers.bookings.point_status): set by an operator, or live from the bookings.
PointStatus = Literal["AVAILABLE", "RESERVED", "CHARGING", "BLOCKED", "INOPERATIVE", "OUTOFORDER", "PLANNED",
                      "REMOVED", "UNKNOWN"]
Charging = Annotated[Literal["", "CHARGING", "FINISHED", "NO_SHOW"],
                     Field(description="the vehicle at this stop: not yet (\"\"), charging, finished, or never came")]


class Out(BaseModel):
    """Base of every reply: exactly the fields documented — a field the server sends but does not declare fails
    validation, so the documents cannot fall behind the code."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Out):
    """Every error: a stable code (docs/booking.md, "Error codes"), a message for people, and details that depend
    on the code."""

    code: str = Field(examples=["UNKNOWN_TRIP"])
    message: str = Field(examples=["no trip 't3f9c0a1b2c3d4e5f' of this vehicle"])
    details: dict[str, Any] = Field(description="empty for most codes")


class FieldErrorOut(Out):
    """One field that failed validation: where, why, and pydantic's error type."""

    loc: list[str | int] = Field(examples=[["body", "origin"]])
    msg: str = Field(examples=["Field required"])
    type: str = Field(examples=["missing"])


class ValidationDetailsOut(Out):
    """The fields that failed validation."""

    errors: list[FieldErrorOut]


class ValidationErrorOut(Out):
    """422 `VALIDATION_ERROR`: an `ErrorOut` whose details list the fields that failed. (A departure out of range
    is 422 too, as a plain `ErrorOut`: `DEPARTURE_IN_PAST`, `DEPARTURE_TOO_FAR`, details `{now}`.)"""

    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str = Field(examples=["the request is not valid"])
    details: ValidationDetailsOut


class HealthOut(Out):
    """A server that answers, how far its log is, and which other companies it hears from."""

    status: Literal["ok"]
    company: CompanyId
    seq: int = Field(description="the last sequence number of its state")
    peers: dict[CompanyId, bool] = Field(description="each other company: whether its occupancy feed answers")


class CityOut(Out):
    """A city of the road graph."""

    id: CityId
    name: str
    state: str = Field(examples=["BA"])
    lat: float
    lon: float


class RoadOut(Out):
    """A two-way road between two neighbouring cities, along a federal highway."""

    id: str = Field(examples=["br-324-salvador-feira-de-santana"])
    a: CityId
    b: CityId
    highway: str = Field(examples=["BR-324"])
    km: float


class TariffOut(Out):
    """What charging costs at a company's stations (or one station), in R$ (OCPI's tariff dimensions)."""

    per_kwh: float = Field(description="R$ per kWh delivered")
    per_minute_charging: float = Field(description="R$ per minute while the car draws power")
    per_minute_idle: float = Field(description="R$ per minute on the point after charging, past the window's end "
                                   "and the late-stop grace")
    session_fee: float = Field(description="R$ per charging session")
    reservation_fee: float = Field(description="R$ per reserved stop")


class BookingTermsOut(Out):
    """A company's booking terms (OCPI 2.3.0's BookingTerms): minutes around a stop's window, and R$."""

    cancel_until_minutes: int = Field(description="a stop cancelled at least this long before its window is "
                                      "refunded in full; later, nothing of it")
    change_until_minutes: int = Field(description="a booking may be changed until this long before its window")
    noshow_timeout_minutes: int = Field(description="a stop not begun this long after its window opened is NO_SHOW")
    noshow_fee: float = Field(description="R$ charged once for a stop that ends NO_SHOW")
    early_start_minutes: int = Field(description="charging may begin this long before the window")
    late_stop_minutes: int = Field(description="and go on this long after it before idle time is charged")


class CompanyOut(Out):
    """A charging company of the network: its tariff and booking terms."""

    id: CompanyId
    name: str
    state: str = Field(examples=["BA"])
    price_per_kwh: float = Field(description="R$ per kWh (the tariff's `per_kwh`)")
    color: str = Field(examples=["#f59e0b"])
    tariff: TariffOut
    booking_terms: BookingTermsOut


class PointOut(Out):
    """A charging point (OCPI: an EVSE with one connector)."""

    id: PointId
    power_kw: float
    connector: Connector


class StationOut(Out):
    """A charging station (OCPI: a Location) and its points."""

    id: StationId
    company_id: CompanyId
    city_id: CityId
    name: str
    points: list[PointOut]
    tariff: TariffOut | None = Field(default=None, description="set where the station's differs from its "
                                     "company's")


class NetworkOut(Out):
    """The whole network: cities, roads, companies, stations."""

    cities: list[CityOut]
    roads: list[RoadOut]
    companies: list[CompanyOut]
    stations: list[StationOut]


class PointBookingOut(Out):
    """A hold or reservation on a point, overlapping the window asked."""

    trip_id: TripId
    start: IsoTime
    end: IsoTime
    status: Literal["HELD", "CONFIRMED"]
    charging: Charging


class PointAvailabilityOut(Out):
    """One point of a station: its status, whether it is free for the whole window, and its bookings in it."""

    point_id: PointId
    power_kw: float
    connector: Connector
    status: PointStatus
    free: bool
    bookings: list[PointBookingOut]


class StationAvailabilityOut(Out):
    """A station's points and their bookings in [start, end)."""

    station_id: StationId
    company_id: CompanyId
    city_id: CityId
    start: IsoTime
    end: IsoTime
    points: list[PointAvailabilityOut]
    free_points: int


class PointStatusOut(Out):
    """A point's status as the operator set it (AVAILABLE: in service), and its live status now."""

    point_id: PointId
    status: PointStatus
    live: PointStatus = Field(description="what the point is now: the operator's status, else CHARGING, "
                                          "RESERVED or AVAILABLE from its bookings")


class PointLiveOut(Out):
    """A point's live status (OCPI's names) and since when; the same as its retained MQTT message."""

    point_id: PointId
    station_id: StationId
    company_id: CompanyId
    status: PointStatus
    since: IsoTime = Field(description="RESERVED: when the reservation's window opened (less the early-start "
                                       "grace); else when the server saw the status begin")


class RevokedOut(Out):
    """A vehicle's tokens revoked and its broker login moved to a new generation (the old password is refused)."""

    vehicle_id: VehicleId
    tokens_revoked: int
    broker_generation: int


class PriceOut(Out):
    """A stop's or a session's price by part, in cents (each part rounded once), and their total."""

    energy: int = Field(description="per kWh")
    charging_time: int = Field(description="per minute charging")
    idle: int = Field(description="per minute idle (0 in a plan)")
    session: int = Field(description="the session fee")
    reservation: int = Field(description="the reservation fee")
    total: int


class PlanStopOut(Out):
    """A charging stop of a plan: where, when the car arrives and leaves, and the window reserved there."""

    station_id: StationId
    company_id: CompanyId
    city_id: CityId
    power_kw: float = Field(description="the power the car charges at here")
    arrive_at: IsoTime
    arrive_kwh: float
    energy_kwh: float = Field(description="energy added here")
    charge_minutes: float
    depart_at: IsoTime
    window_start: IsoTime
    window_end: IsoTime
    cost: float = Field(description="R$ for this stop: its price's total")
    price: PriceOut | None = Field(default=None, description="by part, in cents (null in plans of before "
                                   "2026-12-02: `cost` was the energy's)")


class PlanOut(Out):
    """A drivable trip: the road taken, the charging stops, the times and the cost per company."""

    origin: CityId
    destination: CityId = Field(examples=["fortaleza"])
    departure: IsoTime
    path: list[CityId] = Field(description="the cities passed, origin to destination")
    stops: list[PlanStopOut]
    arrival: IsoTime
    distance_km: float
    driving_minutes: float
    charging_minutes: float
    total_minutes: float
    arrival_kwh: float = Field(description="charge left on arrival")
    cost_by_company: dict[CompanyId, float] = Field(description="R$ owed to each company on the way")


class PlanPreviewOut(PlanOut):
    """A plan preview, why it leaves the shortest road when it does, and the booking terms of every company on it
    (each stop's `price` says what it costs by part: the trip is debited their sum)."""

    detour_reason: str | None
    terms: dict[CompanyId, BookingTermsOut] = Field(description="the booking terms of each company on the plan")


class PlansOut(Out):
    """Plan previews, the best first (nothing is reserved)."""

    plans: list[PlanPreviewOut]


class SignupFormOut(Out):
    """A plausible sign-up form (the fields of the sign-up body but the credit), filled by Faker (pt_BR)."""

    name: str
    email: str
    cpf: str
    password: str
    plate: str
    model: str
    capacity_kwh: float
    consumption_kwh_per_km: float
    charge_kwh: float
    max_ac_kw: float
    max_dc_kw: float
    profile: Profile


class BrokerLoginOut(Out):
    """The vehicle's login on its company's MQTT broker (the same on every device until revoked)."""

    username: VehicleId
    password: str


class SessionOut(Out):
    """A sign-up or login: the token for `Authorization: Bearer …` and the broker login (sent only here)."""

    vehicle_id: VehicleId
    token: str
    expires_at: IsoTime
    broker: BrokerLoginOut


class OwnerOut(Out):
    """The vehicle's owner (the CPF as digits)."""

    name: str
    email: str
    cpf: str = Field(examples=["52998224725"])


class VehicleOut(Out):
    """The car, as the planner sees it."""

    plate: str
    model: str
    capacity_kwh: float
    consumption_kwh_per_km: float
    charge_kwh: float
    max_ac_kw: float
    max_dc_kw: float
    profile: Profile


class ChargeRecordOut(Out):
    """A charge detail record (OCPI's CDR): a session at a stop as its company recorded it, priced by part from
    what really happened (the energy, the minutes charging, the minutes idle)."""

    stop: int
    company_id: CompanyId
    station_id: StationId
    point_id: PointId
    energy_kwh: float
    started_at: IsoTime
    finished_at: IsoTime
    charge_minutes: float
    idle_minutes: float
    price: PriceOut


class StatementEntryOut(Out):
    """One movement of credit, in cents, and the balance after it; or a charge detail record (`charge`: nothing
    moves, the trip was paid when booked)."""

    at: IsoTime
    kind: Literal["credit", "debit", "refund", "noshow_fee", "owed_paid", "charge"]
    amount_cents: int = Field(description="negative for a debit or a fee; 0 for a charge record")
    balance_cents: int
    trip_id: TripId | None = Field(default=None, description="the trip debited, refunded, charged a fee or charged "
                                   "at (absent for a credit)")
    stop: int | None = Field(default=None, description="a no-show fee's stop")
    company_id: CompanyId | None = Field(default=None, description="the company whose no-show fee it is")
    owed_cents: int | None = Field(default=None, description="the part of a no-show fee the credit did not cover; "
                                   "after an `owed_paid` line, what is still owed")
    charge: ChargeRecordOut | None = Field(default=None, description="a charge entry's record")


class AccountOut(Out):
    """An account as its owner sees it (no secrets)."""

    vehicle_id: VehicleId
    owner: OwnerOut
    vehicle: VehicleOut
    balance: float = Field(description="R$")
    owed: float = Field(default=0.0, description="R$ of no-show fees the credit did not cover")
    statement: list[StatementEntryOut]
    trips: list[TripId] = Field(description="the confirmed trips still kept, oldest first")
    opened_at: IsoTime


class CreditOut(Out):
    """Credit added (R$) and the balance after it."""

    balance: float
    added: float


class ItineraryStopOut(PlanStopOut):
    """A stop of a booked trip: the plan's stop, its index, the point reserved, the company's name, and where
    its reservation is in its life (OCPI: RESERVED, then FULFILLED when charging began, or NO_SHOW)."""

    stop: int
    point_id: PointId | None = Field(description="null until the company holds a point")
    company_name: str = Field(examples=["VoltPoint"])
    status: BookingStatus
    refund_until: IsoTime | None = Field(default=None, description="cancelled by then, this stop is refunded in "
                                         "full (its company's cancel-until term); later, nothing of it")
    noshow_fee: float | None = Field(default=None, description="R$ charged because this stop ended NO_SHOW")


class NoticeShownOut(Out):
    """A failed point, as the driver was told: the stop MOVED to another point of its station, its station had
    none free (BROKEN: being re-booked), the trip was REBOOKED from that stop (and the price difference), or
    NOT_REBOOKED (nothing fits: cancel with a full refund, or keep waiting — it is tried again)."""

    at: IsoTime
    kind: Literal["MOVED", "BROKEN", "REBOOKED", "NOT_REBOOKED"]
    stop: int
    point_id: str | None = None
    from_point_id: str | None = None
    reason: str | None = None
    code: str | None = None
    amendment_id: str | None = None
    price_difference: float | None = Field(default=None, description="R$: debited when > 0, refunded when < 0")


class CancellationOut(Out):
    """Why a booking was canceled and by whom (OCPI's Cancellation)."""

    cancellation_reason: CanceledReason
    who_canceled: Role


class ItineraryOut(Out):
    """A trip as its driver sees it: the plan, the point reserved at every stop, what it cost, and where the
    booking is in its life (OCPI 2.3.0: PENDING → RESERVED | REJECTED | FAILED; RESERVED → FULFILLED | CANCELED |
    NO_SHOW)."""

    status: BookingStatus
    canceled: CancellationOut | None = Field(description="set once canceled")
    broken_stops: list[int] = Field(description="stops whose point failed and that are not re-booked (yet): the "
                                    "trip can be cancelled with a full refund")
    notices: list[NoticeShownOut] = Field(description="what the driver was told of failed points, oldest first")
    trip_id: TripId
    vehicle_id: VehicleId
    plan: PlanOut
    stops: list[ItineraryStopOut]
    cost: float = Field(description="R$ debited")
    cost_by_company: dict[CompanyId, float]
    requested_at: IsoTime
    asked_at: IsoTime | None = Field(description="when the driver asked: the trip's priority (the priority rule, "
                                     "docs/booking.md); null for trips booked before 2026-12-02")
    refund: float = Field(description="R$ refunded on cancel")
    reason: str = Field(description="why it was aborted or cancelled; empty otherwise")
    terms: dict[CompanyId, BookingTermsOut] = Field(default_factory=dict,
                                                    description="the booking terms of each company on the trip")
    charges: list[ChargeRecordOut] = Field(default_factory=list,
                                           description="the charge detail records of the stops charged at")


class ReservationOut(ItineraryStopOut):
    """A reserved stop of one of the vehicle's confirmed trips."""

    trip_id: TripId


class CancelledOut(CancellationOut):
    """A canceled trip, why, and its refund (R$, by the policy of docs/booking.md)."""

    trip_id: TripId
    status: Literal["CANCELED"]
    refund: float
    reason: str = Field(description="in words: the driver's own, if they gave any")


class CdrOut(Out):
    """A finished session's record, as the station's company answers a finish."""

    energy_kwh: float
    started_at: IsoTime
    finished_at: IsoTime
    charge_minutes: float
    idle_minutes: float
    price: PriceOut


class CheckInOut(Out):
    """Charging started or finished at a reserved point; a finish says the energy and what it cost."""

    trip_id: TripId
    hold_index: int
    point_id: PointId
    station_id: StationId
    charging: Literal["CHARGING", "FINISHED"]
    energy_kwh: float | None = Field(default=None, description="present once finished")
    cost_cents: int | None = Field(default=None, description="present when the finish was recorded by this call")
    cdr: CdrOut | None = Field(default=None, description="present once finished: the session's charge detail "
                               "record")


class AlternativePointOut(Out):
    """A point free in the window refused: the same station first, then the nearest cities."""

    station_id: StationId
    city_id: CityId
    point_id: PointId
    power_kw: float
    connector: Connector


class PlanSummaryStopOut(Out):
    """A stop of an alternative plan."""

    station_id: StationId
    company_id: CompanyId
    city_id: CityId
    window_start: IsoTime
    window_end: IsoTime


class PlanSummaryOut(Out):
    """An alternative plan around what is taken (other stations, or a later departure): book it with
    `avoid_stations` and its departure."""

    departure: IsoTime
    arrival: IsoTime
    path: list[CityId]
    stops: list[PlanSummaryStopOut]
    total_minutes: float
    cost_by_company: dict[CompanyId, float]
    cost: float


class AlternativesOut(Out):
    """What is free instead: points at the companies that refused, and whole plans."""

    points: list[AlternativePointOut]
    plans: list[PlanSummaryOut]


class OverlapOut(Out):
    """The vehicle's confirmed trip in the way (`TRIP_OVERLAPS`)."""

    trip_id: TripId
    origin: CityId
    destination: CityId
    departure: IsoTime
    arrival: IsoTime


class RefusalOut(Out):
    """Why a booking was refused, beyond its code and message: what is free instead, and per code the company
    that did not answer (`PEER_UNAVAILABLE`), the trip's cost (`INSUFFICIENT_CREDIT`) or the trip in the way
    (`TRIP_OVERLAPS`)."""

    status: Literal["REJECTED", "FAILED"] = Field(description="REJECTED: refused; FAILED: an error (a company did "
                                                  "not answer, the decision could not be recorded)")
    asked_at: IsoTime = Field(description="when the driver asked: the request's priority")
    alternatives: AlternativesOut
    company: CompanyId | None = None
    cost: float | None = None
    overlaps: OverlapOut | None = None


class BookingRefusedOut(Out):
    """409: a booking refused — an `ErrorOut` whose code says why (`POINT_TAKEN`, `PEER_UNAVAILABLE`,
    `INSUFFICIENT_CREDIT`, `NO_PLAN`, `TRIP_OVERLAPS`, a planner code…) and whose details hold the refusal."""

    code: str = Field(examples=["POINT_TAKEN"])
    message: str
    details: RefusalOut


class EventOut(Out):
    """One event of the log, its secrets redacted."""

    seq: int
    stream_id: str = Field(examples=["trip:t3f9c0a1b2c3d4e5f"])
    version: int
    type: str = Field(examples=["TripCommitted"])
    recorded_at: IsoTime
    data: dict[str, Any] = Field(description="the event's data; every `*_hash` field reads `…redacted…`")
    hash: str


class EventsOut(Out):
    """Events after a sequence number, and the log's head."""

    head: int
    events: list[EventOut]


class StatsOut(Out):
    """A company's figures: points now, holds and reservations, and all-time trip counts."""

    company: CompanyId
    seq: int
    points: int
    busy_now: int
    out_of_order: int
    occupancy_now: float = Field(description="share of points busy now, 0 to 1")
    held: int
    reserved: int
    accounts: int
    trips_confirmed: int
    trips_aborted: int
    trips_cancelled: int
    trips_kept: int = Field(description="trips still in memory (undecided, unsettled, or within their retention)")
    requests_refused: int
    prepares_refused: int


class RevenueOut(PriceOut):
    """Revenue of finished sessions by part, in cents."""


class CompanyFiguresOut(Out):
    """A company's charging figures, all time: its charge detail records summed, and its no-shows."""

    company: CompanyId
    sessions: int = Field(description="charge detail records (sessions finished at its points)")
    energy_kwh: float
    revenue_cents: RevenueOut
    noshows: int = Field(description="reserved stops that ended NO_SHOW at its points")
    noshow_fees_cents: int = Field(description="no-show fees due to it")
    tariff: TariffOut
    booking_terms: BookingTermsOut


class StateHoldOut(Out):
    """A point held or reserved at that moment."""

    trip_id: TripId
    stop: int
    station_id: StationId
    point_id: PointId
    start: IsoTime
    end: IsoTime
    status: Literal["HELD", "CONFIRMED"]
    charging: Charging


class StateTripOut(Out):
    """A trip its coordinator kept at that moment (status as the log says it: `COMMITTED` is confirmed)."""

    trip_id: TripId
    vehicle_id: VehicleId
    status: Literal["REQUESTED", "COMMITTED", "ABORTED", "CANCELLED"]
    participants: list[CompanyId]
    cost: float
    requested_at: IsoTime
    origin: CityId | None
    destination: CityId | None


class StateAccountOut(Out):
    """An account at that moment."""

    vehicle_id: VehicleId
    name: str | None
    plate: str | None
    balance: float
    trips: int


class StateAtOut(Out):
    """The state rebuilt by replaying the log up to a sequence number or a time, summarised for people."""

    seq: int
    at_time: IsoTime
    stats: StatsOut
    holds: list[StateHoldOut]
    trips: list[StateTripOut]
    accounts: list[StateAccountOut]
    point_status: dict[PointId, PointStatus] = Field(description="points not available")
    counts: dict[str, int] = Field(description="events folded, by type")


class DigestOut(Out):
    """A fingerprint of the running state (equal states, equal digests) and the sequence number it is at."""

    seq: int
    digest: str


class VerifyOut(Out):
    """The log's hash chain and stream versions checked: `first_bad_seq` is null when `ok`."""

    ok: bool
    first_bad_seq: int | None
    reason: str
    checked: int


class HeldPointOut(Out):
    """A point a participant holds for one stop of a trip."""

    stop: int
    station_id: StationId
    point_id: PointId
    power_kw: float
    start: IsoTime
    end: IsoTime
    energy_kwh: float


class ConflictOut(Out):
    """A hold in the way of a refused stop, with its trip's priority (the time of its first hold request)."""

    trip_id: TripId
    point_id: PointId
    start: IsoTime
    end: IsoTime
    status: Literal["HELD", "CONFIRMED"]
    priority: str = Field(description="ISO 8601, empty if unknown")


class YesVoteOut(Out):
    """Phase one, yes: a point held for every stop asked."""

    vote: Literal["yes"]
    trip_id: TripId
    holds: list[HeldPointOut]


class NoVoteOut(Out):
    """Phase one, no: why, at which stop, the holds in the way and the points free instead (a trip already over
    here, `TRIP_OVER`, has only its code and reason)."""

    vote: Literal["no"]
    trip_id: TripId
    code: str = Field(examples=["POINT_TAKEN"])
    reason: str
    stop: int | None = None
    station_id: StationId | None = None
    conflicts: list[ConflictOut] = Field(default_factory=list)
    alternatives: list[AlternativePointOut] = Field(default_factory=list)


VoteOut = Annotated[YesVoteOut | NoVoteOut, Field(discriminator="vote")]


class DecisionOut(Out):
    """Phase two applied: the trip's points reserved (commit) or free again (abort, release)."""

    trip_id: TripId
    status: Literal["CONFIRMED", "RELEASED"]


class NoticeOut(Out):
    """The coordinator has heard of the failed point (a repeat changes nothing)."""

    trip_id: TripId
    stop: int
    kind: Literal["MOVED", "BROKEN"]


class OutcomeOut(Out):
    """What the coordinator decided (a trip it never decided is aborted by this very question)."""

    trip_id: TripId
    outcome: Literal["commit", "abort"]


class OpError(Out):
    """Why one operation of a batch was refused: the code and message its own route would answer, and that
    route's HTTP status."""

    code: str
    message: str
    status: int
    details: dict[str, Any]


class OpResult(Out):
    """One operation's answer in a batch: `result` when `ok` (what its own route answers), else `error`."""

    ok: bool
    result: YesVoteOut | NoVoteOut | DecisionOut | OutcomeOut | CheckInOut | None
    error: OpError | None


class BatchOut(Out):
    """The answers of a batch, in the order of its operations."""

    results: list[OpResult]


BookedWindow = Annotated[tuple[str, PointId, float, float], Field(
    description='[key "{trip}#{stop}", point, start, end]: a booked window, in epoch seconds',
    examples=[["t3f9c0a1b2c3d4e5f#0", "vp-salvador-1-p1", 1796119200.0, 1796121000.0]])]


class OccupancyOut(Out):
    """What changed at this company's points after a log position — or, with `reset`, all that is booked."""

    seq: int = Field(description="the position to ask after next")
    reset: bool = Field(description="true: `added` is the whole picture; drop what was known")
    added: list[BookedWindow]
    removed: list[BookedWindow]
    status: dict[PointId, PointStatus] = Field(description="points whose status changed (AVAILABLE: back in service)")
