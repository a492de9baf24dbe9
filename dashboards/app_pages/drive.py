"""Drive: the car moves along one of my confirmed trips in accelerated time and checks in at each stop.

The check-ins go over MQTT as the vehicle (`check_in` start when it reaches a stop, finish when it leaves),
so the charging is recorded as events at the companies that own the stations.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboards import client, maps, parts, theme, trip_sim

SPEEDS = {60: "1 min/s", 300: "5 min/s", 900: "15 min/s", 3600: "1 h/s"}
TICK_S = 1.0

st.title("Drive")
network = parts.load_network()
cities = theme.city_names(network)
me = client.session()
if me is None:
    st.info("Log in or sign up first, then book a trip to drive.")
    st.page_link("app_pages/book.py", label="Book a trip", icon=":material/ev_station:")
    st.stop()

try:
    with st.spinner("Loading my trips…"):
        # Reserved trips, and those just driven (FULFILLED: every stop over) to see where they ended.
        trips = [t for t in me.request("trips").get("trips", []) if t["status"] in ("RESERVED", "FULFILLED")]
except client.ClientError as exc:
    parts.show_error(exc, "load my trips")
    st.stop()
if not trips:
    st.info("No confirmed trip to drive: book one first.")
    st.page_link("app_pages/book.py", label="Book a trip", icon=":material/ev_station:")
    st.stop()

by_id = {t["trip_id"]: t for t in trips}
just_booked = (st.session_state.get("booking") or {}).get("itinerary", {}).get("trip_id")
if st.session_state.get("drive_trip") not in by_id:
    st.session_state["drive_trip"] = just_booked if just_booked in by_id else trips[0]["trip_id"]
trip_id = st.selectbox(
    "Trip", list(by_id), key="drive_trip",
    format_func=lambda t: f"{cities.get(by_id[t]['plan']['origin'])} → {cities.get(by_id[t]['plan']['destination'])}"
                          f", leaving {theme.when(by_id[t]['plan']['departure'])} ({t})")
trip = by_id[trip_id]
plan: dict[str, Any] = trip["plan"]
departure, arrival = theme.parse_time(plan["departure"]), theme.parse_time(plan["arrival"])
assert departure is not None and arrival is not None

sim: dict[str, Any] | None = st.session_state.get("drive")
if sim is None or sim["trip_id"] != trip_id:
    # The simulated clock starts at the planned departure, whenever that is on the real clock.
    sim = {"trip_id": trip_id, "t": departure, "running": False, "last": time.monotonic(), "done": {}, "log": []}
    st.session_state["drive"] = sim

legs = trip_sim.legs(plan, network)
due = trip_sim.check_ins(plan)
capacity = max(max((leg.kwh_a for leg in legs), default=1.0), max((leg.kwh_b for leg in legs), default=1.0))

a, b, c, d = st.columns([1, 1, 2, 2])
arrived = sim["t"] >= arrival
if arrived:
    sim["running"] = False  # nothing left to drive: no Start, no Pause, no Next stop
else:
    if a.button("Pause" if sim["running"] else "Start", key="drive_toggle", type="primary",
                icon=":material/pause:" if sim["running"] else ":material/play_arrow:"):
        sim["running"] = not sim["running"]
        sim["last"] = time.monotonic()
        st.rerun()
    if b.button("Next stop", key="drive_next", icon=":material/skip_next:", help="jump to the next check-in"):
        pending = [ci for ci in due if f"{ci.stop}:{ci.action}" not in sim["done"]]
        sim["t"] = max(sim["t"], pending[0].at if pending else arrival)
        sim["last"] = time.monotonic()
speed = c.select_slider("Speed", options=list(SPEEDS), value=300, format_func=SPEEDS.get, key="drive_speed",
                        disabled=arrived)
d.metric("Trip", f"{theme.count(len(plan.get('stops', [])), 'stop')} · {theme.hm(plan.get('total_minutes'))}")


def send_check_ins(state: dict[str, Any]) -> None:
    """Check in (start / finish) at every stop the clock has reached, once each, in order."""
    assert me is not None
    for ci in due:
        key = f"{ci.stop}:{ci.action}"
        if ci.at > state["t"] or key in state["done"]:
            continue
        args: dict[str, Any] = {"trip_id": trip_id, "stop": ci.stop, "action": ci.action}
        if ci.energy_kwh is not None:
            args["energy_kwh"] = ci.energy_kwh
        station = plan["stops"][ci.stop]["station_id"]
        try:
            reply = me.request("check_in", **args)
            outcome, ok = f"{reply.get('charging', 'ok')} at point {reply.get('point_id', '?')}", True
        except client.ReplyError as exc:
            outcome, ok = theme.reason(exc.code, exc.message), False
        except client.ClientError as exc:
            outcome, ok = str(exc), False
        state["done"][key] = ok
        state["log"].append({"sim time": theme.when(ci.at), "stop": ci.stop + 1, "station": station,
                             "check-in": ci.action, "result": outcome, "ok": ok})


@st.fragment(run_every=TICK_S)
def driving() -> None:
    """The moving part: advance the simulated clock, check in where due, draw the car and the battery."""
    state = st.session_state["drive"]
    now = time.monotonic()
    if state["running"]:
        state["t"] = min(state["t"] + timedelta(seconds=(now - state["last"]) * speed), arrival)
        if state["t"] >= arrival:
            state["running"] = False
            state["last"] = now
            send_check_ins(state)
            st.rerun(scope="app")  # the buttons above belong to the whole page: draw it as arrived
    state["last"] = now
    send_check_ins(state)
    pos = trip_sim.position(plan, network, legs, state["t"])

    m1, m2, m3 = st.columns(3)
    m1.metric("Clock (UTC)", state["t"].strftime("%d/%m %H:%M"))
    m2.metric("Done", f"{pos.km:.0f} of {plan.get('distance_km', 0):.0f} km")
    m3.metric("Battery", f"{pos.kwh:.1f} kWh")
    if state["t"] >= arrival:
        checked = sum(1 for ok in state["done"].values() if ok)
        st.success(f"**Arrived at {cities.get(plan['destination'], plan['destination'])}** with "
                   f"{pos.kwh:.1f} kWh ({100 * pos.kwh / capacity:.0f} %). Trip {trip['status'].lower()}, "
                   f"{checked} of {len(due)} check-ins accepted by the servers.", icon=":material/flag:")
    else:
        st.progress(min(max(pos.kwh / capacity, 0.0), 1.0),
                    text=f"Battery {100 * pos.kwh / capacity:.0f} % — {pos.doing}")
    m = maps.add_plan(maps.network_map(network), network, plan)
    st_folium(m, key=f"drive-map-{trip_id}", height=parts.MAP_HEIGHT, use_container_width=True,
              feature_group_to_add=maps.car_group((pos.lat, pos.lon), pos.doing), returned_objects=[])
    if state["log"]:
        st.markdown("**Check-ins sent to the servers**")
        st.dataframe(pd.DataFrame(state["log"]).drop(columns=["ok"]), hide_index=True, width="stretch")
    else:
        st.caption("Check-ins appear here as the car reaches each stop.")


driving()
parts.legend(network)
parts.show_stops(trip.get("stops", []), network)
