"""The shared message models: what clients and peers send and get back, over REST and MQTT.

Clients (the vehicle simulator, the dashboards) may import this module; it
knows nothing of the server's internals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

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


class CancelIn(In):
    """Cancel a confirmed trip."""

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


PeerOp = Annotated[PrepareOp | DecisionOp | OutcomeOp | CheckInOp, Field(discriminator="op")]


class BatchIn(In):
    """Many peer operations in one signed request, applied in order and made durable together."""

    ops: list[PeerOp] = Field(min_length=1, max_length=500)


class OpError(BaseModel):
    """Why one operation of a batch was refused: the code and message its own route would answer, and that
    route's HTTP status."""

    code: str
    message: str
    status: int
    details: dict[str, Any] = Field(default_factory=dict)


class OpResult(BaseModel):
    """One operation's answer in a batch: `result` when `ok`, else `error`."""

    ok: bool
    result: dict[str, Any] | None = None
    error: OpError | None = None


class BatchOut(BaseModel):
    """The answers of a batch, in the order of its operations."""

    results: list[OpResult]


class PointStatusIn(In):
    """An operator puts a point out of order or back in service (OCPI status names)."""

    status: Literal["AVAILABLE", "OUT_OF_ORDER"]
    reason: str = Field(default="", max_length=200)


class ErrorOut(BaseModel):
    """Every error: a stable code, a message for people, and optional details."""

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
