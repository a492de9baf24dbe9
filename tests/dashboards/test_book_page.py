"""The booking page against a real network: sign up, preview, book, refusals, cancel."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.dashboards.helpers import book, book_slot, open_app, sign_up, texts

pytestmark = pytest.mark.integration


def test_sign_up_form_comes_filled_and_opens_an_account(net):
    at = open_app()
    assert at.text_input(key="su_name").value  # Faker filled it
    assert at.text_input(key="su_cpf").value
    sign_up(at, credit=321.0)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Credit"] == "R$ 321,00"  # Brazilian money, as the terminal writes it
    assert "/" in metrics["Charge (kWh)"]


def test_preview_shows_the_plan_without_reserving(net):
    at = sign_up(open_app())
    at.selectbox(key="trip_destination").set_value("fortaleza")
    at.button(key="preview_btn").click().run()
    assert not at.exception
    assert "nothing is reserved" in texts(at)
    assert {m.label for m in at.metric} >= {"Distance", "Total time", "Cost"}
    assert len(at.dataframe) >= 1  # the stops
    # Before booking: each stop's price by part, and the terms of every company on the plan.
    assert "Price by part" in texts(at) and "Booking terms" in texts(at)
    shown = "\n".join(df.value.to_string() for df in at.dataframe)
    assert "reservation fee" in shown and "full refund until" in shown and "min before the stop's window" in shown
    assert {m.label: m.value for m in at.metric}["Credit"] == "R$ 500,00"


def test_booking_shows_the_confirmed_itinerary_and_my_trip(net):
    at = book(sign_up(open_app(), credit=2000.0), destination="fortaleza")
    success = " ".join(s.value for s in at.success)
    assert "Trip confirmed" in success
    shown = "\n".join(df.value.to_string() for df in at.dataframe)
    assert "RESERVED" in shown
    assert "-p" in shown  # the stops table names the reserved points


def test_insufficient_credit_is_refused_with_the_reason_and_a_way_out(net):
    at = book(sign_up(open_app(), credit=0.0))
    refusal = " ".join(e.value for e in at.error)
    assert "Booking refused" in refusal and "Not enough credit" in refusal
    at.button(key="topup_book").click().run()
    assert not at.exception
    assert "Trip confirmed" in " ".join(s.value for s in at.success)


def test_unknown_city_is_refused_in_words(net):
    at = sign_up(open_app())
    at.session_state["booking"] = None
    # The page only offers real cities; a client could still send another: the refusal must read well.
    me = at.session_state["vehicle_session"]
    with pytest.raises(Exception) as caught:
        me.request("book", 10, origin="salvador", destination="atlantis")
    assert getattr(caught.value, "code", "") == "UNKNOWN_CITY"
    at.session_state["booking"] = {"ok": False, "code": "UNKNOWN_CITY", "message": "unknown city 'atlantis'",
                                   "details": caught.value.details, "args": {"origin": "salvador",
                                                                              "destination": "atlantis"}}
    at.run()
    assert "That city is not on the network" in texts(at)


def refused_with_plans(at, code: str = "POINT_TAKEN", **details):
    plan = {"path": ["salvador", "feira-de-santana"], "total_minutes": 560.0,
            "cost_by_company": {"voltpoint": 40.0},
            "stops": [{"station_id": "vp-feira-de-santana-1", "company_id": "voltpoint", "city_id": "feira-de-santana",
                       "window_start": "2030-01-01T10:00:00+00:00", "window_end": "2030-01-01T11:00:00+00:00"}]}
    second = {**plan, "total_minutes": 500.0, "cost_by_company": {"voltpoint": 30.0}}
    at.session_state["booking"] = {
        "ok": False, "code": code, "message": "point vp-x-p1 is held by another trip",
        "details": {"status": "REJECTED", **details, "alternatives": {
            "points": [{"station_id": "vp-feira-de-santana-1", "city_id": "feira-de-santana",
                        "point_id": "vp-feira-de-santana-1-p2"}],
            "plans": [plan, second, plan, plan]}},
        "args": {"origin": "salvador", "destination": "recife", "departure": "2030-01-01T08:00:00+00:00"},
        "reference": {"total_minutes": 500.0, "cost_by_company": {"voltpoint": 30.0}}}
    at.run()
    assert not at.exception
    return at


def test_a_refusal_offers_up_to_three_plans_as_cards_against_the_plan_asked_for(net):
    at = refused_with_plans(sign_up(open_app(), credit=2000.0))
    page = texts(at)
    assert "already taken" in page and "Other ways to make this trip" in page
    assert {"Option 1", "Option 2", "Option 3"} <= {m for m in page.split("**") if m.startswith("Option")}
    assert "Option 4" not in page
    cards = [m.value for m in at.markdown if m.value.startswith("Arrive ")]
    assert len(cards) == 3
    assert "Arrive **01/01 17:20 UTC** (+1h00)" in cards[0] and "**R$ 40,00** (+R$ 10,00)" in cards[0]
    assert "(same time)" in cards[1] and "R$ 30,00**" in cards[1] and "(+R$" not in cards[1]
    assert not [df for df in at.dataframe if "point_id" in df.value.columns]  # no raw table of free points
    assert "Try again" not in [b.label for b in at.button]  # it would fail the same way


def test_book_this_books_the_offered_plan_for_real(net):
    at = refused_with_plans(sign_up(open_app(), credit=2000.0))
    at.session_state["booking"]["args"]["departure"] = book_slot().isoformat()
    at.button(key="take_plan_0").click().run()  # books for real, avoiding every other station
    assert not at.exception
    assert at.success or at.error  # confirmed, or refused in words — never a traceback
    sent = at.session_state["booking"]["args"]
    assert "vp-feira-de-santana-1" not in sent["avoid_stations"] and len(sent["avoid_stations"]) <= 50


def test_a_company_not_answering_is_named_with_plans_around_it(net):
    at = refused_with_plans(sign_up(open_app(), credit=2000.0), code="PEER_UNAVAILABLE", company="eflux")
    assert "E-Flux is not answering right now" in " ".join(w.value for w in at.warning)
    assert "Option 1" in texts(at)


def test_cancel_asks_first_showing_the_refund_then_refunds_and_marks_the_trip_cancelled(net):
    at = book(sign_up(open_app(), credit=2000.0))
    assert "Trip confirmed" in " ".join(s.value for s in at.success)
    picker = at.selectbox(key="cancel_trip")
    assert picker.format_func(picker.value).startswith("Salvador (BA) → Recife (PE), leaving ")  # not a bare id
    at.button(key="cancel_btn").click().run()
    assert not at.exception
    asked = " ".join(w.value for w in at.warning)
    cost = at.session_state["booking"]["itinerary"]["cost"]
    assert "You get back" in asked and f"R$ {cost:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") in asked
    assert "CANCELED" not in "\n".join(df.value.to_string() for df in at.dataframe)  # nothing done yet
    at.button(key="cancel_no").click().run()
    assert "cancel_yes" not in [b.key for b in at.button]
    at.button(key="cancel_btn").click().run()
    at.button(key="cancel_yes").click().run()
    assert not at.exception
    assert "cancelled" in " ".join(s.value for s in at.success)
    assert "CANCELED" in "\n".join(df.value.to_string() for df in at.dataframe)
    assert {m.label: m.value for m in at.metric}["Credit"] == "R$ 2.000,00"


def test_wrong_password_is_refused_in_words(net):
    at = open_app()
    at.text_input(key="li_login").set_value("nobody@example.com")
    at.text_input(key="li_password").set_value("wrong-password")
    at.button(key="li_submit").click().run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "Could not log in" in shown
    assert shown.lower().count("wrong login or password") == 1  # said once


def test_the_date_picker_offers_today_utc_first(net):
    from datetime import UTC, datetime

    at = sign_up(open_app())
    assert at.date_input(key="trip_date").min == datetime.now(UTC).date()


def test_a_departure_earlier_than_now_is_refused_in_the_page_before_sending(net):
    from datetime import UTC, datetime, timedelta

    at = sign_up(open_app(), credit=2000.0)
    past = datetime.now(UTC) - timedelta(minutes=20)
    if past.date() != datetime.now(UTC).date():  # just after midnight UTC: the picker has no earlier time today
        past = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    at.date_input(key="trip_date").set_value(past.date())
    at.time_input(key="trip_time").set_value(past.time().replace(second=0, microsecond=0))
    at.button(key="book_btn").click().run()
    assert not at.exception
    assert "is in the past" in " ".join(w.value for w in at.warning)
    assert "booking" not in at.session_state  # nothing was sent
    at.button(key="preview_btn").click().run()
    assert "preview" not in at.session_state
    assert "No trips yet" in texts(at)


@pytest.mark.parametrize(("code", "message"), [("DEPARTURE_IN_PAST", "departure 01/01 00:00 is before now"),
                                               ("A_CODE_THE_PAGE_DOES_NOT_KNOW", "the server's own words")])
def test_a_server_refusal_shows_its_message_whatever_its_code(net, code, message):
    at = sign_up(open_app())
    at.session_state["booking"] = {"ok": False, "code": code, "message": message, "details": {},
                                   "args": {"origin": "salvador", "destination": "recife"}}
    at.run()
    shown = " ".join(e.value for e in at.error)
    assert "Booking refused" in shown and message in shown


def test_the_sidebar_names_the_driver_and_the_car_and_sign_up_says_to_keep_the_password(net):
    at = open_app()
    name, password = at.text_input(key="su_name").value, at.text_input(key="su_password").value
    sign_up(at)
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert name in sidebar and at.session_state["vehicle_session"].vehicle_id not in sidebar
    assert "shown only this once" in " ".join(w.value for w in at.warning)
    assert password in [c.value for c in at.code]
    at.run()  # the next run: the password is not shown again
    assert password not in [c.value for c in at.code]


def test_a_login_is_kept_for_reloads_by_a_handle_not_by_its_secrets(net):
    from dashboards import client

    at = sign_up(open_app())
    handle = at.session_state["vehicle_session_handle"]
    saved = client._saved_logins()[handle]
    assert saved.result["token"] and saved.expires_at > saved.expires_at.now(saved.expires_at.tzinfo)
    assert saved.result["token"] not in handle
    at.button(key="logout").click().run()
    assert handle not in client._saved_logins()  # a log-out forgets it: a reload then asks to log in


def test_a_failed_charger_on_my_trip_is_shown_with_what_happened(net):
    at = book(sign_up(open_app(), credit=2000.0))
    itinerary = at.session_state["booking"]["itinerary"]
    stop = itinerary["stops"][0]
    company = stop["company_id"]
    token = json.loads((net.run_dir / "service-logins.json").read_text())[company]["operator"]
    url = f"{net.companies[company].api_url}/api/v1/points/{stop['point_id']}/status"
    r = httpx.put(url, json={"status": "OUT_OF_ORDER"}, headers={"X-Operator-Token": token})
    assert r.status_code == 200
    try:
        for _ in range(50):  # the home company hears of it within its recovery loop's next rounds
            at.run()
            shown = " ".join(w.value for w in [*at.warning, *at.success])
            if "stop 1" in shown:
                break
    finally:  # the network is the session's: the browser test plans the same road later
        assert httpx.put(url, json={"status": "AVAILABLE"}, headers={"X-Operator-Token": token}).status_code == 200
    assert not at.exception
    assert "Salvador (BA) → Recife (PE)" in shown and "stop 1" in shown
    assert "charger out of order" in shown  # OCPI's BROKEN_CHARGER, in words
