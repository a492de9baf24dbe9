"""The terminal client never sends a departure in the past, even when the driver reads a plan for a while."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from vehicle_sim.config import City, Endpoint, NetworkInfo
from vehicle_sim.menus import App, Terminal, scripted_input

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
NET = NetworkInfo([City("salvador", "Salvador", "BA"), City("recife", "Recife", "PE")], {"voltpoint": "VoltPoint"})


class FakeSession:
    """Answers `plan` and `book` as a server would, and keeps what was sent."""

    vehicle_id = "v1"

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def request(self, op: str, timeout: float = 10.0, **args: Any) -> Any:
        self.sent.append((op, args))
        plan = {"origin": args["origin"], "destination": args["destination"], "departure": args["departure"],
                "arrival": args["departure"], "distance_km": 800.0, "total_minutes": 600.0, "arrival_kwh": 6.0,
                "stops": [], "cost_by_company": {}, "path": ["salvador", "recife"]}
        if op == "plan":
            return {"plans": [plan]}
        return {"trip_id": "t1", "status": "RESERVED", "cost": 0.0, "stops": [], "plan": plan}


class Clock:
    """The network's clock, moved by hand: `read` minutes pass each time the driver answers."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_a_departure_that_passed_while_the_plan_was_read_is_planned_again_not_sent():
    clock, session, out = Clock(), FakeSession(), io.StringIO()
    answers = iter(["salvador", "recife", "0", "y", "y"])
    reads = iter([30, 0])  # the driver reads the first plan for half an hour, the second one at once

    def answer(prompt: str, password: bool) -> str:
        if prompt.startswith("Book this trip"):
            clock.now += timedelta(minutes=next(reads))
        return next(answers)

    app = App(Endpoint("voltpoint", "http://127.0.0.1:1", "127.0.0.1", 1),
              Terminal(Console(file=out, width=200), answer), network=NET, clock=clock)
    app.session = session  # type: ignore[assignment]
    app.make_reservation()
    booked = [args for op, args in session.sent if op == "book"]
    assert len(booked) == 1
    assert datetime.fromisoformat(booked[0]["departure"]) >= clock.now - timedelta(minutes=1)
    assert "has passed while the plan was shown" in out.getvalue()


def test_hours_before_now_are_not_accepted():
    out = io.StringIO()
    term = Terminal(Console(file=out, width=200), scripted_input(["-2", "1"]))
    assert term.number("Leave in how many hours", 1.0, minimum=0.0, maximum=24 * 14) == 1.0
    assert "Give a number from 0 to 336" in out.getvalue()
