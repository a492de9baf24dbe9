"""The terminal client's menus, driven with scripted answers against a real local network."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from contract.fake import fake_vehicle_form
from federation.launcher import LocalNetwork
from tests.live import CAR, LiveNetworks
from vehicle_sim.config import City, Endpoint, NetworkInfo, load_endpoints
from vehicle_sim.session import VehicleSession

from .conftest import run_menus

pytestmark = pytest.mark.integration


# A network of the menus' own: on the package's, the fleet tests' cars book a trip a day, one after another, for
# seconds, into the months ahead — the menus' booking 58 days out was once refused there (a taken point), and the
# scripted answers then went to the wrong prompts.
@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("menus-net") as running:
        yield running


@pytest.fixture(scope="module")
def endpoints(net: LocalNetwork) -> dict[str, Endpoint]:
    return load_endpoints(net.clients_file)


def new_person() -> dict:
    return fake_vehicle_form(random.getrandbits(62))


def edited_form(person: dict, credit: str = "3000") -> list[str]:
    """Answers to "edit" that set the owner of `person` and the test car (in views.FORM_FIELDS order)."""
    return [person["name"], person["email"], person["cpf"], person["password"], person["plate"], CAR["model"],
            str(CAR["capacity_kwh"]), str(CAR["consumption_kwh_per_km"]), str(CAR["charge_kwh"]),
            str(CAR["max_ac_kw"]), str(CAR["max_dc_kw"]), CAR["profile"], credit]


def test_a_driver_registers_logs_in_by_cpf_and_email_books_adds_credit_and_cancels(endpoints):
    person = new_person()
    answers = [
        "2", "e", *edited_form(person), "y",           # create an account from the edited Faker form
        "7",                                            # back to start (the session stays)
        "1", person["cpf"], person["password"],         # log in by CPF
        # Book Salvador → Fortaleza leaving in 1400 h (the menu takes up to 60 days): far from the fleet test's
        # trips (from 1 h on, one after another per car), so not refused for a taken point.
        "1", "salvador", "fortal", "1400", "y",
        "2",                                            # see reservations
        "4", "150",                                     # add R$ 150
        "3",                                            # account info
        "5", "1", "1", "stuck in traffic", "y",         # cancel the trip: traffic, in the driver's words too
        "7",                                            # back to start
        "1", person["email"], person["password"],       # log in by e-mail
        "2",                                            # the trip is there, cancelled
        "0",
    ]
    seen = run_menus(endpoints["voltpoint"], answers)
    assert "created" in seen and f"Welcome, {person['name']}!" in seen
    # Once seen failing only in a full run, the answers then read by the wrong prompts: show what the menus said.
    assert "Booked!" in seen and "Traceback" not in seen, seen[seen.find("Welcome"):][:6000]
    with VehicleSession.login(endpoints["voltpoint"], person["email"], person["password"]) as session:
        account = session.account()
        trips = session.request("trips")["trips"]
    assert len(trips) == 1 and trips[0]["status"] == "CANCELED"
    assert trips[0]["canceled"] == {"cancellation_reason": "TRAFFIC", "who_canceled": "EMSP"}
    assert trips[0]["reason"] == "stuck in traffic"
    trip_id = trips[0]["trip_id"]
    assert seen.count(trip_id) >= 3  # booked, listed in reservations, cancelled, listed again
    assert f"Trip {trip_id} cancelled" in seen
    assert "Added R$ 150,00" in seen
    # Cancelled hours ahead: the whole cost comes back, so only the added credit remains on top.
    assert account["balance"] == pytest.approx(3150.0)
    assert {"Proposed plan", "Your trips", "Statement (latest 10)"} <= {
        line.strip() for line in seen.splitlines()}
    assert seen.rstrip().endswith("Até logo!")


def test_a_city_name_that_matches_nothing_gets_a_clear_message(endpoints):
    person = new_person()
    answers = ["2", "e", *edited_form(person), "y",
               "1", "Atlantis", "", "0"]                 # no such city; blank goes back to the menu
    seen = run_menus(endpoints["voltpoint"], answers)
    assert "No city matches 'Atlantis'" in seen
    assert "Traceback" not in seen


def test_a_wrong_password_shows_the_servers_code_and_the_client_carries_on(endpoints):
    seen = run_menus(endpoints["eflux"], ["1", "nobody@example.com", "wrong-password", "0"])
    assert "BAD_CREDENTIALS" in seen and "Traceback" not in seen
    assert seen.rstrip().endswith("Até logo!")


def test_a_refused_sign_up_says_why_and_offers_to_edit(endpoints):
    person = {**new_person(), "cpf": "111.111.111-11"}  # not a valid CPF
    seen = run_menus(endpoints["ecocharge"], ["2", "e", *edited_form(person), "y", "n", "0"])
    assert "INVALID_CPF" in seen or "VALIDATION_ERROR" in seen


NET = NetworkInfo([City("salvador", "Salvador", "BA"), City("sao-luis", "São Luís", "MA"),
                   City("juazeiro", "Juazeiro", "BA"), City("juazeiro-do-norte", "Juazeiro do Norte", "CE")])


@pytest.mark.parametrize(("typed", "found"), [
    ("1", ["salvador"]), ("2", ["sao-luis"]), ("sao luis", ["sao-luis"]), ("LUÍS", ["sao-luis"]),
    ("juazeiro", ["juazeiro"]),  # an exact name wins over the longer one containing it
    ("juaz", ["juazeiro", "juazeiro-do-norte"]), ("norte", ["juazeiro-do-norte"]), ("9", []), ("xyz", []),
])
def test_cities_are_found_by_number_or_part_of_the_name(typed, found):
    assert [c.id for c in NET.find_cities(typed)] == found


def test_a_failed_login_keeps_the_session_that_was_open(endpoints):
    person = new_person()
    answers = ["2", "e", *edited_form(person), "y",   # create an account: logged in
               "7",                                   # back to start, the session kept
               "1", person["email"], "wrong-password",  # a wrong password: back in the open session
               "3",                                   # account info, as the driver still logged in
               "0"]
    seen = run_menus(endpoints["voltpoint"], answers)
    after = seen[seen.index("BAD_CREDENTIALS"):]
    assert f"{person['name']} @ voltpoint" in after
    assert "Statement (latest 10)" in after and "Traceback" not in seen
    assert after.lower().count("wrong login or password") == 1  # said once
