"""The terminal shows what money a trip involves: each stop's price by part and each company's terms before
booking, charge records and no-show fees in the statement."""

from __future__ import annotations

import io

from rich.console import Console

from vehicle_sim import views
from vehicle_sim.config import City, NetworkInfo

NET = NetworkInfo([City("salvador", "Salvador", "BA"), City("recife", "Recife", "PE")],
                  {"voltpoint": "VoltPoint", "eflux": "E-Flux"})
PRICE = {"energy": 2363, "charging_time": 0, "idle": 0, "session": 0, "reservation": 200, "total": 2563}
TERMS = {"cancel_until_minutes": 120, "change_until_minutes": 60, "noshow_timeout_minutes": 15, "noshow_fee": 15.0,
         "early_start_minutes": 5, "late_stop_minutes": 5}


def shown(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=250, color_system=None, force_terminal=False).print(renderable)
    return out.getvalue()


def test_a_price_reads_by_its_parts_leaving_out_the_zero_ones():
    assert views.price_parts(PRICE) == "energy R$ 23,63 + reservation R$ 2,00"
    assert views.price_parts(None) == ""


def test_the_terms_of_each_company_are_shown_before_booking():
    text = shown(views.terms_table({"eflux": TERMS}, NET))
    assert "E-Flux" in text and "120 min before the window" in text and "R$ 15,00" in text


def test_the_statement_shows_a_charge_record_and_a_no_show_fee_owed():
    cdr = {"stop": 0, "station_id": "vp-feira-1", "energy_kwh": 12.5, "started_at": "2030-01-01T10:00:00+00:00",
           "finished_at": "2030-01-01T10:30:00+00:00", "price": PRICE}
    account = {"owner": {}, "vehicle": {}, "balance": 0.0, "owed": 5.0, "statement": [
        {"at": "2030-01-01T10:30:00+00:00", "kind": "charge", "amount_cents": 0, "balance_cents": 0,
         "trip_id": "t1", "charge": cdr},
        {"at": "2030-01-01T13:00:00+00:00", "kind": "noshow_fee", "amount_cents": 0, "balance_cents": 0,
         "trip_id": "t1", "stop": 1, "company_id": "eflux", "owed_cents": 500}]}
    text = shown(views.account_panel(account))
    assert "12.5 kWh" in text and "energy R$ 23,63 + reservation R$ 2,00 = R$ 25,63" in text
    assert "stop 2 not begun (NO_SHOW)" in text and "R$ 5,00 owed" in text and "Owed" in text
