"""Pieces several pages draw: a plan's figures, stops table, charge and cost charts, maps, error messages."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboards import charts, client, maps, theme, trip_sim

MAP_HEIGHT = 460


def load_network() -> dict[str, Any]:
    """The network, or a clear message and the end of the page when no server answers."""
    try:
        with st.spinner("Loading the network…"):
            return client.network()
    except client.ServerDown as exc:
        st.error(f"No company server answers, so there is nothing to show yet. ({exc.why})")
        st.info("Start the network with `python -m federation up`, then reload this page.")
        st.stop()
        raise  # st.stop() does not return; this keeps type checkers and readers sure of it


def show_error(exc: Exception, doing: str = "") -> None:
    """An error as a message a person reads — never a traceback."""
    prefix = f"Could not {doing}: " if doing else ""
    if isinstance(exc, client.ReplyError):
        st.error(prefix + theme.reason(exc.code, exc.message))
        problems = exc.details.get("errors") if isinstance(exc.details, dict) else None
        if isinstance(problems, list):
            for p in problems:
                if isinstance(p, dict):
                    where = ".".join(str(x) for x in p.get("loc", []))
                    st.caption(f"• {where}: {p.get('msg', '')}")
    elif isinstance(exc, client.RequestTimeout):
        st.error(prefix + "the server did not answer in time. Try again; a repeated request is never done twice.")
    elif isinstance(exc, client.ConnectFailed):
        st.error(prefix + f"the company's broker could not be reached ({exc}).")
    elif isinstance(exc, client.ServerDown):
        st.error(prefix + f"the server of {exc.company} is down ({exc.why}).")
    elif isinstance(exc, client.ApiError):
        st.error(prefix + theme.reason(exc.code, exc.message))
    else:
        st.error(prefix + str(exc))


def plan_figures(plan: dict[str, Any]) -> None:
    """The plan's totals as a row of metrics."""
    cols = st.columns(5)
    cols[0].metric("Distance", f"{plan.get('distance_km', 0):.0f} km")
    cols[1].metric("Total time", theme.hm(plan.get("total_minutes")))
    cols[2].metric("Charging", theme.hm(plan.get("charging_minutes")))
    cols[3].metric("Cost", theme.money(sum(plan.get("cost_by_company", {}).values())))
    cols[4].metric("Arrive with", f"{plan.get('arrival_kwh', 0):.1f} kWh")


def stops_frame(stops: list[dict[str, Any]], network: dict[str, Any]) -> pd.DataFrame:
    """A table of stops, numbered 1..n as on the map: where, whose, when, the battery, the cost, the point.

    Few and short columns, so that the cost and the point stay in view on a 1366 px screen.
    """
    names, cities = theme.company_names(network), theme.city_names(network)
    rows = []
    for i, s in enumerate(stops):
        arrive_kwh, energy = float(s.get("arrive_kwh", 0)), float(s.get("energy_kwh", 0))
        power = s.get("power_kw")
        row = {"#": i + 1, "city": cities.get(s["city_id"], s["city_id"]),
               "company": names.get(s["company_id"], s["company_id"]),
               "arrive": theme.when(s.get("arrive_at")), "leave": theme.when(s.get("depart_at"))[-5:],
               "battery kWh": f"{arrive_kwh:.0f} → {arrive_kwh + energy:.0f}",
               "charge": f"+{energy:.1f} kWh · {theme.hm(float(s.get('charge_minutes', 0)))}"
                         + (f" · {float(power):g} kW" if power else ""),
               "cost": theme.money(s.get("cost")),
               "point": s.get("point_id") or s["station_id"]}
        rows.append(row)
    return pd.DataFrame(rows)


PART_LABELS = {"energy": "energy", "charging_time": "time charging", "idle": "idle", "session": "session fee",
               "reservation": "reservation fee"}


def prices_frame(stops: list[dict[str, Any]], network: dict[str, Any]) -> pd.DataFrame:
    """Each stop's price by part (R$), as the trip is debited: the parts of every stop summed."""
    names = theme.company_names(network)
    rows = []
    for i, s in enumerate(stops):
        price = s.get("price") or {"energy": round(float(s.get("cost", 0)) * 100), "total": 0}
        row: dict[str, Any] = {"#": i + 1, "company": names.get(s["company_id"], s["company_id"])}
        row.update({label: theme.money(int(price.get(part, 0)) / 100) for part, label in PART_LABELS.items()})
        row["total"] = theme.money(int(price.get("total") or price.get("energy", 0)) / 100)
        rows.append(row)
    return pd.DataFrame(rows)


def terms_frame(terms: dict[str, dict[str, Any]], network: dict[str, Any]) -> pd.DataFrame:
    """Each company's booking terms, in words a driver reads before booking."""
    names = theme.company_names(network)
    return pd.DataFrame([{"company": names.get(c, c),
                          "full refund until": f"{t['cancel_until_minutes']} min before the stop's window",
                          "no-show after": f"{t['noshow_timeout_minutes']} min into the window",
                          "no-show fee": theme.money(float(t["noshow_fee"])),
                          "changes until": f"{t['change_until_minutes']} min before",
                          "start early / stay late": f"{t['early_start_minutes']} / {t['late_stop_minutes']} min"}
                         for c, t in terms.items()])


