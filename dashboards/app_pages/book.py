"""Book a trip: sign up or log in, see the account, preview a plan, book it all-or-none, manage my trips.

Every action goes over MQTT to the vehicle's home company, as the vehicle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import client, parts, theme
from vehicle_sim import alternatives, refunds

# OCPI's cancellation reasons, in words (docs/booking.md "Lifecycle"); the driver picks one of the last three.
CANCEL_REASONS = {"POWER_OUTAGE": "power outage at the station", "BROKEN_CHARGER": "charger out of order",
                  "FULL": "station full", "BLOCKED": "charger blocked", "UNKNOWN": "other",
                  "TRAFFIC": "traffic", "BROKEN_VEHICLE": "the car broke down", "NO_CANCELED": "no reason given"}
DRIVER_REASONS = ("TRAFFIC", "BROKEN_VEHICLE", "NO_CANCELED")


def notice_text(trip: dict[str, Any], notice: dict[str, Any], city: Any) -> str:
    """A notice of a failed charger on one of my trips, in words (docs/booking.md "Charger faults")."""
    plan = trip["plan"]
    label = f"{city(plan['origin'])} → {city(plan['destination'])}"
    stop = trip["stops"][notice["stop"]] if notice["stop"] < len(trip["stops"]) else {}
    where = f"stop {notice['stop'] + 1}" + (f" ({city(stop['city_id'])})" if stop else "")
    why = CANCEL_REASONS.get(str(notice.get("reason")), str(notice.get("reason") or ""))
    if notice["kind"] == "MOVED":
        return f"**{label}**, {where}: {why}; you now charge at point `{notice['point_id']}` of the same station."
    if notice["kind"] == "BROKEN":
        return f"**{label}**, {where}: {why}; no other point of that station is free — re-booking your trip."
    if notice["kind"] == "REBOOKED":
        diff = float(notice.get("price_difference") or 0)
        price = ("at the same price" if abs(diff) < 0.005 else f"{theme.money(diff)} more" if diff > 0
                 else f"{theme.money(-diff)} refunded")
        return f"**{label}** was re-booked from {where} on, {price}: the stops above are the new ones."
    return (f"**{label}**, {where}: no re-booking fits ({notice.get('reason')}). Cancel it below for a **full "
            "refund**, or keep it: it is tried again.")

PROFILES = ["economic", "normal", "aggressive"]
SIGNUP_FIELDS = ["name", "email", "cpf", "password", "plate", "model", "capacity_kwh", "consumption_kwh_per_km",
                 "charge_kwh", "max_ac_kw", "max_dc_kw", "profile"]

st.title("Book a trip")
network = parts.load_network()
names = theme.company_names(network)
cities = theme.city_names(network)
homes = [c for c in client.companies() if c in names]


# -- signing up and logging in --------------------------------------------------------------------------

def fill_signup_form(company: str) -> None:
    """Put a Faker form into the sign-up widgets (a callback: runs before they are drawn)."""
    try:
        form = client.fake_form(company)
    except client.ClientError as exc:
        st.session_state["signup_error"] = exc
        return
    for name in SIGNUP_FIELDS:
        value = form.get(name)
        if name in ("capacity_kwh", "consumption_kwh_per_km", "charge_kwh", "max_ac_kw", "max_dc_kw"):
            value = float(value) if value is not None else 0.0
        st.session_state[f"su_{name}"] = value if value is not None else ""
    st.session_state.setdefault("su_initial_credit", 500.0)


def signup_tab(company: str) -> None:
    if "su_name" not in st.session_state:
        fill_signup_form(company)
    st.button("New random driver", on_click=fill_signup_form, args=(company,), icon=":material/casino:",
              key="su_fake", help="Fill the form again with Faker (pt_BR)")
    with st.form("signup"):
        a, b = st.columns(2)
        a.text_input("Name", key="su_name")
        b.text_input("E-mail", key="su_email")
        a.text_input("CPF", key="su_cpf")
        b.text_input("Password", key="su_password", type="password")
        a.text_input("Plate", key="su_plate")
        b.text_input("Model", key="su_model")
        c, d, e = st.columns(3)
        c.number_input("Battery (kWh)", key="su_capacity_kwh", min_value=5.0, max_value=250.0)
        d.number_input("Charge now (kWh)", key="su_charge_kwh", min_value=0.0, max_value=250.0)
        e.number_input("Consumption (kWh/km)", key="su_consumption_kwh_per_km", min_value=0.05, max_value=0.6,
                       step=0.005, format="%.3f")
        c.number_input("Max AC (kW)", key="su_max_ac_kw", min_value=1.0, max_value=50.0)
        d.number_input("Max DC (kW)", key="su_max_dc_kw", min_value=1.0, max_value=400.0)
        e.selectbox("Driving profile", PROFILES, key="su_profile")
        st.number_input("Initial credit (R$)", key="su_initial_credit", min_value=0.0, max_value=10_000.0, step=50.0)
        submitted = st.form_submit_button("Sign up", type="primary", key="su_submit")
    if submitted:
        form = {name: st.session_state.get(f"su_{name}") for name in SIGNUP_FIELDS}
        form["initial_credit"] = st.session_state.get("su_initial_credit", 0.0)
        try:
            with st.spinner(f"Opening the account at {names[company]}…"):
                client.sign_up(company, form)
        except client.ClientError as exc:
            parts.show_error(exc, "sign up")
        else:
            st.session_state["new_password"] = (str(form.get("password", "")), str(form.get("cpf", "")),
                                                str(form.get("email", "")))
            st.rerun()


def login_tab(company: str) -> None:
    with st.form("login"):
        login = st.text_input("CPF or e-mail", key="li_login")
        password = st.text_input("Password", type="password", key="li_password")
        submitted = st.form_submit_button("Log in", type="primary", key="li_submit")
    if submitted:
        try:
            with st.spinner(f"Logging in at {names[company]}…"):
                client.log_in(company, login.strip(), password)
        except client.ClientError as exc:
            parts.show_error(exc, "log in")
        else:
            st.rerun()


me = client.session()
if me is None:
    if not homes:
        st.error("No company is configured: start the network with `python -m federation up`.")
        st.stop()
    st.write("Open an account with a company (your home company), or log in to one you have.")
    home = st.selectbox("Home company", homes, format_func=lambda c: names[c], key="home_company")
    if "signup_error" in st.session_state:
        parts.show_error(st.session_state.pop("signup_error"), "fill the form")
    sign, log = st.tabs(["Sign up", "Log in"])
    with sign:
        signup_tab(home)
    with log:
        login_tab(home)
    st.stop()


# -- the account ----------------------------------------------------------------------------------------

def request(op: str, doing: str, timeout: float = client.REQUEST_TIMEOUT_S, **args: Any) -> Any:
    """One request as this vehicle; None (and a message) when it fails."""
    assert me is not None
    try:
        return me.request(op, timeout, **args)
    except client.ClientError as exc:
        parts.show_error(exc, doing)
        if isinstance(exc, client.ReplyError) and exc.code == "BAD_TOKEN":
            client.log_out()
        return None


with st.spinner("Loading the account…"):
    account = request("account", "load the account")
if account is None:
    if st.button("Log in again", key="relogin"):
        client.log_out()
        st.rerun()
    st.stop()

vehicle, owner = account.get("vehicle", {}), account.get("owner", {})
with st.container(border=True):
    st.subheader(f"{owner.get('name', '')} · {vehicle.get('model', '')} {vehicle.get('plate', '')}")
    st.caption(f"Home company **{names.get(me.company, me.company)}** · vehicle `{me.vehicle_id}` · "
               f"{owner.get('email', '')} · profile {vehicle.get('profile', '')}")
    m1, m2, m3, right = st.columns([1, 1, 1, 1])
    m1.metric("Credit", theme.money(account.get("balance", 0)))
    m2.metric("Charge (kWh)", f"{vehicle.get('charge_kwh', 0):.1f} / {vehicle.get('capacity_kwh', 0):.0f}")
    m3.metric("Consumption", f"{vehicle.get('consumption_kwh_per_km', 0):.3f}", help="kWh per km")
    with right:
        amount = st.number_input("Add credit (R$)", min_value=10.0, max_value=10_000.0, value=200.0, step=50.0,
                                 key="credit_amount")
        c1, c2 = st.columns(2)
        if c1.button("Add", key="add_credit", icon=":material/add_card:"):
            with st.spinner("Adding credit…"):
                if request("add_credit", "add credit", amount=amount) is not None:
                    st.session_state["flash"] = f"Added {theme.money(amount)}."
                    st.rerun()
        if c2.button("Log out", key="logout", icon=":material/logout:"):
            client.log_out()
            for key in ("preview", "booking", "flash"):
                st.session_state.pop(key, None)
            st.rerun()
if "flash" in st.session_state:
    st.success(st.session_state.pop("flash"))
if "new_password" in st.session_state:
    secret, cpf, email = st.session_state.pop("new_password")
    st.warning(f"**Account opened. Keep your password now: it is shown only this once.** Log in later with your "
               f"CPF ({cpf}) or e-mail ({email}) and this password:", icon=":material/key:")
    st.code(secret, language=None)


# -- planning and booking -------------------------------------------------------------------------------

now = datetime.now(UTC)
if "trip_date" not in st.session_state:
    # Two hours ahead by default: a trip can still be cancelled for a full refund (the companies' cancel-until
    # terms are at most 2 h before a stop, and the first stop comes after the departure).
    start = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    st.session_state["trip_date"], st.session_state["trip_time"] = start.date(), start.time()
    st.session_state["trip_profile"] = vehicle.get("profile", "normal")
elif st.session_state["trip_date"] < now.date():
    st.session_state["trip_date"] = now.date()  # a page left open past midnight (UTC): today is the first day

city_ids = sorted(cities, key=lambda c: cities[c])
st.subheader("Where to")
with st.form("trip"):
    a, b = st.columns(2)
    origin = a.selectbox("From", city_ids, format_func=cities.get, key="trip_origin",
                         index=city_ids.index("salvador") if "salvador" in city_ids else 0)
    destination = b.selectbox("To", city_ids, format_func=cities.get, key="trip_destination",
                              index=city_ids.index("recife") if "recife" in city_ids else 1)
    c, d, e = st.columns(3)
    day = c.date_input("Departure day (UTC)", key="trip_date", min_value=now.date(),
                       help="The network's clock is UTC; today (UTC) is the first day offered.")
    hour = d.time_input("Departure time (UTC)", key="trip_time", step=300)
    profile = e.selectbox("Driving profile", PROFILES, key="trip_profile",
                          help="economic drives slower and uses less energy; aggressive the opposite")
    p, q, _ = st.columns([1, 1, 3])
    preview_clicked = p.form_submit_button("Preview", key="preview_btn", icon=":material/route:")
    book_clicked = q.form_submit_button("Book", type="primary", key="book_btn", icon=":material/event_available:")

leaving = datetime.combine(day, hour, tzinfo=UTC)
trip_args = {"origin": origin, "destination": destination, "profile": profile, "departure": leaving.isoformat()}


def can_send() -> bool:
    """Whether the trip asked for can be sent: two cities, and a departure not earlier than now (UTC)."""
    if origin == destination:
        st.warning("Choose a destination other than the origin.")
        return False
    clock = datetime.now(UTC).replace(second=0, microsecond=0)
    if leaving < clock:
        st.warning(f"That departure ({theme.when(leaving)} UTC) is in the past: it is {theme.when(clock)} UTC now. "
                   "Choose a later time.")
        return False
    return True


def reference(args: dict[str, Any]) -> dict[str, Any] | None:
    """The plan asked for (the preview of the same trip, else planned now), to weigh alternatives against."""
    shown = st.session_state.get("preview") or {}
    if shown.get("args") == args and shown.get("plan"):
        return dict(shown["plan"])
    assert me is not None
    try:
        plans = me.request("plan", client.REQUEST_TIMEOUT_S, **{k: v for k, v in args.items()
                                                                 if k != "avoid_stations"}).get("plans", [])
    except client.ClientError:
        return None  # the cards then show the alternatives without differences
    return dict(plans[0]) if plans else None


def book(args: dict[str, Any]) -> None:
    """Book over MQTT; keep the itinerary or the refusal for the next run to show."""
    assert me is not None
    try:
        with st.spinner("Reserving every stop at every company…"):
            itinerary = me.request("book", client.BOOK_TIMEOUT_S, **args)
    except client.ReplyError as exc:
        st.session_state["booking"] = {"ok": False, "code": exc.code, "message": exc.message,
                                       "details": exc.details, "args": args, "reference": reference(args)}
    except client.ClientError as exc:
        parts.show_error(exc, "book")
        return
    else:
        st.session_state["booking"] = {"ok": True, "itinerary": itinerary, "args": args}
    st.session_state.pop("preview", None)
    st.rerun()


if preview_clicked and can_send():
    with st.spinner("Planning…"):
        found = request("plan", "plan the trip", **trip_args)
    if found is not None:
        plans = found.get("plans", [])
        st.session_state["preview"] = {"args": trip_args, "plan": plans[0] if plans else None}
        st.session_state.pop("booking", None)
if book_clicked and can_send():
    book(trip_args)


def take_plan(result: dict[str, Any], plan: dict[str, Any]) -> None:
    """Book an offered plan: the same trip, avoiding every station the plan does not use."""
    stations = [(s["id"], s["city_id"]) for s in network["stations"]]
    book(alternatives.take_args({k: v for k, v in result["args"].items() if k != "avoid_stations"}, plan, stations))


def option_card(option: alternatives.Option, result: dict[str, Any]) -> None:
    """One alternative plan as a card: arrival and cost against the plan asked for, its stops, "Book this"."""
    with st.container(border=True):
        st.markdown(f"**Option {option.number}**")
        later = "" if option.minutes_later is None else f" ({alternatives.signed_minutes(option.minutes_later)})"
        more = option.cost_more
        dearer = "" if more is None or abs(more) < 0.005 else \
            f" ({'+' if more > 0 else '−'}{theme.money(abs(more))})"
        st.markdown(f"Arrive **{theme.when(option.arrival)} UTC**{later}  \n"
                    f"Trip time {theme.hm(option.total_minutes)} · cost **{theme.money(option.cost)}**{dearer}")
        stops = option.plan.get("stops", [])
        st.markdown("  \n".join(f"{i}. {cities.get(s['city_id'], s['city_id'])} · "
                                f"{names.get(s['company_id'], s['company_id'])} · {theme.when(s.get('window_start'))}"
                                for i, s in enumerate(stops, 1)) or "No charging stop.")
        if st.button("Book this", key=f"take_plan_{option.number - 1}", type="primary" if option.number == 1 else
                     "secondary", icon=":material/event_available:"):
            take_plan(result, option.plan)


def show_refusal(result: dict[str, Any]) -> None:
    """A refused booking in plain words, and what the driver can do next: top up, or book a plan around it."""
    details = result.get("details") or {}
    code = result["code"]
    st.error(f"**Booking refused** — {theme.reason(code, result['message'])}")
    if code == "PEER_UNAVAILABLE":
        who = alternatives.unavailable_company(details, names) or "A company on the way"
        st.warning(f"**{who} is not answering right now.** The plans below go around its stations; or try "
                   "again in a little while.", icon=":material/cloud_off:")
    if code == "INSUFFICIENT_CREDIT" and details.get("cost") is not None:
        missing = max(float(details["cost"]) - float(account.get("balance", 0)), 0.0)
        top_up = float(int(missing) + 1)
        if (st.button(f"Add {theme.money(top_up)} and book again", key="topup_book", type="primary")
                and request("add_credit", "add credit", amount=top_up) is not None):
            book(result["args"])
    offered = details.get("alternatives") or {}
    leave = theme.parse_time(result["args"].get("departure"))
    options = alternatives.options(offered.get("plans") or [], leave, result.get("reference"))
    if options:
        st.markdown("**Other ways to make this trip**, planned around what is taken "
                    "(differences against the plan you asked for):")
        for column, option in zip(st.columns(len(options)), options, strict=True):
            with column:
                option_card(option, result)
    elif code not in ("INSUFFICIENT_CREDIT",):
        st.caption("No other plan fits what is free now: try another departure time.")
    points = offered.get("points") or []
    if points:
        where = sorted({cities.get(p.get("city_id", ""), p.get("station_id", "")) for p in points})
        st.caption(f"Free points were also offered in the same window at {', '.join(where)}.")
    if code == "PEER_UNAVAILABLE" and st.button("Try again", key="retry_book"):
        book(result["args"])


booking = st.session_state.get("booking")
preview = st.session_state.get("preview")
if booking is not None and booking["ok"]:
    itinerary = booking["itinerary"]
    st.success(f"**Trip confirmed** — `{itinerary['trip_id']}`, {theme.money(itinerary.get('cost'))} debited. "
               "Every stop is reserved.")
    st.page_link("app_pages/drive.py", label="Drive this trip", icon=":material/directions_car:")
    shown, stops = itinerary["plan"], itinerary.get("stops", [])
elif booking is not None:
    show_refusal(booking)
    shown, stops = None, []
elif preview is not None and preview.get("plan") is None:
    st.warning("The planner found no plan.")
    shown, stops = None, []
elif preview is not None:
    st.info("A preview: nothing is reserved until you book.")
    shown, stops = preview["plan"], preview["plan"].get("stops", [])
else:
    shown, stops = None, []

if shown is not None:
    parts.plan_figures(shown)
    left, right = st.columns([3, 2])
    with left:
        parts.plan_map(shown, network, key="book-map")
    with right:
        st.markdown("**Battery along the way**")
        start_kwh = vehicle.get("charge_kwh") if booking is None else None
        parts.charge_chart(shown, network, start_kwh)
        st.markdown("**Cost per company**")
        parts.cost_chart(shown.get("cost_by_company", {}), network)
    parts.legend(network)
    parts.show_stops(stops, network)
    if stops:
        st.markdown("**Price by part** — what the trip is debited, stop by stop")
        st.dataframe(parts.prices_frame(stops, network), hide_index=True, width="stretch")
    terms = shown.get("terms") or (booking or {}).get("itinerary", {}).get("terms")
    if terms:
        st.markdown("**Booking terms** — a stop cancelled later than its company's terms is not refunded; one not "
                    "begun in time is a no-show, and its fee is charged")
        st.dataframe(parts.terms_frame(terms, network), hide_index=True, width="stretch")


# -- my trips --------------------------------------------------------------------------------------------

st.subheader("My trips")
with st.spinner("Loading my trips…"):
    trips = (request("trips", "load my trips") or {}).get("trips", [])
if not trips:
    st.caption("No trips yet.")
else:
    rows = [{"trip": t["trip_id"], "from": cities.get(t["plan"]["origin"], t["plan"]["origin"]),
             "to": cities.get(t["plan"]["destination"], t["plan"]["destination"]),
             "leave": theme.when(t["plan"].get("departure")), "arrive": theme.when(t["plan"].get("arrival")),
             "stops": len(t.get("stops", [])), "cost": theme.money(t.get("cost")), "status": t["status"],
             "why": CANCEL_REASONS.get((t.get("canceled") or {}).get("cancellation_reason", ""), "")
             + (f" — {t['reason']}" if t.get("canceled") and t.get("reason") else ""),
             "refund": theme.money(t.get("refund")) if t["status"] == "CANCELED" else ""} for t in trips]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for t in trips:  # failed chargers: what happened to the trip, and what the driver may do
        for notice in t.get("notices") or []:
            shown = notice_text(t, notice, lambda c: cities.get(c, c))
            (st.success if notice["kind"] == "REBOOKED" else st.warning)(shown, icon=":material/ev_station:")
    confirmed = {t["trip_id"]: t for t in trips if t["status"] == "RESERVED"}
    if confirmed:
        a, b = st.columns([3, 1])
        chosen = a.selectbox("Cancel a trip", list(confirmed), key="cancel_trip",
                             format_func=lambda tid: refunds.trip_label(confirmed[tid], lambda c: cities.get(c, c)),
                             help="Each stop is refunded in full up to its company's cancel-until before its "
                                  "window, not at all after that; a trip that has begun cannot be cancelled.")
        b.write("")  # lines the button up with the select box
        if b.button("Cancel trip…", key="cancel_btn", icon=":material/cancel:"):
            st.session_state["cancel_asked"] = chosen
        if st.session_state.get("cancel_asked") == chosen:
            # Ask first, with the refund this cancel gives now: cancelling cannot be undone.
            quote = refunds.quote(confirmed[chosen], datetime.now(UTC))
            label = refunds.trip_label(confirmed[chosen], lambda c: cities.get(c, c))
            with st.container(border=True):
                if quote.amount is None:
                    st.warning(f"{label}: {quote.why}.")
                else:
                    st.warning(f"Cancel **{label}**? You get back **{theme.money(quote.amount)}** of "
                               f"{theme.money(confirmed[chosen].get('cost'))} ({quote.why}). Every reserved point "
                               "is released; this cannot be undone.", icon=":material/help:")
                why = st.radio("Why?", list(DRIVER_REASONS), key="cancel_reason", horizontal=True,
                               format_func=CANCEL_REASONS.__getitem__, index=len(DRIVER_REASONS) - 1)
                note = st.text_input("In your own words (optional)", key="cancel_note", max_chars=200)
                yes, no = st.columns(2)
                if quote.amount is not None and yes.button("Yes, cancel the trip", key="cancel_yes",
                                                           type="primary"):
                    st.session_state.pop("cancel_asked", None)
                    with st.spinner("Releasing every reserved point…"):
                        done = request("cancel", "cancel the trip", trip_id=chosen, reason=why, note=note)
                    if done is not None:
                        st.session_state["flash"] = (f"Trip {label} cancelled; {theme.money(done.get('refund'))} "
                                                     "refunded.")
                        st.session_state.pop("booking", None)
                        st.rerun()
                if no.button("Keep the trip", key="cancel_no"):
                    st.session_state.pop("cancel_asked", None)
                    st.rerun()
    if any(t.get("charges") for t in trips):
        with st.expander("Charge records (CDRs)"):
            st.dataframe(parts.charges_frame(trips, network), hide_index=True, width="stretch")
    with st.expander("My reservations, stop by stop"):
        held = (request("reservations", "load my reservations") or {}).get("reservations", [])
        if held:
            st.dataframe(pd.DataFrame([{
                "trip": r["trip_id"], "stop": r["stop"] + 1, "station": r["station_id"], "point": r.get("point_id"),
                "company": r.get("company_name", r["company_id"]), "from": theme.when(r["window_start"]),
                "to": theme.when(r["window_end"]), "kWh": round(float(r.get("energy_kwh", 0)), 1)} for r in held]),
                hide_index=True, width="stretch")
        else:
            st.caption("No reserved point.")
