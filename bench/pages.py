"""Dashboards benchmark, run by hand: each page's first paint in a real headless Chromium, on loopback.

    .venv/bin/python bench/pages.py [--loads 10] [--timeout 30] [--skip-seed] [--json FILE]

Starts the same local network as the dashboards' tests (brokers + servers on free loopback ports),
books one trip through it (so the event log and the network map have something to show), starts
`streamlit run dashboards/streamlit_app.py` on a free port and a tiny static page on Python's
http.server, then loads every page N times in Debian's Chromium through Playwright.

Every load is a fresh browser context (empty cache, no cookies, so a new Streamlit session: a visitor
who is not logged in). One browser process serves the whole run. Loads go round-robin over the pages,
so the machine's noise is shared fairly. One warm-up load per page comes first (the app's first run
after start imports pandas, folium, altair…); it is printed apart and left out of the figures.

Per load, from `page.goto` (wall clock, Python side):
- ready: the page's title and its main content are visible and Streamlit's script has finished
  (`[data-testid="stApp"][data-test-script-state="notRunning"]`);
- map: the folium map's iframe has drawn its layers (Leaflet's vector paths are in the DOM), on pages
  that show a map to a visitor; checked after `ready`, so a map drawn earlier counts as `ready`;
- FCP: the browser's own first-contentful-paint (Streamlit's empty shell), from the Paint Timing API.
The baseline is a static 1 kB page loaded the same way (ready = its one element is visible).
An extra row (not a page load, not comparable): the seeded driver logs in outside the timing, then
clicks "Drive" in the sidebar: the real Drive page with its map. A load that misses a milestone within
the timeout is counted as failed and reported; the run goes on.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract.fake import fake_vehicle_form  # noqa: E402
from federation.launcher import LocalNetwork  # noqa: E402
from mosquitto import free_port  # noqa: E402
from tests.dashboards.test_browser import CHROMIUM, CHROMIUM_ARGS, offline  # noqa: E402
from tests.live import FAST  # noqa: E402
from vehicle_sim.client import VehicleClient, signup  # noqa: E402
from vehicle_sim.fleet import percentile  # noqa: E402

TARGET_S = 2.0  # the target: a page's first paint under 2 s on the local network
VIEWPORT = {"width": 1366, "height": 900}
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
MAP = 'iframe[title="streamlit_folium.st_folium"]'
LEAFLET_DRAWN = ".leaflet-container path.leaflet-interactive"
# What the top document fetched: requests and bytes on the wire (the component iframes' own fetches not counted).
BYTES_JS = ("() => { const r = [...performance.getEntriesByType('navigation'),"
            " ...performance.getEntriesByType('resource')];"
            " return [r.length, r.reduce((a, e) => a + (e.transferSize || 0), 0)]; }")
FCP_JS = "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0"  # ms


class Page:
    """A page to load: its title (the h1), URL path, what shows that its content is there, whether a map."""

    def __init__(self, title: str, path: str, marker: Callable[[Any], Any], has_map: bool,
                 logged_in: bool = False) -> None:
        self.title, self.path, self.marker, self.has_map, self.logged_in = title, path, marker, has_map, logged_in


# URL paths as st.navigation derives them from dashboards/streamlit_app.py (the default page is "/").
# `marker`: on the page only once its main content is drawn, for a visitor who is not logged in.
PAGES = [
    # the sign-up form, once Faker has filled it (a `fake` request over MQTT)
    Page("Book a trip", "/", lambda tab: tab.get_by_role("button", name="Sign up", exact=True), False),
    # nothing to drive without a session: a message and a link
    Page("Drive", "/drive", lambda tab: tab.get_by_text("Log in or sign up first"), False),
    # the map, then the live fragment's figures per company
    Page("Network map", "/network", lambda tab: tab.get_by_text("Per company", exact=True), True),
    # the hash-chain check, the state rebuilt at the newest event, the events around it (its map is drawn when
    # asked since 2026-12-02, docs/dashboards.md "First paint": not part of the first paint)
    Page("Event log", "/eventlog", lambda tab: tab.get_by_text("Hash chain intact"), False),
]
# Not a page load: the seeded driver logs in (outside the timing), then clicks "Drive" in the sidebar.
# The only way to see the Drive page with its map: a fresh context is a fresh, logged-out session.
DRIVE_LOGGED_IN = Page("Drive", "/", lambda tab: tab.get_by_role("button", name="Next stop"), True, logged_in=True)

STATIC_HTML = b"""<!doctype html><html><head><meta charset="utf-8"><title>baseline</title></head>
<body><h1 id="ok">A static page</h1><p>Served by Python's http.server on loopback.</p></body></html>
"""


# -- the things under test ------------------------------------------------------------------------------

def seed(net: LocalNetwork) -> tuple[str, str]:
    """A driver at VoltPoint books Salvador → Recife two days ahead (events at several companies).

    Returns the driver's e-mail and password, for the logged-in Drive row.
    """
    host, port = "127.0.0.1", net.companies["voltpoint"].broker_port
    car_form = {"capacity_kwh": 60.0, "consumption_kwh_per_km": 0.16, "charge_kwh": 54.0, "max_ac_kw": 11.0,
                "max_dc_kw": 100.0, "profile": "normal", "initial_credit": 2000.0}
    form = {**fake_vehicle_form(7), **car_form}
    session = signup(host, port, "voltpoint", form)
    car = VehicleClient(host, port, "voltpoint", session["vehicle_id"], session["broker"]["username"],
                        session["broker"]["password"])
    car.connect()
    car.token = session["token"]
    try:
        car.request("book", 30, origin="salvador", destination="recife",
                    departure=(datetime.now(UTC) + timedelta(days=2)).isoformat())
    finally:
        car.close()
    return str(form["email"]), str(form["password"])


def start_streamlit(clients_file: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`streamlit run` on a free loopback port, as tests/dashboards/test_browser.py starts it."""
    port = free_port()
    env = {**os.environ, "RECARGA_CLIENTS_FILE": str(clients_file), "RECARGA_MAP_TILES": "none"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "streamlit_app.py"),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/_stcore/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError("streamlit did not start:\n" + log.read_text()[-2000:])


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_static(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    (directory / "index.html").write_bytes(STATIC_HTML)

    def handler(*args: Any, **kwargs: Any) -> _Quiet:
        return _Quiet(*args, directory=str(directory), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name="static", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/index.html"


# -- one load -------------------------------------------------------------------------------------------

def _outside(url: str) -> bool:
    return not url.startswith("http://127.0.0.1")


def log_in(tab: Any, url: str, login: tuple[str, str]) -> None:
    """Log in through the Book page's form (outside the timing), as a person would."""
    tab.goto(url)
    tab.get_by_role("tab", name="Log in").click()
    tab.get_by_label("CPF or e-mail").fill(login[0])
    tab.get_by_label("Password", exact=True).last.fill(login[1])
    tab.get_by_role("button", name="Log in", exact=True).click()
    tab.get_by_text("Where to").wait_for()
    tab.wait_for_timeout(300)
    tab.locator(READY).wait_for(state="attached")


class LoadFailed(Exception):
    """A load that did not reach a milestone within the timeout."""


def load(browser: Any, url: str, page: Page | None, timeout_ms: int,
         login: tuple[str, str] | None = None) -> dict[str, float]:
    """One fresh-context load; seconds from `page.goto` (or the sidebar click) to each milestone."""
    ctx = browser.new_context(viewport=VIEWPORT)
    # The browser test's offline routing (folium's CDN scripts from libjs-leaflet, other outside requests
    # answered empty). Only outside requests are intercepted: loopback requests go straight to the server.
    ctx.route(_outside, offline)
    tab = ctx.new_page()
    tab.set_default_timeout(timeout_ms)
    stage, t0 = "start", time.perf_counter()
    try:
        if page is not None and page.logged_in:
            assert login is not None
            log_in(tab, url, login)
            t0 = time.perf_counter()
            tab.locator('[data-testid="stSidebarNav"]').get_by_text(page.title, exact=True).click()
        else:
            t0 = time.perf_counter()
            tab.goto(url, wait_until="commit")
        if page is None:
            tab.locator("#ok").wait_for(state="visible")
            ready = time.perf_counter() - t0
            out = {"ready": ready}
        else:
            stage = "title"
            tab.get_by_role("heading", name=page.title, exact=True).wait_for(state="visible")
            stage = "main content"
            page.marker(tab).first.wait_for(state="visible")
            stage = "script finished"
            tab.locator(READY).wait_for(state="attached")
            out = {"ready": time.perf_counter() - t0}
            if page.has_map:
                stage = "map drawn"
                tab.frame_locator(MAP).first.locator(LEAFLET_DRAWN).first.wait_for(state="attached")
                out["map"] = time.perf_counter() - t0
            if tab.locator('[data-testid="stException"]').count():
                raise RuntimeError(f"{page.title}: the page shows an exception")
        fcp = 0.0 if page is not None and page.logged_in else tab.evaluate(FCP_JS)
        if fcp:
            out["fcp"] = fcp / 1000
        if page is None or not page.logged_in:
            out["requests"], out["bytes"] = tab.evaluate(BYTES_JS)
        return out
    except Exception as exc:
        raise LoadFailed(f"{page.title if page else 'baseline'}: no '{stage}' after {time.perf_counter() - t0:.1f} s "
                         f"({type(exc).__name__})") from exc
    finally:
        ctx.close()


# -- report ---------------------------------------------------------------------------------------------

def fmt(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{percentile(values, 50):.2f} / {percentile(values, 95):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=10, help="measured loads per page (after one warm-up)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a load may take before failing")
    parser.add_argument("--skip-seed", action="store_true", help="do not book a trip first (empty event logs)")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    names = ["baseline (static page)"] + [p.title for p in PAGES]
    logged_in_name = "Drive, logged in (sidebar click, not a page load)"
    samples: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    warm: dict[str, dict[str, float]] = {}
    failed: dict[str, list[str]] = {n: [] for n in names}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="recarga-bench-pages-") as tmp:
        tmpdir = Path(tmp)
        net = LocalNetwork(tmpdir / "net", free_ports=True, mqtt=True, env=FAST)
        app: subprocess.Popen[bytes] | None = None
        static = None
        try:
            net.start()
            login = None if args.skip_seed else seed(net)
            app, app_url = start_streamlit(net.clients_file, tmpdir / "streamlit.log")
            (tmpdir / "www").mkdir()
            static, static_url = start_static(tmpdir / "www")
            urls = {names[0]: (static_url, None)} | {p.title: (app_url + p.path, p) for p in PAGES}
            if login is not None:
                urls[logged_in_name] = (app_url + DRIVE_LOGGED_IN.path, DRIVE_LOGGED_IN)
                names.append(logged_in_name)
                samples[logged_in_name], failed[logged_in_name] = [], []
            print(f"network up, driver {login[0] if login else None}; app {app_url}; "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    timeout_ms = int(args.timeout * 1000)
                    for name, (url, page) in urls.items():
                        try:
                            warm[name] = load(browser, url, page, timeout_ms, login)
                        except LoadFailed as exc:
                            warm[name] = {}
                            print(f"FAILED (warm-up) {exc}", file=sys.stderr)
                        print(f"warm-up {name}: {warm[name]}", file=sys.stderr)
                    for i in range(args.loads):
                        for name, (url, page) in urls.items():
                            try:
                                samples[name].append(load(browser, url, page, timeout_ms, login))
                            except LoadFailed as exc:
                                failed[name].append(str(exc))
                                print(f"FAILED {exc}", file=sys.stderr)
                        print(f"round {i + 1}/{args.loads} done", file=sys.stderr)
                    version = browser.version
                finally:
                    browser.close()
        finally:
            if static is not None:
                static.shutdown()
                static.server_close()
            if app is not None:
                stop(app)
            net.stop()

    base = percentile([s["ready"] for s in samples[names[0]]], 50)
    print(f"\nrecarga dashboards bench — {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, Chromium {version}, {args.loads} fresh-context loads per page "
          f"(+1 warm-up), {time.perf_counter() - started:.0f} s in all\n")
    print("| page | ready p50 / p95 s | map drawn p50 / p95 s | browser FCP p50 s | ready p50 ÷ baseline p50 "
          f"| requests, kB fetched | warm-up ready (map) s | all drawn < {TARGET_S:g} s? p50 / p95 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        rows = samples[name]
        ready = [s["ready"] for s in rows]
        maps = [s["map"] for s in rows if "map" in s]
        fcp = [s["fcp"] for s in rows if "fcp" in s]
        done = [max(s["ready"], s.get("map", 0.0)) for s in rows]  # the later of ready and map drawn
        w = warm[name]
        wtxt = "failed" if not w else f"{w['ready']:.2f}" + (f" ({w['map']:.2f})" if "map" in w else "")
        ratio = "1" if name == names[0] else f"{percentile(ready, 50) / base:.1f}×"
        verdict = "—" if name == names[0] or not done else " / ".join(
            "yes" if percentile(done, q) < TARGET_S else "**no**" for q in (50, 95))
        if failed[name]:
            verdict += f"; **{len(failed[name])} of {args.loads} loads failed** (timeout {args.timeout:g} s)"
        fcp_txt = f"{percentile(fcp, 50):.2f}" if fcp else "—"
        fetched = [s for s in rows if "bytes" in s]
        fetched_txt = (f"{percentile([s['requests'] for s in fetched], 50):.0f}, "
                       f"{percentile([s['bytes'] for s in fetched], 50) / 1024:,.0f}") if fetched else "—"
        print(f"| {name} | {fmt(ready)} | {fmt(maps)} | {fcp_txt} | {ratio} | {fetched_txt} | {wtxt} | {verdict} |")
    if args.json:
        args.json.write_text(json.dumps({"warm": warm, "samples": samples, "failed": failed}, indent=1))
    for errors in failed.values():
        for error in errors:
            print(f"- failed: {error}")


if __name__ == "__main__":
    main()
