"""Driving the app in AppTest: open it, sign up, book — as a person would, through the widgets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.live import CAR

# Faker draws small city cars too; a test needs one whose range reaches every station on the way: the test car's
# figures go into the form's number boxes (Faker's owner, model and profile stay).
CAR_NUMBERS = ("capacity_kwh", "charge_kwh", "consumption_kwh_per_km", "max_ac_kw", "max_dc_kw")
# Each booking leaves at its own time, so that tests never compete for the same points.
_SLOTS = itertools.count()
APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "streamlit_app.py")


def open_app(page: str | None = None) -> AppTest:
    """The app, run once (on `page` if given), with no exception."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Every message, markdown and caption on the page, as one string to search."""
    parts = [e.value for kind in (at.error, at.warning, at.info, at.success, at.markdown, at.caption)
             for e in kind]
    return "\n".join(str(p) for p in parts)


def sign_up(at: AppTest, credit: float = 500.0) -> AppTest:
    """Sign up with the Faker form the page filled, a car that can cross the Northeast, and `credit` R$."""
    for key in CAR_NUMBERS:
        at.number_input(key=f"su_{key}").set_value(CAR[key])
    at.number_input(key="su_initial_credit").set_value(credit)
    at.button(key="su_submit").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def book_slot() -> datetime:
    """A departure no other test uses: from two days on (the pages' own default, two hours from now, is the
    browser test's, on the same session network: the same road at the same time would be taken)."""
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2, hours=7 * next(_SLOTS))


def book(at: AppTest, origin: str = "salvador", destination: str = "recife") -> AppTest:
    """Choose a trip, leaving at a time no other test uses, and press Book."""
    leave = book_slot()
    at.date_input(key="trip_date").set_value(leave.date())
    at.time_input(key="trip_time").set_value(leave.time())
    at.selectbox(key="trip_origin").set_value(origin)
    at.selectbox(key="trip_destination").set_value(destination)
    at.button(key="book_btn").click().run()
    assert not at.exception, at.exception
    return at
