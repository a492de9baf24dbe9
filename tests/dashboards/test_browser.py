"""A real browser on the real app: book a trip through the page, open every page, save screenshots.

Uses Debian's Chromium (never a downloaded browser). Skipped when it is missing, unless
RECARGA_REQUIRE_BROWSER=1, which makes a missing browser a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from mosquitto import free_port
from tests.live import CAR
from tests.waiting import eventually

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
# `make screenshots` points this at docs/screenshots; a plain test run keeps the tree clean.
SHOTS = Path(os.environ.get("RECARGA_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "recarga-screenshots")
CHROMIUM = os.environ.get("RECARGA_CHROMIUM", "/usr/bin/chromium")
BROWSER_ZONE = "America/Bahia"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _need_browser() -> None:
    missing = not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM))
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("RECARGA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"RECARGA_REQUIRE_BROWSER=1 but no Chromium at {CHROMIUM} (or no playwright)")
        pytest.skip(f"no Chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
def app_url(net, tmp_path_factory):
    """`streamlit run` as a subprocess on a free loopback port, against the test network."""
    _need_browser()
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = {**os.environ, "RECARGA_CLIENTS_FILE": str(net.clients_file), "RECARGA_MAP_TILES": "none"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "streamlit_app.py"),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false", "--client.showErrorDetails", "full"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: httpx.get(url + "/_stcore/health", timeout=1).status_code == 200, timeout=30, every=0.2,
                   ignoring=(httpx.HTTPError,))
    except (AssertionError, httpx.HTTPError):
        proc.terminate()
        pytest.fail("streamlit did not start:\n" + log.read_text()[-2000:])
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # A browser in Bahia (UTC-3), as a driver there has it: the pages must still show the network's UTC.
        tab = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id=BROWSER_ZONE).new_page()
        tab.route("**/*", offline)
        tab.set_default_timeout(30_000)
        yield tab
        browser.close()


# There is no internet here: folium's scripts come from a CDN. Serve Leaflet from Debian's libjs-leaflet
# when it is installed (then the maps draw), and answer every other outside request with an empty file
# at once (the map component waits for each script to load or fail).
LOCAL_JS = {"leaflet.js": "/usr/share/javascript/leaflet/leaflet.js",
            "leaflet.css": "/usr/share/javascript/leaflet/leaflet.css",
            "jquery": "/usr/share/javascript/jquery/jquery.min.js"}


def offline(route) -> None:
    url = route.request.url
    if url.startswith("http://127.0.0.1"):
        route.continue_()
        return
    name = url.rsplit("/", 1)[-1].split("?")[0]
    for part, path in LOCAL_JS.items():
        if part in name and Path(path).exists():
            route.fulfill(path=path)
            return
    kind = "text/css" if name.endswith(".css") else "application/javascript"
    route.fulfill(status=200, body="", content_type=kind)


def assert_no_error(page) -> None:
    """No exception box and no traceback anywhere on the page."""
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.locator("body").inner_text()


def see(page, text: str, timeout: float = 30_000) -> None:
    """Wait until `text` is shown; on a timeout, fail with what the page shows instead (CI keeps no screenshot)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text).first.wait_for(timeout=timeout)
    except PlaywrightTimeout:
        body = page.locator("body").inner_text()
        raise AssertionError(f"{text!r} not shown within {timeout / 1000:g} s; the page shows:\n{body}") from None


def settle(page) -> None:
    """Wait until Streamlit has finished running the script (its status widget goes away)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=30_000)


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no tooltip of the last button clicked in the picture
    page.wait_for_timeout(1000)  # maps draw in their iframe after the script ends
    # Streamlit scrolls inside its own container, so a "full page" shot would stop at the window:
    # make the window as tall as the content instead, then put it back.
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1366, "height": min(max(int(height), 900), 4000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / name))
    page.set_viewport_size({"width": 1366, "height": 900})


def go(page, title: str) -> None:
    """Open a page through the sidebar, as a person would (keeps the session, and so the login)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).wait_for()
    settle(page)


def departure_shown(page):
    """The departure the Book page's date and time pickers show (UTC)."""
    from datetime import UTC, datetime

    def part(name: str) -> int:
        return int(page.get_by_role("spinbutton", name=name).get_attribute("aria-valuenow") or 0)

    return datetime(part("year, Departure day (UTC)"), part("month, Departure day (UTC)"),
                    part("day, Departure day (UTC)"), part("hour, Departure time (UTC)"),
                    part("minute, Departure time (UTC)"), tzinfo=UTC)


