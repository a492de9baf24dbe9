"""The pages show what money a trip involves: each stop's price by part, the companies' terms, charge records,
and the companies' charging figures."""

from __future__ import annotations

from dashboards import parts

NETWORK = {"companies": [{"id": "voltpoint", "name": "VoltPoint"}, {"id": "eflux", "name": "E-Flux"}],
           "cities": [{"id": "feira", "name": "Feira de Santana", "state": "BA"}]}
PRICE = {"energy": 2363, "charging_time": 0, "idle": 150, "session": 0, "reservation": 200, "total": 2713}
TERMS = {"cancel_until_minutes": 120, "change_until_minutes": 60, "noshow_timeout_minutes": 15, "noshow_fee": 15.0,
         "early_start_minutes": 5, "late_stop_minutes": 5}


def test_each_stop_shows_its_price_by_part_and_an_old_plan_its_cost_as_energy():
    frame = parts.prices_frame([{"company_id": "voltpoint", "price": PRICE},
                                {"company_id": "eflux", "cost": 12.5}], NETWORK)
    first, old = frame.iloc[0], frame.iloc[1]
    assert (first["company"], first["energy"], first["reservation fee"], first["total"]) == \
        ("VoltPoint", "R$ 23,63", "R$ 2,00", "R$ 27,13")
    assert (old["energy"], old["total"]) == ("R$ 12,50", "R$ 12,50")


def test_the_terms_read_in_words():
    row = parts.terms_frame({"eflux": TERMS}, NETWORK).iloc[0]
    assert row["company"] == "E-Flux" and row["full refund until"] == "120 min before the stop's window"
    assert row["no-show fee"] == "R$ 15,00"


def test_charge_records_and_company_figures():
    trips = [{"trip_id": "t1", "charges": [{"stop": 0, "company_id": "voltpoint", "point_id": "p1",
                                            "energy_kwh": 12.5, "started_at": "2030-01-01T10:00:00+00:00",
                                            "finished_at": "2030-01-01T10:40:00+00:00", "charge_minutes": 30,
                                            "idle_minutes": 3, "price": PRICE}]}, {"trip_id": "t2"}]
    frame = parts.charges_frame(trips, NETWORK)
    assert len(frame) == 1 and frame.iloc[0]["idle"] == "R$ 1,50" and frame.iloc[0]["stop"] == 1
    row = parts.charging_row({"sessions": 1, "energy_kwh": 12.5, "revenue_cents": PRICE, "noshows": 2,
                                     "noshow_fees_cents": 2000})
    assert row["revenue: total"] == "R$ 27,13" and row["no-show fees"] == "R$ 20,00" and row["charge records"] == 1
