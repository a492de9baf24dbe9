"""A point's live OCPI status: derived from the state at a moment (pure), and kept current by `PointStatuses` as
events land and as windows open and close."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from contract.models import CheckInIn, PointStatusIn, PrepareIn, StopIn
from servers.bookings import events as ev
from servers.bookings import point_status as ps
from servers.bookings.errors import DomainError
from servers.service.point_status import PointStatuses
from tests.servers.fakes import START, Clock, InProcessPeers, Node, build_node

EARLY = timedelta(minutes=10)  # the companies' default early-start grace (BookingTerms)
OPENS = START + timedelta(hours=2)  # a reservation's window
CLOSES = OPENS + timedelta(minutes=40)


@pytest.fixture
def node(network) -> tuple[Node, Clock]:
    clock = Clock(START)
    return build_node(network, "voltpoint", InProcessPeers(), clock), clock


def _station(network) -> str:
    return network.stations_of("voltpoint")[0].id


def _hold(node: Node, station: str, trip: str = "t1", start=OPENS, end=CLOSES, *, commit: bool = True) -> str:
    """Hold (and reserve) one point of `station` for [start, end); the point chosen."""
    vote = node.participant.prepare(PrepareIn(trip_id=trip, coordinator="eflux", priority=START, stops=[
        StopIn(stop=0, station_id=station, start=start, end=end, min_power_kw=0, energy_kwh=5)]))
    assert isinstance(vote, ev.Yes), vote
    if commit:
        node.participant.commit(trip)
    return vote.holds[0].point_id


def _derive(node: Node, point: str, at, **kw) -> ps.Derived:
    return ps.derive(node.engine.state, point, at, EARLY, **kw)


# -- the pure derivation --------------------------------------------------------------------------------------
def test_a_point_with_nothing_on_it_is_available_and_stays_so(node, network):
    n, _ = node
    point = network.stations_of("voltpoint")[0].points[0].id
    assert _derive(n, point, START) == ps.Derived(ps.AVAILABLE)


def test_reserved_from_the_early_start_to_the_windows_end_and_it_says_when_that_changes(node, network):
    n, _ = node
    point = _hold(n, _station(network))
    before = _derive(n, point, START)
    assert before.status == ps.AVAILABLE and before.next_change == OPENS - EARLY  # it opens then, by itself
    at_opening = _derive(n, point, OPENS - EARLY)
    assert at_opening == ps.Derived(ps.RESERVED, since=OPENS - EARLY, next_change=CLOSES, trip="t1")
    assert _derive(n, point, OPENS + timedelta(minutes=39)).status == ps.RESERVED
    after = _derive(n, point, CLOSES)
    assert after.status == ps.AVAILABLE and after.next_change is None


def test_an_undecided_hold_does_not_reserve_a_point(node, network):
    n, _ = node
    point = _hold(n, _station(network), commit=False)
    assert _derive(n, point, OPENS).status == ps.AVAILABLE
    assert _derive(n, point, START).next_change is None  # its confirmation is an event, not a moment


def test_charging_while_a_session_runs_then_available(node, network):
    n, clock = node
    point = _hold(n, _station(network))
    clock.now = OPENS
    n.participant.check_in(CheckInIn(trip_id="t1", stop=0, action="start"))
    assert _derive(n, point, OPENS) == ps.Derived(ps.CHARGING, trip="t1")
    assert _derive(n, point, CLOSES + timedelta(hours=1)).status == ps.CHARGING  # no window ends a session
    n.participant.check_in(CheckInIn(trip_id="t1", stop=0, action="finish"))
    assert _derive(n, point, OPENS).status == ps.AVAILABLE


@pytest.mark.parametrize("status", ["OUTOFORDER", "INOPERATIVE", "BLOCKED", "REMOVED", "PLANNED", "UNKNOWN"])
def test_an_operators_status_wins_over_a_reservation(node, network, status):
    n, _ = node
    point = _hold(n, _station(network))
    n.participant.set_point_status(point, status)
    assert _derive(n, point, OPENS).status == status
    n.participant.set_point_status(point, "AVAILABLE")
    assert _derive(n, point, OPENS).status in (ps.RESERVED, ps.AVAILABLE)  # RESERVED unless it moved away


def test_the_old_spelling_in_a_log_reads_as_outoforder(node, network):
    n, _ = node
    point = network.stations_of("voltpoint")[0].points[0].id
    n.engine.execute(lambda s: ([ev.append(f"point:{point}", ev.PointStatusChanged(point_id=point,
                                                                                   status="OUT_OF_ORDER"))], None))
    assert n.engine.state.point_status[point] == "OUT_OF_ORDER"  # the log keeps what it said
    assert _derive(n, point, START).status == ps.OUTOFORDER
    station = n.participant.availability(_station(network), START, OPENS)
    assert {p["point_id"]: p["status"] for p in station["points"]}[point] == ps.OUTOFORDER


def test_a_point_that_cannot_be_placed_is_unknown(node, network):
    n, _ = node
    assert _derive(n, "no-such-point", START, known=False).status == ps.UNKNOWN
    point = network.stations_of("voltpoint")[0].points[0].id
    n.engine.execute(lambda s: ([ev.append(f"point:{point}", ev.PointStatusChanged(point_id=point,
                                                                                   status="EXPLODED"))], None))
    assert _derive(n, point, START).status == ps.UNKNOWN  # a name this server does not know


def test_the_next_window_to_open_is_found_past_undecided_ones(node, network):
    n, _ = node
    station = network.stations_of("voltpoint")[0]
    point = _hold(n, station.id, "t1")
    # Fill the station so the next holds land on the same point too (the participant picks any free one).
    for i, _p in enumerate(station.points[1:]):
        _hold(n, station.id, f"fill-{i}")
    later = CLOSES + timedelta(hours=1)
    held = _hold(n, station.id, "t2", start=CLOSES, end=later, commit=False)
    reserved = _hold(n, station.id, "t3", start=later, end=later + timedelta(minutes=30))
    assert held == point == reserved
    assert _derive(n, point, CLOSES).next_change == later - EARLY


def test_normalise_and_what_an_operator_records():
    assert ps.normalise("OUT_OF_ORDER") == ps.OUTOFORDER and ps.normalise("BLOCKED") == ps.BLOCKED
    assert ps.operator_status("OUT_OF_ORDER") == ps.OUTOFORDER
    assert {ps.operator_status(s) for s in ("AVAILABLE", "CHARGING", "RESERVED")} == {ps.AVAILABLE}
    assert set(ps.STATUSES) == {"AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED",
                                "REMOVED", "RESERVED", "UNKNOWN"}


# -- the edge: every OCPI name accepted, the old spelling normalised ------------------------------------------
@pytest.mark.parametrize("status", [*ps.STATUSES, "OUT_OF_ORDER"])
def test_point_status_in_takes_every_ocpi_name_and_the_old_spelling(status):
    assert PointStatusIn(status=status).status == ps.normalise(status)


def test_point_status_in_refuses_other_names():
    with pytest.raises(ValidationError):
        PointStatusIn.model_validate({"status": "BROKEN"})


def test_the_operator_records_ocpi_spelling_and_in_service_names_as_available(node, network):
    n, _ = node
    point = network.stations_of("voltpoint")[0].points[0].id
    assert n.participant.set_point_status(point, "OUT_OF_ORDER") == ps.OUTOFORDER
    assert n.engine.state.point_status[point] == ps.OUTOFORDER
    assert n.participant.set_point_status(point, "CHARGING") == ps.AVAILABLE
    assert point not in n.engine.state.point_status
    with pytest.raises(DomainError) as refused:
        n.participant.set_point_status(point, "EXPLODED")
    assert refused.value.code == "UNKNOWN_STATUS"


# -- kept current: PointStatuses ------------------------------------------------------------------------------
def test_statuses_follow_events_and_time_and_report_each_change_once(node, network):
    n, clock = node
    live = PointStatuses(n.engine, network, "voltpoint")
    station = network.stations_of("voltpoint")[0]
    assert [p.status for p in live.all()] == [ps.AVAILABLE] * len(live.station_of)
    assert live.take_changed() == []
    point = _hold(n, station.id)
    assert live.take_changed() == []  # a future window: nothing to say now
    assert live._due_at[point] == OPENS - EARLY  # but its opening is due
    clock.now = OPENS - EARLY
    live.tick(clock.now)
    (changed,) = live.take_changed()
    assert (changed.point_id, changed.status, changed.since, changed.station_id) == (point, ps.RESERVED,
                                                                                  OPENS - EARLY, station.id)
    n.participant.check_in(CheckInIn(trip_id="t1", stop=0, action="start"))
    assert [(c.point_id, c.status) for c in live.take_changed()] == [(point, ps.CHARGING)]
    n.participant.check_in(CheckInIn(trip_id="t1", stop=0, action="finish"))
    assert [(c.point_id, c.status) for c in live.take_changed()] == [(point, ps.AVAILABLE)]
    n.participant.set_point_status(point, "OUT_OF_ORDER")
    assert [(c.point_id, c.status) for c in live.take_changed()] == [(point, ps.OUTOFORDER)]
    assert live.get(point).status == ps.OUTOFORDER and live.get("nowhere").status == ps.UNKNOWN


def test_a_reservation_released_while_open_frees_its_point_and_one_confirmed_while_open_takes_it(node, network):
    n, clock = node
    live = PointStatuses(n.engine, network, "voltpoint")
    clock.now = OPENS
    point = _hold(n, _station(network), start=OPENS, end=CLOSES)
    assert [(c.point_id, c.status) for c in live.take_changed()] == [(point, ps.RESERVED)]
    n.participant.release("t1")
    assert [(c.point_id, c.status) for c in live.take_changed()] == [(point, ps.AVAILABLE)]
    assert live._holding == {}


def test_the_window_closing_frees_the_point_without_an_event(node, network):
    n, _ = node
    live = PointStatuses(n.engine, network, "voltpoint")
    point = _hold(n, _station(network))
    live.tick(OPENS)
    assert live.get(point).status == ps.RESERVED
    live.take_changed()
    live.tick(CLOSES - timedelta(seconds=1))
    assert live.take_changed() == []
    live.tick(CLOSES)
    assert [(c.point_id, c.status) for c in live.take_changed()] == [(point, ps.AVAILABLE)]
    assert live._due == [] or all(when > CLOSES for when, _ in live._due)


def test_many_future_bookings_reevaluate_nothing(node, network, monkeypatch):
    n, _ = node
    live = PointStatuses(n.engine, network, "voltpoint")
    calls = []
    real = live._evaluate
    monkeypatch.setattr(live, "_evaluate", lambda *a, **k: (calls.append(a[0]), real(*a, **k)))
    station = network.stations_of("voltpoint")[0]
    for i in range(20):
        start = OPENS + timedelta(hours=i)
        _hold(n, station.id, f"t{i}", start=start, end=start + timedelta(minutes=30))
    assert calls == [] and live.take_changed() == []
    assert len(live._due) <= 20


# -- published: the live topics' beat -------------------------------------------------------------------------
class Recorder:
    """A paho client that keeps what is published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, bool]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        import orjson

        self.sent.append((topic, orjson.loads(payload), retain))