def taken_on_the_way(net, leave, hours: float = 8.0) -> dict[str, list[str]]:
    """Every point of every station reserved from an hour before `leave` to `hours` after it, as other
    companies' trips would (signed peer prepares, then commits): a booking leaving then is refused, and
    answered with plans that leave later. Returns company -> the trip ids, for `free_again`."""
    from datetime import timedelta


    catalogue = httpx.get(net.companies["voltpoint"].api_url + "/api/v1/network", timeout=10).json()
    start, end = (leave - timedelta(hours=1)).isoformat(), (leave + timedelta(hours=hours)).isoformat()
    taken: dict[str, list[str]] = {}
    for company in net.companies:
        caller = "eflux" if company == "voltpoint" else "voltpoint"  # a prepare comes from its coordinator
        trips, prepares = [], []
        for station in (s for s in catalogue["stations"] if s["company_id"] == company):
            for n, _ in enumerate(station["points"]):
                trips.append(f"browser-{station['id']}-{n}")
                prepares.append({"op": "prepare", "args": {
                    "trip_id": trips[-1], "coordinator": caller, "priority": start, "stops": [{
                        "stop": 0, "station_id": station["id"], "start": start, "end": end, "min_power_kw": 0,
                        "energy_kwh": 1}]}})
        votes = peer_batch(net, caller, company, prepares)
        # A point another trip of the session already holds then is taken anyway: hold the rest.
        held = [v["result"]["trip_id"] for v in votes if v["result"]["vote"] == "yes"]
        assert held, votes
        peer_batch(net, caller, company, [{"op": "commit", "args": {"trip_id": t}} for t in held])
        taken[company] = held
    return taken


def free_again(net, taken: dict[str, list[str]]) -> None:
    for company, trips in taken.items():
        caller = "eflux" if company == "voltpoint" else "voltpoint"
        peer_batch(net, caller, company, [{"op": "release", "args": {"trip_id": t}} for t in trips])


def peer_batch(net, caller: str, company: str, ops: list[dict]) -> list[dict]:
    """Signed `/peer/v1/batch` from `caller` to `company`; every operation must be answered (a no vote is)."""
    import json

    from servers.peer_auth import sign

    body = json.dumps({"ops": ops}).encode()
    headers = {**sign(net.peer_secrets, caller, company, "POST", "/peer/v1/batch", body),
               "Content-Type": "application/json"}
    r = httpx.post(net.companies[company].api_url + "/peer/v1/batch", content=body, headers=headers, timeout=30)
    r.raise_for_status()
    results: list[dict] = r.json()["results"]
    assert all(result["ok"] for result in results), r.text
    return results


MAP_STATE = """() => {
    if (!window.map || !window.map.getBounds) { return null; }
    const b = window.map.getBounds(), box = (el) => el && el.getBoundingClientRect().toJSON();
    const legend = [...document.querySelectorAll("div")].find(d => d.style.position === "absolute"
                                                               && d.textContent.includes("VoltPoint"));
    return {zoom: window.map.getZoom(), south: b.getSouth(), north: b.getNorth(), west: b.getWest(),
            east: b.getEast(), scale: document.querySelector(".leaflet-control-scale")?.textContent || "",
            scaleBox: box(document.querySelector(".leaflet-control-scale")), legendBox: box(legend)};
}"""


def map_states(page, lats: list[float]) -> list[dict]:
    """The view of every Leaflet map on the page (each lives in its own frame), with the y pixel of `lats`."""
    page.wait_for_timeout(1500)  # the maps draw in their frames after the script ends
    found = []
    for frame in page.frames:
        try:
            state = frame.evaluate(MAP_STATE)
            if state:
                state["yOf"] = {str(lat): frame.evaluate(
                    f"() => window.map.latLngToContainerPoint([{lat}, window.map.getCenter().lng]).y") for lat in lats}
                state["mapBox"] = frame.evaluate("() => window.map.getContainer().getBoundingClientRect().toJSON()")
        except Exception:  # a frame without a map, or one navigating away
            continue
        if state:
            found.append(state)
    return found


