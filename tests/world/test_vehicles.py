"""Vehicles: range, reserve, profiles, and the power a car draws from a point."""

from __future__ import annotations

import pytest

from servers.world.vehicles import DrivingProfile, Vehicle


def test_range_counts_from_the_reserve_with_the_profile() -> None:
    v = Vehicle(capacity_kwh=60.0, consumption_kwh_per_km=0.15, charge_kwh=48.0)
    assert v.reserve_kwh == pytest.approx(6.0)
    assert v.usable_range_km() == pytest.approx(280.0)
    assert v.usable_range_km(3.0) == 0.0
    aggressive = Vehicle(60.0, 0.15, 48.0, profile=DrivingProfile.AGGRESSIVE)
    assert aggressive.effective_consumption == pytest.approx(0.18)
    assert DrivingProfile("economic").speed_factor < 1 < DrivingProfile.AGGRESSIVE.speed_factor


def test_chargers_cap_the_power() -> None:
    v = Vehicle(60.0, 0.15, 30.0, max_ac_kw=7.0, max_dc_kw=80.0)
    assert v.charge_power_kw(22.0, is_ac=True) == 7.0
    assert v.charge_power_kw(150.0, is_ac=False) == 80.0
    assert v.charge_power_kw(50.0, is_ac=False) == 50.0


@pytest.mark.parametrize("bad", [dict(capacity_kwh=0), dict(charge_kwh=70.0), dict(reserve_fraction=1.0),
                                 dict(consumption_kwh_per_km=-0.1), dict(max_dc_kw=0)])
def test_impossible_vehicles_are_refused(bad: dict) -> None:
    args = dict(capacity_kwh=60.0, consumption_kwh_per_km=0.15, charge_kwh=30.0) | bad
    with pytest.raises(ValueError, match="vehicle"):
        Vehicle(**args)
