"""Folium maps of the network: roads, cities, stations coloured by company, a plan, holds, a moving car.

Pages draw them with `streamlit_folium.st_folium(..., returned_objects=[])`: the map is
shown, nothing is sent back, so panning or zooming never reruns the page.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import MacroElement
from jinja2 import Template

from dashboards import theme

CENTER = (-9.0, -39.0)  # the Northeast, from Salvador to Fortaleza
ZOOM = 6
PATH_COLOR = "#0f766e"


def _tiles() -> str | None:
    # RECARGA_MAP_TILES=none draws no background tiles: for machines without internet (tests, screenshots).
    tiles = os.environ.get("RECARGA_MAP_TILES", "OpenStreetMap")
    return None if tiles.lower() in ("", "none") else tiles


def cities_by_id(network: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """City id → city (with lat/lon)."""
    return {c["id"]: c for c in network.get("cities", [])}


def _legend(network: dict[str, Any], down: Iterable[str]) -> folium.Element:
    # Top right: the scale is bottom left and the attribution bottom right, and neither may be covered.
    body = theme.legend_html(network, set(down))
    return folium.Element(
        f'<div style="position:absolute;top:10px;right:10px;z-index:9999;background:rgba(255,255,255,.9);'
        f'padding:6px 8px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);font-family:sans-serif">'
        f'{body}</div>')


class MetricScale(MacroElement):  # type: ignore[misc]
    """Leaflet's scale bar in km only (folium's `control_scale` adds miles too)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, position: "bottomleft"}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


