"""Folium maps of the network: roads, cities, stations coloured by company, a plan, holds, a moving car.

Pages draw them with `streamlit_folium.st_folium(..., returned_objects=[])`: the map is
shown, nothing is sent back, so panning or zooming never reruns the page.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from typing import Any

import folium

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


def stations_by_id(network: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Station id → station."""
    return {s["id"]: s for s in network.get("stations", [])}


def _legend(network: dict[str, Any], down: Iterable[str]) -> folium.Element:
    body = theme.legend_html(network, set(down))
    return folium.Element(
        f'<div style="position:absolute;bottom:18px;left:10px;z-index:9999;background:rgba(255,255,255,.9);'
        f'padding:6px 8px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);font-family:sans-serif">'
        f'{body}</div>')


def network_map(network: dict[str, Any], *, down: Iterable[str] = (), availability: dict[str, str] | None = None,
                station_radius: dict[str, float] | None = None, height_hint: int = 520) -> folium.Map:
    """Every road, city and station; stations in their company's colour (grey when its server is down).

    `availability`: station id → a line for its popup (e.g. "3 of 8 points free").
    `station_radius`: station id → marker radius, to make busy stations stand out.
    """
    down = set(down)
    m = folium.Map(location=CENTER, zoom_start=ZOOM, tiles=_tiles(), control_scale=True, height=height_hint)
    cities = cities_by_id(network)
    colors, names = theme.company_colors(network), theme.company_names(network)
    roads = folium.FeatureGroup(name="Roads")
    for road in network.get("roads", []):
        a, b = cities.get(road["a"]), cities.get(road["b"])
        if a and b:
            folium.PolyLine([(a["lat"], a["lon"]), (b["lat"], b["lon"])], color="#94a3b8", weight=2, opacity=0.8,
                            tooltip=f"{road['highway']} · {road['km']:g} km").add_to(roads)
    roads.add_to(m)
    towns = folium.FeatureGroup(name="Cities")
    for c in cities.values():
        folium.CircleMarker((c["lat"], c["lon"]), radius=2, color="#334155", fill=True, fill_opacity=1,
                            tooltip=f"{c['name']} ({c['state']})").add_to(towns)
    towns.add_to(m)
    group = folium.FeatureGroup(name="Stations")
    for s in network.get("stations", []):
        city = cities.get(s["city_id"])
        if city is None:
            continue
        is_down = s["company_id"] in down
        color = theme.DOWN_COLOR if is_down else colors.get(s["company_id"], theme.FALLBACK_COLOR)
        powers = ", ".join(f"{p['power_kw']:g} kW" for p in s.get("points", []))
        extra = "server down" if is_down else (availability or {}).get(s["id"], "")
        popup = (f"<b>{html.escape(s['name'])}</b><br>{html.escape(names.get(s['company_id'], s['company_id']))}"
                 f" · {html.escape(city['name'])}<br>{len(s.get('points', []))} points: {html.escape(powers)}"
                 + (f"<br><i>{html.escape(extra)}</i>" if extra else ""))
        folium.CircleMarker((city["lat"], city["lon"]), radius=(station_radius or {}).get(s["id"], 7), color=color,
                            weight=2, fill=True, fill_color=color, fill_opacity=0.75,
                            tooltip=f"{s['name']} ({names.get(s['company_id'], s['company_id'])})",
                            popup=folium.Popup(popup, max_width=260)).add_to(group)
    group.add_to(m)
    if cities:  # the whole network in view, whatever the window's size
        lats, lons = [c["lat"] for c in cities.values()], [c["lon"] for c in cities.values()]
        m.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))], padding=(10, 10))
    m.get_root().html.add_child(_legend(network, down))
    return m


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
        if fit:
            lats, lons = [c[0] for c in coords], [c[1] for c in coords]
            m.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))], padding=(30, 30))
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