def assert_map_frames(state: dict, points: list[tuple[float, float]], *, at_least_zoom: float) -> None:
    """The map shows every point, zoomed in enough, none under the legend; its scale is metric and the legend
    does not cover it."""
    for lat, lon in points:
        assert state["south"] <= lat <= state["north"] and state["west"] <= lon <= state["east"], (lat, lon, state)
    # Nothing of what it frames lies under the legend (the top band is kept free for it).
    legend_bottom = state["legendBox"]["bottom"] - state["mapBox"]["top"]
    top_lat = max(lat for lat, _ in points)
    assert state["yOf"][str(top_lat)] > legend_bottom, (state["yOf"], legend_bottom)
    assert state["zoom"] >= at_least_zoom, state
    assert "km" in state["scale"] and "mi" not in state["scale"], state["scale"]
    s, leg = state["scaleBox"], state["legendBox"]
    assert leg is not None
    apart_x = s["right"] <= leg["left"] or leg["right"] <= s["left"]
    apart_y = s["bottom"] <= leg["top"] or leg["bottom"] <= s["top"]
    assert apart_x or apart_y, (s, leg)


def assert_charts_in_utc(page) -> None:
    """The battery chart's time axis reads in UTC with a 24-hour clock, in a browser set to another zone."""
    import re
    from datetime import UTC, datetime

    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
    leave = departure_shown(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.locator("svg").first.wait_for()
    texts = chart.locator("svg text").all_text_contents()
    labels = [t for t in texts if re.fullmatch(r"\d\d/\d\d \d\d:\d\d", t)]
    assert len(labels) >= 2, texts
    ticks = [datetime.strptime(f"{leave.year}/{t}", "%Y/%d/%m %H:%M").replace(tzinfo=UTC) for t in labels]
    # Drawn in Bahia's time the first tick would read up to 3 h before the departure; in UTC none does.
    assert min(ticks) >= leave, (leave, labels)
    assert not any(re.search(r"AM|PM", t) for t in texts)


def test_book_a_trip_then_open_every_page(page, app_url, net):
    from playwright.sync_api import expect

    page.goto(app_url)
    page.get_by_role("heading", name="Book a trip").wait_for()
    settle(page)
    expect(page.get_by_label("Name")).not_to_have_value("")  # Faker filled the form
    name = page.get_by_label("Name").input_value()
    for label, field in [("Battery (kWh)", "capacity_kwh"), ("Charge now (kWh)", "charge_kwh"),
                         ("Consumption (kWh/km)", "consumption_kwh_per_km"), ("Max AC (kW)", "max_ac_kw"),
                         ("Max DC (kW)", "max_dc_kw")]:
        page.get_by_label(label).fill(f"{CAR[field]:g}")  # the test car, typed as a person would
    page.get_by_label("Initial credit (R$)").fill("2000")
    page.get_by_role("button", name="Sign up").click()
    see(page, "Where to")
    settle(page)
    assert "shown only this once" in page.locator("body").inner_text()
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert name in sidebar, sidebar  # the driver and the car, not a vehicle id
    page.get_by_role("button", name="Preview").click()
    see(page, "nothing is reserved")
    settle(page)
    assert_charts_in_utc(page)
    page.get_by_role("button", name="Book", exact=True).click()
    see(page, "Trip confirmed")
    settle(page)
    assert_no_error(page)
    assert "RESERVED" in page.locator("body").inner_text() or page.get_by_text("My trips").count()
    # The map frames the route (Salvador → Recife), not the whole network in a third of the frame.
    route = [(-12.97, -38.50), (-8.05, -34.88)]
    (route_map,) = map_states(page, [lat for lat, _ in route])
    assert_map_frames(route_map, route, at_least_zoom=6)
    shoot(page, "book.png")

    # A reload keeps the driver logged in (a handle in a cookie; the token stays on the server side).
    page.reload()
    see(page, "Where to")
    settle(page)
    assert name in page.locator('[data-testid="stSidebar"]').inner_text()
    assert page.get_by_role("button", name="Sign up").count() == 0

    # Cancel asks first, with the refund; then the same trip again, refused, and a plan around it booked.
    page.get_by_role("button", name="Cancel trip…").click()
    see(page, "You get back")
    page.get_by_role("button", name="Yes, cancel the trip").click()
    see(page, "refunded")
    settle(page)
    taken = taken_on_the_way(net, departure_shown(page))
    try:
        page.wait_for_timeout(1000)  # the home company hears of the other companies' bookings (their feeds)
        page.get_by_role("button", name="Book", exact=True).click()
        see(page, "Other ways to make this trip")
        settle(page)
        assert_no_error(page)
        assert "Booking refused" in page.locator("body").inner_text()
        shoot(page, "refused.png")
        # "Book this" books the offered plan for real: the same trip, leaving when every charger is free again.
        page.get_by_role("button", name="Book this").first.click()
        see(page, "Trip confirmed")
        settle(page)
        assert_no_error(page)
    finally:
        free_again(net, taken)

    go(page, "Drive")
    page.get_by_role("button", name="Next stop").click()
    see(page, "Check-ins sent to the servers")
    settle(page)
    assert_no_error(page)
    (drive_map,) = map_states(page, [lat for lat, _ in route])
    assert_map_frames(drive_map, route, at_least_zoom=6)
    shoot(page, "drive.png")

    go(page, "Network map")
    see(page, "Per company")
    assert_no_error(page)
    # The network's corners (Barreiras far west, the far south, Fortaleza, Natal), filling the frame.
    corners = [(-3.73, -38.53), (-12.14, -44.99), (-14.86, -39.0), (-5.79, -35.21)]
    (whole,) = map_states(page, [lat for lat, _ in corners])
    assert_map_frames(whole, corners, at_least_zoom=5.25)
    shoot(page, "network.png")

    go(page, "Event log")
    see(page, "Hash chain intact")
    assert_no_error(page)
    shoot(page, "eventlog.png")


OPEN_STATION = """(name) => {
    if (!window.map || !window.map.eachLayer) { return null; }
    let found = null;
    window.map.eachLayer((layer) => {
        const tip = layer.getTooltip && layer.getTooltip();
        if (tip && String(tip.getContent()).includes(name)) { found = layer; }
    });
    if (!found) { return null; }
    found.openPopup();
    const shown = found.getPopup() && found.getPopup().getElement();
    const popup = shown && shown.querySelector(".leaflet-popup-content");
    return {tooltip: String(found.getTooltip().getContent()), popup: popup ? popup.innerText : ""};
}"""


def station_on_map(page, name: str) -> dict | None:
    """The tooltip and the opened popup of a station on the page's map (None while it is not drawn)."""
    for frame in page.frames:
        try:
            found = frame.evaluate(OPEN_STATION, name)
        except Exception:  # a frame without a map, or one being drawn again
            continue
        if found:
            return found
    return None


def test_a_point_put_out_of_order_is_shown_so_on_the_network_map_without_a_reload(page, app_url, net):
    import json

    company = "voltpoint"
    api = net.companies[company].api_url
    station = httpx.get(api + "/api/v1/stations", timeout=10).json()[0]
    name = net.network.station(station["station_id"]).name
    point = station["points"][0]["point_id"]
    url = f"{api}/api/v1/points/{point}/status"
    operator = {"X-Operator-Token": json.loads((net.run_dir / "service-logins.json").read_text())[company]["operator"]}
    page.goto(app_url)
    page.get_by_role("heading", name="Book a trip").wait_for()
    go(page, "Network map")
    page.get_by_text("Points, live").wait_for()
    assert_no_error(page)
    before = eventually(lambda: station_on_map(page, name), 20, what=f"{name} on the map")
    assert f"{point}" in before["popup"] and "OUTOFORDER" not in before["tooltip"], before
    # A refresh that changes nothing leaves the stations' layer alone: the popup someone opened stays open.
    page.wait_for_timeout(6000)
    assert any(f.evaluate("() => !!document.querySelector('.leaflet-popup-content')") for f in page.frames
               if f != page.main_frame), "the popup was closed by a refresh"
    try:
        assert httpx.put(url, json={"status": "OUTOFORDER", "reason": "cable cut"}, headers=operator,
                         timeout=10).status_code == 200
        # The map's fragment redraws its stations by itself (every 5 s): no reload, no click.
        shown = eventually(lambda: (s := station_on_map(page, name)) and "OUTOFORDER" in s["tooltip"] and s,
                           30, what="OUTOFORDER on the map")
        line = next(row for row in shown["popup"].splitlines() if point in row)
        assert "OUTOFORDER" in line, shown["popup"]
        assert "1 OUTOFORDER" in shown["tooltip"]
        assert_no_error(page)
        shoot(page, "network-status.png")
    finally:
        httpx.put(url, json={"status": "AVAILABLE"}, headers=operator, timeout=10)