class FitWhenSized(MacroElement):  # type: ignore[misc]
    """Fit the map to `bounds` once its frame has a size, then leave the view to the person.

    folium's `fit_bounds` runs while Streamlit's frame for the map is still being laid out (no width yet),
    so on the pages the view stayed where it started, with the network in a third of the frame.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) {
            var bounds = L.latLngBounds({{ this.bounds|tojson }});
            var box = map.getContainer();
            function fit() {
                if (box.clientWidth < 10 || box.clientHeight < 10) { return false; }
                map.invalidateSize();
                // Not animated: a second fit (the route after the network) during an animation is dropped.
                // The top band stays free for the legend: it must not cover the route's ends.
                map.fitBounds(bounds, {paddingTopLeft: [{{ this.padding }}, {{ this.padding + 40 }}],
                                       paddingBottomRight: [{{ this.padding }}, {{ this.padding }}], animate: false});
                return true;
            }
            if (!fit() && window.ResizeObserver) {
                var watch = new ResizeObserver(function () { if (fit()) { watch.disconnect(); } });
                watch.observe(box);
            }
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, bounds: list[tuple[float, float]], padding: int = 20) -> None:
        super().__init__()
        self._name = "FitWhenSized"
        self.bounds = [list(b) for b in bounds]
        self.padding = padding


def bounds_of(coords: Iterable[tuple[float, float]]) -> list[tuple[float, float]] | None:
    """South-west and north-east corners of some (lat, lon) points; None for none."""
    points = list(coords)
    if not points:
        return None
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    return [(min(lats), min(lons)), (max(lats), max(lons))]


@dataclass(frozen=True)
class StationLook:
    """How a station is drawn from its points' live statuses.

    `status`: what a driver reads first — AVAILABLE when a point is free now, else CHARGING or RESERVED when
    every working point is busy, else the commonest out-of-service status (or UNKNOWN); `ring`: its colour;
    `dashed`: some points out of service while others work; `label`: how many points are in each status.
    """

    status: str
    ring: str
    dashed: bool
    label: str


def station_look(statuses: Iterable[str]) -> StationLook:
    """The look of a station whose points have these live statuses (OCPI's names)."""
    counts = Counter(statuses)
    label = " · ".join(f"{counts[s]} {s}" for s in (*theme.POINT_STATUSES, *sorted(set(counts) -
                                                                                    set(theme.POINT_STATUSES)))
                       if counts[s])
    working = next((s for s in ("AVAILABLE", "CHARGING", "RESERVED") if counts[s]), None)
    out = [s for s, _ in counts.most_common() if s in theme.OUT_OF_SERVICE]
    status = working or (out[0] if out else "UNKNOWN")
    return StationLook(status, theme.status_color(status), bool(working and out), label or "no point")


def _points_html(points: list[dict[str, Any]], live: dict[str, dict[str, Any]]) -> str:
    rows = []
    for p in points:
        got = live.get(p["id"], {})
        status = str(got.get("status", "UNKNOWN"))
        since = f" since {theme.when(got['since'])}" if got.get("since") else ""
        rows.append(f'<tr><td>{html.escape(p["id"])}</td><td>{p["power_kw"]:g} kW</td>'
                    f'<td style="color:{theme.status_color(status)};font-weight:700">{html.escape(status)}</td>'
                    f'<td style="color:#64748b">{html.escape(since)}</td></tr>')
    cells = "td{white-space:nowrap;padding:0 6px 0 0}"
    return f'<table style="font-size:12px;margin-top:4px"><style>{cells}</style>{"".join(rows)}</table>'


def stations_group(network: dict[str, Any], *, down: Iterable[str] = (),
                   live: dict[str, dict[str, Any]] | None = None, availability: dict[str, str] | None = None,
                   station_radius: dict[str, float] | None = None) -> folium.FeatureGroup:
    """Every station in its company's colour (grey when its server is down), as one layer.

    `live`: point id → its live status message (`/api/v1/points/status`, the retained MQTT topic): the ring
    and the tooltip then say the station's live status and the popup lists each point's.
    `availability`: station id → a line for its popup (e.g. "3 of 8 points free").
    `station_radius`: station id → marker radius, to make busy stations stand out.
    """
    down = set(down)
    cities = cities_by_id(network)
    colors, names = theme.company_colors(network), theme.company_names(network)
    group = folium.FeatureGroup(name="Stations")
    for s in network.get("stations", []):
        city = cities.get(s["city_id"])
        if city is None:
            continue
        is_down = s["company_id"] in down
        color = theme.DOWN_COLOR if is_down else colors.get(s["company_id"], theme.FALLBACK_COLOR)
        company = names.get(s["company_id"], s["company_id"])
        points = s.get("points", [])
        extra = "server down" if is_down else (availability or {}).get(s["id"], "")
        head = (f"<b>{html.escape(s['name'])}</b><br>{html.escape(company)} · {html.escape(city['name'])}"
                + (f"<br><i>{html.escape(extra)}</i>" if extra else ""))
        ring, dashed, tooltip = color, False, f"{s['name']} ({company})"
        if live is not None and not is_down:
            look = station_look(str(live.get(p["id"], {}).get("status", "UNKNOWN")) for p in points)
            ring, dashed, tooltip = look.ring, look.dashed, f"{tooltip} — {look.label}"
            popup = f"{head}{_points_html(points, live)}"
        else:
            powers = ", ".join(f"{p['power_kw']:g} kW" for p in points)
            popup = f"{head}<br>{len(points)} points: {html.escape(powers)}"
        folium.CircleMarker((city["lat"], city["lon"]), radius=(station_radius or {}).get(s["id"], 7), color=ring,
                            weight=3 if live is not None else 2, dash_array="4 3" if dashed else None, fill=True,
                            fill_color=color, fill_opacity=0.75, tooltip=tooltip,
                            popup=folium.Popup(popup, max_width=460)).add_to(group)
    return group


def network_map(network: dict[str, Any], *, down: Iterable[str] = (), availability: dict[str, str] | None = None,
                station_radius: dict[str, float] | None = None, height_hint: int = 520,
                stations: bool = True) -> folium.Map:
    """Every road, city and station; stations in their company's colour (grey when its server is down).

    `availability`, `station_radius`: see `stations_group`. `stations=False` leaves the stations out, for a
    page that draws them as a layer of their own (`st_folium(feature_group_to_add=stations_group(...))`), so
    their live statuses change without the map being drawn again.
    """
    down = set(down)
    # Quarter zooms: a fit fills the frame instead of stopping at the whole zoom below it.
    m = folium.Map(location=CENTER, zoom_start=ZOOM, tiles=_tiles(), control_scale=False, height=height_hint,
                   zoom_snap=0.25, zoom_delta=0.5)
    MetricScale().add_to(m)
    cities = cities_by_id(network)
    # Roads and cities as two GeoJSON layers: one data blob each instead of ~180 separately scripted
    # layers, which made the map the slowest part of a page's first paint (issue #16 item 12).
    folium.GeoJson(roads_geojson(network), name="Roads",
                   style_function=lambda _: {"color": "#94a3b8", "weight": 2, "opacity": 0.8},
                   tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False)).add_to(m)
    folium.GeoJson(cities_geojson(network), name="Cities",
                   marker=folium.CircleMarker(radius=2, color="#334155", fill=True, fill_opacity=1),
                   tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False)).add_to(m)
    if stations:
        stations_group(network, down=down, availability=availability, station_radius=station_radius).add_to(m)
    whole = bounds_of((c["lat"], c["lon"]) for c in cities.values())
    if whole is not None:  # the whole network in view, whatever the window's size
        FitWhenSized(whole, padding=10).add_to(m)
    m.get_root().html.add_child(_legend(network, down))
    return m