def charges_frame(trips: list[dict[str, Any]], network: dict[str, Any]) -> pd.DataFrame:
    """The charge detail records of the trips' stops: energy, when, and the price by part."""
    names = theme.company_names(network)
    rows = []
    for t in trips:
        for c in t.get("charges") or []:
            price = c.get("price") or {}
            rows.append({"trip": t["trip_id"], "stop": int(c["stop"]) + 1,
                         "company": names.get(c["company_id"], c["company_id"]), "point": c["point_id"],
                         "kWh": round(float(c["energy_kwh"]), 2), "from": theme.when(c.get("started_at")),
                         "to": theme.when(c.get("finished_at"))[-5:],
                         "charging / idle": f"{float(c['charge_minutes']):.0f} / {float(c['idle_minutes']):.0f} min",
                         **{label: theme.money(int(price.get(part, 0)) / 100) for part, label in PART_LABELS.items()},
                         "total": theme.money(int(price.get("total", 0)) / 100)})
    return pd.DataFrame(rows)


def charging_row(got: dict[str, Any]) -> dict[str, Any]:
    """A company's charging figures as one column of the table: sessions, kWh, revenue by part, no-shows."""
    revenue = got["revenue_cents"]
    return {"charge records": got["sessions"], "kWh delivered": round(got["energy_kwh"], 1),
            "revenue: energy": theme.money(revenue["energy"] / 100),
            "revenue: time charging": theme.money(revenue["charging_time"] / 100),
            "revenue: idle": theme.money(revenue["idle"] / 100),
            "revenue: session fees": theme.money(revenue["session"] / 100),
            "revenue: reservation fees": theme.money(revenue["reservation"] / 100),
            "revenue: total": theme.money(revenue["total"] / 100), "no-shows": got["noshows"],
            "no-show fees": theme.money(got["noshow_fees_cents"] / 100)}


def show_stops(stops: list[dict[str, Any]], network: dict[str, Any]) -> None:
    """The stops table, or a sentence when the car needs no charging."""
    if stops:
        st.dataframe(stops_frame(stops, network), hide_index=True, width="stretch")
    else:
        st.info("No charging stop needed: the car reaches the destination on its charge.")


def charge_points(plan: dict[str, Any], start_kwh: float | None) -> list[dict[str, Any]]:
    """The battery over time: leaving, at each stop (arrive, leave), arriving."""
    stops = plan.get("stops", [])
    first = stops[0] if stops else None
    if start_kwh is None:
        # Without the account's charge, the first stop at the origin tells it; else start where the plan arrives.
        start_kwh = float(first["arrive_kwh"]) if first else float(plan.get("arrival_kwh", 0))
    points = [{"time": theme.parse_time(plan["departure"]), "kWh": start_kwh, "where": "departure"}]
    for i, s in enumerate(stops):
        points.append({"time": theme.parse_time(s["arrive_at"]), "kWh": float(s["arrive_kwh"]),
                       "where": f"stop {i + 1} arrive"})
        points.append({"time": theme.parse_time(s["depart_at"]),
                       "kWh": float(s["arrive_kwh"]) + float(s["energy_kwh"]), "where": f"stop {i + 1} leave"})
    points.append({"time": theme.parse_time(plan["arrival"]), "kWh": float(plan.get("arrival_kwh", 0)),
                   "where": "arrival"})
    return points


def charge_chart(plan: dict[str, Any], network: dict[str, Any], start_kwh: float | None = None) -> None:
    """A line of the battery's charge along the trip, with the stops marked (start: given, or worked out)."""
    points = charge_points(plan, trip_sim.start_kwh(plan, network) if start_kwh is None else start_kwh)
    st.altair_chart(charts.charge_line(points, maps.PATH_COLOR), width="stretch")


def cost_chart(cost_by_company: dict[str, float], network: dict[str, Any]) -> None:
    """R$ per company, each bar in its company's colour."""
    if not cost_by_company:
        st.caption("Nothing to pay.")
        return
    names, colors = theme.company_names(network), theme.company_colors(network)
    frame = pd.DataFrame([{"company": names.get(c, c), "R$": round(v, 2)} for c, v in cost_by_company.items()])
    domain = [names[c] for c in colors]
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("R$:Q"), y=alt.Y("company:N", title=None, sort="-x"),
        color=alt.Color("company:N", scale=alt.Scale(domain=domain, range=[colors[c] for c in colors]), legend=None),
        tooltip=["company", alt.Tooltip("R$:Q", format=".2f")])
    st.altair_chart(bars.properties(height=60 + 40 * len(frame)), width="stretch")


def plan_map(plan: dict[str, Any], network: dict[str, Any], key: str) -> None:
    """The network with the plan drawn over it, framed on the route (a stable key: redrawn only when the plan
    changes)."""
    m = maps.add_plan(maps.network_map(network), network, plan)
    st_folium(m, key=key, height=MAP_HEIGHT, use_container_width=True, returned_objects=[])


def legend(network: dict[str, Any], down: set[str] | None = None) -> None:
    """The company colours, as a line of chips."""
    st.markdown(theme.legend_html(network, down or set()), unsafe_allow_html=True)
