"""Money by the companies' terms and tariffs: the refund on cancel, the no-show fee, a charge detail record.

Pure: reads plans' stops (their JSON), the companies' `BookingTerms` and
`Tariff`s, and times; returns cents. The rules (docs/booking.md, "Money"):

- **Refund on cancel**, stop by stop: a stop cancelled at or before its company's
  `cancel_until_minutes` ahead of its window is refunded in full (every part of
  its price); after that, nothing of it. Never above what the trip was paid.
- **No-show fee**: the company's `noshow_fee`, once per stop recorded NO_SHOW.
- **Charge detail record**: the session's price by part from what really
  happened — the energy delivered, the minutes charging (the time that energy
  takes at the point's power, at most the session's length), and the minutes
  the car stayed on the point once charging was over and past its window's end
  plus the company's `late_stop_minutes` grace (idle).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from servers.world.network import BookingTerms
from servers.world.plans import stop_price
from servers.world.tariffs import Price, Tariff


def refund_until(window_start: datetime, terms: BookingTerms) -> datetime:
    """The last moment a stop can be cancelled with its price refunded: its company's cancel-until ahead of it."""
    return window_start - timedelta(minutes=terms.cancel_until_minutes)


def refund_cents(stops: Sequence[Mapping[str, Any]], now: datetime, terms_of: Mapping[str, BookingTerms],
                 paid_cents: int) -> int:
    """The refund for cancelling at `now` a trip of these stops (plan JSON) that was paid `paid_cents`."""
    if not stops:
        return paid_cents
    refundable = [s for s in stops
                  if now <= refund_until(datetime.fromisoformat(s["window_start"]), terms_of[s["company_id"]])]
    if len(refundable) == len(stops):  # all of it: what was paid, whatever rounding older plans carried
        return paid_cents
    return min(sum(stop_price(s).total for s in refundable), paid_cents)


def noshow_fee_cents(terms: BookingTerms) -> int:
    """A company's no-show fee, in cents."""
    return round(terms.noshow_fee * 100)


@dataclass(frozen=True)
class ChargeRecord:
    """A charging session as it happened (OCPI's CDR): when, how much, how long, and its price by part."""

    started_at: datetime
    finished_at: datetime
    energy_kwh: float
    charge_minutes: float
    idle_minutes: float
    price: Price


def charge_record(tariff: Tariff, terms: BookingTerms, *, started_at: datetime, finished_at: datetime,
                  energy_kwh: float, power_kw: float, window_end: datetime) -> ChargeRecord:
    """Price a finished session: the car drew power for at most the time its energy takes at the point's power;
    the rest of its time on the point after the window's end and the late-stop grace is idle."""
    elapsed = max((finished_at - started_at).total_seconds() / 60.0, 0.0)
    drawing = 60.0 * energy_kwh / power_kw if power_kw > 0 else elapsed
    charging = min(elapsed, drawing)
    idle_from = max(started_at + timedelta(minutes=charging), window_end + timedelta(minutes=terms.late_stop_minutes))
    idle = max((finished_at - idle_from).total_seconds() / 60.0, 0.0)
    return ChargeRecord(started_at=started_at, finished_at=finished_at, energy_kwh=energy_kwh,
                        charge_minutes=round(charging, 3), idle_minutes=round(idle, 3),
                        price=tariff.price(energy_kwh, round(charging, 3), round(idle, 3)))