def roads_geojson(network: dict[str, Any]) -> dict[str, Any]:
    """Every road as a GeoJSON line (lon, lat order), labelled with its highway and km."""
    cities = cities_by_id(network)
    features = []
    for road in network.get("roads", []):
        a, b = cities.get(road["a"]), cities.get(road["b"])
        if a and b:
            features.append({"type": "Feature", "properties": {"label": f"{road['highway']} · {road['km']:g} km"},
                             "geometry": {"type": "LineString",
                                          "coordinates": [[a["lon"], a["lat"]], [b["lon"], b["lat"]]]}})
    return {"type": "FeatureCollection", "features": features}


def cities_geojson(network: dict[str, Any]) -> dict[str, Any]:
    """Every city as a GeoJSON point, labelled "Name (ST)"."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"label": f"{c['name']} ({c['state']})"},
         "geometry": {"type": "Point", "coordinates": [c["lon"], c["lat"]]}} for c in network.get("cities", [])]}


def path_coords(network: dict[str, Any], path: Iterable[str]) -> list[tuple[float, float]]:
    """The (lat, lon) of each city of a path."""
    cities = cities_by_id(network)
    return [(cities[c]["lat"], cities[c]["lon"]) for c in path if c in cities]


def add_plan(m: folium.Map, network: dict[str, Any], plan: dict[str, Any], *, fit: bool = True) -> folium.Map:
    """Draw a plan on `m`: the road taken, the origin and destination, each stop numbered in its company's colour."""
    coords = path_coords(network, plan.get("path", []))
    cities = cities_by_id(network)
    colors, names = theme.company_colors(network), theme.company_names(network)
    if len(coords) >= 2:
        folium.PolyLine(coords, color=PATH_COLOR, weight=6, opacity=0.85, tooltip="planned road").add_to(m)
        start, end = cities[plan["path"][0]]["name"], cities[plan["path"][-1]]["name"]
        folium.Marker(coords[0], tooltip=f"from {start}", icon=_badge("A", "#16a34a")).add_to(m)
        folium.Marker(coords[-1], tooltip=f"to {end}", icon=_badge("B", "#dc2626")).add_to(m)
        route = bounds_of(coords)
        if fit and route is not None:  # after the network's own fit: the route's frame wins
            FitWhenSized(route, padding=30).add_to(m)
    for i, stop in enumerate(plan.get("stops", [])):
        city = cities.get(stop["city_id"])
        if city is None:
            continue
        color = colors.get(stop["company_id"], theme.FALLBACK_COLOR)
        label = (f"Stop {i + 1}: {stop['station_id']} ({names.get(stop['company_id'], '')}) — "
                 f"+{stop['energy_kwh']:.1f} kWh, {theme.when(stop['window_start'])}–{theme.when(stop['window_end'])}")
        folium.Marker((city["lat"], city["lon"]), tooltip=label, icon=folium.DivIcon(
            icon_size=(26, 26), icon_anchor=(13, 13),
            html=f'<div style="width:24px;height:24px;border-radius:12px;background:{color};color:#fff;'
                 f'border:2px solid #fff;box-shadow:0 0 3px #000;text-align:center;font:bold 13px/24px sans-serif">'
                 f'{i + 1}</div>')).add_to(m)
    return m


def _badge(text: str, background: str, size: int = 22) -> folium.DivIcon:
    # Plain HTML icons: they need nothing but Leaflet itself (folium.Icon needs more scripts from a CDN, and
    # emoji need a colour-emoji font that a kiosk or a headless browser may not have).
    return folium.DivIcon(icon_size=(size, size), icon_anchor=(size // 2, size // 2), html=(
        f'<div style="width:{size}px;height:{size}px;border-radius:{size // 2}px;background:{background};'
        f'color:#fff;border:3px solid #fff;box-shadow:0 0 4px #000;text-align:center;'
        f'font:bold {size // 2}px/{size - 6}px sans-serif;box-sizing:border-box">{html.escape(text)}</div>'))


def car_group(position: tuple[float, float], label: str) -> folium.FeatureGroup:
    """The moving car, as its own layer: st_folium updates just this layer between runs."""
    group = folium.FeatureGroup(name="car")
    folium.Marker(position, tooltip=label, icon=_badge("▶", "#0f172a", 28)).add_to(group)
    return group
