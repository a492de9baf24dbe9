"""Event log: travel back through one company's log — the state rebuilt at any sequence number or time,
the events around it, and the hash-chain check.

Reads only (REST): `/api/v1/events`, `/api/v1/log/state`, `/api/v1/log/verify`.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboards import client, maps, parts, theme

AROUND = 20  # events shown either side of the chosen one

st.title("Event log")
network = parts.load_network()
names, cities = theme.company_names(network), theme.city_names(network)
configured = [c for c in names if c in client.companies()]
if not configured:
    st.error("No company is configured: start the network with `python -m federation up`.")
    st.stop()

top = st.columns([2, 3])
cid = top[0].selectbox("Company", configured, format_func=lambda c: names[c], key="log_company")

try:
    with st.spinner(f"Reading {names[cid]}'s log…"):
        head = client.events(cid, 0, 1)["head"]
        check = client.verify(cid)
except (client.ServerDown, client.ApiError) as exc:
    st.error(f"{names[cid]}'s server is down: its log cannot be read now.", icon=":material/cloud_off:")
    st.caption(str(exc))
    st.stop()

with top[1]:
    if check.get("ok"):
        st.success(f"Hash chain intact — {check.get('checked', 0)} events checked.", icon=":material/verified:")
    else:
        st.error(f"Hash chain broken at event {check.get('first_bad_seq')}: {check.get('reason', '')}",
                 icon=":material/gpp_bad:")

if head == 0:
    st.info(f"{names[cid]}'s log is empty: nothing has happened yet.")
    st.stop()

# The slider starts at the newest event and keeps its place afterwards (clamped to the chosen company's log).
if st.session_state.get("log_seq", head + 1) > head:
    st.session_state["log_seq"] = head


def to_latest() -> None:
    """Move the slider to the newest event (a callback: runs before the slider is drawn)."""
    st.session_state["log_seq"] = head
    st.session_state.pop(f"log_time_{cid}", None)


st.button("Latest", on_click=to_latest, key="log_latest", icon=":material/skip_next:")
mode = st.segmented_control("Move by", ["sequence", "time"], default="sequence", key="log_mode")
if mode == "time":
    first_at = theme.parse_time(client.events(cid, 0, 1)["events"][0]["recorded_at"])
    last_at = theme.parse_time(client.events(cid, head - 1, 1)["events"][0]["recorded_at"])
    assert first_at is not None and last_at is not None
    if last_at <= first_at:
        last_at = first_at + timedelta(seconds=1)
    time_key = f"log_time_{cid}"
    if not first_at <= st.session_state.get(time_key, last_at) <= last_at:
        st.session_state.pop(time_key)
    st.session_state.setdefault(time_key, last_at)
    moment = st.slider("Moment (UTC)", min_value=first_at, max_value=last_at, step=timedelta(seconds=1),
                       format="DD/MM HH:mm:ss", key=time_key)
    with st.spinner("Replaying the log…"):
        state = client.log_state_at_time(cid, moment.isoformat())
else:
    seq = st.slider("Sequence number", min_value=0, max_value=head, key="log_seq")
    with st.spinner("Replaying the log…"):
        state = client.log_state(cid, seq)

seq_now = int(state["seq"])
st.markdown(f"**State after event {seq_now} of {head}** — {theme.when(state.get('at_time'))} UTC")
stats = state.get("stats", {})
m = st.columns(6)
m[0].metric("Trips holding", stats.get("held", 0), help="trips whose points are held here, undecided yet")
m[1].metric("Trips reserved", stats.get("reserved", 0), help="confirmed trips with points reserved here")
m[2].metric("Trips confirmed", stats.get("trips_confirmed", 0))
m[3].metric("Trips aborted", stats.get("trips_aborted", 0))
m[4].metric("Trips cancelled", stats.get("trips_cancelled", 0))
m[5].metric("Accounts", stats.get("accounts", 0))

holds: list[dict[str, Any]] = state.get("holds", [])
per_station = Counter(h["station_id"] for h in holds)
popups = {sid: f"{theme.count(n, 'point')} held or reserved at event {seq_now}" for sid, n in per_station.items()}
left, right = st.columns([3, 2])
with left:
    # The map is asked for: drawn on every visit it doubled the page's first paint (issue #16 item 12).
    if st.toggle("Show the held and reserved points on the map", key="log_show_map"):
        st_folium(maps.network_map(network, availability=popups,
                                   station_radius={sid: 7 + 3 * n for sid, n in per_station.items()}),
                  key="log-map", height=430, use_container_width=True, returned_objects=[])
        st.caption("A station's size grows with the points held or reserved there at that moment.")
    else:
        busiest = ", ".join(f"{sid} ({n})" for sid, n in per_station.most_common(5)) or "none"
        st.caption(f"Points held or reserved at event {seq_now}, by station: {busiest}.")
with right:
    holds_tab, trips_tab, accounts_tab, counts_tab = st.tabs(["Holds", "Trips", "Accounts", "Event counts"])
    with holds_tab:
        if holds:
            st.dataframe(pd.DataFrame([{"trip": h["trip_id"], "stop": h["stop"] + 1, "station": h["station_id"],
                                        "point": h["point_id"], "from": theme.when(h["start"]),
                                        "to": theme.when(h["end"]), "status": h["status"],
                                        "charging": h.get("charging") or ""} for h in holds]),
                         hide_index=True, width="stretch")
        else:
            st.caption("No point held or reserved at this moment.")
    with trips_tab:
        trips = state.get("trips", [])
        if trips:
            st.dataframe(pd.DataFrame([{"trip": t["trip_id"], "vehicle": t["vehicle_id"], "status": t["status"],
                                        "from": cities.get(t.get("origin") or "", t.get("origin")),
                                        "to": cities.get(t.get("destination") or "", t.get("destination")),
                                        "companies": ", ".join(names.get(p, p) for p in t.get("participants", [])),
                                        "cost": theme.money(t.get("cost"))} for t in trips]),
                         hide_index=True, width="stretch")
        else:
            st.caption(f"No trip coordinated by {names[cid]} yet.")
    with accounts_tab:
        accounts = state.get("accounts", [])
        if accounts:
            st.dataframe(pd.DataFrame([{"vehicle": a["vehicle_id"], "name": a.get("name"), "plate": a.get("plate"),
                                        "credit": theme.money(a.get("balance")), "trips": a.get("trips", 0)}
                                       for a in accounts]), hide_index=True, width="stretch")
        else:
            st.caption("No account yet.")
    with counts_tab:
        counts = state.get("counts", {})
        if counts:
            st.dataframe(pd.DataFrame(sorted(counts.items(), key=lambda kv: -kv[1]), columns=["event", "count"]),
                         hide_index=True, width="stretch")

st.subheader("Events around it")
all_types = sorted(state.get("counts", {}))
types = st.multiselect("Only these types", all_types, key=f"log_types_{cid}", placeholder="every type")
with st.spinner("Reading events…"):
    if types:
        # Filtered: the last events of those types up to the chosen one, and the first ones after it.
        before = client.events(cid, max(0, seq_now - 500), 500, tuple(types))["events"]
        before = [e for e in before if e["seq"] <= seq_now][-AROUND:]
        after = client.events(cid, seq_now, AROUND, tuple(types))["events"]
        shown = before + after
    else:
        shown = client.events(cid, max(0, seq_now - AROUND), 2 * AROUND)["events"]
if not shown:
    st.caption("No event of those types near this moment.")
else:
    frame = pd.DataFrame([{"seq": e["seq"], "": "◀ now" if e["seq"] == seq_now else "",
                           "time": theme.parse_time(e["recorded_at"]).strftime("%d/%m %H:%M:%S"),  # type: ignore[union-attr]
                           "type": e["type"], "stream": e["stream_id"], "version": e["version"],
                           "hash": e["hash"][:12] + "…"} for e in shown])
    st.dataframe(frame, hide_index=True, width="stretch", height=320)
    by_seq = {e["seq"]: e for e in shown}
    pick = st.selectbox("Look inside an event", list(by_seq), index=None, key=f"log_pick_{cid}",
                        format_func=lambda s: f"{s} · {by_seq[s]['type']} · {by_seq[s]['stream_id']}",
                        placeholder="choose an event")
    if pick is not None:
        st.json(by_seq[pick]["data"], expanded=True)
