"""Network map: every city, road and station by company; live availability and bookings; per-company figures.

Reads only (REST). A company whose server is down is shown as down, and the rest of the page still works.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboards import charts, client, maps, parts, theme

REFRESH_S = 5

st.title("Network map")
network = parts.load_network()
names, colors, cities = theme.company_names(network), theme.company_colors(network), theme.city_names(network)
configured = [c for c in names if c in client.companies()]


def live_stations(hours: float) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
    """Each answering company's stations with live availability, and the companies that did not answer."""
    found: dict[str, list[dict[str, Any]]] = {}
    down: set[str] = set(names) - set(configured)
    for cid in configured:
        try:
            found[cid] = client.stations(cid, hours)
        except (client.ServerDown, client.ApiError):
            down.add(cid)
    return found, down


def status_badges(down: set[str]) -> None:
    """One badge per company server: up in its colour, down in red."""
    badges = [theme.chip(f"{names[c]} · down", "#dc2626") if c in down else theme.chip(f"{names[c]} · up", colors[c])
              for c in names]
    st.markdown("Servers: " + " ".join(badges), unsafe_allow_html=True)


def live_points(down: set[str]) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Point id → its live status message, from every company that answers; and the ones that did not."""
    found: dict[str, dict[str, Any]] = {}
    silent = set(down)
    for cid in configured:
        if cid in silent:
            continue
        try:
            found.update((p["point_id"], p) for p in client.point_statuses(cid))
        except (client.ServerDown, client.ApiError):
            silent.add(cid)
    return found, silent


@st.fragment(run_every=REFRESH_S)
def live_map() -> None:
    """The map, its stations redrawn as their points' live statuses change (only their layer is sent again)."""
    stations, down = live_stations(6.0)
    points, down = live_points(down)
    now = datetime.now(UTC)
    availability = {s["station_id"]: f"{sum(theme.free_now(p, now) for p in s['points'])} of "
                                     f"{theme.count(len(s['points']), 'point')} free now"
                    for found in stations.values() for s in found}
    busy = {s["station_id"]: 7 + 2 * sum(len(p["bookings"]) > 0 for p in s["points"])
            for found in stations.values() for s in found}
    # The same layer object while nothing it shows has changed: st_folium then sends the same script and the
    # browser keeps the layer (and a popup someone opened); a new one would be drawn again on every refresh.
    shows = repr((sorted(down), sorted((k, v["status"], v["since"]) for k, v in points.items()),
                  sorted(availability.items()), sorted(busy.items())))
    kept = st.session_state.get("net_layer")
    if kept is None or kept[0] != shows:
        kept = st.session_state["net_layer"] = (shows, maps.stations_group(
            network, down=down, live=points, availability=availability, station_radius=busy))
    layer = kept[1]
    st_folium(maps.network_map(network, down=down, stations=False), key="network-map", height=500,
              use_container_width=True, feature_group_to_add=layer, returned_objects=[])
    st.markdown("Points, live (the ring: a station's best): " + theme.status_legend_html(), unsafe_allow_html=True)


with st.spinner("Asking every company for its stations…"):
    live_map()
st.caption(f"{len(network['cities'])} cities, {len(network['roads'])} roads, {len(network['stations'])} stations. "
           "A station's size grows with its booked points; its ring is its points' live status (OCPI's names): "
           "click it for each point's.")


def figures(cid: str) -> dict[str, Any] | None:
    try:
        return client.stats(cid)
    except (client.ServerDown, client.ApiError):
        return None