def _live_topics(n: Node, network):
    from types import SimpleNamespace

    from servers.adapters.live import LiveTopics
    from servers.adapters.packets import PacketBudget

    server = SimpleNamespace(engine=n.engine, network=network, company="voltpoint", participant=n.participant.real,
                             points=PointStatuses(n.engine, network, "voltpoint"))
    client = Recorder()
    return LiveTopics(server, client, PacketBudget(65536)), client  # type: ignore[arg-type]


def _point_messages(client: Recorder) -> list[tuple[str, str, bool]]:
    from contract import topics

    return [(topics.parse_point_id(t), body["status"], retain) for t, body, retain in client.sent
            if t.startswith(topics.company_root("voltpoint") + "/points/")]


def test_the_beat_publishes_a_point_only_when_its_status_changes(node, network):
    n, clock = node
    live, client = _live_topics(n, network)
    live.publish_all_availability()  # on connect: every point, retained
    assert len(_point_messages(client)) == len(live.server.points.station_of)
    assert all(retain for _, _, retain in _point_messages(client))
    client.sent.clear()
    station = network.stations_of("voltpoint")[0]
    for i in range(30):  # a storm of bookings of future windows
        start = OPENS + timedelta(minutes=20 * i)
        _hold(n, station.id, f"t{i}", start=start, end=start + timedelta(minutes=15))
    live.flush()
    assert _point_messages(client) == []
    clock.now = OPENS - EARLY  # the first windows open: those points, once each
    live.flush()
    opened = _point_messages(client)
    assert opened and all(status == ps.RESERVED for _, status, _ in opened)
    assert len({p for p, _, _ in opened}) == len(opened)
    client.sent.clear()
    live.flush()
    assert _point_messages(client) == []  # nothing changed since
