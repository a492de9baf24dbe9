"""The terminal client's menus, as in the seed: start screen, then the logged-in menu.

    Start:      1 Login · 2 Create account · (3 Continue as …) · 0 Quit
    Logged in:  1 Make a reservation · 2 See reservations · 3 Account info · 4 Add credit
                5 Cancel a trip · 6 Drive a trip · 7 Back to start · 0 Quit

"Back to start" keeps the session: the start screen then offers to continue
without logging in again. Every answer is read through one input function,
so a test drives the whole loop with scripted answers and reads what a
person would have seen from the rich Console's file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from . import alternatives, refunds, views
from .config import City, ConfigError, Endpoint, NetworkInfo, fetch_network
from .drive import DriveError, DriveReport, Telemetry, drive_trip
from .errors import ClientError, ReplyError
from .session import BOOK_TIMEOUT, VehicleSession, fake_form

#: `input_fn(prompt, password)` returns the line typed; EOFError ends the client (end of a script, Ctrl-D).
InputFn = Callable[[str, bool], str]

DEFAULT_CREDIT = 500.0
#: A departure this little behind the clock still counts as "now" (the server allows a few minutes too).
DEPARTURE_GRACE = timedelta(minutes=1)
PROFILES = ("economic", "normal", "aggressive")
_FLOAT_FIELDS = {"capacity_kwh", "consumption_kwh_per_km", "charge_kwh", "max_ac_kw", "max_dc_kw", "initial_credit"}


def scripted_input(answers: Iterable[str]) -> InputFn:
    """An input function that answers from a list, then raises EOFError (for tests and demos)."""
    queue = iter(answers)

    def answer(prompt: str, password: bool) -> str:
        try:
            return next(queue)
        except StopIteration:
            raise EOFError("no more scripted answers") from None

    return answer


# The OCPI cancellation reasons a driver gives (docs/booking.md "Lifecycle"), by menu number.
CANCEL_REASONS = {"1": ("TRAFFIC", "traffic: I cannot make it in time"), "2": ("BROKEN_VEHICLE", "the car broke down"),
                  "3": ("NO_CANCELED", "no reason given")}


class Terminal:
    """Prompts and output: a rich Console, and where answers come from."""

    def __init__(self, console: Console | None = None, input_fn: InputFn | None = None) -> None:
        """Use the real terminal unless a console (e.g. writing to a file) or an input function is given."""
        self.console = console or Console()
        self.input_fn = input_fn

    def print(self, *things: Any) -> None:
        """Print renderables or text."""
        self.console.print(*things)

    def ask(self, prompt: str, default: str | None = None, *, password: bool = False) -> str:
        """One answer, stripped; the default when the answer is blank.

        The prompt is plain text, never rich markup: "[y]es" and a default shown as "[y]" must print as typed.
        """
        shown = Text(f"{prompt} [{default}]: " if default not in (None, "") else f"{prompt}: ")
        if self.input_fn is None:
            line = self.console.input(shown, password=password)
        else:
            # Scripted: echo the exchange, so the console's transcript reads like a real session.
            self.console.print(shown, end="", highlight=False)
            line = self.input_fn(shown.plain, password)
            self.console.print("*" * len(line) if password else line, markup=False, highlight=False)
        line = line.strip()
        return line if line or default is None else default

    def choose(self, prompt: str, choices: Iterable[str], default: str | None = None) -> str:
        """Ask until the answer is one of `choices`."""
        allowed = list(choices)
        while True:
            answer = self.ask(prompt, default).lower()
            if answer in allowed:
                return answer
            self.print(f"[yellow]Please answer one of: {escape(', '.join(allowed))}[/]")

    def confirm(self, prompt: str, default: bool = True) -> bool:
        """Yes or no."""
        answer = self.choose(f"{prompt} (y/n)", ["y", "n", "yes", "no", "s", "sim", "nao", "não"],
                             "y" if default else "n")
        return answer in ("y", "yes", "s", "sim")

    def number(self, prompt: str, default: float | None = None, *, minimum: float = 0.0,
               maximum: float = float("inf")) -> float | None:
        """A number within [minimum, maximum]; None when left blank without a default."""
        while True:
            answer = self.ask(prompt, None if default is None else f"{default:g}")
            if not answer:
                return None
            try:
                value = float(answer.replace(",", "."))
            except ValueError:
                self.print(f"[yellow]{escape(repr(answer))} is not a number.[/]")
                continue
            if minimum <= value <= maximum:
                return value
            self.print(f"[yellow]Give a number from {minimum:g} to {maximum:g}.[/]")


class App:
    """The terminal client of one home company."""

    def __init__(self, endpoint: Endpoint, terminal: Terminal | None = None, *,
                 network: NetworkInfo | None = None, drive_speedup: float = 600.0,
                 sleep: Callable[[float], None] = time.sleep, fake_seed: int | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """Nothing is contacted until `run()`; `sleep` paces the simulated drive (tests pass a no-op);
        `clock` is the network's (UTC) time, for departures."""
        self.endpoint = endpoint
        self.term = terminal or Terminal()
        self._network = network
        self.drive_speedup = drive_speedup
        self.sleep = sleep
        self.fake_seed = fake_seed
        self.clock = clock
        self.session: VehicleSession | None = None
        self.owner_name = ""

    @property
    def network(self) -> NetworkInfo:
        """The network's cities and companies, read once from the home company."""
        if self._network is None:
            self._network = fetch_network(self.endpoint)
        return self._network

    # -- the loops ---------------------------------------------------------------------------------
    def run(self) -> int:
        """Show the start screen until Quit (or the end of input); return the exit code."""
        self.term.print(Panel.fit(f"[bold]recarga[/] — EV charging along your trip\nhome company: "
                                  f"[bold]{escape(self.endpoint.company)}[/]", border_style="cyan"))
        try:
            while True:
                options = {"1": "Login", "2": "Create account"}
                if self.session is not None:
                    options["3"] = f"Continue as {self.owner_name or self.session.vehicle_id}"
                options["0"] = "Quit"
                choice = self._menu("Start", options)
                if choice == "0":
                    break
                if choice == "1":
                    self._guard(self.login)
                elif choice == "2":
                    self._guard(self.register)
                if self.session is not None and choice in ("1", "2", "3") and not self.logged_in_menu():
                    break
        except (EOFError, KeyboardInterrupt):
            self.term.print("")
        finally:
            self._end_session()
        self.term.print("Até logo!")
        return 0

    def logged_in_menu(self) -> bool:
        """The menu of a logged-in driver; False when the driver chose Quit."""
        actions: dict[str, tuple[str, Callable[[], None]]] = {
            "1": ("Make a reservation", self.make_reservation),
            "2": ("See reservations", self.see_reservations),
            "3": ("Account info", self.account_info),
            "4": ("Add credit", self.add_credit),
            "5": ("Cancel a trip", self.cancel_trip),
            "6": ("Drive a trip (simulated)", self.drive),
        }
        while self.session is not None:
            self._show_notices()
            options = {k: label for k, (label, _) in actions.items()} | {"7": "Back to start", "0": "Quit"}
            choice = self._menu(f"{self.owner_name or self.session.vehicle_id} @ {self.endpoint.company}", options)
            if choice == "0":
                return False
            if choice == "7":
                return True
            self._guard(actions[choice][1])
        return True  # the session ended (token expired): back to the start screen

    def _show_notices(self) -> None:
        """What the server told of this car's trips since the last menu (a charger failed: moved, re-booked)."""
        assert self.session is not None
        notices = self.session.client.notices
        while notices:
            self.term.print(views.notice_line(notices.popleft()))

    def _menu(self, title: str, options: dict[str, str]) -> str:
        self.term.print(Panel("\n".join(f"[bold]{escape(k)}[/] {escape(label)}" for k, label in options.items()),
                              title=escape(title), expand=False))
        return self.term.choose("Choose", options)

    def _guard(self, action: Callable[[], None]) -> None:
        """Run one action; a refusal or a failure becomes a message, never a traceback."""
        try:
            action()
        except ReplyError as exc:
            self.term.print(views.error_panel(exc))
            if exc.code == "BAD_TOKEN":
                self.term.print("[yellow]Your session has ended; please log in again.[/]")
                self._end_session(logout=False)
        except (ClientError, DriveError) as exc:
            self.term.print(views.error_panel(exc))
        except (ConfigError, httpx.HTTPError) as exc:
            self.term.print(views.error_panel(exc))

    def _end_session(self, *, logout: bool = True) -> None:
        if self.session is not None:
            self.session.close(logout=logout)
            self.session = None
            self.owner_name = ""

    def _start_session(self, session: VehicleSession) -> None:
        self._end_session()
        self.session = session
        account = session.account()
        self.owner_name = str(account.get("owner", {}).get("name", ""))
        self.term.print(f"[green]Welcome, {escape(self.owner_name)}![/] "
                        f"Credit: {views.money(float(account['balance']))}")

    def _require(self) -> VehicleSession:
        if self.session is None:
            raise ClientError("not logged in")
        return self.session

    # -- start screen ------------------------------------------------------------------------------
    def login(self) -> None:
        """Log in by CPF or e-mail."""
        login = self.term.ask("CPF or e-mail")
        password = self.term.ask("Password", password=True)
        if not login or not password:
            self.term.print("[yellow]Both the login and the password are needed.[/]")
            return
        # Log in first: a wrong password must leave the session that is open as it is. (The broker login a
        # vehicle gets is the same at every login, so the open connection is not dropped meanwhile.)
        session = VehicleSession.login(self.endpoint, login, password)
        self._start_session(session)

    def register(self) -> None:
        """Create an account from a Faker-filled form the person accepts or edits."""
        form = fake_form(self.endpoint, self.fake_seed)
        form.setdefault("initial_credit", DEFAULT_CREDIT)
        while True:
            self.term.print(views.form_table(form))
            answer = self.term.choose("Accept these data? [y]es / [e]dit / [n]o (back)", ["y", "e", "n"], "y")
            if answer == "n":
                return
            if answer == "e":
                self._edit(form)
                continue
            try:
                session = VehicleSession.signup(self.endpoint, form)
            except ReplyError as exc:
                self.term.print(views.error_panel(exc))
                if self.term.confirm("Edit the data and try again?"):
                    self._edit(form)
                    continue
                return
            self.term.print(Panel.fit(f"Account [bold]{escape(session.vehicle_id)}[/] created. Log in later with your "
                                      f"CPF ({escape(str(form['cpf']))}) or e-mail ({escape(str(form['email']))}) "
                                      "and your password.",
                                      border_style="green"))
            self._start_session(session)
            return

    def _edit(self, form: dict[str, Any]) -> None:
        """Ask every field again, the current value as the default."""
        for key, label in views.FORM_FIELDS:
            current = form.get(key)
            while True:
                if key == "profile":
                    form[key] = self.term.choose(f"{label} ({'/'.join(PROFILES)})", PROFILES, str(current))
                    break
                answer = self.term.ask(label, "" if current is None else str(current),
                                       password=False)
                if key not in _FLOAT_FIELDS:
                    form[key] = answer
                    break
                try:
                    form[key] = float(answer.replace(",", ".")) if answer else None
                    break
                except ValueError:
                    self.term.print(f"[yellow]{escape(label)}: {escape(repr(answer))} is not a number.[/]")

    # -- logged-in actions -------------------------------------------------------------------------
    def pick_city(self, label: str) -> City | None:
        """A city from a number of the list or (part of) a name; None when left blank."""
        while True:
            text = self.term.ask(f"{label} (number or name; blank to go back)", "")
            if not text:
                return None
            found = self.network.find_cities(text)
            if len(found) == 1:
                self.term.print(f"{escape(label)}: [bold]{escape(found[0].label)}[/]")
                return found[0]
            if not found:
                self.term.print(f"[yellow]No city matches {escape(repr(text))}. Type a number from the list or "
                                "part of a city's name.[/]")
                continue
            numbers = {c.id: i for i, c in enumerate(self.network.cities, 1)}
            listed = ", ".join(f"{numbers[c.id]} {c.label}" for c in found[:12])
            more = f" and {len(found) - 12} more" if len(found) > 12 else ""
            self.term.print(f"[yellow]{escape(repr(text))} matches several cities: {escape(listed)}{more}. "
                            "Be more precise.[/]")

    def make_reservation(self) -> None:
        """Plan a trip between two cities, show it, and book it (all stops or none)."""
        session = self._require()
        net = self.network
        self.term.print(views.cities_table(net.cities))
        origin = self.pick_city("From")
        if origin is None:
            return
        destination = self.pick_city("To")
        if destination is None:
            return
        if destination.id == origin.id:
            self.term.print("[yellow]The origin and the destination are the same city.[/]")
            return
        # Hours from now, never negative: the client offers no departure in the past.
        hours = self.term.number("Leave in how many hours", 1.0, minimum=0.0, maximum=24 * 60) or 0.0
        trip: dict[str, Any] = {"origin": origin.id, "destination": destination.id}
        while True:
            departure = self.clock() + timedelta(hours=hours)
            trip["departure"] = departure.isoformat()
            plan = session.request("plan", BOOK_TIMEOUT, **trip)["plans"][0]
            self.term.print(views.plan_table(plan, net, "Proposed plan"))
            if plan.get("terms"):  # what cancelling late, or not turning up, costs: read before booking
                self.term.print(views.terms_table(plan["terms"], net))
            if not self.term.confirm(f"Book this trip for {views.money(sum(plan['cost_by_company'].values()))}?"):
                return
            if departure >= self.clock() - DEPARTURE_GRACE:
                break
            # The plan was read for a while and its departure has passed: never send a past one; plan again.
            self.term.print(f"[yellow]That departure ({escape(views.when(trip['departure']))}) has passed while "
                            "the plan was shown; here it is again from now.[/]")
        asked = dict(trip)
        for _ in range(3):  # the booking, then up to two alternatives the driver picks
            try:
                booked = session.request("book", BOOK_TIMEOUT, **trip)
            except ReplyError as exc:
                alternative = self._refused(exc, departure, plan)
                if alternative is None:
                    return
                # Taking an alternative = the same trip, avoiding every station the alternative does not use.
                trip = alternatives.take_args(asked, alternative, net.stations)
                continue
            self.term.print(views.itinerary_table(booked, net))
            self.term.print(f"[green]Booked![/] Trip [bold]{escape(str(booked['trip_id']))}[/], "
                            f"{len(booked.get('stops', []))} stop(s), {views.money(float(booked['cost']))}.")
            return

    def _refused(self, exc: ReplyError, departure: datetime, asked: dict[str, Any]) -> dict[str, Any] | None:
        """Show a refused booking and the plans around it; return the one the driver picks, if any."""
        self.term.print(views.error_panel(exc))
        if exc.code == "PEER_UNAVAILABLE":
            who = alternatives.unavailable_company(exc.details, self.network.companies) or "A company on the way"
            self.term.print(f"[yellow]{escape(who)} is not answering right now; the plans below (if any) go "
                            "around its stations.[/]")
        offered = exc.details.get("alternatives")
        plans = offered.get("plans", []) if isinstance(offered, dict) else []
        options = alternatives.options(plans, departure, asked)
        if not options:
            self.term.print("No other plan fits what is free.")
            return None
        self.term.print(views.alternatives_table(options, self.network))
        while True:
            answer = self.term.ask(f"Book one of them (1–{len(options)}; blank = no)", "")
            if not answer:
                return None
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return options[int(answer) - 1].plan
            self.term.print(f"[yellow]Choose 1 to {len(options)}, or leave blank.[/]")

    def _trips(self) -> list[dict[str, Any]]:
        return list(self._require().request("trips").get("trips", []))

    def see_reservations(self) -> None:
        """Every trip, and the reserved points of each confirmed one."""
        trips = self._trips()
        if not trips:
            self.term.print("No reservations yet.")
            return
        self.term.print(views.trips_table(trips, self.network))
        for trip in trips:
            if trip.get("status") == "RESERVED":
                self.term.print(views.itinerary_table(trip, self.network))

    def account_info(self) -> None:
        """Owner, car, credit, statement."""
        self.term.print(views.account_panel(self._require().account()))

    def add_credit(self) -> None:
        """Add credit (R$) to the account."""
        amount = self.term.number("Amount to add (R$)", None, minimum=0.01, maximum=10_000)
        if amount is None:
            return
        result = self._require().request("add_credit", amount=amount)
        self.term.print(f"[green]Added {views.money(float(result.get('added', amount)))}.[/] "
                        f"Credit now {views.money(float(result['balance']))}.")

    def _pick_trip(self, verb: str) -> dict[str, Any] | None:
        """A confirmed trip, by its number in the list or its id; None when there is none or blank."""
        confirmed = [t for t in self._trips() if t.get("status") == "RESERVED"]
        if not confirmed:
            self.term.print(f"No confirmed trip to {verb}.")
            return None
        self.term.print(views.trips_table(confirmed, self.network))
        while True:
            answer = self.term.ask(f"Trip to {verb} (number or id; blank to go back)", "")
            if not answer:
                return None
            if answer.isdigit() and 1 <= int(answer) <= len(confirmed):
                return confirmed[int(answer) - 1]
            match = [t for t in confirmed if t.get("trip_id") == answer]
            if match:
                return match[0]
            self.term.print(f"[yellow]No confirmed trip {escape(repr(answer))}.[/]")

    def cancel_trip(self) -> None:
        """Cancel a confirmed trip (refund per the company's policy)."""
        trip = self._pick_trip("cancel")
        if trip is None:
            return
        quote = refunds.quote(trip, self.clock())
        label = refunds.trip_label(trip, self.network.city_name)
        if quote.amount is None:
            self.term.print(f"[yellow]{escape(label)}: {escape(quote.why)}.[/]")
            return
        self.term.print(f"Cancelling {escape(label)} gives back [bold]{views.money(quote.amount)}[/] of "
                        f"{views.money(float(trip.get('cost', 0)))} ({escape(quote.why)}).")
        self.term.print("Why? " + ", ".join(f"{n} {text}" for n, (_, text) in CANCEL_REASONS.items()))
        reason = CANCEL_REASONS[self.term.choose("Reason", CANCEL_REASONS, "3")][0]
        note = self.term.ask("In your own words (optional)", "")
        if not self.term.confirm(f"Cancel trip {trip['trip_id']}?", default=False):
            return
        result = self._require().request("cancel", trip_id=trip["trip_id"], reason=reason, note=note)
        self.term.print(f"[green]Trip {escape(str(result['trip_id']))} cancelled ({result['cancellation_reason']}).[/] "
                        f"Refund: {views.money(float(result.get('refund', 0)))}.")

    def drive(self) -> None:
        """Drive a confirmed trip in accelerated time, checking in at every stop."""
        trip = self._pick_trip("drive")
        if trip is None:
            return
        speedup = self.term.number("Speed-up (simulated seconds per real second)", self.drive_speedup,
                                   minimum=1.0, maximum=1e9) or self.drive_speedup
        def show(t: Telemetry) -> None:
            self.term.console.print(t.line(), markup=False, highlight=False, soft_wrap=True)

        report = drive_trip(self._require(), trip["trip_id"], speedup=speedup, network=self.network,
                            sleep=self.sleep, on_telemetry=show)
        self.term.print(report_panel(report))


def report_panel(report: DriveReport) -> Panel:
    """The outcome of a drive for people."""
    checked = sum(1 for c in report.check_ins if c.started and c.finished)
    state = "arrived" if report.arrived else "stopped by Ctrl-C" if report.interrupted else "did not arrive"
    lines = [f"Trip {escape(report.trip_id)}: {state}",
             f"checked in at {checked}/{len(report.check_ins)} stop(s)",
             f"charge at the end {report.final_kwh:.1f} kWh; promised {report.promised_kwh:.1f} kWh "
             f"(±{report.tolerance_kwh:.1f})",
             "charge stored on the account" if report.vehicle_updated else "charge NOT stored on the account"]
    lines += [f"[red]• {escape(p)}[/]" for p in report.problems]
    return Panel("\n".join(lines), title="drive: OK" if report.ok else "drive: problems",
                 border_style="green" if report.ok else "red", expand=False)
