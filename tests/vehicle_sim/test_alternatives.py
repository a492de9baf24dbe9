"""A refused booking's plans, as the terminal client offers them: against the plan asked for, and bookable."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from vehicle_sim import alternatives
from vehicle_sim.config import City, Endpoint, NetworkInfo
from vehicle_sim.errors import ReplyError
from vehicle_sim.menus import App, Terminal, scripted_input

T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
STATIONS = [("vp-feira-1", "feira"), ("ef-ico-1", "ico"), ("ec-recife-1", "recife"), ("vp-far-1", "far")]
NET = NetworkInfo([City("salvador", "Salvador", "BA"), City("recife", "Recife", "PE"),
                   City("feira", "Feira de Santana", "BA")],
                  {"voltpoint": "VoltPoint", "eflux": "E-Flux"}, stations=STATIONS)


def alt_plan(station: str, minutes: float, cost: float) -> dict[str, Any]:
    return {"path": ["salvador", "feira", "recife"], "total_minutes": minutes, "cost_by_company": {"voltpoint": cost},
            "stops": [{"station_id": station, "company_id": "voltpoint", "city_id": "feira",
                       "window_start": "2030-01-01T09:00:00+00:00", "window_end": "2030-01-01T10:00:00+00:00"}]}


def test_options_are_weighed_against_the_plan_asked_for_and_at_most_three():
    plans = [alt_plan("vp-feira-1", 560, 40.0)] * 5
    found = alternatives.options(plans, T0, {"total_minutes": 500.0, "cost_by_company": {"voltpoint": 30.0}})
    assert len(found) == 3 and [o.number for o in found] == [1, 2, 3]
    assert found[0].minutes_later == 60 and found[0].cost_more == 10.0
    assert found[0].arrival == datetime(2030, 1, 1, 17, 20, tzinfo=UTC)
    assert alternatives.signed_minutes(60) == "+1h00" and alternatives.signed_minutes(-20) == "−0h20"


def test_taking_a_plan_avoids_every_other_station_road_first_within_the_limit():
    args = alternatives.take_args({"origin": "salvador", "avoid_stations": ["x"]}, alt_plan("vp-feira-1", 1, 1),
                                  STATIONS + [(f"s{i:02d}", "elsewhere") for i in range(60)])
    assert "vp-feira-1" not in args["avoid_stations"] and len(args["avoid_stations"]) == 50
    assert args["avoid_stations"][:2] == ["ec-recife-1", "vp-far-1"] or args["avoid_stations"][0] == "ec-recife-1"


class RefusingOnce:
    """`book` is refused once (a company not answering, plans around it), then confirmed."""

    vehicle_id = "v1"

    def __init__(self) -> None:
        self.books: list[dict[str, Any]] = []

    def request(self, op: str, timeout: float = 10.0, **args: Any) -> Any:
        plan = {**alt_plan("ef-ico-1", 500.0, 30.0), "origin": "salvador", "destination": "recife",
                "departure": args["departure"], "arrival": args["departure"], "distance_km": 800.0, "arrival_kwh": 6,
                "stops": []}
        if op == "plan":
            return {"plans": [plan]}
        self.books.append(args)
        if len(self.books) == 1:
            raise ReplyError("PEER_UNAVAILABLE", "E-Flux did not answer", {
                "company": "eflux", "alternatives": {"points": [], "plans": [alt_plan("vp-feira-1", 560, 40.0)]}})
        return {"trip_id": "t9", "status": "RESERVED", "cost": 40.0, "stops": [], "plan": plan}


def test_a_company_not_answering_is_named_and_a_plan_around_it_is_booked():
    out, session = io.StringIO(), RefusingOnce()
    app = App(Endpoint("voltpoint", "http://127.0.0.1:1", "127.0.0.1", 1),
              Terminal(Console(file=out, width=200), scripted_input(["salvador", "recife", "1", "y", "1"])),
              network=NET, clock=lambda: T0)
    app.session = session  # type: ignore[assignment]
    app.make_reservation()
    seen = out.getvalue()
    assert "E-Flux is not answering right now" in seen
    assert "Other ways to make this trip" in seen and "+1h00" in seen and "R$ 40,00 (+R$ 10,00)" in seen
    assert "1. Feira de Santana (VoltPoint)" in seen
    assert len(session.books) == 2 and "vp-feira-1" not in session.books[1]["avoid_stations"]
    assert "ef-ico-1" in session.books[1]["avoid_stations"]
    assert "Booked!" in seen
