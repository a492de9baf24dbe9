"""Rich renderables for the terminal client: account, trips, plans, errors. Pure: data in, renderables out."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from contract.fake import format_cpf

from .alternatives import Option, signed_minutes
from .config import City, NetworkInfo
from .errors import ClientError, ConnectFailed, ReplyError, RequestTimeout

#: The fields of the sign-up form, in the order a person reads and edits them, with their labels.
FORM_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Name"), ("email", "E-mail"), ("cpf", "CPF"), ("password", "Password"), ("plate", "Plate"),
    ("model", "Model"), ("capacity_kwh", "Battery (kWh)"), ("consumption_kwh_per_km", "Consumption (kWh/km)"),
    ("charge_kwh", "Charge now (kWh)"), ("max_ac_kw", "Max AC (kW)"), ("max_dc_kw", "Max DC (kW)"),
    ("profile", "Driving profile"), ("initial_credit", "Initial credit (R$)"),
)


def money(value: float) -> str:
    """R$ 1.234,56 — Brazilian style."""
    text = f"{value:,.2f}"
    return "R$ " + text.replace(",", "_").replace(".", ",").replace("_", ".")


def when(iso: str | None) -> str:
    """An ISO 8601 time as dd/mm HH:MM in UTC, the network's clock, as the pages show it ('' when missing)."""
    if not iso:
        return ""
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).strftime("%d/%m %H:%M")


def hours_minutes(minutes: float) -> str:
    """90.2 → '1h31'."""
    whole = math.ceil(minutes - 1e-9)
    return f"{whole // 60}h{whole % 60:02d}"


def error_panel(exc: BaseException) -> Panel:
    """A clear message for a failed request: the server's code and message, and what to do."""
    if isinstance(exc, ReplyError):
        lines = [Text.assemble((exc.code, "bold"), ": ", exc.message)]
        errors = exc.details.get("errors")
        for err in errors if isinstance(errors, list) else []:
            if isinstance(err, dict):
                loc = ".".join(str(p) for p in err.get("loc", []))
                lines.append(Text(f"  {loc}: {err.get('msg', '')}"))
        return Panel(Group(*lines), title="refused", border_style="red", expand=False)
    if isinstance(exc, RequestTimeout):
        return Panel(Text(f"The server did not answer in time ({exc}). Try again in a moment."),
                     title="TIMEOUT", border_style="red", expand=False)
    if isinstance(exc, ConnectFailed):
        return Panel(Text(f"Could not connect to the company's broker: {exc}"), title="CONNECT_FAILED",
                     border_style="red", expand=False)
    if isinstance(exc, ClientError):
        return Panel(Text(str(exc)), title="CLIENT_ERROR", border_style="red", expand=False)
    return Panel(Text(str(exc)), title=type(exc).__name__, border_style="red", expand=False)


def _cpf(cpf: str) -> str:
    """The CPF as 000.000.000-00 when it has 11 digits, else as given."""
    try:
        return format_cpf(cpf)
    except ValueError:
        return cpf


def form_table(form: dict[str, Any]) -> Table:
    """The sign-up form as a two-column table."""
    table = Table(title="New account", show_header=False, expand=False)
    table.add_column(style="bold")
    table.add_column()
    for key, label in FORM_FIELDS:
        value = form.get(key)
        table.add_row(label, Text("" if value is None else str(value)))
    return table


def cities_table(cities: list[City], columns: int = 3) -> Table:
    """The numbered list of cities, in a few columns."""
    table = Table(title="Cities", show_header=False, expand=False, box=None, padding=(0, 2))
    rows = math.ceil(len(cities) / columns)
    for _ in range(columns):
        table.add_column(no_wrap=True)
    for r in range(rows):
        cells = []
        for c in range(columns):
            i = c * rows + r
            cells.append(Text(f"{i + 1:>2} {cities[i].label}" if i < len(cities) else ""))
        table.add_row(*cells)
    return table


def account_panel(account: dict[str, Any]) -> Group:
    """Owner, vehicle, credit, and the latest lines of the statement."""
    owner, car = account.get("owner", {}), account.get("vehicle", {})
    info = Table(show_header=False, expand=False, box=None)
    info.add_column(style="bold")
    info.add_column()
    capacity = float(car.get("capacity_kwh") or 0)
    charge = float(car.get("charge_kwh") or 0)
    pct = f" ({100 * charge / capacity:.0f}%)" if capacity else ""
    for label, value in (
        ("Vehicle id", account.get("vehicle_id", "")), ("Owner", owner.get("name", "")),
        ("E-mail", owner.get("email", "")), ("CPF", _cpf(str(owner.get("cpf", "")))),
        ("Car", f"{car.get('model', '')} — plate {car.get('plate', '')}"),
        ("Battery", f"{charge:.1f} / {capacity:.1f} kWh{pct}"),
        ("Consumption", f"{car.get('consumption_kwh_per_km', '')} kWh/km, profile {car.get('profile', '')}"),
        ("Chargers", f"AC {car.get('max_ac_kw', '')} kW, DC {car.get('max_dc_kw', '')} kW"),
        ("Credit", money(float(account.get("balance", 0.0)))),
    ):
        info.add_row(label, Text(str(value)))
    if float(account.get("owed", 0.0)) > 0:
        info.add_row("Owed", Text(money(float(account["owed"])) + " (no-show fees the credit did not cover)",
                                  style="red"))
    statement = Table(title="Statement (latest 10)", expand=False)
    for col in ("when (UTC)", "what", "amount", "balance", "trip", "details"):
        statement.add_column(col, justify="right" if col in ("amount", "balance") else "left")
    for line in list(account.get("statement", []))[-10:]:
        statement.add_row(when(line.get("at")), str(line.get("kind", "")),
                          money(int(line.get("amount_cents", 0)) / 100),
                          money(int(line.get("balance_cents", 0)) / 100), str(line.get("trip_id") or ""),
                          statement_details(line))
    return Group(Panel(info, title="Account", expand=False), statement)


