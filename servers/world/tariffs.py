"""What charging costs: a company's (or a station's) tariff, and a stop's price by part in whole cents.

OCPI 2.3.0's tariff dimensions, the ones this network uses: energy (per kWh),
time while charging (per minute), parking time once charging is over (idle,
per minute), a flat fee per session, and a flat fee for the reservation. The
same function prices a planned stop (the preview, the trip's debit) and a
finished session (the charge detail record), so what a driver is shown is what
they pay: each part rounded to whole cents once, the total their sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

Reais = Annotated[float, Field(ge=0, le=1000)]
PARTS = ("energy", "charging_time", "idle", "session", "reservation")


@dataclass(frozen=True)
class Tariff:
    """The price of charging at a company's stations (or one station), in R$."""

    per_kwh: Annotated[float, Field(ge=0, le=20)]
    per_minute_charging: Annotated[float, Field(ge=0, le=20)] = 0.0
    per_minute_idle: Annotated[float, Field(ge=0, le=20)] = 0.0  # after charging is over, still on the point
    session_fee: Reais = 0.0
    reservation_fee: Reais = 0.0

    def price(self, energy_kwh: float, charge_minutes: float, idle_minutes: float = 0.0) -> Price:
        """A session's price by part: this energy, this long charging, this long idle after it."""
        return Price(energy=_cents(energy_kwh * self.per_kwh),
                     charging_time=_cents(max(charge_minutes, 0.0) * self.per_minute_charging),
                     idle=_cents(max(idle_minutes, 0.0) * self.per_minute_idle),
                     session=_cents(self.session_fee), reservation=_cents(self.reservation_fee))

    def to_json(self) -> dict[str, float]:
        """As the network file and the API write it."""
        return {"per_kwh": self.per_kwh, "per_minute_charging": self.per_minute_charging,
                "per_minute_idle": self.per_minute_idle, "session_fee": self.session_fee,
                "reservation_fee": self.reservation_fee}


def _cents(reais: float) -> int:
    # Rounded once per part, half away from zero (never banker's rounding on a price).
    return int(reais * 100 + 0.5 + 1e-9)


@dataclass(frozen=True)
class Price:
    """A price by part, in whole cents; `total` is their sum."""

    energy: int = 0
    charging_time: int = 0
    idle: int = 0
    session: int = 0
    reservation: int = 0

    @property
    def total(self) -> int:
        return self.energy + self.charging_time + self.idle + self.session + self.reservation

    def to_json(self) -> dict[str, int]:
        """The parts and the total, in cents."""
        return {"energy": self.energy, "charging_time": self.charging_time, "idle": self.idle,
                "session": self.session, "reservation": self.reservation, "total": self.total}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Price:
        """The inverse of `to_json` (the total is recomputed)."""
        return cls(**{k: int(data.get(k, 0)) for k in PARTS})