def money_figures(cid: str) -> dict[str, Any] | None:
    try:
        return client.company_figures(cid)
    except (client.ServerDown, client.ApiError):  # an older server without the route: no money figures
        return None


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    """What changes: server status, figures, availability and bookings (refreshed on its own)."""
    hours = st.session_state.get("net_hours", 6)
    found, down = live_stations(float(hours))
    status_badges(down)
    if down:
        st.warning("Down: " + ", ".join(names[c] for c in sorted(down)) + ". Their stations are greyed on the map; "
                   "bookings that need them are refused until they are back.")

    st.subheader("Per company")
    cols = st.columns(len(names))
    table: dict[str, dict[str, Any]] = {}
    for col, cid in zip(cols, names, strict=True):
        with col:
            st.markdown(theme.chip(names[cid], theme.DOWN_COLOR if cid in down else colors[cid]),
                        unsafe_allow_html=True)
            got = None if cid in down else figures(cid)
            if got is None:
                st.error("Server down", icon=":material/cloud_off:")
                continue
            st.metric("Occupancy now", f"{100 * got['occupancy_now']:.0f} %",
                      help=f"{got['busy_now']} of {got['points']} points busy")
            table[names[cid]] = {"points": got["points"], "busy now": got["busy_now"],
                                 "out of order": got["out_of_order"], "trips holding points": got["held"],
                                 "trips with reserved points": got["reserved"], "accounts": got["accounts"],
                                 "trips confirmed": got["trips_confirmed"], "trips aborted": got["trips_aborted"],
                                 "trips cancelled": got["trips_cancelled"], "requests refused": got["requests_refused"],
                                 "prepares refused": got["prepares_refused"], "log seq": got["seq"]}
    if table:
        st.dataframe(pd.DataFrame(table), width="stretch")
    charging = {names[cid]: parts.charging_row(got) for cid in names if cid not in down
                for got in [money_figures(cid)] if got is not None}
    if charging:
        st.markdown("**Charging and money** — the companies' charge detail records summed, all time")
        st.dataframe(pd.DataFrame(charging), width="stretch")

    st.subheader("Availability")
    rows = []
    now = datetime.now(UTC)
    for cid, stations in found.items():
        for s in stations:
            rows.append({"station": s["station_id"], "company": names.get(cid, cid),
                         "city": cities.get(s["city_id"], s["city_id"]),
                         "free now": sum(theme.free_now(p, now) for p in s["points"]),
                         "points": len(s["points"]),
                         "out of service": sum(p["status"] != "AVAILABLE" for p in s["points"]),
                         f"bookings next {hours} h": sum(len(p["bookings"]) for p in s["points"])})
    if not rows:
        st.info("No server answers: no availability to show.")
        return
    frame = pd.DataFrame(rows).sort_values(["company", "station"])
    st.dataframe(frame, hide_index=True, width="stretch", height=260)
    by_id = {s["station_id"]: s for stations in found.values() for s in stations}
    booked = sorted(sid for sid, s in by_id.items() if any(p["bookings"] for p in s["points"]))
    options = booked + sorted(set(by_id) - set(booked))
    if st.session_state.get("net_station") not in options:
        st.session_state["net_station"] = options[0]
    count = {sid: sum(len(p["bookings"]) for p in s["points"]) for sid, s in by_id.items()}
    chosen = st.selectbox("Station", options, key="net_station",
                          format_func=lambda sid: f"{sid} — {theme.count(count[sid], 'booking')}")
    station_detail(by_id[chosen])


def station_detail(station: dict[str, Any]) -> None:
    """A station's points now, and its bookings on a timeline."""
    now = datetime.now(UTC)

    def next_booking(point: dict[str, Any]) -> str:
        starts = sorted(t for b in point["bookings"] if (t := theme.parse_time(b["start"])) is not None and t > now)
        return f"{theme.when(starts[0])} UTC" if starts else "—"

    live, _ = live_points(set())  # cached for a moment: the map's fragment has just asked
    st.dataframe(pd.DataFrame([{"point": p["point_id"], "kW": p["power_kw"], "connector": p["connector"],
                                "live": live.get(p["point_id"], {}).get("status", "UNKNOWN"),
                                "free now": "yes" if theme.free_now(p, now) else "no",
                                "next booking": next_booking(p), "bookings": len(p["bookings"])}
                               for p in station["points"]]),
                 hide_index=True, width="stretch")
    bars = [{"point": p["point_id"], "trip": b["trip_id"], "start": b["start"], "end": b["end"],
             "status": b["status"] + (f" · {b['charging']}" if b.get("charging") else "")}
            for p in station["points"] for b in p["bookings"]]
    if not bars:
        st.caption(f"No booking at {station['station_id']} between {theme.when(station['start'])} and "
                   f"{theme.when(station['end'])} (UTC).")
        return
    # On demand: the first chart of a page loads Vega in the browser, which cost this page ~0.7 s of its
    # first paint (issue #16 item 12).
    if st.toggle(f"Show the {theme.count(len(bars), 'booking')} on a timeline", key="net_timeline"):
        st.altair_chart(charts.bookings_timeline(bars, len(station["points"])), width="stretch")


st.select_slider("Look ahead", options=[1, 3, 6, 12, 24], value=6, key="net_hours",
                 format_func=lambda h: f"{h} h", help="bookings shown for the next hours")
live()