PART_NAMES = {"energy": "energy", "charging_time": "time", "idle": "idle", "session": "session",
              "reservation": "reservation"}


def price_parts(price: dict[str, Any] | None) -> str:
    """A price by part in words, leaving out the parts that are zero: 'energy R$ 23,63 + reservation R$ 2,00'."""
    if not price:
        return ""
    parts = [f"{name} {money(int(price.get(key, 0)) / 100)}" for key, name in PART_NAMES.items() if price.get(key)]
    return " + ".join(parts) or money(0)


def statement_details(line: dict[str, Any]) -> str:
    """What a statement line is beyond its amount: a charge record's session, a no-show fee's stop."""
    if line.get("kind") == "charge" and line.get("charge"):
        cdr = line["charge"]
        return (f"stop {int(cdr['stop']) + 1} at {cdr['station_id']}: {float(cdr['energy_kwh']):.1f} kWh, "
                f"{when(cdr.get('started_at'))}–{when(cdr.get('finished_at'))[-5:]}, "
                f"{price_parts(cdr.get('price'))} = {money(int(cdr['price']['total']) / 100)} (paid at booking)")
    if line.get("kind") == "owed_paid":
        left = int(line.get("owed_cents") or 0)
        return "no-show fees owed, paid from the credit added" + (f"; {money(left / 100)} still owed" if left else "")
    if line.get("kind") == "noshow_fee":
        owed = int(line.get("owed_cents") or 0)
        return (f"stop {int(line.get('stop', 0)) + 1} not begun (NO_SHOW), {line.get('company_id', '')}'s fee"
                + (f"; {money(owed / 100)} owed" if owed else ""))
    return ""


def terms_table(terms: dict[str, dict[str, Any]], network: NetworkInfo) -> Table:
    """Each company's booking terms, as a driver reads them before booking."""
    table = Table(title="Booking terms", expand=False)
    for col in ("company", "full refund until", "changes until", "no-show after", "no-show fee",
                "may start early", "may stay late"):
        table.add_column(col)
    for company, t in terms.items():
        table.add_row(network.company_name(company), f"{t['cancel_until_minutes']} min before the window",
                      f"{t['change_until_minutes']} min before", f"{t['noshow_timeout_minutes']} min into the window",
                      money(float(t["noshow_fee"])), f"{t['early_start_minutes']} min",
                      f"{t['late_stop_minutes']} min")
    return table


def plan_table(plan: dict[str, Any], network: NetworkInfo, title: str = "Plan") -> Table:
    """A plan: one row per charging stop, totals in the caption."""
    table = Table(title=title, expand=False)
    for col in ("#", "city", "station", "company", "arrive", "arrive kWh", "+kWh", "charge", "window (UTC)", "cost",
                "price by part"):
        table.add_column(col)
    for i, stop in enumerate(plan.get("stops", [])):
        table.add_row(str(i + 1), network.city_name(stop["city_id"]), str(stop["station_id"]),
                      network.company_name(stop["company_id"]), when(stop.get("arrive_at")),
                      f"{float(stop['arrive_kwh']):.1f}", f"{float(stop['energy_kwh']):.1f}",
                      hours_minutes(float(stop.get("charge_minutes", 0))),
                      f"{when(stop.get('window_start'))}–{when(stop.get('window_end'))[-5:]}",
                      money(float(stop.get("cost", 0))), price_parts(stop.get("price")))
    cost = sum(float(v) for v in plan.get("cost_by_company", {}).values())
    table.caption = (f"{network.city_name(plan['origin'])} → {network.city_name(plan['destination'])}: "
                     f"{float(plan['distance_km']):.0f} km, {hours_minutes(float(plan['total_minutes']))} "
                     f"(leave {when(plan.get('departure'))}, arrive {when(plan.get('arrival'))} UTC with "
                     f"{float(plan['arrival_kwh']):.1f} kWh), {money(cost)}")
    return table


def itinerary_table(trip: dict[str, Any], network: NetworkInfo) -> Table:
    """A booked trip: its stops with the reserved point and the booking's status at each."""
    plan = trip.get("plan", {})
    table = Table(title=f"Trip {trip.get('trip_id')} — {trip.get('status')}", expand=False)
    for col in ("#", "city", "company", "station / point", "window (UTC)", "+kWh", "cost", "status"):
        table.add_column(col)
    for index, stop in enumerate(trip.get("stops", [])):
        status = str(stop.get("status") or trip.get("status") or "")
        table.add_row(str(int(stop.get("stop", index)) + 1), network.city_name(stop["city_id"]),
                      str(stop.get("company_name") or network.company_name(stop["company_id"])),
                      f"{stop['station_id']} / {stop.get('point_id') or '?'}",
                      f"{when(stop.get('window_start'))}–{when(stop.get('window_end'))[-5:]}",
                      f"{float(stop['energy_kwh']):.1f}", money(float(stop.get("cost", 0))),
                      Text(status, style=STATUS_STYLE.get(status, "dim")))
    if plan:
        table.caption = (f"{network.city_name(plan['origin'])} → {network.city_name(plan['destination'])}, "
                         f"leave {when(plan.get('departure'))}, arrive {when(plan.get('arrival'))} UTC with "
                         f"{float(plan['arrival_kwh']):.1f} kWh; cost {money(float(trip.get('cost', 0)))}")
    return table


def trips_table(trips: list[dict[str, Any]], network: NetworkInfo) -> Table:
    """Every trip of the account, one line each."""
    table = Table(title="Your trips", expand=False)
    for col in ("#", "trip", "status", "route", "leave (UTC)", "arrive (UTC)", "stops", "cost", "refund"):
        table.add_column(col)
    for i, trip in enumerate(trips, 1):
        plan = trip.get("plan", {})
        status = str(trip.get("status", ""))
        style = STATUS_STYLE.get(status, "dim")
        route = f"{network.city_name(plan.get('origin', '?'))} → {network.city_name(plan.get('destination', '?'))}"
        table.add_row(str(i), str(trip.get("trip_id")), Text(status, style=style), route,
                      when(plan.get("departure")), when(plan.get("arrival")), str(len(trip.get("stops", []))),
                      money(float(trip.get("cost", 0))),
                      money(float(trip.get("refund", 0))) if status == "CANCELED" else "")
    return table


# OCPI booking statuses (docs/booking.md "Lifecycle"): live ones bright, the final ones by how they ended.
STATUS_STYLE = {"PENDING": "yellow", "RESERVED": "green", "FULFILLED": "cyan", "CANCELED": "dim",
                "NO_SHOW": "red", "REJECTED": "red", "FAILED": "red"}


def notice_line(notice: dict[str, Any]) -> Text:
    """One notice of a failed charger, in words: what happened to which stop, and what it means for the driver."""
    stop, kind = int(notice.get("stop", 0)) + 1, notice.get("kind")
    trip = notice.get("trip_id", "?")
    if kind == "MOVED":
        words = (f"Trip {trip}, stop {stop}: its charger failed ({notice.get('reason')}); you are booked on "
                 f"{notice.get('point_id')} at the same station.")
    elif kind == "BROKEN":
        words = f"Trip {trip}, stop {stop}: its charger failed ({notice.get('reason')}); re-booking your trip…"
    elif kind == "REBOOKED":
        diff = float(notice.get("price_difference") or 0)
        price = ("same price" if abs(diff) < 0.005 else
                 f"{money(diff)} more" if diff > 0 else f"{money(-diff)} refunded")
        words = f"Trip {trip} re-booked from stop {stop} ({price}): see its new stops in your reservations."
    else:
        words = (f"Trip {trip}, stop {stop}: no re-booking fits ({notice.get('reason')}). Cancel it for a full "
                 "refund, or keep it: it is tried again.")
    return Text("⚠ " + words, style="yellow" if kind != "REBOOKED" else "green")


def alternatives_table(options: list[Option], network: NetworkInfo) -> Table:
    """The plans a refusal offers, each against the plan asked for: arrival, time and cost, and its stops."""
    table = Table(title="Other ways to make this trip", expand=False)
    for col in ("#", "arrive (UTC)", "trip time", "cost", "stops"):
        table.add_column(col)
    for o in options:
        stops = ", ".join(f"{i}. {network.city_name(s['city_id'])} ({network.company_name(s['company_id'])})"
                          for i, s in enumerate(o.plan.get("stops", []), 1))
        later = "" if o.minutes_later is None else f" ({signed_minutes(o.minutes_later)})"
        dearer = "" if o.cost_more is None or abs(o.cost_more) < 0.005 else \
            f" ({'+' if o.cost_more > 0 else '−'}{money(abs(o.cost_more))})"
        table.add_row(str(o.number), when(o.arrival.isoformat()) if o.arrival else "",
                      hours_minutes(o.total_minutes) + later, money(o.cost) + dearer, Text(stops or "no stop"))
    return table
